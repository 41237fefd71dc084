// A batch of token sequences padded on the right to a common length T, with validation of ids against the
// vocabulary and of T against learned-position tables. Right padding never changes causal outputs at real
// positions; BERT masks padded keys. Deliberately no tokenization and no truncation (callers truncate).
import LCCore

/// B token sequences, right-padded with id 0 to T = longest length.
public struct Batch: Sendable {
    public let B: Int
    public let T: Int
    /// (B,T) ids, padded with 0.
    public let tokens: [Int32]
    /// Real length of each sequence.
    public let lengths: [Int]
    /// (B,T): 1 for real tokens, 0 for padding.
    public let keyMask: [Float]

    /// - Throws: `LCError.usage` for an empty batch, an empty sequence, an id outside 0..<vocabSize, or a
    ///   sequence longer than `maxPositions` (when given).
    public init(_ sequences: [[Int]], vocabSize: Int, maxPositions: Int?) throws {
        guard !sequences.isEmpty else { throw LCError.usage("forward: empty batch") }
        let T = sequences.map(\.count).max() ?? 0
        for (i, s) in sequences.enumerated() {
            guard !s.isEmpty else { throw LCError.usage("forward: sequence \(i) is empty") }
            if let bad = s.first(where: { $0 < 0 || $0 >= vocabSize }) {
                throw LCError.usage("forward: sequence \(i) has token id \(bad) outside 0..<\(vocabSize)")
            }
        }
        if let m = maxPositions, T > m {
            throw LCError.usage("forward: sequence length \(T) exceeds the model's \(m) positions")
        }
        var tok = [Int32](repeating: 0, count: sequences.count * T), mask = [Float](repeating: 0, count: sequences.count * T)
        for (b, s) in sequences.enumerated() {
            for (t, id) in s.enumerated() { tok[b * T + t] = Int32(id); mask[b * T + t] = 1 }
        }
        self.B = sequences.count; self.T = T; self.tokens = tok; self.lengths = sequences.map(\.count); self.keyMask = mask
    }
}
