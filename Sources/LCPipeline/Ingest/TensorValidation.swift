// Checks a checkpoint's tensor table against its config: every LoRA-targetable module present
// with the shape the config implies, embeddings sized vocab × hidden. A mismatch fails ingest
// naming the tensor, so later stages never meet a wrong-shaped weight.
import Foundation
import LCCore
import LCModel

enum TensorValidation {
    /// Expected `[out, in]` shape of each module weight for `cfg`.
    static func expectedShape(_ cfg: ModelConfig, module: String) -> [Int] {
        let h = cfg.hiddenSize, i = cfg.intermediateSize
        let q = cfg.numHeads * cfg.headDim, kv = cfg.numKVHeads * cfg.headDim
        switch module {
        case "q_proj": return [q, h]
        case "k_proj", "v_proj": return [kv, h]
        case "o_proj": return [h, q]
        case "gate_proj", "up_proj": return [i, h]
        case "down_proj": return [h, i]
        case "c_attn": return [3 * h, h]
        case "attn.c_proj": return [h, h]
        case "c_fc": return [i, h]
        case "mlp.c_proj": return [h, i]
        case "query", "key", "value", "attention.output.dense": return [h, h]
        case "intermediate.dense": return [i, h]
        case "output.dense": return [h, i]
        default: return []
        }
    }

    /// Validates and returns the module table (shapes in `[out, in]` layout).
    /// - Parameter conv1DLayout: GPT-2 safetensors/PyTorch store Conv1D weights `[in, out]`.
    static func modules(_ cfg: ModelConfig, tensors: [TensorRecord], conv1DLayout: Bool, path: String) throws -> [ModuleRecord] {
        var byCanon: [String: TensorRecord] = [:]
        for t in tensors { if let c = t.canonical { byCanon[c] = t } }
        let arch = cfg.architecture
        // Layers present must be exactly 0..<numLayers.
        let layers = Set(tensors.compactMap { $0.layer })
        if let bad = layers.first(where: { $0 >= cfg.numLayers }) {
            throw LCError.format(path: path, message: "tensor for layer \(bad) but the config has \(cfg.numLayers) layers")
        }
        var out: [ModuleRecord] = []
        for l in 0..<cfg.numLayers {
            for m in Architecture.modules(arch) {
                let name = Architecture.moduleWeight(arch, layer: l, module: m)
                guard let t = byCanon[name] else {
                    throw LCError.format(path: path, message: "tensor '\(name)' (layer \(l) \(m)) is missing")
                }
                var shape = t.shape
                if conv1DLayout && arch == "gpt2" && shape.count == 2 { shape = [shape[1], shape[0]] }
                let want = expectedShape(cfg, module: m)
                guard shape == want else {
                    throw LCError.format(path: t.file, message: "tensor '\(t.name)' has shape \(t.shape) but the config implies \(conv1DLayout && arch == "gpt2" ? [want[1], want[0]] : want)")
                }
                // A bias, when present, is [out]; load re-lays Q/K biases out per head, so a wrong one must stop here.
                let biasName = String(name.dropLast(".weight".count)) + ".bias"
                if let b = byCanon[biasName], b.shape != [want[0]] {
                    throw LCError.format(path: b.file, message: "tensor '\(b.name)' has shape \(b.shape) but the config implies [\(want[0])]")
                }
                out.append(ModuleRecord(layer: l, module: m, tensor: name, shape: shape))
            }
        }
        let embed: String = arch == "gpt2" ? "transformer.wte.weight" : (arch == "bert" ? "embeddings.word_embeddings.weight" : "model.embed_tokens.weight")
        guard let e = byCanon[embed] else { throw LCError.format(path: path, message: "embedding tensor '\(embed)' is missing") }
        guard e.shape == [cfg.vocabSize, cfg.hiddenSize] else {
            throw LCError.format(path: e.file, message: "embedding '\(e.name)' has shape \(e.shape), expected [\(cfg.vocabSize), \(cfg.hiddenSize)]")
        }
        if !cfg.tiedEmbeddings && arch != "bert" && byCanon["lm_head.weight"] == nil {
            throw LCError.format(path: path, message: "tie_word_embeddings is false but 'lm_head.weight' is missing")
        }
        for t in tensors where t.shape.contains(where: { $0 < 0 }) {
            throw LCError.format(path: t.file, message: "tensor '\(t.name)' has a negative dimension")
        }
        return out
    }
}
