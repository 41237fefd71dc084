// Backward pass through the whole model down to the first block's input, reporting for every LoRA-targetable
// module its input activation `a` (N,dIn) and output gradient `delta` = dL/dz (N,dOut) (layer-card-spec §2) to
// a visitor, in reverse layer order. Losses: causal mean next-token loss (§1) or the encoder squared loss on
// mean-pooled embeddings. Deliberately no weight-gradient storage (the visitor forms G = Σ deltaᵀ a if it
// wants) and no gradient for norms/embeddings.
import LCCore
import LCKernels

/// One module's activation and output gradient for N = B·T positions (padded positions included; their
/// delta is 0 for causal LMs since they have no target and no later real position reads them).
public struct ModuleGradient {
    public let layer: Int
    /// PEFT spelling (TensorNames.modules).
    public let module: String
    /// a: (N, dIn).
    public let input: UnsafePointer<Float>
    /// delta: (N, dOut).
    public let outputGrad: UnsafePointer<Float>
    public let N: Int, dIn: Int, dOut: Int
}

extension TransformerModel {
    /// Causal LM: forward, mean next-token loss (as `loss`), and backward; calls `visit` for every module.
    /// - Parameter stopAtLayer: truncate the backward after block `stopAtLayer` (layers below it get no
    ///   gradient and are not visited); 0 = the full backward.
    /// - Throws: as `loss`.
    public func lossAndBackward(tokens: [[Int]], targetMask: [[Bool]]? = nil, stopAtLayer: Int = 0,
                                visit: (ModuleGradient) -> Void) throws -> LossResult {
        guard isCausal else { throw LCError.usage("lossAndBackward: \(config.architecture) is not a causal LM") }
        if let m = targetMask {
            guard m.count == tokens.count, zip(m, tokens).allSatisfy({ $0.count == $1.count }) else {
                throw LCError.usage("lossAndBackward: targetMask must have the same shape as tokens")
            }
        }
        let r = try forward(tokens: tokens, keepActivations: true)
        let b = r.batch, N = b.B * b.T, V = config.vocabSize, C = config.hiddenSize
        guard let logits = r.logits else { return LossResult(sum: .nan, count: 0) }
        var targets = [Int32](repeating: -1, count: N), count = 0
        for (i, s) in tokens.enumerated() {
            for t in 0..<(s.count - 1) where targetMask?[i][t + 1] ?? true { targets[i * b.T + t] = Int32(s[t + 1]); count += 1 }
        }
        let losses = FloatBuffer(count: N), dl = FloatBuffer(count: N)
        for i in 0..<N where targets[i] >= 0 { dl.ptr[i] = 1 / Float(max(count, 1)) }
        let dlogits = FloatBuffer(count: N * V)
        let sum = targets.withUnsafeBufferPointer { tp in
            let t = tp.baseAddress.unsafelyUnwrapped
            let s = crossEntropy(losses: losses.ptr, logits: logits.cptr, targets: t, N: N, V: V)
            crossEntropyBackward(dlogits: dlogits.ptr, dlosses: dl.cptr, logits: logits.cptr, targets: t, N: N, V: V)
            return s
        }
        // Head: h = norm(x); logits = h·Wᵀ. Recompute h and the norm statistics.
        let x = r.layers.last?.output ?? embed(b)
        let h = FloatBuffer(count: N * C), mean = FloatBuffer(count: N), rstd = FloatBuffer(count: N)
        let dh = FloatBuffer(count: N * C), dx = FloatBuffer(count: N * C), eps = Float(config.normEps)
        let w = weights.global["lm_head"]?.cptr ?? g("embed")
        if config.architecture == "gpt2" {
            layerNorm(out: h.ptr, mean: mean.ptr, rstd: rstd.ptr, inp: x.cptr, weight: g("final_norm"), bias: g("final_norm_bias"), eps: eps, N: N, C: C)
        } else {
            rmsNorm(out: h.ptr, rstd: rstd.ptr, inp: x.cptr, weight: g("final_norm"), eps: eps, N: N, C: C)
        }
        matmulBackward(dinp: dh.ptr, dweight: nil, dbias: nil, dout: dlogits.cptr, inp: h.cptr, weight: w, N: N, C: C, OC: V)
        if config.architecture == "gpt2" {
            layerNormBackward(dinp: dx.ptr, dweight: nil, dbias: nil, dout: dh.cptr, inp: x.cptr, weight: g("final_norm"),
                              mean: mean.cptr, rstd: rstd.cptr, N: N, C: C)
        } else {
            rmsNormBackward(dinp: dx.ptr, dweight: nil, dout: dh.cptr, inp: x.cptr, weight: g("final_norm"), rstd: rstd.cptr, N: N, C: C)
        }
        backwardBlocks(r, dOutput: dx, stopAtLayer: stopAtLayer, visit: visit)
        return LossResult(sum: sum, count: count)
    }

    /// Encoder squared loss (spec §1): L = (1/2n) Σ_b ||e(x_b) − y_b||² over mean-pooled embeddings; forward,
    /// backward, `visit` per module. Returns L. targets: n vectors of hiddenSize. `stopAtLayer` as in `lossAndBackward`.
    /// - Throws: `LCError.usage` for a causal model or mismatched targets.
    public func embeddingLossAndBackward(tokens: [[Int]], targets: [[Float]], stopAtLayer: Int = 0,
                                         visit: (ModuleGradient) -> Void) throws -> Double {
        guard !isCausal else { throw LCError.usage("embeddingLossAndBackward: \(config.architecture) is causal") }
        let C = config.hiddenSize
        guard targets.count == tokens.count, targets.allSatisfy({ $0.count == C }) else {
            throw LCError.usage("embeddingLossAndBackward: need one target of \(C) values per sequence")
        }
        let r = try forward(tokens: tokens, keepActivations: true)
        guard let pooled = r.pooled else { return .nan }
        let b = r.batch, n = Double(b.B)
        var L = 0.0
        let dx = FloatBuffer(count: b.B * b.T * C)
        for s in 0..<b.B {
            let len = b.lengths[s]
            for c in 0..<C {
                let diff = Double(pooled[s * C + c]) - Double(targets[s][c])
                L += diff * diff / (2 * n)
                let g = Float(diff / n / Double(len))
                for t in 0..<len { dx.ptr[(s * b.T + t) * C + c] = g }
            }
        }
        backwardBlocks(r, dOutput: dx, stopAtLayer: stopAtLayer, visit: visit)
        return L
    }

    /// Backward from dL/d(last block output) (B,T,C) through all blocks in reverse (needs `keepActivations`).
    func backwardBlocks(_ r: ForwardResult, dOutput: FloatBuffer, stopAtLayer: Int = 0, visit: (ModuleGradient) -> Void) {
        let sc = BlockGradScratch(config: config, B: r.batch.B, T: r.batch.T)
        var d = dOutput, other = FloatBuffer(count: dOutput.count)
        for l in stride(from: r.layers.count - 1, through: max(0, stopAtLayer), by: -1) {
            blockBackward(l, acts: r.layers[l], dOut: d, dInput: other, scratch: sc, batch: r.batch, visit: visit)
            swap(&d, &other)
        }
    }
}
