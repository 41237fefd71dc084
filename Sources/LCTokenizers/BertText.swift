// BERT's text normalizer and pre-tokenizer as HF `tokenizers` implements them
// (normalizers/bert.rs, pre_tokenizers/bert.rs): clean_text, Chinese-character padding,
// accent stripping (NFD then drop Mn), per-char lowercase; whitespace + punctuation split.
import Foundation

/// HF `BertNormalizer`.
struct BertNormalizer: Sendable {
    var cleanText = true
    var handleChineseChars = true
    /// nil follows `lowercase`, as in HF.
    var stripAccents: Bool?
    var lowercase = true

    func apply(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var s = input
        if cleanText {
            s = s.compactMap { c in
                if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { return nil }
                return Self.isBertWhitespace(c) ? " " : c
            }
        }
        if handleChineseChars {
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(s.count)
            for c in s {
                if Self.isChineseChar(c) { out.append(" "); out.append(c); out.append(" ") } else { out.append(c) }
            }
            s = out
        }
        if stripAccents ?? lowercase {
            s = Normalizer.nfd.apply(s).filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase { s = Normalizer.lowercased(s) }
        return s
    }

    static func isBertWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == "\t" || c == "\n" || c == "\r" || c.properties.isWhitespace
    }

    /// HF `is_control`: categories Cc, Cf, Cn, Co, except tab/newline/CR.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse: return true
        default: return false
        }
    }

    static func isChineseChar(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}

/// HF `BertPreTokenizer`: split on whitespace (dropped), then isolate each punctuation char.
enum BertPreTokenizer {
    /// ASCII punctuation (Rust `is_ascii_punctuation`) or Unicode P* categories.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII {
            let v = c.value
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
        }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func split(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var cur: [Unicode.Scalar] = []
        for c in s {
            if c.properties.isWhitespace {
                if !cur.isEmpty { words.append(cur); cur = [] }
            } else if isPunctuation(c) {
                if !cur.isEmpty { words.append(cur); cur = [] }
                words.append([c])
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { words.append(cur) }
        return words
    }
}
