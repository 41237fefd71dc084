// Loads and shape-checks every tensor a forward pass needs from a WeightSource into owned FloatBuffers,
// per architecture (roles from TensorNames). Deliberately validation only: no dequantization or layout fixes.
import LCCore
import LCKernels

/// One transformer block's weights (nil = not used by this architecture). Linear weights are [out,in].
public struct LayerWeights: Sendable {
    public var buffers: [String: FloatBuffer] = [:]  // role → buffer
    public subscript(_ role: String) -> FloatBuffer? { buffers[role] }
}

/// All weights of a model.
public struct ModelWeights: Sendable {
    public var global: [String: FloatBuffer] = [:]
    public var layers: [LayerWeights] = []

    /// Loads and validates the tensors for `config` from `source`.
    /// - Throws: `LCError.format` naming the tensor when one is missing or has the wrong shape,
    ///   `LCError.unsupported` for an unknown architecture.
    public init(config c: ModelConfig, source: WeightSource) throws {
        let arch = c.architecture, src = source.sourceName
        guard TensorNames.architectures.contains(arch) else {
            throw LCError.unsupported(path: src, message: "architecture '\(arch)'")
        }
        let C = c.hiddenSize, I = c.intermediateSize, V = c.vocabSize, HS = c.headDim
        let qDim = c.numHeads * HS, kvDim = c.numKVHeads * HS
        let g = TensorNames.globalTensors(arch: arch)
        func load(_ name: String?, _ shape: [Int], required: Bool = true) throws -> FloatBuffer? {
            guard let name else { return nil }
            guard let t = try source.tensor(name) else {
                if required { throw LCError.format(path: src, message: "missing tensor '\(name)'") }
                return nil
            }
            guard t.shape == shape, let n = checkedCount(shape), t.data.count == n else {
                throw LCError.format(path: src, message: "tensor '\(name)': shape \(t.shape) (\(t.data.count) values), expected \(shape)")
            }
            return FloatBuffer(t.data)
        }
        global["embed"] = try load(g["embed"], [V, C])
        switch arch {
        case "gpt2", "bert":
            guard let maxPos = c.maxPositions, maxPos > 0 else {
                throw LCError.format(path: src, message: "\(arch) needs maxPositions (n_positions / max_position_embeddings)")
            }
            global["pos_embed"] = try load(g["pos_embed"], [maxPos, C])
            if arch == "gpt2" {
                global["final_norm"] = try load(g["final_norm"], [C]); global["final_norm_bias"] = try load(g["final_norm_bias"], [C])
            } else {
                global["type_embed"] = try load(g["type_embed"], [max(1, c.typeVocabSize ?? 2), C])
                global["embed_norm"] = try load(g["embed_norm"], [C]); global["embed_norm_bias"] = try load(g["embed_norm_bias"], [C])
            }
        default:
            global["final_norm"] = try load(g["final_norm"], [C])
            if !c.tiedEmbeddings { global["lm_head"] = try load(g["lm_head"], [V, C]) }
        }
        for l in 0..<c.numLayers {
            let n = TensorNames.layerTensors(arch: arch, layer: l)
            var w = LayerWeights()
            func put(_ role: String, _ shape: [Int]) throws { w.buffers[role] = try load(n[role], shape) }
            switch arch {
            case "gpt2":
                for (r, s) in [("attn_norm", [C]), ("attn_norm_bias", [C]), ("qkv", [3 * C, C]), ("qkv_bias", [3 * C]),
                               ("o", [C, C]), ("o_bias", [C]), ("ffn_norm", [C]), ("ffn_norm_bias", [C]),
                               ("up", [I, C]), ("up_bias", [I]), ("down", [C, I]), ("down_bias", [C])] { try put(r, s) }
            case "bert":
                for (r, s) in [("q", [qDim, C]), ("q_bias", [qDim]), ("k", [kvDim, C]), ("k_bias", [kvDim]),
                               ("v", [kvDim, C]), ("v_bias", [kvDim]), ("o", [C, qDim]), ("o_bias", [C]),
                               ("attn_out_norm", [C]), ("attn_out_norm_bias", [C]), ("up", [I, C]), ("up_bias", [I]),
                               ("down", [C, I]), ("down_bias", [C]), ("out_norm", [C]), ("out_norm_bias", [C])] { try put(r, s) }
            default:
                for (r, s) in [("attn_norm", [C]), ("q", [qDim, C]), ("k", [kvDim, C]), ("v", [kvDim, C]),
                               ("o", [C, qDim]), ("ffn_norm", [C]), ("gate", [I, C]), ("up", [I, C]), ("down", [C, I])] {
                    try put(r, s)
                }
                if c.attentionBias || arch == "qwen2" {
                    try put("q_bias", [qDim]); try put("k_bias", [kvDim]); try put("v_bias", [kvDim])
                }
                if arch == "qwen3" { try put("q_norm", [HS]); try put("k_norm", [HS]) }
            }
            layers.append(w)
        }
    }
}

/// Product of `shape`, or nil on overflow or a negative extent.
func checkedCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}
