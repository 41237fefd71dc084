// One transformer block's forward, per architecture family, reading `acts.input` and writing every
// intermediate plus `acts.output` (see BlockActivations). Reads top to bottom like the HF modules.
// Weights come from `layerWeights(_:)` (resident, or fetched through the streaming cache) or from the caller.
// Deliberately no allocation except the RoPE tables.
import LCKernels

extension TransformerModel {
    /// Runs block `l` on `acts.input` (B,T,C), filling `acts` and `acts.output`. Streaming: fetches the layer;
    /// if that read fails the output is NaN and `throwIfWeightReadFailed()` throws the error.
    public func block(_ l: Int, acts a: BlockActivations, batch: Batch) {
        do {
            block(l, weights: try layerWeights(l), acts: a, batch: batch)
        } catch {
            cache.record(error)
            a.output.ptr.update(repeating: .nan, count: a.output.count)
        }
    }

    /// Runs block `l` with the given weights (e.g. a perturbed copy of `layerWeights(l)`); `w` must hold every
    /// role `layerWeights(l)` holds, with the same shapes (a missing role is a programming error and traps).
    public func block(_ l: Int, weights w: LayerWeights, acts a: BlockActivations, batch: Batch) {
        switch config.architecture {
        case "gpt2": gpt2Block(l, w, a, batch)
        case "bert": bertBlock(l, w, a, batch)
        default: llamaBlock(l, w, a, batch)
        }
    }

    private func lw(_ w: LayerWeights, _ l: Int, _ role: String) -> UnsafePointer<Float> {
        guard let b = w[role] else { preconditionFailure("weight \(role) of layer \(l) not loaded") }
        return b.cptr
    }

    /// out (N, OC) = inp (N, C) · W[role]ᵀ + bias, plus the role's low-rank term when the weights carry one.
    private func linear(_ w: LayerWeights, _ role: String, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int, _ l: Int) {
        matmul(out: out, inp: inp, weight: lw(w, l, role), bias: bias, N: N, C: C, OC: OC)
        if let t = w.lowRank[role] {
            precondition(t.dIn == C && t.dOut == OC, "low-rank term of \(role) in layer \(l) has shape \(t.dOut)×\(t.dIn), weight \(OC)×\(C)")
            t.apply(out: out, inp: inp, rows: N)
        }
    }

    private func attend(_ a: BlockActivations, _ batch: Batch, causal: Bool) {
        let c = config
        batch.keyMask.withUnsafeBufferPointer { mp in
            attention(out: a.attnOut.ptr, att: nil, q: a.q.cptr, k: a.k.cptr, v: a.v.cptr,
                      keyMask: causal ? nil : mp.baseAddress, causal: causal,
                      B: batch.B, T: batch.T, NH: c.numHeads, KVH: c.numKVHeads, HS: c.headDim)
        }
    }

    /// llama / qwen2 / qwen3: x += o(attn(rope(q), rope(k), v)) over RMSNorm(x); x += down(silu(gate)·up) over RMSNorm(x).
    private func llamaBlock(_ l: Int, _ w: LayerWeights, _ a: BlockActivations, _ batch: Batch) {
        let c = config, N = batch.B * batch.T, C = c.hiddenSize, I = c.intermediateSize, HS = c.headDim
        let NH = c.numHeads, KVH = c.numKVHeads, eps = Float(c.normEps)
        rmsNorm(out: a.attnIn.ptr, rstd: a.norm1Rstd.ptr, inp: a.input.cptr, weight: lw(w, l, "attn_norm"), eps: eps, N: N, C: C)
        let qwen3 = c.architecture == "qwen3"
        // qwen3: projections land in qProj/kProj, then per-head RMSNorm (over HS) writes q/k.
        let qDst = qwen3 ? a.qProj : a.q, kDst = qwen3 ? a.kProj : a.k
        linear(w, "q", out: qDst.ptr, inp: a.attnIn.cptr, bias: w["q_bias"]?.cptr, N: N, C: C, OC: NH * HS, l)
        linear(w, "k", out: kDst.ptr, inp: a.attnIn.cptr, bias: w["k_bias"]?.cptr, N: N, C: C, OC: KVH * HS, l)
        linear(w, "v", out: a.v.ptr, inp: a.attnIn.cptr, bias: w["v_bias"]?.cptr, N: N, C: C, OC: KVH * HS, l)
        if qwen3 {
            rmsNorm(out: a.q.ptr, rstd: a.qRstd.ptr, inp: a.qProj.cptr, weight: lw(w, l, "q_norm"), eps: eps, N: N * NH, C: HS)
            rmsNorm(out: a.k.ptr, rstd: a.kRstd.ptr, inp: a.kProj.cptr, weight: lw(w, l, "k_norm"), eps: eps, N: N * KVH, C: HS)
        }
        let (cs, sn) = ropeTables(invFreq: invFreq, T: batch.T)
        cs.withUnsafeBufferPointer { cp in
            sn.withUnsafeBufferPointer { sp in
                let cpp = cp.baseAddress.unsafelyUnwrapped, spp = sp.baseAddress.unsafelyUnwrapped
                rope(x: a.q.ptr, cos: cpp, sin: spp, B: batch.B, T: batch.T, NH: NH, HS: HS, R: rotaryDim)
                rope(x: a.k.ptr, cos: cpp, sin: spp, B: batch.B, T: batch.T, NH: KVH, HS: HS, R: rotaryDim)
            }
        }
        attend(a, batch, causal: true)
        linear(w, "o", out: a.proj.ptr, inp: a.attnOut.cptr, bias: nil, N: N, C: NH * HS, OC: C, l)
        residual(out: a.resid1.ptr, a: a.input.cptr, b: a.proj.cptr, n: N * C)
        rmsNorm(out: a.ffnIn.ptr, rstd: a.norm2Rstd.ptr, inp: a.resid1.cptr, weight: lw(w, l, "ffn_norm"), eps: eps, N: N, C: C)
        linear(w, "gate", out: a.gate.ptr, inp: a.ffnIn.cptr, bias: nil, N: N, C: C, OC: I, l)
        linear(w, "up", out: a.up.ptr, inp: a.ffnIn.cptr, bias: nil, N: N, C: C, OC: I, l)
        swiglu(out: a.act.ptr, gate: a.gate.cptr, up: a.up.cptr, n: N * I)
        linear(w, "down", out: a.down.ptr, inp: a.act.cptr, bias: nil, N: N, C: I, OC: C, l)
        residual(out: a.output.ptr, a: a.resid1.cptr, b: a.down.cptr, n: N * C)
    }

    /// Recomputes the buffers a kept block shares with the other kept blocks (BlockActivations `transient`) from what
    /// it keeps, before its backward: `attnIn` (first norm of `input`; BERT: `input` itself), `ffnIn` (second norm
    /// of `resid1`) and `act` (the MLP activation of `gate`/`up`). The forward's kernels on the forward's inputs, so
    /// the values are bit-identical to the ones the forward used (and the norm statistics are rewritten unchanged).
    func rematerialize(_ l: Int, weights w: LayerWeights, acts a: BlockActivations, batch: Batch) {
        let c = config, N = batch.B * batch.T, C = c.hiddenSize, I = c.intermediateSize, eps = Float(c.normEps)
        switch c.architecture {
        case "gpt2":
            layerNorm(out: a.attnIn.ptr, mean: a.norm1Mean.ptr, rstd: a.norm1Rstd.ptr, inp: a.input.cptr,
                      weight: lw(w, l, "attn_norm"), bias: lw(w, l, "attn_norm_bias"), eps: eps, N: N, C: C)
            layerNorm(out: a.ffnIn.ptr, mean: a.norm2Mean.ptr, rstd: a.norm2Rstd.ptr, inp: a.resid1.cptr,
                      weight: lw(w, l, "ffn_norm"), bias: lw(w, l, "ffn_norm_bias"), eps: eps, N: N, C: C)
            geluTanh(out: a.act.ptr, inp: a.up.cptr, n: N * I)
        case "bert":
            a.attnIn.ptr.update(from: a.input.cptr, count: N * C)
            layerNorm(out: a.ffnIn.ptr, mean: a.norm2Mean.ptr, rstd: a.norm2Rstd.ptr, inp: a.resid1.cptr,
                      weight: lw(w, l, "attn_out_norm"), bias: lw(w, l, "attn_out_norm_bias"), eps: eps, N: N, C: C)
            gelu(out: a.act.ptr, inp: a.up.cptr, n: N * I)
        default:
            rmsNorm(out: a.attnIn.ptr, rstd: a.norm1Rstd.ptr, inp: a.input.cptr, weight: lw(w, l, "attn_norm"), eps: eps, N: N, C: C)
            rmsNorm(out: a.ffnIn.ptr, rstd: a.norm2Rstd.ptr, inp: a.resid1.cptr, weight: lw(w, l, "ffn_norm"), eps: eps, N: N, C: C)
            swiglu(out: a.act.ptr, gate: a.gate.cptr, up: a.up.cptr, n: N * I)
        }
    }

    /// gpt2: x += c_proj(attn(split(c_attn(ln_1(x))))); x += mlp.c_proj(gelu_new(c_fc(ln_2(x)))).
    private func gpt2Block(_ l: Int, _ w: LayerWeights, _ a: BlockActivations, _ batch: Batch) {
        let c = config, N = batch.B * batch.T, C = c.hiddenSize, I = c.intermediateSize, eps = Float(c.normEps)
        layerNorm(out: a.attnIn.ptr, mean: a.norm1Mean.ptr, rstd: a.norm1Rstd.ptr, inp: a.input.cptr,
                  weight: lw(w, l, "attn_norm"), bias: lw(w, l, "attn_norm_bias"), eps: eps, N: N, C: C)
        linear(w, "qkv", out: a.qkv.ptr, inp: a.attnIn.cptr, bias: lw(w, l, "qkv_bias"), N: N, C: C, OC: 3 * C, l)
        for n in 0..<N {  // split rows q | k | v of the [3C, C] weight → columns of the (N,3C) output
            let row = a.qkv.ptr + n * 3 * C
            (a.q.ptr + n * C).update(from: row, count: C)
            (a.k.ptr + n * C).update(from: row + C, count: C)
            (a.v.ptr + n * C).update(from: row + 2 * C, count: C)
        }
        attend(a, batch, causal: true)
        linear(w, "o", out: a.proj.ptr, inp: a.attnOut.cptr, bias: lw(w, l, "o_bias"), N: N, C: C, OC: C, l)
        residual(out: a.resid1.ptr, a: a.input.cptr, b: a.proj.cptr, n: N * C)
        layerNorm(out: a.ffnIn.ptr, mean: a.norm2Mean.ptr, rstd: a.norm2Rstd.ptr, inp: a.resid1.cptr,
                  weight: lw(w, l, "ffn_norm"), bias: lw(w, l, "ffn_norm_bias"), eps: eps, N: N, C: C)
        linear(w, "up", out: a.up.ptr, inp: a.ffnIn.cptr, bias: lw(w, l, "up_bias"), N: N, C: C, OC: I, l)
        geluTanh(out: a.act.ptr, inp: a.up.cptr, n: N * I)
        linear(w, "down", out: a.down.ptr, inp: a.act.cptr, bias: lw(w, l, "down_bias"), N: N, C: I, OC: C, l)
        residual(out: a.output.ptr, a: a.resid1.cptr, b: a.down.cptr, n: N * C)
    }

    /// bert (post-LN): h = LN(x + dense(attn(x))); out = LN(h + output.dense(gelu(intermediate.dense(h)))).
    private func bertBlock(_ l: Int, _ w: LayerWeights, _ a: BlockActivations, _ batch: Batch) {
        let c = config, N = batch.B * batch.T, C = c.hiddenSize, I = c.intermediateSize, eps = Float(c.normEps)
        let qD = c.numHeads * c.headDim, kD = c.numKVHeads * c.headDim
        a.attnIn.ptr.update(from: a.input.cptr, count: N * C)
        linear(w, "q", out: a.q.ptr, inp: a.attnIn.cptr, bias: lw(w, l, "q_bias"), N: N, C: C, OC: qD, l)
        linear(w, "k", out: a.k.ptr, inp: a.attnIn.cptr, bias: lw(w, l, "k_bias"), N: N, C: C, OC: kD, l)
        linear(w, "v", out: a.v.ptr, inp: a.attnIn.cptr, bias: lw(w, l, "v_bias"), N: N, C: C, OC: kD, l)
        attend(a, batch, causal: false)
        linear(w, "o", out: a.proj.ptr, inp: a.attnOut.cptr, bias: lw(w, l, "o_bias"), N: N, C: qD, OC: C, l)
        residual(out: a.resid1.ptr, a: a.input.cptr, b: a.proj.cptr, n: N * C)
        layerNorm(out: a.ffnIn.ptr, mean: a.norm2Mean.ptr, rstd: a.norm2Rstd.ptr, inp: a.resid1.cptr,
                  weight: lw(w, l, "attn_out_norm"), bias: lw(w, l, "attn_out_norm_bias"), eps: eps, N: N, C: C)
        linear(w, "up", out: a.up.ptr, inp: a.ffnIn.cptr, bias: lw(w, l, "up_bias"), N: N, C: C, OC: I, l)
        gelu(out: a.act.ptr, inp: a.up.cptr, n: N * I)
        linear(w, "down", out: a.down.ptr, inp: a.act.cptr, bias: lw(w, l, "down_bias"), N: N, C: I, OC: C, l)
        residual(out: a.resid2.ptr, a: a.ffnIn.cptr, b: a.down.cptr, n: N * C)
        layerNorm(out: a.output.ptr, mean: a.norm3Mean.ptr, rstd: a.norm3Rstd.ptr, inp: a.resid2.cptr,
                  weight: lw(w, l, "out_norm"), bias: lw(w, l, "out_norm_bias"), eps: eps, N: N, C: C)
    }
}
