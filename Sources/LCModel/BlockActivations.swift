// Per-block activation buffers for one (B,T) batch: every module's input activation `a` (spec §2) and the
// intermediates a backward pass needs. The forward can keep one per layer (profile) or reuse one (inference).
// Deliberately just storage; the math is in TransformerModel+Forward.swift.
import LCKernels

/// Buffers of one block for N = B·T positions. Module inputs: q/k/v/c_attn/query/key/value read `attnIn`;
/// o_proj/c_proj/attention.output.dense read `attnOut`; gate/up/c_fc/intermediate read `ffnIn`;
/// down/mlp.c_proj/output.dense read `act`. No attention probabilities: the backward recomputes them per head.
///
/// Kept blocks (the profile's keep-all forward, `init(…transient:)`) share with the block passed as `transient` the
/// buffers the backward either never reads (`proj`, `down`, GPT-2's `qkv`) or recomputes cheaply from what each
/// block keeps (`attnIn`, `ffnIn` from the norms' inputs; `act` from the MLP's pre-activations): see
/// `TransformerModel.rematerialize`. SmolLM2 at 4×128 tokens: 5,764 floats per position kept per block instead of
/// 9,604 (with the probabilities and without the sharing).
public final class BlockActivations: @unchecked Sendable {
    public let B: Int, T: Int
    /// (N,C) block input (residual stream in).
    public let input: FloatBuffer
    /// (N,C) input of the attention projections (normed input, or the raw input for post-LN BERT).
    public let attnIn: FloatBuffer
    /// (N) norm statistics of the first norm (mean only for LayerNorm).
    public let norm1Mean: FloatBuffer, norm1Rstd: FloatBuffer
    /// (N,3C) fused GPT-2 c_attn output; empty otherwise.
    public let qkv: FloatBuffer
    /// (N,NH·HS) q projection output (before qwen3 q_norm and RoPE); (N,NH) its q_norm rstd.
    public let qProj: FloatBuffer, qRstd: FloatBuffer
    /// (N,KVH·HS) k projection output (before k_norm and RoPE); (N,KVH) its k_norm rstd.
    public let kProj: FloatBuffer, kRstd: FloatBuffer
    /// (N,NH·HS) q after norm+RoPE; (N,KVH·HS) k after norm+RoPE; v.
    public let q: FloatBuffer, k: FloatBuffer, v: FloatBuffer
    /// (N,NH·HS) attention output = input of the output projection.
    public let attnOut: FloatBuffer
    /// (N,C) output projection result (transient: may be shared between blocks); residual sum after attention
    /// (pre-norm: the new stream; BERT: LN input).
    public let proj: FloatBuffer, resid1: FloatBuffer
    /// (N,C) input of the MLP up/gate projections; its norm statistics (N).
    public let ffnIn: FloatBuffer, norm2Mean: FloatBuffer, norm2Rstd: FloatBuffer
    /// (N,I) gate output (SwiGLU only), up output, activation (= input of down).
    public let gate: FloatBuffer, up: FloatBuffer, act: FloatBuffer
    /// (N,C) down output (transient, like `proj`); BERT: residual sum after the MLP (LN input) and the output-LN
    /// statistics (N) (empty otherwise: the pre-norm blocks' sum is `output` itself).
    public let down: FloatBuffer, resid2: FloatBuffer, norm3Mean: FloatBuffer, norm3Rstd: FloatBuffer
    /// (N,C) block output.
    public let output: FloatBuffer

    /// Total floats of all buffers for (B,T) (for memory planning). A block kept by the profile's forward shares
    /// `input` with the previous block's `output` and the transient buffers with every other block: `keptFloatCount`.
    public static func floatCount(config c: ModelConfig, B: Int, T: Int) -> Int {
        keptFloatCount(config: c, B: B, T: T) + sharedFloatCount(config: c, B: B, T: T)
    }

    /// Floats one more kept block adds (see `floatCount`).
    public static func keptFloatCount(config c: ModelConfig, B: Int, T: Int) -> Int {
        let N = B * T, C = c.hiddenSize, I = c.intermediateSize
        let qD = c.numHeads * c.headDim, kD = c.numKVHeads * c.headDim
        let swi = c.activation == "silu", bert = c.architecture == "bert", qwen3 = c.architecture == "qwen3"
        // norm1 stats, q, k, v, attnOut, resid1, norm2 stats, up, output (+ gate, qwen3's projections, BERT's LN3).
        var n = N * 2 + N * qD * 2 + N * kD * 2 + N * C * 2 + N * 2 + N * I
        if qwen3 { n += N * qD + N * c.numHeads + N * kD + N * c.numKVHeads }
        if swi { n += N * I }
        if bert { n += N * C + 2 * N }
        return n
    }

    /// Floats of the buffers kept blocks share (first input, proj, down, attnIn, ffnIn, act, GPT-2's qkv).
    public static func sharedFloatCount(config c: ModelConfig, B: Int, T: Int) -> Int {
        let N = B * T, C = c.hiddenSize
        return 5 * N * C + N * c.intermediateSize + (c.architecture == "gpt2" ? N * 3 * C : 0)
    }

    /// - Parameters:
    ///   - input: use this (N,C) buffer as the block input instead of a new one (e.g. the previous block's `output`:
    ///     the forward then neither copies the residual stream nor keeps it twice). Its contents are not changed.
    ///   - transient: share with this block the buffers the backward does not read (`proj`, `down`, `qkv`: consumed
    ///     right after they are written) or recomputes (`attnIn`, `ffnIn`, `act`: `TransformerModel.rematerialize`),
    ///     instead of allocating them per block.
    public init(config c: ModelConfig, B: Int, T: Int, input: FloatBuffer? = nil, transient: BlockActivations? = nil) {
        self.B = B; self.T = T
        let N = B * T, C = c.hiddenSize, I = c.intermediateSize
        let qD = c.numHeads * c.headDim, kD = c.numKVHeads * c.headDim
        let swi = c.activation == "silu", gpt2 = c.architecture == "gpt2", bert = c.architecture == "bert"
        let qwen3 = c.architecture == "qwen3"
        if let input { precondition(input.count == N * C, "BlockActivations: input has \(input.count) floats, need \(N * C)") }
        if let t = transient {
            precondition(t.proj.count == N * C && t.act.count == N * I && t.qkv.count == (gpt2 ? N * 3 * C : 0),
                         "BlockActivations: transient buffers of another shape")
        }
        let own = transient == nil
        // One allocation for all of this block's own buffers (FloatBuffer.carve), in this order.
        let b = FloatBuffer.carve([
            input == nil ? N * C : 0, own ? N * C : 0, N, N, own && gpt2 ? N * 3 * C : 0,                 // 0 input … 4 qkv
            qwen3 ? N * qD : 0, qwen3 ? N * c.numHeads : 0, qwen3 ? N * kD : 0, qwen3 ? N * c.numKVHeads : 0,  // 5 qProj … 8 kRstd
            N * qD, N * kD, N * kD, N * qD,                                                              // 9 q … 12 attnOut
            own ? N * C : 0, N * C, own ? N * C : 0, N, N,                                               // 13 proj … 17 norm2Rstd
            swi ? N * I : 0, N * I, own ? N * I : 0, own ? N * C : 0,                                    // 18 gate … 21 down
            bert ? N * C : 0, bert ? N : 0, bert ? N : 0, N * C,                                         // 22 resid2 … 25 output
        ])
        self.input = input ?? b[0]; attnIn = transient?.attnIn ?? b[1]; norm1Mean = b[2]; norm1Rstd = b[3]
        qkv = transient?.qkv ?? b[4]
        qProj = b[5]; qRstd = b[6]; kProj = b[7]; kRstd = b[8]
        q = b[9]; k = b[10]; v = b[11]; attnOut = b[12]
        proj = transient?.proj ?? b[13]; resid1 = b[14]; ffnIn = transient?.ffnIn ?? b[15]; norm2Mean = b[16]; norm2Rstd = b[17]
        gate = b[18]; up = b[19]; act = transient?.act ?? b[20]; down = transient?.down ?? b[21]
        resid2 = b[22]; norm3Mean = b[23]; norm3Rstd = b[24]; output = b[25]
    }
}
