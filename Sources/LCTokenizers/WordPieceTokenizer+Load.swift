// Loaders for WordPieceTokenizer: HF tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece,
// TemplateProcessing/BertProcessing) and plain vocab.txt with the defaults of HF's
// BertWordPieceTokenizer. Other components are rejected with `LCError.unsupported`.
import Foundation
import LCCore

extension WordPieceTokenizer {
    /// Loads a BERT tokenizer.json. Padding and truncation settings in the file are ignored.
    /// - Throws: `LCError.io`/`.format` for unreadable or malformed files; `.unsupported` naming a component
    ///   (normalizer, pre-tokenizer, model, post-processor) that is not BERT's.
    public static func fromTokenizerJSON(url: URL) throws -> WordPieceTokenizer {
        try from(TokenizerJSON(url: url))
    }

    static func from(_ j: TokenizerJSON) throws -> WordPieceTokenizer {
        guard let m = j.root["model"] as? [String: Any] else { throw j.fail("model", "missing") }
        guard m["type"] as? String == "WordPiece" else { throw j.unsupported("model type '\(m["type"] ?? "?")' (expected WordPiece)") }
        let vocab = try j.vocab(m)
        var norm = BertNormalizer()
        if let n = j.root["normalizer"] as? [String: Any] {
            guard n["type"] as? String == "BertNormalizer" else { throw j.unsupported("normalizer '\(n["type"] ?? "?")' for WordPiece") }
            norm.cleanText = n["clean_text"] as? Bool ?? true
            norm.handleChineseChars = n["handle_chinese_chars"] as? Bool ?? true
            norm.stripAccents = n["strip_accents"] as? Bool
            norm.lowercase = n["lowercase"] as? Bool ?? true
        } else if !(j.root["normalizer"] is NSNull) && j.root["normalizer"] != nil {
            throw j.fail("normalizer", "not an object")
        } else {
            norm = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        }
        if let p = j.root["pre_tokenizer"], !(p is NSNull) {
            guard TokenizerJSON.type(p) == "BertPreTokenizer" else {
                throw j.unsupported("pre_tokenizer '\(TokenizerJSON.type(p) ?? "?")' for WordPiece")
            }
        }
        let maxChars = m["max_input_chars_per_word"] as? Int ?? 100
        guard maxChars > 0 else { throw j.fail("model.max_input_chars_per_word", "must be positive") }
        return WordPieceTokenizer(vocab: vocab, unkToken: m["unk_token"] as? String ?? "[UNK]",
                                  prefix: m["continuing_subword_prefix"] as? String ?? "##", maxInputCharsPerWord: maxChars,
                                  addedTokens: try j.addedTokens(), normalizer: norm,
                                  postProcessor: try j.postProcessor(j.root["post_processor"]))
    }

    /// Loads a BERT vocab.txt (one token per line, id = line number) with HF `BertWordPieceTokenizer` defaults:
    /// clean text, Chinese-char padding, accents stripped when lowercasing, [CLS] … [SEP], and
    /// [UNK]/[SEP]/[CLS]/[PAD]/[MASK] matched as special tokens when present.
    /// - Throws: `LCError.io` if unreadable, `.format` if empty, not UTF-8, or missing [CLS]/[SEP].
    public static func fromVocabTxt(url: URL, lowercase: Bool) throws -> WordPieceTokenizer {
        let text = try readUTF8(url)
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard !lines.isEmpty else { throw LCError.format(path: url.path, message: "empty vocab") }
        var vocab: [String: Int] = [:]
        for (i, raw) in lines.enumerated() {
            // HF reads each line with trim_end(); a repeated token keeps its last line number.
            var sc = Array(raw)
            while let last = sc.last, last.properties.isWhitespace { sc.removeLast() }
            var tok = String()
            tok.unicodeScalars.append(contentsOf: sc)
            vocab[tok] = i
        }
        guard let cls = vocab["[CLS]"], let sep = vocab["[SEP]"] else {
            throw LCError.format(path: url.path, message: "vocab lacks [CLS] or [SEP]")
        }
        let specials = ["[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]"].compactMap { t in vocab[t].map { AddedToken(id: $0, content: t) } }
        return WordPieceTokenizer(vocab: vocab, unkToken: "[UNK]", prefix: "##", maxInputCharsPerWord: 100,
                                  addedTokens: specials,
                                  normalizer: BertNormalizer(cleanText: true, handleChineseChars: true, stripAccents: nil, lowercase: lowercase),
                                  postProcessor: .template([.special([cls]), .sequence, .special([sep])]))
    }
}
