// The single source of truth for canonical tensor names and LoRA-targetable module names per architecture.
// Canonical names are Hugging Face state-dict names of: LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM
// (`model.` prefix, `lm_head.weight`), GPT2LMHeadModel (`transformer.` prefix, `lm_head.weight`), and BertModel
// (no prefix: `embeddings.…`, `encoder.layer.N.…`, as all-MiniLM ships). Readers (safetensors/.bin/GGUF ingest)
// map whatever they find onto these names; `canonicalize` handles the common HF prefix variants.
// GPT-2 Conv1D weights are canonical in [out,in] (torch Linear) layout, i.e. TRANSPOSED from HF's [in,out].
// Deliberately no GGUF names here (ingest owns that mapping, keyed by the roles below).

/// Canonical tensor names and module names per architecture.
public enum TensorNames {
    /// Supported `ModelConfig.architecture` values.
    public static let architectures = ["llama", "qwen2", "qwen3", "gpt2", "bert"]

    /// Global (non-layer) tensors, role → canonical name. Roles: `embed` (V,C), `final_norm`(+`_bias`) (C),
    /// `lm_head` (V,C; absent when tied), `pos_embed` (maxPos,C), `type_embed` (types,C), `embed_norm`(+`_bias`).
    /// Unknown architecture → empty.
    public static func globalTensors(arch: String) -> [String: String] {
        switch arch {
        case "llama", "qwen2", "qwen3":
            return ["embed": "model.embed_tokens.weight", "final_norm": "model.norm.weight", "lm_head": "lm_head.weight"]
        case "gpt2":
            return ["embed": "transformer.wte.weight", "pos_embed": "transformer.wpe.weight",
                    "final_norm": "transformer.ln_f.weight", "final_norm_bias": "transformer.ln_f.bias",
                    "lm_head": "lm_head.weight"]
        case "bert":
            return ["embed": "embeddings.word_embeddings.weight", "pos_embed": "embeddings.position_embeddings.weight",
                    "type_embed": "embeddings.token_type_embeddings.weight",
                    "embed_norm": "embeddings.LayerNorm.weight", "embed_norm_bias": "embeddings.LayerNorm.bias"]
        default: return [:]
        }
    }

    /// Per-layer tensors, role → canonical name. Weights are [out,in]. Roles:
    /// llama/qwen2/qwen3: `attn_norm q k v o ffn_norm gate up down`, optional `q_bias k_bias v_bias`
    /// (qwen2 always; llama when attention_bias), qwen3 adds `q_norm k_norm` (HS).
    /// gpt2: `attn_norm(_bias) qkv(_bias) o(_bias) ffn_norm(_bias) up(_bias) down(_bias)` (qkv = rows q|k|v).
    /// bert: `q k v o up down` (+ `_bias` each), `attn_out_norm(_bias)`, `out_norm(_bias)`.
    public static func layerTensors(arch: String, layer l: Int) -> [String: String] {
        switch arch {
        case "llama", "qwen2", "qwen3":
            let p = "model.layers.\(l)."
            var d = ["attn_norm": p + "input_layernorm.weight",
                     "q": p + "self_attn.q_proj.weight", "k": p + "self_attn.k_proj.weight",
                     "v": p + "self_attn.v_proj.weight", "o": p + "self_attn.o_proj.weight",
                     "q_bias": p + "self_attn.q_proj.bias", "k_bias": p + "self_attn.k_proj.bias",
                     "v_bias": p + "self_attn.v_proj.bias",
                     "ffn_norm": p + "post_attention_layernorm.weight",
                     "gate": p + "mlp.gate_proj.weight", "up": p + "mlp.up_proj.weight", "down": p + "mlp.down_proj.weight"]
            if arch == "qwen3" {
                d["q_norm"] = p + "self_attn.q_norm.weight"; d["k_norm"] = p + "self_attn.k_norm.weight"
            }
            return d
        case "gpt2":
            let p = "transformer.h.\(l)."
            return ["attn_norm": p + "ln_1.weight", "attn_norm_bias": p + "ln_1.bias",
                    "qkv": p + "attn.c_attn.weight", "qkv_bias": p + "attn.c_attn.bias",
                    "o": p + "attn.c_proj.weight", "o_bias": p + "attn.c_proj.bias",
                    "ffn_norm": p + "ln_2.weight", "ffn_norm_bias": p + "ln_2.bias",
                    "up": p + "mlp.c_fc.weight", "up_bias": p + "mlp.c_fc.bias",
                    "down": p + "mlp.c_proj.weight", "down_bias": p + "mlp.c_proj.bias"]
        case "bert":
            let p = "encoder.layer.\(l)."
            return ["q": p + "attention.self.query.weight", "q_bias": p + "attention.self.query.bias",
                    "k": p + "attention.self.key.weight", "k_bias": p + "attention.self.key.bias",
                    "v": p + "attention.self.value.weight", "v_bias": p + "attention.self.value.bias",
                    "o": p + "attention.output.dense.weight", "o_bias": p + "attention.output.dense.bias",
                    "attn_out_norm": p + "attention.output.LayerNorm.weight",
                    "attn_out_norm_bias": p + "attention.output.LayerNorm.bias",
                    "up": p + "intermediate.dense.weight", "up_bias": p + "intermediate.dense.bias",
                    "down": p + "output.dense.weight", "down_bias": p + "output.dense.bias",
                    "out_norm": p + "output.LayerNorm.weight", "out_norm_bias": p + "output.LayerNorm.bias"]
        default: return [:]
        }
    }

    /// LoRA-targetable modules per layer, in forward order, spelled as PEFT `target_modules` takes them
    /// (layer-card-spec conventions).
    public static func modules(arch: String) -> [String] {
        switch arch {
        case "llama", "qwen2", "qwen3": return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        case "gpt2": return ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"]
        case "bert": return ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
        default: return []
        }
    }

    /// The per-layer weight role (key of `layerTensors`) of each module; its bias is `role + "_bias"` if present.
    public static func moduleRoles(arch: String) -> [String: String] {
        switch arch {
        case "llama", "qwen2", "qwen3":
            return ["q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "gate_proj": "gate",
                    "up_proj": "up", "down_proj": "down"]
        case "gpt2": return ["c_attn": "qkv", "attn.c_proj": "o", "c_fc": "up", "mlp.c_proj": "down"]
        case "bert":
            return ["query": "q", "key": "k", "value": "v", "attention.output.dense": "o",
                    "intermediate.dense": "up", "output.dense": "down"]
        default: return [:]
        }
    }

    /// Maps common HF spelling variants to the canonical name: GPT-2 without `transformer.` (original openai
    /// files), BERT with a `bert.` prefix (BertFor* heads), legacy LayerNorm `gamma`/`beta`. Other names pass through.
    public static func canonicalize(arch: String, name: String) -> String {
        var n = name
        if arch == "bert" {
            if n.hasPrefix("bert.") { n.removeFirst(5) }
            if n.hasSuffix("LayerNorm.gamma") { n = String(n.dropLast(5)) + "weight" }
            if n.hasSuffix("LayerNorm.beta") { n = String(n.dropLast(4)) + "bias" }
        }
        if arch == "gpt2", !n.hasPrefix("transformer."), n != "lm_head.weight" { n = "transformer." + n }
        return n
    }
}
