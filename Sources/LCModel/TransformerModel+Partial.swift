// Partial forward passes for the profiler's coupling (layer-card-spec §3): the residual stream at every block
// boundary, a forward that starts at block l from a cached input, the final hidden state (after the final norm),
// and a cheap copy of the model with one layer's weights replaced (all other buffers shared).
// Deliberately no gradients here and no mutation of the model's own weights.
import Dispatch
import LCCore
import LCKernels

/// Maps a module's PEFT name (Architecture.modules) to its weight role in `LayerWeights`.
public func moduleWeightRole(arch: String, module: String) -> String? {
    let table: [String: String]
    switch arch {
    case "gpt2": table = ["c_attn": "qkv", "attn.c_proj": "o", "c_fc": "up", "mlp.c_proj": "down"]
    case "bert": table = ["query": "q", "key": "k", "value": "v", "attention.output.dense": "o", "intermediate.dense": "up",
                          "output.dense": "down"]
    default: table = ["q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "gate_proj": "gate", "up_proj": "up",
                      "down_proj": "down"]
    }
    return table[module]
}

extension TransformerModel {
    /// The block inputs x_0 … x_{L-1} (each (B,T,C)) and the last block's output, from one forward.
    public func blockInputs(_ batch: Batch) -> (inputs: [FloatBuffer], output: FloatBuffer) {
        var inputs: [FloatBuffer] = []
        var x = embed(batch)
        let acts = BlockActivations(config: config, B: batch.B, T: batch.T)
        for l in 0..<config.numLayers {
            inputs.append(x)
            acts.input.ptr.update(from: x.cptr, count: x.count)
            block(l, acts: acts, batch: batch)
            let next = FloatBuffer(count: x.count)
            next.ptr.update(from: acts.output.cptr, count: x.count)
            x = next
        }
        return (inputs, x)
    }

    /// `blockInputs`, timed: `seconds[l]` = wall seconds of the embedding and blocks 0..<l (what a forward spends
    /// before block l), `seconds[L]` the whole forward without the head. Blocks run exactly as in `blockInputs`.
    public func timedBlockInputs(_ batch: Batch) throws -> (inputs: [FloatBuffer], seconds: [Double]) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 }
        var inputs: [FloatBuffer] = [], seconds: [Double] = []
        var x = embed(batch)
        let acts = BlockActivations(config: config, B: batch.B, T: batch.T)
        for l in 0..<config.numLayers {
            inputs.append(x)
            seconds.append(elapsed())
            acts.input.ptr.update(from: x.cptr, count: x.count)
            block(l, acts: acts, batch: batch)
            let next = FloatBuffer(count: x.count)
            next.ptr.update(from: acts.output.cptr, count: x.count)
            x = next
        }
        seconds.append(elapsed())
        try throwIfWeightReadFailed()
        return (inputs, seconds)
    }

    /// Runs blocks `layer ..< L` on `input` (B,T,C) and returns the last block's output (a copy of `input`
    /// when `layer == L`). `input` is not modified.
    public func forwardFrom(layer: Int, input: FloatBuffer, batch: Batch) -> FloatBuffer {
        let out = FloatBuffer(count: input.count)
        out.ptr.update(from: input.cptr, count: input.count)
        guard layer < config.numLayers else { return out }
        let acts = BlockActivations(config: config, B: batch.B, T: batch.T)
        for l in max(0, layer)..<config.numLayers {
            acts.input.ptr.update(from: out.cptr, count: out.count)
            block(l, acts: acts, batch: batch)
            out.ptr.update(from: acts.output.cptr, count: out.count)
        }
        return out
    }

    /// The final hidden state h (B,T,C): after the final norm for causal LMs (the LM head's input), the last
    /// block's output itself for bert.
    public func finalHidden(_ x: FloatBuffer, batch: Batch) -> FloatBuffer {
        let c = config, C = c.hiddenSize, N = batch.B * batch.T
        let h = FloatBuffer(count: N * C)
        switch c.architecture {
        case "bert": h.ptr.update(from: x.cptr, count: N * C)
        case "gpt2":
            layerNorm(out: h.ptr, mean: nil, rstd: nil, inp: x.cptr, weight: g("final_norm"), bias: g("final_norm_bias"),
                      eps: Float(c.normEps), N: N, C: C)
        default: rmsNorm(out: h.ptr, rstd: nil, inp: x.cptr, weight: g("final_norm"), eps: Float(c.normEps), N: N, C: C)
        }
        return h
    }

    /// A model identical to this one except that layer `l` uses `w` (other buffers are shared, not copied).
    /// - Throws: `LCError.usage` if `l` is out of range or a weight role of `w` has a different size.
    public func replacingLayerWeights(_ l: Int, with w: LayerWeights) throws -> TransformerModel {
        guard (0..<config.numLayers).contains(l) else { throw LCError.usage("replacingLayerWeights: layer \(l) out of range") }
        for (role, buf) in try layerWeights(l).buffers where w[role]?.count != buf.count {
            throw LCError.usage("replacingLayerWeights: layer \(l) weight '\(role)' missing or resized")
        }
        return TransformerModel(base: self, layer: l, weights: w)
    }
}
