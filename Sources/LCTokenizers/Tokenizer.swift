// The tokenizer protocol shared by byte-level BPE and WordPiece, plus small Unicode helpers
// used by both. Tokenizers here reproduce Hugging Face `tokenizers` ids exactly for the
// configurations they accept and throw `LCError.unsupported` for anything else; they do not
// pad, truncate or build attention masks (callers own sequence-length policy).
import Foundation
import LCCore

/// Text ↔ token ids.
public protocol Tokenizer: Sendable {
    /// Token ids of `text`. With `addSpecialTokens`, the post-processor's tokens (BOS, [CLS]/[SEP]) are added.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
    /// Text of `ids`. Special tokens are kept (like HF `decode(ids, skip_special_tokens=False)`); unknown ids are skipped.
    func decode(_ ids: [Int]) -> String
    /// One past the largest token id (the embedding-table size the tokenizer needs).
    var vocabSize: Int { get }
    /// Beginning-of-sequence id, if the tokenizer has one.
    var bosID: Int? { get }
    /// End-of-sequence id, if the tokenizer has one.
    var eosID: Int? { get }
}

/// Loads a HF tokenizer.json, choosing the implementation by `model.type`: "BPE" → `ByteLevelBPETokenizer`,
/// "WordPiece" → `WordPieceTokenizer`.
/// - Throws: `LCError.unsupported` naming any other model type or unsupported component; `.io`/`.format` otherwise.
public func loadTokenizerJSON(url: URL, bosToken: String? = nil, eosToken: String? = nil) throws -> any Tokenizer {
    let j = try TokenizerJSON(url: url)
    let type = (j.root["model"] as? [String: Any])?["type"] as? String
    switch type {
    case "WordPiece": return try WordPieceTokenizer.from(j)
    case "BPE", nil: return try ByteLevelBPETokenizer.from(j, bosToken: bosToken, eosToken: eosToken)
    case let other?: throw LCError.unsupported(path: url.path, message: "tokenizer model '\(other)'")
    }
}

/// Unicode character classes as Rust's `char` methods define them (HF `tokenizers` is Rust).
enum UnicodeClass {
    /// Rust `char::is_whitespace`: the Unicode White_Space property.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// Rust `char::is_numeric`: general categories Nd, Nl, No (the same set as regex `\p{N}`).
    static func isNumeric(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Rust regex `\w` (Unicode): Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
    static func isWordChar(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// Reads a whole small text file as UTF-8, mapping failures to `LCError`.
func readUTF8(_ url: URL) throws -> String {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw LCError.io(path: url.path, message: "cannot read: \(error.localizedDescription)")
    }
    guard let s = String(data: data, encoding: .utf8) else {
        throw LCError.format(path: url.path, message: "not valid UTF-8")
    }
    return s
}
