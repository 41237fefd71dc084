// Loads and shape-checks every tensor a forward pass needs from a WeightSource into owned FloatBuffers,
// per architecture (roles from TensorNames) — all at once (resident), or, when streamed, only the small global
// tensors, with the layers and the embedding/LM-head matrices fetched on demand (LayerWeightCache, Streaming).
// Deliberately validation only: no dequantization or layout fixes.
import LCCore
import LCKernels

/// One transformer block's weights (nil = not used by this architecture). Linear weights are [out,in].
public struct LayerWeights: Sendable {
    public var buffers: [String: FloatBuffer] = [:]  // role → buffer
    /// Additive low-rank terms the forward applies after the role's matmul (coupling's W ± εD without forming
    /// the d_out × d_in matrix). Forward only: the block backward rejects weights that carry them.
    public var lowRank: [String: LowRankTerm] = [:]
    public init() {}
    public subscript(_ role: String) -> FloatBuffer? { buffers[role] }
    /// Total f32 bytes held.
    public var bytes: Int { buffers.values.reduce(0) { $0 + 4 * $1.count } }
}

/// W_eff = W + scale · leftᵀ · right for one linear map: `left` (n, d_out) and `right` (n, d_in) row-major.
/// y = x·W_effᵀ is computed as x·Wᵀ + scale · (x·rightᵀ)·left (2·n·(d_in + d_out) FLOPs per row, not d_in·d_out).
public struct LowRankTerm: Sendable {
    public let left: [Float], right: [Float], n: Int, scale: Float
    public init(left: [Float], right: [Float], n: Int, scale: Float) {
        self.left = left; self.right = right; self.n = n; self.scale = scale
    }
    public var dOut: Int { n > 0 ? left.count / n : 0 }
    public var dIn: Int { n > 0 ? right.count / n : 0 }

    /// out (rows, dOut) += scale · (inp (rows, dIn) · rightᵀ) · left.
    public func apply(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int) {
        guard n > 0, rows > 0, scale != 0 else { return }
        let dIn = self.dIn, dOut = self.dOut
        var tmp = [Float](repeating: 0, count: rows * n)
        tmp.withUnsafeMutableBufferPointer { tb in
            let t = tb.baseAddress.unsafelyUnwrapped
            right.withUnsafeBufferPointer { rb in
                sgemm(transA: false, transB: true, M: rows, N: n, K: dIn, alpha: 1, A: inp, lda: dIn,
                      B: rb.baseAddress.unsafelyUnwrapped, ldb: dIn, beta: 0, C: t, ldc: n)
            }
            left.withUnsafeBufferPointer { lb in
                sgemm(transA: false, transB: false, M: rows, N: dOut, K: n, alpha: scale, A: t, lda: n,
                      B: lb.baseAddress.unsafelyUnwrapped, ldb: dOut, beta: 1, C: out, ldc: dOut)
            }
        }
    }
}

/// All weights of a model. Resident: `global` and `layers` hold everything. Streamed: `layers` is empty and
/// `global` lacks `embed`/`lm_head`; read them through `TransformerModel.layerWeights(_:)` and the model's stages.
public struct ModelWeights: Sendable {
    public var global: [String: FloatBuffer] = [:]
    public var layers: [LayerWeights] = []
    /// True when layers and the embedding / LM-head matrices are fetched on demand instead of held here.
    public private(set) var streamed = false
    /// f32 bytes of every tensor of the model (the resident footprint).
    public private(set) var totalBytes = 0
    /// f32 bytes of the largest layer (what streaming holds at a time).
    public private(set) var maxLayerBytes = 0

    /// Loads and validates the tensors for `config` from `source` (all resident).
    /// - Throws: `LCError.format` naming the tensor when one is missing or has the wrong shape,
    ///   `LCError.unsupported` for an unknown architecture.
    public init(config c: ModelConfig, source: WeightSource) throws {
        try self.init(config: c, source: source, streamed: false)
    }

    /// As `init(config:source:)`; with `streamed`, only checks every tensor's shape (`WeightSource.shape(of:)`)
    /// and loads the small global tensors (norms, position/type embeddings).
    public init(config c: ModelConfig, source: WeightSource, streamed: Bool) throws {
        let arch = c.architecture, src = source.sourceName
        guard TensorNames.architectures.contains(arch) else {
            throw LCError.unsupported(path: src, message: "architecture '\(arch)'")
        }
        self.streamed = streamed
        var total = 0
        for (role, name, shape) in try Self.globalSpec(config: c, source: src) {
            let big = role == "embed" || role == "lm_head"
            if streamed {
                try Self.checkShape(name, shape, source: source)
                if !big { global[role] = try Self.load(name, shape, source: source) }
            } else {
                global[role] = try Self.load(name, shape, source: source)
            }
            total += 4 * shape.reduce(1, *)
        }
        for l in 0..<c.numLayers {
            if streamed {
                var bytes = 0
                for (_, name, shape) in Self.layerSpec(config: c, layer: l) {
                    try Self.checkShape(name, shape, source: source); bytes += 4 * shape.reduce(1, *)
                }
                total += bytes; maxLayerBytes = max(maxLayerBytes, bytes)
            } else {
                let w = try Self.fetchLayer(config: c, source: source, layer: l)
                layers.append(w); total += w.bytes; maxLayerBytes = max(maxLayerBytes, w.bytes)
            }
        }
        totalBytes = total
    }

    /// Reads and validates layer `l`'s tensors from `source` into fresh buffers, then `release`s them in the source.
    public static func fetchLayer(config c: ModelConfig, source: WeightSource, layer l: Int) throws -> LayerWeights {
        var w = LayerWeights()
        for (role, name, shape) in layerSpec(config: c, layer: l) {
            w.buffers[role] = try load(name, shape, source: source)
            source.release(name)
        }
        return w
    }

    /// Global tensors of `c`: (role, canonical name, shape). Shapes were bounded by TransformerModel's checks.
    static func globalSpec(config c: ModelConfig, source src: String) throws -> [(String, String, [Int])] {
        let g = TensorNames.globalTensors(arch: c.architecture), C = c.hiddenSize, V = c.vocabSize
        var out: [(String, String, [Int])] = []
        func add(_ role: String, _ shape: [Int]) { if let n = g[role] { out.append((role, n, shape)) } }
        add("embed", [V, C])
        switch c.architecture {
        case "gpt2", "bert":
            guard let maxPos = c.maxPositions, maxPos > 0 else {
                throw LCError.format(path: src, message: "\(c.architecture) needs maxPositions (n_positions / max_position_embeddings)")
            }
            add("pos_embed", [maxPos, C])
            if c.architecture == "gpt2" {
                add("final_norm", [C]); add("final_norm_bias", [C])
            } else {
                add("type_embed", [max(1, c.typeVocabSize ?? 2), C]); add("embed_norm", [C]); add("embed_norm_bias", [C])
            }
        default:
            add("final_norm", [C])
            if !c.tiedEmbeddings { add("lm_head", [V, C]) }
        }
        return out
    }

    /// Tensors of layer `l`: (role, canonical name, shape).
    static func layerSpec(config c: ModelConfig, layer l: Int) -> [(String, String, [Int])] {
        let arch = c.architecture, C = c.hiddenSize, I = c.intermediateSize, HS = c.headDim
        let qDim = c.numHeads * HS, kvDim = c.numKVHeads * HS
        let n = TensorNames.layerTensors(arch: arch, layer: l)
        var roles: [(String, [Int])]
        switch arch {
        case "gpt2":
            roles = [("attn_norm", [C]), ("attn_norm_bias", [C]), ("qkv", [3 * C, C]), ("qkv_bias", [3 * C]),
                     ("o", [C, C]), ("o_bias", [C]), ("ffn_norm", [C]), ("ffn_norm_bias", [C]),
                     ("up", [I, C]), ("up_bias", [I]), ("down", [C, I]), ("down_bias", [C])]
        case "bert":
            roles = [("q", [qDim, C]), ("q_bias", [qDim]), ("k", [kvDim, C]), ("k_bias", [kvDim]),
                     ("v", [kvDim, C]), ("v_bias", [kvDim]), ("o", [C, qDim]), ("o_bias", [C]),
                     ("attn_out_norm", [C]), ("attn_out_norm_bias", [C]), ("up", [I, C]), ("up_bias", [I]),
                     ("down", [C, I]), ("down_bias", [C]), ("out_norm", [C]), ("out_norm_bias", [C])]
        default:
            roles = [("attn_norm", [C]), ("q", [qDim, C]), ("k", [kvDim, C]), ("v", [kvDim, C]),
                     ("o", [C, qDim]), ("ffn_norm", [C]), ("gate", [I, C]), ("up", [I, C]), ("down", [C, I])]
            if c.attentionBias || arch == "qwen2" { roles += [("q_bias", [qDim]), ("k_bias", [kvDim]), ("v_bias", [kvDim])] }
            if arch == "qwen3" { roles += [("q_norm", [HS]), ("k_norm", [HS])] }
        }
        return roles.compactMap { r in n[r.0].map { (r.0, $0, r.1) } }
    }

    static func load(_ name: String, _ shape: [Int], source: WeightSource) throws -> FloatBuffer {
        guard let t = try source.tensor(name) else {
            throw LCError.format(path: source.sourceName, message: "missing tensor '\(name)'")
        }
        guard t.shape == shape, let n = checkedCount(shape), t.data.count == n else {
            throw LCError.format(path: source.sourceName,
                                 message: "tensor '\(name)': shape \(t.shape) (\(t.data.count) values), expected \(shape)")
        }
        return FloatBuffer(t.data)
    }

    static func checkShape(_ name: String, _ shape: [Int], source: WeightSource) throws {
        guard let s = try source.shape(of: name) else {
            throw LCError.format(path: source.sourceName, message: "missing tensor '\(name)'")
        }
        guard s == shape else {
            throw LCError.format(path: source.sourceName, message: "tensor '\(name)': shape \(s), expected \(shape)")
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
