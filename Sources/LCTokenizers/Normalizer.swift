// Text normalizers of HF `tokenizers` that byte-level BPE files use: Unicode normal forms,
// Lowercase and Sequence. BERT's normalizer lives with WordPiece. Offsets are not tracked
// (LayerCard needs ids only). Anything else in a tokenizer.json is rejected by the parser.
import Foundation

/// A normalizer step, applied to Unicode scalars.
indirect enum Normalizer: Sendable {
    case identity
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case sequence([Normalizer])

    func apply(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .identity: return s
        case .nfc: return Self.form(s) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return Self.form(s) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return Self.form(s) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return Self.form(s) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase: return Self.lowercased(s)
        case let .sequence(steps): return steps.reduce(s) { $1.apply($0) }
        }
    }

    var isIdentity: Bool {
        switch self {
        case .identity: return true
        case let .sequence(steps): return steps.allSatisfy { $0.isIdentity }
        default: return false
        }
    }

    private static func form(_ s: [Unicode.Scalar], _ f: (String) -> String) -> [Unicode.Scalar] {
        if s.allSatisfy({ $0.isASCII }) { return s }  // ASCII is invariant under every normal form
        var str = String()
        str.unicodeScalars.append(contentsOf: s)
        return Array(f(str).unicodeScalars)
    }

    /// Per-scalar full lowercase mapping (Rust `char::to_lowercase`; no final-sigma context rule).
    static func lowercased(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for c in s {
            if c.isASCII {
                let v = c.value
                out.append((v >= 65 && v <= 90) ? Unicode.Scalar(UInt8(v + 32)) : c)
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }
}
