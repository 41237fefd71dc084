// Pre-tokenizers of HF `tokenizers` used by byte-level BPE files: Split (regex or literal,
// all five delimiter behaviours, invert), Digits, ByteLevel (prefix space, GPT-2 regex) and
// Sequence. Regexes run through NSRegularExpression (ICU) on UTF-16 with code-point semantics,
// which matched Oniguruma for these patterns; Swift `Regex` grapheme semantics would not.
import Foundation
import LCCore

/// Named pre-tokenizer regexes (HF files and llama.cpp pre types).
public enum PreTokenizerPattern {
    /// GPT-2 / HF ByteLevel(use_regex: true).
    public static let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama-3 (llama.cpp "llama-bpe").
    public static let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// llama.cpp's "default" pre type: these four applied in turn, each isolating its matches.
    public static let llamaCppDefault = [
        #"[\p{P}\$\+<=>\^~\|]+"#,
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#,
        #"\p{N}+"#,
        #"[0-9][0-9][0-9]"#,
    ]
    /// Qwen2 / Qwen3 (llama.cpp "qwen2").
    public static let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
}

/// NSRegularExpression is immutable after creation and documented thread-safe.
struct CompiledRegex: @unchecked Sendable {
    let re: NSRegularExpression
    init(_ pattern: String, path: String) throws {
        do { re = try NSRegularExpression(pattern: pattern, options: []) } catch {
            throw LCError.format(path: path, message: "pre-tokenizer regex does not compile: \(pattern)")
        }
    }
    init(literal: String, path: String) throws {
        try self.init(NSRegularExpression.escapedPattern(for: literal), path: path)
    }

    /// Non-empty match ranges in `s`, as UTF-16 NSRanges.
    func matchRanges(_ s: NSString) -> [NSRange] {
        re.matches(in: s as String, options: [], range: NSRange(location: 0, length: s.length))
            .map(\.range).filter { $0.length > 0 }
    }
}

/// HF `SplitDelimiterBehavior`.
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// Applies the behaviour to pieces covering a string in order (`isMatch` marks delimiters).
    /// Follows HF `NormalizedString::split`.
    func apply<T>(_ parts: [(T, Bool)], join: (T, T) -> T) -> [T] {
        switch self {
        case .isolated: return parts.map(\.0)
        case .removed: return parts.filter { !$0.1 }.map(\.0)
        case .contiguous:
            var acc: [(T, Bool)] = []
            for p in parts {
                if let last = acc.last, last.1 == p.1 { acc[acc.count - 1].0 = join(last.0, p.0) } else { acc.append(p) }
            }
            return acc.map(\.0)
        case .mergedWithPrevious:
            var acc: [T] = []
            var previousMatch = false
            for (v, isMatch) in parts {
                if isMatch && !previousMatch, let last = acc.last { acc[acc.count - 1] = join(last, v) } else { acc.append(v) }
                previousMatch = isMatch
            }
            return acc
        case .mergedWithNext:
            var acc: [T] = []
            var previousMatch = false
            for (v, isMatch) in parts.reversed() {
                if isMatch && !previousMatch, let last = acc.last { acc[acc.count - 1] = join(v, last) } else { acc.append(v) }
                previousMatch = isMatch
            }
            return acc.reversed()
        }
    }
}

/// One pre-tokenizer step; a Sequence is a list of steps.
enum PreTokenizerStep: Sendable {
    case split(CompiledRegex, SplitBehavior, invert: Bool)
    /// `Digits`: each \p{N} scalar isolated (individual) or runs of them isolated.
    case digits(individual: Bool)
    /// `ByteLevel`: optional prefix space, optional GPT-2 regex split. The byte→char mapping itself
    /// is applied by the tokenizer after all steps (ByteLevel must be the last step).
    case byteLevel(addPrefixSpace: Bool, regex: CompiledRegex?)
    /// `Whitespace`-free identity (e.g. an empty Sequence).
    case identity

    func apply(_ piece: String) -> [String] {
        switch self {
        case .identity: return [piece]
        case let .split(re, behavior, invert): return Self.regexSplit(piece, re, behavior, invert: invert)
        case let .digits(individual):
            var parts: [(String, Bool)] = []
            for c in piece.unicodeScalars {
                let isDigit = UnicodeClass.isNumeric(c)
                // each digit is its own match; consecutive non-digits form one gap
                if !isDigit, let last = parts.last, !last.1 { parts[parts.count - 1].0.unicodeScalars.append(c) } else {
                    parts.append((String(Character(c)), isDigit))
                }
            }
            let behavior: SplitBehavior = individual ? .isolated : .contiguous
            return behavior.apply(parts, join: +)
        case let .byteLevel(addPrefixSpace, regex):
            var p = piece
            if addPrefixSpace && p.unicodeScalars.first != " " { p = " " + p }  // scalars, not Characters
            guard let re = regex else { return [p] }
            return Self.regexSplit(p, re, .isolated, invert: false)
        }
    }

    static func regexSplit(_ piece: String, _ re: CompiledRegex, _ behavior: SplitBehavior, invert: Bool) -> [String] {
        let ns = piece as NSString
        var parts: [(String, Bool)] = []
        var pos = 0
        for r in re.matchRanges(ns) {
            if r.location > pos { parts.append((ns.substring(with: NSRange(location: pos, length: r.location - pos)), invert)) }
            parts.append((ns.substring(with: r), !invert))
            pos = r.location + r.length
        }
        if pos < ns.length { parts.append((ns.substring(from: pos), invert)) }
        return behavior.apply(parts, join: +).filter { !$0.isEmpty }
    }
}
