// Exports a selection as a Hugging Face PEFT `adapter_config.json` (a LoraConfig that
// `peft.LoraConfig.from_pretrained(dir)` loads as-is) and an Axolotl YAML fragment.
// Only keys LoraConfig has accepted for many releases are written. Not a trainer: no weights.
import Foundation
import LCCard
import LCCore

/// The PEFT LoraConfig fields LayerCard writes (snake_case = PEFT's own keys).
public struct PEFTLoraConfig: Codable, Sendable, Equatable {
    public var peft_type = "LORA"
    public var task_type: String
    public var base_model_name_or_path: String
    public var revision: String? = nil
    public var inference_mode = false
    public var r: Int
    public var lora_alpha: Double
    public var lora_dropout: Double
    public var target_modules: [String]
    public var layers_to_transform: [Int]
    public var layers_pattern: String
    public var bias = "none"
    public var fan_in_fan_out: Bool
    public var modules_to_save: [String]? = nil
    public var init_lora_weights = true
    public var use_rslora = false
    public var rank_pattern: [String: Int] = [:]
    public var alpha_pattern: [String: Double] = [:]

    /// Encodes explicit nulls for optional keys (PEFT writes them that way too).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peft_type, forKey: .peft_type); try c.encode(task_type, forKey: .task_type)
        try c.encode(base_model_name_or_path, forKey: .base_model_name_or_path); try c.encode(revision, forKey: .revision)
        try c.encode(inference_mode, forKey: .inference_mode); try c.encode(r, forKey: .r)
        try c.encode(lora_alpha, forKey: .lora_alpha); try c.encode(lora_dropout, forKey: .lora_dropout)
        try c.encode(target_modules, forKey: .target_modules); try c.encode(layers_to_transform, forKey: .layers_to_transform)
        try c.encode(layers_pattern, forKey: .layers_pattern); try c.encode(bias, forKey: .bias)
        try c.encode(fan_in_fan_out, forKey: .fan_in_fan_out); try c.encode(modules_to_save, forKey: .modules_to_save)
        try c.encode(init_lora_weights, forKey: .init_lora_weights); try c.encode(use_rslora, forKey: .use_rslora)
        try c.encode(rank_pattern, forKey: .rank_pattern); try c.encode(alpha_pattern, forKey: .alpha_pattern)
    }
}

public enum PEFTExport {
    /// PEFT `layers_pattern`: the module-list name before the layer index in the HF module path.
    public static func layersPattern(_ arch: String) -> String {
        switch arch { case "gpt2": return "h"; case "bert": return "layer"; default: return "layers" }
    }

    /// `target_modules` entries for PEFT's suffix matching (`key.endswith("." + name)`). BERT's FFN
    /// `output.dense` is also a suffix of `attention.output.dense`; when only the former is wanted it is
    /// written per chosen layer as `layer.<i>.output.dense`, which matches nothing else.
    public static func targetModules(_ modules: [String], arch: String, layers: [Int]) -> [String] {
        guard arch == "bert", modules.contains("output.dense"), !modules.contains("attention.output.dense") else { return modules }
        return modules.filter { $0 != "output.dense" } + layers.map { "layer.\($0).output.dense" }
    }

    /// The LoraConfig for one selection.
    public static func loraConfig(_ d: Decision, layers: [Int]) -> PEFTLoraConfig {
        let arch = d.card.architecture
        return PEFTLoraConfig(task_type: arch == "bert" ? "FEATURE_EXTRACTION" : "CAUSAL_LM", base_model_name_or_path: d.baseModel,
                              r: d.rank, lora_alpha: d.alpha, lora_dropout: d.dropout,
                              target_modules: targetModules(d.modules, arch: arch, layers: layers), layers_to_transform: layers,
                              layers_pattern: layersPattern(arch), fan_in_fan_out: arch == "gpt2")
    }

    /// Axolotl config fragment (YAML). Strings are double-quoted JSON strings, valid YAML scalars.
    public static func axolotlYAML(_ d: Decision, selection: Selection) -> String {
        let cfg = loraConfig(d, layers: selection.chosen.layers)
        func q(_ s: String) -> String {
            let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        var y = """
        # LayerCard selection for \(d.card.model_id): objective \(selection.objective.rawValue), signal \(d.signal.rawValue)
        # layers (0 = input side): \(selection.chosen.layers.map(String.init).joined(separator: ", "))
        # gain \(fmt(selection.chosen.gain_fraction * 100))% of gain(all), speedup \(fmt(selection.chosen.speedup * 100))%
        base_model: \(q(d.baseModel))
        adapter: lora
        lora_r: \(cfg.r)
        lora_alpha: \(yamlNumber(cfg.lora_alpha))
        lora_dropout: \(yamlNumber(cfg.lora_dropout))
        lora_target_modules:\n
        """
        for m in cfg.target_modules { y += "  - \(q(m))\n" }
        y += "peft_layers_to_transform: [\(cfg.layers_to_transform.map(String.init).joined(separator: ", "))]\n"
        return y
    }

    static func yamlNumber(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)" }
    static func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

    /// The JSON text of adapter_config.json.
    public static func adapterConfigJSON(_ d: Decision, layers: [Int]) throws -> Data {
        try JSON.encode(loraConfig(d, layers: layers))
    }
}
