// Coupling (layer-card-spec §3, docs/decisions.md): u_l = (h(W + εD_l) − h(W − εD_l)) / 2ε with all of layer
// l's target modules moved together, ε = 1e-3·||W_l||_F/||D_l||_F, h = the final hidden state at every real
// position. Per batch, the block inputs come from one forward; each u_l recomputes only layers ≥ l from the
// cached input of layer l, with a model copy whose layer l buffers are perturbed (other layers shared).
// <u_l, u_m> accumulates in Float64 across batches. Deliberately no forward-mode AD.
import Foundation
import LCCard
import LCCore
import LCKernels
import LCModel

enum ProfileCoupling {
    /// Relative step of the central difference.
    static let relativeStep = 1e-3
    static let method = "central-difference over layer l's target modules, eps = 1e-3*||W_l||_F/||D_l||_F, D = -G (C+lambda I)^-1"

    struct Step: Sendable { var step: Int; var total: Int; var tokens: Int }

    /// - Parameters:
    ///   - batches: token ids per batch (same batching as the statistics pass).
    ///   - steps: per layer, module → D (d_out × d_in), from `ModuleAccumulator.statistics(wantSteps: true)`.
    static func compute(model: TransformerModel, batches: [[[Int]]], steps: [[String: [Float]]], order: [String],
                        progress: (Step) -> Void) throws -> [[Double]] {
        let c = model.config, L = c.numLayers, C = c.hiddenSize, arch = c.architecture
        guard steps.count == L else { throw LCError.usage("coupling: need step directions for all \(L) layers") }
        // ε per layer from the stacked target-module weights and steps.
        var eps = [Double](repeating: 0, count: L)
        for l in 0..<L {
            var w2 = 0.0, d2 = 0.0
            for m in order {
                guard let role = moduleWeightRole(arch: arch, module: m), let w = try model.layerWeights(l)[role], let d = steps[l][m] else { continue }
                guard d.count == w.count else {
                    throw LCError.usage("coupling: layer \(l) module \(m) step has \(d.count) values, weight has \(w.count)")
                }
                for i in 0..<w.count { w2 += Double(w.ptr[i]) * Double(w.ptr[i]) }
                for v in d { d2 += Double(v) * Double(v) }
            }
            eps[l] = d2 > 0 ? relativeStep * w2.squareRoot() / d2.squareRoot() : 0
        }
        func perturbed(_ l: Int, sign: Double) throws -> TransformerModel {
            var lw = try model.layerWeights(l)
            for m in order {
                guard let role = moduleWeightRole(arch: arch, module: m), let w = lw[role], let d = steps[l][m] else { continue }
                let nb = FloatBuffer(count: w.count), s = Float(sign * eps[l])
                for i in 0..<w.count { nb.ptr[i] = w.ptr[i] + s * d[i] }
                lw.buffers[role] = nb
            }
            return try model.replacingLayerWeights(l, with: lw)
        }
        let gram = CouplingGram(layers: L)
        var tokensDone = 0, done = 0
        let total = batches.count * L
        for ids in batches {
            let batch = try model.makeBatch(ids)
            let rows = realRows(batch.lengths)
            let n = rows.reduce(0) { $0 + $1.count } * C
            var U = [Float](repeating: 0, count: L * n)
            let (inputs, _) = model.blockInputs(batch)
            let positions = n / max(C, 1)
            for l in 0..<L {
                defer { done += 1; progress(Step(step: done, total: total, tokens: tokensDone + positions * (l + 1) / L)) }
                guard eps[l] > 0 else { continue }
                let plus = try perturbed(l, sign: 1), minus = try perturbed(l, sign: -1)
                let hp = plus.finalHidden(plus.forwardFrom(layer: l, input: inputs[l], batch: batch), batch: batch)
                let hm = minus.finalHidden(minus.forwardFrom(layer: l, input: inputs[l], batch: batch), batch: batch)
                let inv = Float(1 / (2 * eps[l]))
                var k = l * n
                for r in rows {
                    for i in (r.lowerBound * C)..<(r.upperBound * C) { U[k] = (hp.ptr[i] - hm.ptr[i]) * inv; k += 1 }
                }
            }
            tokensDone += positions
            gram.add(U, n: n)
        }
        return gram.coupling()
    }
}
