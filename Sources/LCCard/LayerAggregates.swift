// Layer aggregates (layer-card-spec §2) and the coupling matrix from accumulated u_l Gram entries (§3).
// resnorm_layer = sqrt(Σ resnorm_m²), same for grad_norm and resnorm_lora; act_energy_mean is a convenience;
// predicted_gain = ½ resnorm_layer². Deliberately no cost here (CostAnalytic.swift) and no I/O.
import Foundation
import LCKernels

/// Aggregates of one layer's modules; cost columns are left 0 for the cost model to fill.
public func layerAggregate(layer: Int, modules: [ModuleStats]) -> LayerStats {
    func rss(_ k: KeyPath<ModuleStats, Double>) -> Double { modules.reduce(0) { $0 + $1[keyPath: k] * $1[keyPath: k] }.squareRoot() }
    let res = rss(\.resnorm)
    let energy = modules.isEmpty ? 0 : modules.reduce(0) { $0 + $1.act_energy } / Double(modules.count)
    return LayerStats(layer: layer, grad_norm: rss(\.grad_norm), resnorm: res, resnorm_lora: rss(\.resnorm_lora),
                      act_energy_mean: energy, predicted_gain: 0.5 * res * res, cost: 0, cost_relative: 0,
                      activation_bytes_per_token: 0)
}

/// Accumulates <u_l, u_m> over batches: each batch supplies U (L, n) — the L direction vectors restricted to
/// that batch's real positions, flattened — in Float32; products are formed in Float64.
public final class CouplingGram: @unchecked Sendable {
    public let L: Int
    /// (L, L), upper triangle.
    var gram: [Double]
    public init(layers: Int) { L = layers; gram = [Double](repeating: 0, count: layers * layers) }

    /// Adds one batch: `U` holds L rows of `n` floats.
    public func add(_ U: [Float], n: Int) {
        precondition(U.count == L * n, "CouplingGram.add: U must be L × n")
        guard n > 0 else { return }
        let U64 = U.map(Double.init)
        U64.withUnsafeBufferPointer { ub in
            gram.withUnsafeMutableBufferPointer {
                rowGramAccumulateUpper($0.baseAddress.unsafelyUnwrapped, ub.baseAddress.unsafelyUnwrapped, M: L, K: n)
            }
        }
    }

    /// Squared norms ||u_l||² so far.
    public var squaredNorms: [Double] { (0..<L).map { gram[$0 * L + $0] } }

    /// coupling[l][m] = <u_l,u_m> / (||u_l|| ||u_m||): exactly symmetric with a unit diagonal. A layer whose
    /// u is zero (zero gradient) gets 0 off the diagonal.
    public func coupling() -> [[Double]] {
        var out = Array(repeating: Array(repeating: 0.0, count: L), count: L)
        for i in 0..<L {
            out[i][i] = 1
            for j in (i + 1)..<max(i + 1, L) {
                let den = (gram[i * L + i] * gram[j * L + j]).squareRoot()
                let c = den > 0 ? max(-1, min(1, gram[i * L + j] / den)) : 0
                out[i][j] = c; out[j][i] = c
            }
        }
        return out
    }
}
