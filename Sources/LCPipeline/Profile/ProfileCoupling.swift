// Coupling (layer-card-spec §3, docs/decisions.md): u_l = (h(W + εD_l) − h(W − εD_l)) / 2ε with all of layer
// l's target modules moved together, ε = 1e-3·||W_l||_F/||D_l||_F, h = the final hidden state at every real
// position. One sweep over the layers per batch: the unperturbed stream and every perturbed stream started so far
// go through block j together (stacked as one larger batch, in chunks bounded by `workBytes`), so each layer's
// weights are fetched once per batch (a streamed model reads each layer once, not L/2 times) and the matmuls see
// many rows. Stream l starts at block l from the unperturbed input of block l with W_l ± εD_l, so only layers ≥ l
// are recomputed for it. <u_l, u_m> accumulates in Float64 across batches. Deliberately no forward-mode AD.
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
    ///   - workBytes: bound on the block activations of one stacked call (streams are chunked to fit).
    ///   Layer j's directions are released (set to [:]) once the last batch has started its streams: on a big model
    ///   they are most of the phase's memory.
    static func compute(model: TransformerModel, batches: [[[Int]]], steps: inout [[String: StepDirection]], order: [String],
                        workBytes: Int = 512 << 20, progress: (Step) -> Void) throws -> [[Double]] {
        let c = model.config, L = c.numLayers, C = c.hiddenSize, arch = c.architecture
        guard steps.count == L else { throw LCError.usage("coupling: need step directions for all \(L) layers") }
        guard !batches.isEmpty else { return gramIdentity(L) }
        // ε per layer from the stacked target-module weights and steps, computed when the sweep first fetches the
        // layer (a streamed model reads each layer once per batch, not once more for ε).
        var eps = [Double?](repeating: nil, count: L)
        func epsilon(_ l: Int, _ lw: LayerWeights) throws -> Double {
            if let e = eps[l] { return e }
            var w2 = 0.0, d2 = 0.0
            for m in order {
                guard let role = moduleWeightRole(arch: arch, module: m), let w = lw[role], let d = steps[l][m] else { continue }
                guard d.count == w.count else {
                    throw LCError.usage("coupling: layer \(l) module \(m) step has \(d.count) values, weight has \(w.count)")
                }
                for i in 0..<w.count { w2 += Double(w.ptr[i]) * Double(w.ptr[i]) }
                d2 += d.frobeniusNormSquared()
            }
            let e = d2 > 0 ? relativeStep * w2.squareRoot() / d2.squareRoot() : 0
            eps[l] = e
            return e
        }
        // W ± εD: a factored step (Gram form) stays factored — the block adds ∓ε·(x·Zᵀ)·Δ after x·Wᵀ, which costs
        // 2·n·(d_in + d_out) per row instead of forming the d_out × d_in matrix (99 GFLOP per sign and layer on
        // Qwen3-8B shapes with 256 positions); a dense step (primal form) is added to a copy of W.
        func perturbed(_ l: Int, _ base: LayerWeights, sign: Double) -> LayerWeights {
            var lw = base
            let s = Float(sign * (eps[l] ?? 0))
            for m in order {
                guard let role = moduleWeightRole(arch: arch, module: m), let w = base[role], let d = steps[l][m] else { continue }
                switch d {
                case .lowRank(let delta, let z, let n):
                    lw.lowRank[role] = LowRankTerm(left: delta, right: z, n: n, scale: -s)
                case .dense:
                    let nb = FloatBuffer(count: w.count)
                    d.addScaled(s, to: w.cptr, out: nb.ptr)
                    lw.buffers[role] = nb
                }
            }
            return lw
        }
        let gram = CouplingGram(layers: L)
        // Progress in block-forwards (stream-layers): block j runs 1 + 2(j+1) streams, so steps grow linearly and
        // an ETA from "layers done" would be ~2× optimistic at the start.
        var tokensDone = 0, done = 0
        let total = batches.count * L * (L + 2)
        for (bi, ids) in batches.enumerated() {
            let lastBatch = bi == batches.count - 1
            let batch = try model.makeBatch(ids)
            let rows = realRows(batch.lengths)
            let n = rows.reduce(0) { $0 + $1.count } * C
            let positions = n / max(C, 1)
            let perStream = 4 * BlockActivations.floatCount(config: c, B: batch.B, T: batch.T)
            let chunk = max(1, workBytes / max(perStream, 1))
            // Stacked batches and activations, by number of streams (reused across layers).
            var stacked: [Int: (Batch, BlockActivations)] = [:]
            func run(_ j: Int, _ w: LayerWeights, _ xs: [FloatBuffer]) throws {
                var i = 0
                while i < xs.count {
                    let part = Array(xs[i..<min(i + chunk, xs.count)])
                    let s = part.count
                    if stacked[s] == nil {
                        stacked = stacked.filter { $0.key == chunk || $0.key == 1 }  // keep full chunks and single streams
                        let b = try model.makeBatch(Array(repeating: ids, count: s).flatMap { $0 })
                        stacked[s] = (b, BlockActivations(config: c, B: b.B, T: b.T))
                    }
                    guard let (b, acts) = stacked[s] else { break }
                    let m = part[0].count
                    for (k, x) in part.enumerated() { (acts.input.ptr + k * m).update(from: x.cptr, count: m) }
                    model.block(j, weights: w, acts: acts, batch: b)
                    for (k, x) in part.enumerated() { x.ptr.update(from: acts.output.cptr + k * m, count: m) }
                    i += s
                }
            }
            let primal = model.embed(batch)
            try model.throwIfWeightReadFailed()
            var streams: [(layer: Int, plus: FloatBuffer, minus: FloatBuffer)] = []
            for j in 0..<L {
                defer { done += 2 * j + 3; progress(Step(step: done, total: total, tokens: tokensDone + positions * (j + 1) / L)) }
                let w = try model.layerWeights(j)
                if try epsilon(j, w) > 0 {
                    let p = FloatBuffer(count: primal.count), q = FloatBuffer(count: primal.count)
                    p.ptr.update(from: primal.cptr, count: primal.count); q.ptr.update(from: primal.cptr, count: primal.count)
                    try run(j, perturbed(j, w, sign: 1), [p])
                    try run(j, perturbed(j, w, sign: -1), [q])
                    streams.append((j, p, q))
                }
                if lastBatch { steps[j] = [:] }
                // Streams started below j and the unperturbed one go through block j with its own weights.
                try run(j, w, streams.filter { $0.layer < j }.flatMap { [$0.plus, $0.minus] } + [primal])
            }
            var U = [Float](repeating: 0, count: L * n)
            for s in streams {
                let hp = model.finalHidden(s.plus, batch: batch), hm = model.finalHidden(s.minus, batch: batch)
                let inv = Float(1 / (2 * (eps[s.layer] ?? 1)))
                var k = s.layer * n
                for r in rows {
                    for i in (r.lowerBound * C)..<(r.upperBound * C) { U[k] = (hp.ptr[i] - hm.ptr[i]) * inv; k += 1 }
                }
            }
            tokensDone += positions
            gram.add(U, n: n)
        }
        return gram.coupling()
    }

    static func gramIdentity(_ L: Int) -> [[Double]] { (0..<L).map { i in (0..<L).map { $0 == i ? 1.0 : 0.0 } } }
}
