// Added tokens (special and user-defined) split out of the text before the model runs, as HF
// `AddedVocabulary::extract_and_normalize`: leftmost-longest exact match, then single_word,
// lstrip and rstrip rules. normalized=false tokens match the raw text, normalized=true tokens
// match after the normalizer. Not a general string-search library: token counts are small.

/// One token added on top of the model vocabulary (`added_tokens` entry of tokenizer.json).
public struct AddedToken: Sendable, Equatable {
    /// Token id.
    public var id: Int
    /// Exact text matched in the input.
    public var content: String
    /// Match only when not touching word characters (`\w`) on either side.
    public var singleWord: Bool
    /// Absorb whitespace to the left of a match.
    public var lstrip: Bool
    /// Absorb whitespace to the right of a match.
    public var rstrip: Bool
    /// Match against the normalized text (true) or the raw text (false).
    public var normalized: Bool
    /// Special (control) token; kept by `decode` as HF does with skip_special_tokens=False.
    public var special: Bool

    public init(id: Int, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false, special: Bool = true) {
        self.id = id; self.content = content; self.singleWord = singleWord
        self.lstrip = lstrip; self.rstrip = rstrip; self.normalized = normalized; self.special = special
    }
}

/// A piece of input after added-token extraction: plain text for the model, or a finished token id.
enum Segment: Equatable {
    case text([Unicode.Scalar])
    case token(Int)
}

/// Leftmost-longest matcher over one set of added tokens.
struct AddedTokenMatcher: Sendable {
    private struct Pattern: Sendable { var scalars: [Unicode.Scalar]; var token: AddedToken }
    /// Patterns keyed by first scalar, longest first.
    private let byFirst: [Unicode.Scalar: [Pattern]]

    /// - Parameter normalize: applied to each token's content (normalized=true tokens); identity otherwise.
    init(tokens: [AddedToken], normalize: ([Unicode.Scalar]) -> [Unicode.Scalar]) {
        var map: [Unicode.Scalar: [Pattern]] = [:]
        for t in tokens {
            let sc = normalize(Array(t.content.unicodeScalars))
            guard let first = sc.first else { continue }
            map[first, default: []].append(Pattern(scalars: sc, token: t))
        }
        for k in map.keys { map[k]?.sort { $0.scalars.count > $1.scalars.count } }
        byFirst = map
    }

    var isEmpty: Bool { byFirst.isEmpty }

    /// Splits `text` into text and token segments; empty text segments are dropped.
    func split(_ text: [Unicode.Scalar]) -> [Segment] {
        if byFirst.isEmpty || text.isEmpty { return text.isEmpty ? [] : [.text(text)] }
        var out: [Segment] = []
        var emitted = 0  // end of the last emitted segment
        var i = 0
        while i < text.count {
            guard let cands = byFirst[text[i]], let p = cands.first(where: { matches($0.scalars, text, at: i) }) else {
                i += 1; continue
            }
            var start = i
            var stop = i + p.scalars.count
            i = stop  // the automaton resumes after the match even if it is discarded
            let t = p.token
            if t.singleWord {
                let leftOK = start == 0 || !UnicodeClass.isWordChar(text[start - 1])
                let rightOK = stop == text.count || !UnicodeClass.isWordChar(text[stop])
                if !leftOK || !rightOK { continue }
            }
            if t.lstrip {
                var s = start
                while s > 0 && UnicodeClass.isWhitespace(text[s - 1]) { s -= 1 }
                start = max(s, emitted)
            }
            if t.rstrip {
                while stop < text.count && UnicodeClass.isWhitespace(text[stop]) { stop += 1 }
            }
            if emitted < start { out.append(.text(Array(text[emitted..<start]))) }
            out.append(.token(t.id))
            emitted = stop
        }
        if emitted < text.count { out.append(.text(Array(text[emitted...]))) }
        return out
    }

    private func matches(_ pat: [Unicode.Scalar], _ text: [Unicode.Scalar], at i: Int) -> Bool {
        if i + pat.count > text.count { return false }
        for k in 0..<pat.count where text[i + k] != pat[k] { return false }
        return true
    }
}

/// Both matchers plus the normalizer, applied in HF's order.
struct AddedVocabulary: Sendable {
    let raw: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let normalizer: Normalizer

    init(tokens: [AddedToken], normalizer: Normalizer) {
        raw = AddedTokenMatcher(tokens: tokens.filter { !$0.normalized }, normalize: { $0 })
        normalizedMatcher = AddedTokenMatcher(tokens: tokens.filter { $0.normalized }, normalize: normalizer.apply)
        self.normalizer = normalizer
    }

    /// Raw split → normalize each text segment → split on normalized tokens.
    func extract(_ text: String) -> [Segment] {
        var out: [Segment] = []
        for seg in raw.split(Array(text.unicodeScalars)) {
            guard case let .text(sc) = seg else { out.append(seg); continue }
            out.append(contentsOf: normalizedMatcher.split(normalizer.apply(sc)))
        }
        return out
    }
}
