// BERT WordPiece tokenizer: added tokens → BertNormalizer → BertPreTokenizer → greedy
// longest-match-first WordPiece ("##" continuation, unk for unsplittable or over-long words)
// → [CLS] … [SEP]. Loads HF tokenizer.json or a plain vocab.txt with BERT defaults.
import Foundation
import LCCore

/// A BERT WordPiece tokenizer matching HF `tokenizers` ids.
public final class WordPieceTokenizer: Tokenizer, @unchecked Sendable {
    // @unchecked: immutable after init.
    let vocab: [[UInt8]: Int]
    let idToToken: [Int: String]
    let unkID: Int?
    let prefix: String
    let maxInputCharsPerWord: Int
    let added: AddedTokenMatcher
    let addedContent: [Int: String]
    let normalizer: BertNormalizer
    let postProcessor: PostProcessor

    public let vocabSize: Int
    /// The [CLS] id (what BERT puts first).
    public let bosID: Int?
    /// The [SEP] id (what BERT puts last).
    public let eosID: Int?

    init(vocab: [String: Int], unkToken: String, prefix: String, maxInputCharsPerWord: Int, addedTokens: [AddedToken],
         normalizer: BertNormalizer, postProcessor: PostProcessor) {
        var v: [[UInt8]: Int] = [:]
        var r: [Int: String] = [:]
        for (t, id) in vocab { v[Array(t.utf8)] = id; r[id] = t }
        self.vocab = v
        self.idToToken = r
        self.unkID = v[Array(unkToken.utf8)]
        self.prefix = prefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        // BERT's added tokens are normalized=false; normalized ones would be matched after BertNormalizer.
        self.added = AddedTokenMatcher(tokens: addedTokens.filter { !$0.normalized }, normalize: { $0 })
        var content: [Int: String] = [:]
        for t in addedTokens { content[t.id] = t.content }
        self.addedContent = content
        self.normalizer = normalizer
        self.postProcessor = postProcessor
        self.vocabSize = max(r.keys.max() ?? -1, addedTokens.map(\.id).max() ?? -1) + 1
        self.bosID = postProcessor.leadingSpecialID ?? v[Array("[CLS]".utf8)]
        self.eosID = postProcessor.trailingSpecialID ?? v[Array("[SEP]".utf8)]
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        for seg in added.split(Array(text.unicodeScalars)) {
            switch seg {
            case let .token(id): ids.append(id)
            case let .text(sc):
                for word in BertPreTokenizer.split(normalizer.apply(sc)) { ids.append(contentsOf: wordPiece(word)) }
            }
        }
        return postProcessor.process(ids, addSpecialTokens: addSpecialTokens)
    }

    /// Greedy longest-match-first over scalars; the whole word becomes unk if any position has no match.
    func wordPiece(_ word: [Unicode.Scalar]) -> [Int] {
        let unk = unkID.map { [$0] } ?? []
        if word.count > maxInputCharsPerWord { return unk }
        var out: [Int] = []
        var start = 0
        let prefixBytes = Array(prefix.utf8)
        while start < word.count {
            var end = word.count
            var found: Int?
            while end > start {
                var key: [UInt8] = start > 0 ? prefixBytes : []
                for c in word[start..<end] { key.append(contentsOf: String(c).utf8) }
                if let id = vocab[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { return unk }
            out.append(id)
            start = end
        }
        return out
    }

    /// HF WordPiece decoder: every token after the first loses its "##" prefix or gains a leading space,
    /// then HF's cleanup (spaces before punctuation and contractions) runs on each token.
    public func decode(_ ids: [Int]) -> String {
        var s = ""
        var n = 0
        for id in ids {
            guard var t = addedContent[id] ?? idToToken[id] else { continue }
            // Compare scalars: "##" + a combining mark is one Character, so String.hasPrefix would miss it.
            if n > 0 {
                if t.unicodeScalars.starts(with: prefix.unicodeScalars) {
                    t = String(t.unicodeScalars.dropFirst(prefix.unicodeScalars.count))
                } else { t = " " + t }
            }
            for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                           (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
                t = t.replacingOccurrences(of: a, with: b)
            }
            s += t
            n += 1
        }
        return s
    }
}
