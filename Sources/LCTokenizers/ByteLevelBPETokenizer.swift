// Byte-level BPE tokenizer (GPT-2, Llama-3, SmolLM, Qwen2/3): added tokens → normalizer →
// pre-tokenizer → byte→char table → BPE → post-processor, matching HF `tokenizers` ids.
// Loaders live in +JSON (tokenizer.json) and +GGUF (GGUF metadata arrays). Byte fallback,
// dropout and SentencePiece-style models are deliberately unsupported (they throw at load).
import Foundation
import LCCore

/// A byte-level BPE tokenizer.
///
/// ```swift
/// let tok = try ByteLevelBPETokenizer.fromTokenizerJSON(url: dir.appendingPathComponent("tokenizer.json"))
/// let ids = tok.encode("Hello world", addSpecialTokens: true)
/// assert(tok.decode(tok.encode("Hello", addSpecialTokens: false)) == "Hello")
/// ```
public final class ByteLevelBPETokenizer: Tokenizer, @unchecked Sendable {
    // @unchecked: all stored properties are immutable; BPEModel guards its cache with a lock.
    let model: BPEModel
    let added: AddedVocabulary
    let addedContent: [Int: String]
    let preTokenizer: [PreTokenizerStep]
    let postProcessor: PostProcessor

    public let vocabSize: Int
    public let bosID: Int?
    public let eosID: Int?

    init(model: BPEModel, addedTokens: [AddedToken], normalizer: Normalizer, preTokenizer: [PreTokenizerStep],
         postProcessor: PostProcessor, bosID: Int?, eosID: Int?) {
        self.model = model
        self.added = AddedVocabulary(tokens: addedTokens, normalizer: normalizer)
        var content: [Int: String] = [:]
        for t in addedTokens { content[t.id] = t.content }
        self.addedContent = content
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        let maxModel = model.idToToken.keys.max() ?? -1
        let maxAdded = addedTokens.map(\.id).max() ?? -1
        self.vocabSize = max(maxModel, maxAdded) + 1
        self.bosID = bosID
        self.eosID = eosID
    }

    /// Token ids of `text` (see `Tokenizer.encode`).
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        for seg in added.extract(text) {
            switch seg {
            case let .token(id): ids.append(id)
            case let .text(scalars):
                var s = String()
                s.unicodeScalars.append(contentsOf: scalars)
                for piece in preTokenize(s) { ids.append(contentsOf: model.tokenize(rawBytes: Array(piece.utf8))) }
            }
        }
        return postProcessor.process(ids, addSpecialTokens: addSpecialTokens)
    }

    /// The pre-tokenized pieces of one normalized text segment (raw text, before the byte table).
    func preTokenize(_ s: String) -> [String] {
        var pieces = s.isEmpty ? [] : [s]
        for step in preTokenizer { pieces = pieces.flatMap { step.apply($0) }.filter { !$0.isEmpty } }
        return pieces
    }

    /// Concatenated token bytes, UTF-8 decoded with U+FFFD for invalid sequences (HF ByteLevel decoder).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if let c = addedContent[id] { bytes.append(contentsOf: ByteLevelTable.decodeToken(c)); continue }
            guard let tok = model.idToToken[id] else { continue }
            bytes.append(contentsOf: ByteLevelTable.decodeToken(tok))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The token string for `id` (byte-level form for model tokens), if any.
    public func token(for id: Int) -> String? { addedContent[id] ?? model.idToToken[id] }

    /// The id of a token string (byte-level form), if any.
    public func id(for token: String) -> Int? {
        if let a = addedContent.first(where: { $0.value.unicodeScalars.elementsEqual(token.unicodeScalars) }) { return a.key }
        return model.vocab[Array(token.utf8)]
    }
}
