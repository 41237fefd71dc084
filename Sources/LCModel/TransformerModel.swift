// The forward pass for llama/qwen2/qwen3 (pre-RMSNorm, RoPE, GQA, SwiGLU), gpt2 (pre-LayerNorm, learned
// positions, fused c_attn, gelu_new, tied head) and bert (post-LayerNorm encoder, erf GELU, padding mask,
// mean pooling), staged as embed → block l → … → head so a profiler can run it layer by layer and keep
// per-layer activations. Ports of HF modeling_{llama,qwen2,qwen3,gpt2,bert}.py; the backward lives in
// TransformerModel+Backward.swift, weight streaming in TransformerModel+Streaming.swift (MemoryPlan decides).
// Deliberately no KV cache, no generation, no sliding window.
import LCCore
import LCKernels

/// Result of `TransformerModel.forward`.
public struct ForwardResult: Sendable {
    public let batch: Batch
    /// Causal LMs: (B,T,V) logits (rows at padded positions are computed but meaningless); nil for bert.
    public let logits: FloatBuffer?
    /// BERT: (B,C) mean over real tokens of the last hidden state (all-MiniLM's sentence embedding,
    /// unnormalized); nil for causal LMs.
    public let pooled: [Float]?
    /// Per-layer activations when requested (`keepActivations`), else empty.
    public let layers: [BlockActivations]
}

/// Mean token loss over a reference set (layer-card-spec §1).
public struct LossResult: Sendable {
    /// Sum over counted positions of −log p(next token), in Float64.
    public let sum: Double
    /// Number P of counted target positions.
    public let count: Int
    /// sum / count (NaN when count is 0).
    public var mean: Double { sum / Double(count) }
}

/// A transformer with weights held in owned f32 buffers, or streamed layer by layer from its WeightSource.
public final class TransformerModel: Sendable {
    public let config: ModelConfig
    /// Resident weights (streamed: only the small global tensors; use `layerWeights(_:)` for layers).
    public let weights: ModelWeights
    /// Residency and checkpointing decisions (from `MemoryOptions`).
    public let memoryPlan: MemoryPlan
    /// The source, kept when streaming.
    let stream: WeightSource?
    let cache: LayerWeightCache
    /// Layers whose weights replace the resident/streamed ones (`replacingLayerWeights`).
    let overrides: [Int: LayerWeights]
    /// RoPE inverse frequencies (R/2) for rotary architectures, else empty; R = rotary dims.
    let invFreq: [Float]
    let rotaryDim: Int

    /// - Parameter memory: budget and overrides; the default keeps weights resident when they take at most 60%
    ///   of 80% of MemAvailable, else streams them (see MemoryPlan).
    /// - Throws: `LCError.unsupported` (architecture, activation, rope type), `LCError.format` (missing or
    ///   misshapen tensor, inconsistent dimensions).
    public init(config c: ModelConfig, weights source: WeightSource, memory: MemoryOptions = MemoryOptions()) throws {
        let src = source.sourceName
        guard c.numLayers >= 0, c.hiddenSize > 0, c.numHeads > 0, c.numKVHeads > 0, c.headDim > 0,
              c.intermediateSize > 0, c.vocabSize > 0, c.numHeads % c.numKVHeads == 0 else {
            throw LCError.format(path: src, message: "inconsistent config dimensions")
        }
        // Bounds that keep every buffer-size product far from Int overflow (largest real models are well inside).
        let limit = 1 << 20
        guard c.numLayers <= 4096, c.hiddenSize <= limit, c.intermediateSize <= limit, c.numHeads <= 4096,
              c.headDim <= 4096, c.vocabSize <= 1 << 24, (c.maxPositions ?? 0) <= limit, (c.typeVocabSize ?? 0) <= 4096,
              c.numHeads * c.headDim <= limit else {
            throw LCError.format(path: src, message: "config dimensions out of supported range")
        }
        switch c.architecture {
        case "llama", "qwen2", "qwen3":
            guard c.activation == "silu" else { throw LCError.unsupported(path: src, message: "activation \(c.activation) for \(c.architecture)") }
            guard let r = c.rope else { throw LCError.format(path: src, message: "\(c.architecture) needs rope parameters") }
            let R = r.dimensions ?? c.headDim
            guard R > 0, R % 2 == 0, R <= c.headDim else { throw LCError.format(path: src, message: "rotary dimension \(R)") }
            rotaryDim = R
            switch r.type {
            case "default": invFreq = ropeInvFreq(rotaryDim: R, theta: r.theta)
            case "linear": invFreq = ropeInvFreq(rotaryDim: R, theta: r.theta, linearFactor: r.factor ?? 1)
            case "llama3":
                guard let f = r.factor, let lo = r.lowFreqFactor, let hi = r.highFreqFactor, let om = r.originalMaxPositions,
                      hi > lo else { throw LCError.format(path: src, message: "llama3 rope scaling needs factor/low/high/original_max") }
                invFreq = ropeInvFreq(rotaryDim: R, theta: r.theta, llama3: (f, lo, hi, om))
            default: throw LCError.unsupported(path: src, message: "rope type '\(r.type)'")
            }
        case "gpt2", "bert":
            let want = c.architecture == "gpt2" ? "gelu_new" : "gelu"
            guard c.activation == want else { throw LCError.unsupported(path: src, message: "activation \(c.activation) for \(c.architecture)") }
            invFreq = []; rotaryDim = 0
        default: throw LCError.unsupported(path: src, message: "architecture '\(c.architecture)'")
        }
        config = c
        var total = 0, maxLayer = 0
        for t in try ModelWeights.globalSpec(config: c, source: src) { total += 4 * t.2.reduce(1, *) }
        for l in 0..<c.numLayers {
            let b = ModelWeights.layerSpec(config: c, layer: l).reduce(0) { $0 + 4 * $1.2.reduce(1, *) }
            total += b; maxLayer = max(maxLayer, b)
        }
        memoryPlan = MemoryPlan(config: c, options: memory, weightBytes: total, layerBytes: maxLayer)
        weights = try ModelWeights(config: c, source: source, streamed: memoryPlan.streamWeights)
        stream = memoryPlan.streamWeights ? source : nil
        cache = LayerWeightCache(capacity: 1)
        overrides = [:]
    }

    /// A model sharing `base`'s configuration, RoPE tables, memory plan and source, with layer `l`'s weights
    /// replaced by `w` (resident: in `weights.layers`; streamed: as an override of the fetched layer).
    init(base: TransformerModel, layer l: Int, weights w: LayerWeights) {
        config = base.config; invFreq = base.invFreq; rotaryDim = base.rotaryDim
        memoryPlan = base.memoryPlan; stream = base.stream
        var mw = base.weights
        if l < mw.layers.count { mw.layers[l] = w }
        weights = mw
        var o = base.overrides
        o[l] = w
        overrides = o
        cache = LayerWeightCache(capacity: 1)
    }

    /// True for causal LMs (logits + next-token loss), false for the bert encoder (pooled embeddings).
    public var isCausal: Bool { config.architecture != "bert" }

    /// Validates and pads token sequences into a batch for this model.
    public func makeBatch(_ tokens: [[Int]]) throws -> Batch {
        let learned = config.architecture == "gpt2" || config.architecture == "bert"
        return try Batch(tokens, vocabSize: config.vocabSize, maxPositions: learned ? config.maxPositions : nil)
    }

    /// Full forward pass over B sequences (right-padded to the longest).
    /// - Parameter keepActivations: keep every block's activations in the result (memory: see BlockActivations).
    /// - Throws: `LCError.usage` for invalid token ids or lengths.
    public func forward(tokens: [[Int]], keepActivations: Bool = false) throws -> ForwardResult {
        let batch = try makeBatch(tokens)
        var x = embed(batch)
        var kept: [BlockActivations] = []
        var scratch: BlockActivations?
        for l in 0..<config.numLayers {
            let acts = keepActivations ? BlockActivations(config: config, B: batch.B, T: batch.T)
                : (scratch ?? BlockActivations(config: config, B: batch.B, T: batch.T))
            if !keepActivations { scratch = acts }
            acts.input.ptr.update(from: x.cptr, count: x.count)
            block(l, acts: acts, batch: batch)
            if keepActivations { kept.append(acts); x = acts.output } else { x.ptr.update(from: acts.output.cptr, count: x.count) }
        }
        try throwIfWeightReadFailed()
        if isCausal {
            return ForwardResult(batch: batch, logits: head(x, batch: batch), pooled: nil, layers: kept)
        }
        return ForwardResult(batch: batch, logits: nil, pooled: meanPool(x, batch: batch), layers: kept)
    }

    /// Mean next-token loss (spec §1): position t predicts token t+1 of the same sequence; with `targetMask`,
    /// token j counts as a target only where `targetMask[b][j]` is true (prompt tokens false). Causal LMs only.
    /// - Throws: `LCError.usage` for bert, mismatched mask shapes, or invalid tokens.
    public func loss(tokens: [[Int]], targetMask: [[Bool]]? = nil) throws -> LossResult {
        guard isCausal else { throw LCError.usage("loss: \(config.architecture) is not a causal LM") }
        if let m = targetMask {
            guard m.count == tokens.count, zip(m, tokens).allSatisfy({ $0.count == $1.count }) else {
                throw LCError.usage("loss: targetMask must have the same shape as tokens")
            }
        }
        if stream != nil { return try streamedLoss(tokens: tokens, targetMask: targetMask) }
        let r = try forward(tokens: tokens)
        guard let logits = r.logits else { return LossResult(sum: .nan, count: 0) }
        let b = r.batch
        let (targets, count) = nextTokenTargets(tokens, targetMask: targetMask, T: b.T)
        return LossResult(sum: crossEntropySum(logits: logits, targets: targets), count: count)
    }

    /// `loss` of the blocks from `from.layer` up, given block `from.layer`'s input `from.input` (B,T,C) for these
    /// tokens (e.g. cached from a forward of a model with the same blocks below): bit-identical to `loss` when it is.
    /// - Throws: as `loss`; `LCError.usage` when the input has the wrong size or the layer is out of range.
    /// `compactHead`: logits only for the positions with a target (same loss; see `lossAndBackward`).
    public func loss(tokens: [[Int]], targetMask: [[Bool]]?, from: (layer: Int, input: FloatBuffer)?,
                     compactHead: Bool = false) throws -> LossResult {
        guard isCausal else { throw LCError.usage("loss: \(config.architecture) is not a causal LM") }
        if let m = targetMask {
            guard m.count == tokens.count, zip(m, tokens).allSatisfy({ $0.count == $1.count }) else {
                throw LCError.usage("loss: targetMask must have the same shape as tokens")
            }
        }
        if from == nil, !compactHead || stream != nil { return try loss(tokens: tokens, targetMask: targetMask) }
        let b = try makeBatch(tokens)
        let x: FloatBuffer
        if let from {
            guard (0...config.numLayers).contains(from.layer) else {
                throw LCError.usage("loss from layer \(from.layer): out of range 0...\(config.numLayers)")
            }
            guard from.input.count == b.B * b.T * config.hiddenSize else {
                throw LCError.usage("loss from layer \(from.layer): input has \(from.input.count) values, expected \(b.B * b.T * config.hiddenSize)")
            }
            x = forwardFrom(layer: from.layer, input: from.input, batch: b)
        } else {
            x = forwardFrom(layer: 0, input: embed(b), batch: b)
        }
        try throwIfWeightReadFailed()
        let (targets, count) = nextTokenTargets(tokens, targetMask: targetMask, T: b.T)
        let N = b.B * b.T, C = config.hiddenSize, V = config.vocabSize
        if compactHead, stream == nil, count < N {
            let rows = (0..<N).filter { targets[$0] >= 0 }, M = rows.count
            guard M > 0 else { return LossResult(sum: 0, count: 0) }
            let h = FloatBuffer(count: N * C)
            finalNorm(out: h, mean: nil, rstd: nil, x: x, N: N)
            let hc = FloatBuffer(count: M * C), logits = FloatBuffer(count: M * V)
            gatherRows(from: h.cptr, rows: rows, C: C, into: hc.ptr)
            let w = weights.global["lm_head"]?.cptr ?? g("embed")
            matmul(out: logits.ptr, inp: hc.cptr, weight: w, bias: nil, N: M, C: C, OC: V)
            return LossResult(sum: crossEntropySum(logits: logits, targets: rows.map { targets[$0] }), count: count)
        }
        let logits = head(x, batch: b)
        try throwIfWeightReadFailed()
        return LossResult(sum: crossEntropySum(logits: logits, targets: targets), count: count)
    }

    /// Σ of the next-token losses of `targets.count` logit rows (a target < 0 counts 0), in row order.
    func crossEntropySum(logits: FloatBuffer, targets: [Int32]) -> Double {
        var losses = [Float](repeating: 0, count: targets.count)
        return losses.withUnsafeMutableBufferPointer { lp in
            targets.withUnsafeBufferPointer { tp in
                crossEntropy(losses: lp.baseAddress.unsafelyUnwrapped, logits: logits.cptr,
                             targets: tp.baseAddress.unsafelyUnwrapped, N: targets.count, V: config.vocabSize)
            }
        }
    }

    // MARK: stages

    /// (B·T) next-token targets (−1 = not counted) and their count, as `loss` defines them.
    func nextTokenTargets(_ tokens: [[Int]], targetMask: [[Bool]]?, T: Int) -> ([Int32], Int) {
        var targets = [Int32](repeating: -1, count: tokens.count * T), count = 0
        for (i, s) in tokens.enumerated() {
            for t in 0..<(s.count - 1) where targetMask?[i][t + 1] ?? true {
                targets[i * T + t] = Int32(s[t + 1]); count += 1
            }
        }
        return (targets, count)
    }

    /// Embedding stage: (B,T,C) residual stream input (BERT: after embeddings.LayerNorm). Streaming: reads only
    /// the batch's embedding rows (a read failure yields NaN and is thrown by `throwIfWeightReadFailed`).
    public func embed(_ batch: Batch) -> FloatBuffer {
        let c = config, C = c.hiddenSize, N = batch.B * batch.T
        let x = FloatBuffer(count: N * C)
        if stream != nil {
            streamedEmbedding(into: x, batch: batch)
        } else {
            batch.tokens.withUnsafeBufferPointer { tp in
                embedding(out: x.ptr, tokens: tp.baseAddress.unsafelyUnwrapped, wte: g("embed"),
                          wpe: weights.global["pos_embed"]?.cptr, typeRow: weights.global["type_embed"]?.cptr,
                          B: batch.B, T: batch.T, C: C, V: c.vocabSize)
            }
        }
        if c.architecture == "bert" {
            let y = FloatBuffer(count: N * C)
            layerNorm(out: y.ptr, mean: nil, rstd: nil, inp: x.cptr, weight: g("embed_norm"), bias: g("embed_norm_bias"),
                      eps: Float(c.normEps), N: N, C: C)
            return y
        }
        return x
    }

    /// Final norm and LM head: (B,T,V) logits from the last block's output (B,T,C). Streaming: the head is read
    /// in row blocks (a read failure yields NaN logits and is thrown by `throwIfWeightReadFailed`).
    public func head(_ x: FloatBuffer, batch: Batch) -> FloatBuffer {
        let c = config, C = c.hiddenSize, N = batch.B * batch.T
        let h = FloatBuffer(count: N * C), logits = FloatBuffer(count: N * c.vocabSize)
        finalNorm(out: h, mean: nil, rstd: nil, x: x, N: N)
        if stream != nil {
            streamedLogits(into: logits, h: h, N: N)
            return logits
        }
        let w = weights.global["lm_head"]?.cptr ?? g("embed")
        matmul(out: logits.ptr, inp: h.cptr, weight: w, bias: nil, N: N, C: C, OC: c.vocabSize)
        return logits
    }

    /// h = final norm of x (LayerNorm for gpt2, RMSNorm otherwise), with statistics when asked.
    func finalNorm(out h: FloatBuffer, mean: FloatBuffer?, rstd: FloatBuffer?, x: FloatBuffer, N: Int) {
        let c = config, C = c.hiddenSize, eps = Float(c.normEps)
        if c.architecture == "gpt2" {
            layerNorm(out: h.ptr, mean: mean?.ptr, rstd: rstd?.ptr, inp: x.cptr, weight: g("final_norm"),
                      bias: g("final_norm_bias"), eps: eps, N: N, C: C)
        } else {
            rmsNorm(out: h.ptr, rstd: rstd?.ptr, inp: x.cptr, weight: g("final_norm"), eps: eps, N: N, C: C)
        }
    }

    /// Mean over real (unpadded) tokens of (B,T,C) → (B,C).
    public func meanPool(_ x: FloatBuffer, batch: Batch) -> [Float] {
        let C = config.hiddenSize
        var out = [Float](repeating: 0, count: batch.B * C)
        for b in 0..<batch.B {
            let n = batch.lengths[b]
            for t in 0..<n { for ch in 0..<C { out[b * C + ch] += x.ptr[(b * batch.T + t) * C + ch] } }
            for ch in 0..<C { out[b * C + ch] /= Float(n) }
        }
        return out
    }

    /// A global weight pointer; presence was validated in `ModelWeights.init`.
    func g(_ role: String) -> UnsafePointer<Float> {
        guard let b = weights.global[role] else { preconditionFailure("weight \(role) not loaded") }
        return b.cptr
    }
}
