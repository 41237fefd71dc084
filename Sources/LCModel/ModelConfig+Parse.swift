// Builds the normalized `ModelConfig` from a Hugging Face config.json or from GGUF metadata.
// Reads every field the forward pass needs and rejects impossible values with a message
// naming the file and field; unknown architectures are `LCError.unsupported`.
import Foundation
import LCCore

/// Key/value access to checkpoint metadata (GGUF metadata conforms in LCModel+GGUF glue).
public protocol MetadataSource {
    func int(_ key: String) -> Int?
    func double(_ key: String) -> Double?
    func string(_ key: String) -> String?
    func bool(_ key: String) -> Bool?
}

extension ModelConfig {
    /// Maps an HF `model_type` (or GGUF `general.architecture`) to our architecture name, nil if unsupported.
    public static func normalizeArchitecture(_ modelType: String) -> String? {
        switch modelType.lowercased() {
        case "llama", "mistral", "smollm", "smollm2": return "llama"
        case "qwen2": return "qwen2"
        case "qwen3": return "qwen3"
        case "gpt2": return "gpt2"
        case "bert": return "bert"
        default: return nil
        }
    }

    /// Parses an HF `config.json` object.
    /// - Throws: `LCError.unsupported` for an unknown `model_type`, `LCError.format` for missing or invalid fields.
    public static func fromHFConfig(_ obj: [String: Any], path: String) throws -> ModelConfig {
        func num(_ k: String) -> Double? {
            if let n = obj[k] as? NSNumber, !isJSONBool(n) { return n.doubleValue }
            return nil
        }
        func int(_ k: String) throws -> Int? {
            guard let v = obj[k], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, !isJSONBool(n), let d = Optional(n.doubleValue), d.rounded() == d, abs(d) < 1e12 else {
                throw LCError.format(path: path, message: "field '\(k)' must be an integer, got \(v)")
            }
            return Int(d)
        }
        func req(_ keys: String...) throws -> Int {
            for k in keys { if let v = try int(k) { return v } }
            throw LCError.format(path: path, message: "missing field '\(keys.joined(separator: "' or '"))'")
        }
        guard let modelType = obj["model_type"] as? String else {
            throw LCError.format(path: path, message: "missing string field 'model_type'")
        }
        guard let arch = normalizeArchitecture(modelType) else {
            throw LCError.unsupported(path: path, message: "architecture '\(modelType)' (supported: llama, mistral, qwen2, qwen3, gpt2, bert)")
        }
        var cfg: ModelConfig
        switch arch {
        case "gpt2":
            let h = try req("n_embd", "hidden_size"), heads = try req("n_head", "num_attention_heads")
            cfg = ModelConfig(
                architecture: arch, numLayers: try req("n_layer", "num_hidden_layers"), hiddenSize: h,
                numHeads: heads, numKVHeads: heads, headDim: heads > 0 ? h / heads : 0,
                intermediateSize: try int("n_inner") ?? 4 * h, vocabSize: try req("vocab_size"),
                normEps: num("layer_norm_epsilon") ?? 1e-5, rope: nil,
                tiedEmbeddings: (obj["tie_word_embeddings"] as? Bool) ?? true,
                maxPositions: try int("n_positions") ?? int("max_position_embeddings"),
                activation: (obj["activation_function"] as? String) ?? "gelu_new", attentionBias: true)
        case "bert":
            let h = try req("hidden_size"), heads = try req("num_attention_heads")
            if let pet = obj["position_embedding_type"] as? String, pet != "absolute" {
                throw LCError.unsupported(path: path, message: "bert position_embedding_type '\(pet)' (only 'absolute')")
            }
            cfg = ModelConfig(
                architecture: arch, numLayers: try req("num_hidden_layers"), hiddenSize: h, numHeads: heads,
                numKVHeads: heads, headDim: heads > 0 ? h / heads : 0, intermediateSize: try req("intermediate_size"),
                vocabSize: try req("vocab_size"), normEps: num("layer_norm_eps") ?? 1e-12, rope: nil,
                tiedEmbeddings: false, maxPositions: try int("max_position_embeddings") ?? 512,
                activation: (obj["hidden_act"] as? String) ?? "gelu", attentionBias: true,
                typeVocabSize: try int("type_vocab_size") ?? 2)
        default: // llama, qwen2, qwen3
            let h = try req("hidden_size"), heads = try req("num_attention_heads")
            let kv = try int("num_key_value_heads") ?? heads
            let headDim = try int("head_dim") ?? (arch == "qwen3" ? 128 : (heads > 0 ? h / heads : 0))
            cfg = ModelConfig(
                architecture: arch, numLayers: try req("num_hidden_layers"), hiddenSize: h, numHeads: heads,
                numKVHeads: kv, headDim: headDim, intermediateSize: try req("intermediate_size"),
                vocabSize: try req("vocab_size"), normEps: num("rms_norm_eps") ?? 1e-6,
                rope: try parseRope(obj, path: path),
                tiedEmbeddings: (obj["tie_word_embeddings"] as? Bool) ?? false,
                maxPositions: try int("max_position_embeddings"), activation: (obj["hidden_act"] as? String) ?? "silu",
                attentionBias: arch == "qwen2" ? true : ((obj["attention_bias"] as? Bool) ?? false))
        }
        try cfg.validate(path: path)
        return cfg
    }

    /// RoPE from the legacy top-level `rope_theta`/`rope_scaling` or the v5 `rope_parameters`.
    static func parseRope(_ obj: [String: Any], path: String) throws -> RopeConfig {
        let params = (obj["rope_parameters"] as? [String: Any]) ?? [:]
        let scaling = (obj["rope_scaling"] as? [String: Any]) ?? params
        let theta = (params["rope_theta"] as? NSNumber)?.doubleValue ?? (obj["rope_theta"] as? NSNumber)?.doubleValue ?? 10000
        let type = (scaling["rope_type"] as? String) ?? (scaling["type"] as? String) ?? "default"
        guard ["default", "llama3", "linear"].contains(type) else {
            throw LCError.unsupported(path: path, message: "rope scaling type '\(type)' (supported: default, llama3, linear)")
        }
        return RopeConfig(
            theta: theta, type: type, factor: (scaling["factor"] as? NSNumber)?.doubleValue,
            lowFreqFactor: (scaling["low_freq_factor"] as? NSNumber)?.doubleValue,
            highFreqFactor: (scaling["high_freq_factor"] as? NSNumber)?.doubleValue,
            originalMaxPositions: (scaling["original_max_position_embeddings"] as? NSNumber)?.intValue)
    }

    /// Parses GGUF metadata (`general.architecture`, `{arch}.*` keys).
    /// - Parameter hasOutputTensor: whether the file has `output.weight` (absent → tied embeddings).
    public static func fromGGUF(_ md: MetadataSource, hasOutputTensor: Bool, tokenCount: Int?, path: String) throws -> ModelConfig {
        guard let ga = md.string("general.architecture") else {
            throw LCError.format(path: path, message: "missing metadata 'general.architecture'")
        }
        guard let arch = normalizeArchitecture(ga) else {
            throw LCError.unsupported(path: path, message: "architecture '\(ga)' (supported: llama, qwen2, qwen3, gpt2, bert)")
        }
        func req(_ k: String) throws -> Int {
            guard let v = md.int("\(ga).\(k)") else { throw LCError.format(path: path, message: "missing metadata '\(ga).\(k)'") }
            return v
        }
        let h = try req("embedding_length"), heads = try req("attention.head_count")
        let kv = md.int("\(ga).attention.head_count_kv") ?? heads
        let headDim = md.int("\(ga).attention.key_length") ?? (heads > 0 ? h / heads : 0)
        let vocab = md.int("\(ga).vocab_size") ?? tokenCount
        guard let vocab else { throw LCError.format(path: path, message: "missing metadata '\(ga).vocab_size' and no tokenizer.ggml.tokens") }
        let isRope = arch != "gpt2" && arch != "bert"
        var rope: RopeConfig?
        if isRope {
            let st = md.string("\(ga).rope.scaling.type") ?? "none"
            let type = (st == "none" || st.isEmpty) ? "default" : st
            guard ["default", "linear", "llama3"].contains(type) else {
                throw LCError.unsupported(path: path, message: "rope scaling type '\(type)'")
            }
            rope = RopeConfig(theta: md.double("\(ga).rope.freq_base") ?? 10000, type: type,
                              factor: md.double("\(ga).rope.scaling.factor"),
                              originalMaxPositions: md.int("\(ga).rope.scaling.original_context_length"),
                              dimensions: md.int("\(ga).rope.dimension_count"))
        }
        let eps = isRope ? md.double("\(ga).attention.layer_norm_rms_epsilon") : md.double("\(ga).attention.layer_norm_epsilon")
        let cfg = ModelConfig(
            architecture: arch, numLayers: try req("block_count"), hiddenSize: h, numHeads: heads, numKVHeads: kv,
            headDim: headDim, intermediateSize: try req("feed_forward_length"), vocabSize: vocab,
            normEps: eps.map { Double(Float($0)) } ?? (isRope ? 1e-6 : 1e-5), rope: rope,
            tiedEmbeddings: arch == "bert" ? false : !hasOutputTensor, maxPositions: md.int("\(ga).context_length"),
            activation: arch == "gpt2" ? "gelu_new" : (arch == "bert" ? "gelu" : "silu"),
            attentionBias: arch == "qwen2" || arch == "gpt2" || arch == "bert",
            typeVocabSize: arch == "bert" ? 2 : nil)
        try cfg.validate(path: path)
        return cfg
    }

    /// Rejects impossible shapes (zero sizes, heads not dividing, absurd sizes).
    public func validate(path: String) throws {
        func bad(_ m: String) -> LCError { .format(path: path, message: "invalid config: \(m)") }
        let limit = 1 << 24
        for (n, v) in [("layers", numLayers), ("hidden size", hiddenSize), ("heads", numHeads), ("kv heads", numKVHeads),
                       ("head dim", headDim), ("intermediate size", intermediateSize), ("vocab size", vocabSize)] {
            guard v > 0, v <= limit else { throw bad("\(n) = \(v)") }
        }
        guard numHeads % numKVHeads == 0 else { throw bad("heads \(numHeads) not a multiple of kv heads \(numKVHeads)") }
        if architecture != "qwen3" && rope != nil && headDim * numHeads != hiddenSize && architecture != "llama" {
            throw bad("head_dim \(headDim) × heads \(numHeads) != hidden \(hiddenSize)")
        }
        if rope == nil && headDim * numHeads != hiddenSize { throw bad("hidden \(hiddenSize) not divisible into \(numHeads) heads") }
        if rope != nil && headDim % 2 != 0 { throw bad("head_dim \(headDim) must be even for rotary embeddings") }
        guard normEps > 0, normEps.isFinite else { throw bad("norm epsilon \(normEps)") }
        if let r = rope, !(r.theta > 0 && r.theta.isFinite) { throw bad("rope theta \(r.theta)") }
    }
}
