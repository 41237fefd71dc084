// Canonical (Hugging Face) tensor naming per architecture: GGUF → HF name mapping, prefix
// normalization of safetensors/PyTorch names, and the tensor → (layer, LoRA module) mapping.
// Canonical names themselves come from `TensorNames` (the single naming table); this file maps
// other spellings (GGUF, prefix variants) onto them.
import Foundation

public enum Architecture {
    /// LoRA-targetable modules per layer, in Hugging Face spelling (PEFT `target_modules`), block order.
    public static func modules(_ arch: String) -> [String] { TensorNames.modules(arch: arch) }

    /// Canonical weight name of module `module` in layer `layer` (from `TensorNames`, the single naming table).
    public static func moduleWeight(_ arch: String, layer l: Int, module: String) -> String {
        let role = TensorNames.moduleRoles(arch: arch)[module] ?? module
        return TensorNames.layerTensors(arch: arch, layer: l)[role] ?? module
    }

    /// Maps a tensor name as found in a safetensors/PyTorch checkpoint to the canonical name
    /// (adds/strips the `model.`/`transformer.`/`bert.` prefixes, renames legacy gamma/beta).
    /// Returns nil for tensors that are not model parameters (buffers such as position_ids, attn.bias masks).
    public static func canonicalHFName(_ name: String, arch: String) -> String? {
        // Buffers that are not parameters.
        if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") || name.hasSuffix("position_ids")
            || name.hasSuffix("rotary_emb.inv_freq") { return nil }
        let n = TensorNames.canonicalize(arch: arch, name: name)
        if ["llama", "qwen2", "qwen3"].contains(arch), n != "lm_head.weight", !n.hasPrefix("model.") { return "model." + n }
        return n
    }

    /// Maps a GGUF tensor name (`blk.N.attn_q.weight`, `token_embd.weight`, ...) to the canonical HF name.
    /// Returns nil for names with no HF counterpart (e.g. `rope_freqs.weight`, which is derived metadata).
    public static func canonicalName(fromGGUF name: String, arch: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let suffix = parts.last ?? ""
        guard suffix == "weight" || suffix == "bias" else { return nil }
        if parts.count == 2 {
            let table: [String: String]
            switch arch {
            case "gpt2": table = ["token_embd": "transformer.wte", "position_embd": "transformer.wpe",
                                  "output_norm": "transformer.ln_f", "output": "lm_head"]
            case "bert": table = ["token_embd": "embeddings.word_embeddings", "position_embd": "embeddings.position_embeddings",
                                  "token_types": "embeddings.token_type_embeddings", "token_embd_norm": "embeddings.LayerNorm"]
            default: table = ["token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"]
            }
            return table[parts[0]].map { "\($0).\(suffix)" }
        }
        guard parts.count == 4, parts[0] == "blk", let l = Int(parts[1]), l >= 0 else { return nil }
        let role = parts[2]
        let table: [String: String]
        switch arch {
        case "gpt2":
            table = ["attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj", "ffn_norm": "ln_2",
                     "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj"]
            return table[role].map { "transformer.h.\(l).\($0).\(suffix)" }
        case "bert":
            table = ["attn_q": "attention.self.query", "attn_k": "attention.self.key", "attn_v": "attention.self.value",
                     "attn_output": "attention.output.dense", "attn_output_norm": "attention.output.LayerNorm",
                     "ffn_up": "intermediate.dense", "ffn_down": "output.dense", "layer_output_norm": "output.LayerNorm"]
            return table[role].map { "encoder.layer.\(l).\($0).\(suffix)" }
        default:
            table = ["attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                     "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
                     "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
                     "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm"]
            return table[role].map { "model.layers.\(l).\($0).\(suffix)" }
        }
    }

    /// The (layer, module) a canonical tensor belongs to. `module` is set only for LoRA-targetable
    /// weights (and their biases); `layer` is set for every per-block tensor.
    public static func classify(_ canonical: String, arch: String) -> (layer: Int?, module: String?) {
        let prefix: String
        switch arch {
        case "gpt2": prefix = "transformer.h."
        case "bert": prefix = "encoder.layer."
        default: prefix = "model.layers."
        }
        guard canonical.hasPrefix(prefix) else { return (nil, nil) }
        let rest = canonical.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let l = Int(rest[rest.startIndex..<dot]) else { return (nil, nil) }
        for m in modules(arch) where moduleWeight(arch, layer: l, module: m).dropLast(".weight".count) + "." ==
            canonical[..<(canonical.lastIndex(of: ".") ?? canonical.endIndex)] + "." {
            return (l, m)
        }
        return (l, nil)
    }
}
