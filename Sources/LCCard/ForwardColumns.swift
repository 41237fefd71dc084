// The forward-only layer columns (docs/decisions.md "Profile (card numbers)"): per block l, over the real
// (non-padding) token positions t of the reference set,
//   block_influence_l = 1 − mean_t cos(x_in_t, x_out_t)      (ShortGPT's Block Influence, Men et al. 2024)
//   act_norm_l        = mean_t ||x_out_t||₂                   (block output, before the final norm)
// with x_in/x_out the block's input and output residual streams, every cosine and norm in Float64.
// Accumulated batch by batch from the forward the profile already runs; deliberately no model code here.
import Foundation
import LCKernels

/// Running sums of the forward-only columns over batches.
public final class ForwardColumnsAccumulator: @unchecked Sendable {
    public let layers: Int
    /// Hidden size C: each position is C contiguous floats.
    public let width: Int
    var cosSum: [Double], normSum: [Double], count: [Int]

    public init(layers: Int, width: Int) {
        precondition(layers >= 0 && width > 0, "ForwardColumnsAccumulator: layers ≥ 0, width > 0")
        self.layers = layers; self.width = width
        cosSum = Array(repeating: 0, count: layers); normSum = cosSum; count = Array(repeating: 0, count: layers)
    }

    /// cos(x, y) in Float64 for one position, clamped to [−1, 1]. A zero vector has no direction: two zero
    /// vectors count as unchanged (1), one zero vector as orthogonal (0). Also returns ||y||₂.
    public static func cosineAndNorm(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count C: Int) -> (cos: Double, norm: Double) {
        var xy = 0.0, xx = 0.0, yy = 0.0
        for i in 0..<C {
            let a = Double(x[i]), b = Double(y[i])
            xy += a * b; xx += a * a; yy += b * b
        }
        let norm = yy.squareRoot()
        if xx == 0 || yy == 0 { return (xx == yy ? 1 : 0, norm) }
        return (max(-1, min(1, xy / (xx.squareRoot() * norm))), norm)
    }

    /// Adds one batch of block `layer`: `input`/`output` are (B·T, C) row-major, `rows` the real positions (rows
    /// outside them are padding and ignored). Per-position values are computed in parallel chunks and summed in
    /// position order, so the sums do not depend on the thread count.
    public func add(layer: Int, input: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: [Range<Int>]) {
        precondition((0..<layers).contains(layer), "ForwardColumnsAccumulator.add: layer \(layer) out of range")
        let idx = rows.flatMap { Array($0) }
        guard !idx.isEmpty else { return }
        let C = width
        var cs = [Double](repeating: 0, count: idx.count), ns = cs
        cs.withUnsafeMutableBufferPointer { cp in
            ns.withUnsafeMutableBufferPointer { np in
                let c = cp.baseAddress.unsafelyUnwrapped, n = np.baseAddress.unsafelyUnwrapped
                Parallel.chunks(idx.count, minChunk: max(1, 65536 / C)) { r in
                    for k in r {
                        let row = idx[k]
                        (c[k], n[k]) = Self.cosineAndNorm(input + row * C, output + row * C, count: C)
                    }
                }
            }
        }
        cosSum[layer] += cs.reduce(0, +)
        normSum[layer] += ns.reduce(0, +)
        count[layer] += idx.count
    }

    /// Real positions seen at `layer`.
    public func positions(_ layer: Int) -> Int { count[layer] }

    /// 1 − mean cos(x_in, x_out) over the positions seen (in [0, 2]); nil when none were.
    public func blockInfluence(_ layer: Int) -> Double? {
        count[layer] > 0 ? max(0, 1 - cosSum[layer] / Double(count[layer])) : nil
    }

    /// Mean ||x_out||₂ over the positions seen; nil when none were.
    public func actNorm(_ layer: Int) -> Double? {
        count[layer] > 0 ? normSum[layer] / Double(count[layer]) : nil
    }
}
