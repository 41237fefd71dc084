// Hand-made Layer Cards for the rank/report/diff tests: small L, chosen signals, costs and couplings,
// so every expected number can be recomputed by hand. Not a profile of any real model.
import Foundation
import XCTest
import LCCard
import LCCore
import LCModel

enum CardFixtures {
    /// A llama-shaped card with L layers. `grad` gives per-layer grad_norm (default 1, 2, ..., L),
    /// coupling = `rho^|i-j|` (AR(1), positive definite for |rho| < 1), cost[l] = 100 − 2l, adapter cost 1.
    static func card(L: Int = 6, grad: [Double]? = nil, rho: Double = 0, modelID: String = "tiny",
                     arch: String = "llama", measured: [Double]? = nil) -> LayerCard {
        let g = grad ?? (0..<L).map { Double($0 + 1) }
        let mods = Architecture.modules(arch)
        var modules: [ModuleStats] = []
        var layers: [LayerStats] = []
        for l in 0..<L {
            // Split the layer's grad/resnorm evenly over its modules so the layer aggregates are exact.
            let per = g[l] / Double(mods.count).squareRoot()
            let res = 0.5 * g[l]
            for (i, m) in mods.enumerated() {
                modules.append(ModuleStats(layer: l, module: m, d_in: 64, d_out: 64, grad_norm: per,
                                           act_energy: pow(10, Double(l % 3)) * Double(i + 1), resnorm: res / Double(mods.count).squareRoot(),
                                           resnorm_lora: 0.1 * per))
            }
            layers.append(LayerStats(layer: l, grad_norm: g[l], resnorm: res, resnorm_lora: 0.1 * g[l],
                                     act_energy_mean: pow(10, Double(l % 3)), predicted_gain: 0.5 * res * res,
                                     cost: 100 - 2 * Double(l), cost_relative: (100 - 2 * Double(l)) / (100 + Double(L - 1)),
                                     activation_bytes_per_token: Double(1000 * (L - l)), measured_gain: measured?[l]))
        }
        let coupling = (0..<L).map { i in (0..<L).map { j in pow(rho, Double(abs(i - j))) } }
        let config = ModelConfig(architecture: arch, numLayers: L, hiddenSize: 64, numHeads: 4, numKVHeads: 4, headDim: 16,
                                 intermediateSize: 128, vocabSize: 100, normEps: 1e-5, rope: RopeConfig(theta: 10000),
                                 tiedEmbeddings: true, maxPositions: 128, activation: "silu", attentionBias: false)
        return LayerCard(tool_version: "test", model_id: modelID, architecture: arch, config: config,
                         model_fingerprint: "0000", dataset: DatasetInfo(path: "/data/ref.jsonl", sha256: "abcd", records: 4, kind: "text"),
                         parameters: CardParameters(max_tokens: 64, batch: 1, lora_rank: 8, lora_seed: 0, lambda_rel: 1e-3,
                                                    precision: "f32", threads: 1, coupling_method: "test"),
                         loss: 2.5, tokens: 100, modules: modules, layers: layers, coupling: coupling,
                         cost_model: CostModel(forward_flops_per_token: 50, adapter_flops_per_token: 1, adapter_params_per_layer: 1000,
                                               optimizer_bytes_per_layer: 12000, all_layers_cost: 100 + Double(L - 1), measured_layers: []))
    }

    /// A fresh temporary folder, removed when `test` finishes (kept if LAYERCARD_KEEP_TMP is set).
    static func tempDir(_ test: XCTestCase, _ name: String = #function) throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("lc-decide-\(name.filter { $0.isLetter })-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        if ProcessInfo.processInfo.environment["LAYERCARD_KEEP_TMP"] == nil {
            test.addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        }
        return d
    }

    /// Writes `card` as `<ws>/outputs/<id>/card.json`.
    @discardableResult
    static func write(_ card: LayerCard, workspace: URL) throws -> URL {
        let url = workspace.appendingPathComponent("outputs/\(card.model_id)/card.json")
        try AtomicFile.write(try card.encodedJSON(), to: url)
        return url
    }

    /// The package root (walks up from this file to Package.swift).
    static var repoRoot: URL {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while u.path != "/" && !FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) {
            u = u.deletingLastPathComponent()
        }
        return u
    }
}
