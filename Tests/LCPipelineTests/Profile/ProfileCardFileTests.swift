// Card files without running a model: card.h5 written from a synthetic card reads back equal (optional columns
// absent → NaN → nil; a file without the forward-only datasets, as written before they existed, reads them as nil),
// h5py agrees with card.json, no temp file is left behind, a non-HDF5 file is rejected
// naming the path, and the strict JSON encoder refuses NaN naming the field.
import Foundation
import LCCard
import LCModel
import LCPipeline
import XCTest

final class ProfileCardFileTests: XCTestCase {
    func syntheticCard(L: Int = 3) -> LayerCard {
        let cfg = ModelConfig(architecture: "llama", numLayers: L, hiddenSize: 8, numHeads: 2, numKVHeads: 1, headDim: 4,
                              intermediateSize: 16, vocabSize: 32, normEps: 1e-5, rope: RopeConfig(theta: 10000),
                              tiedEmbeddings: true, maxPositions: 64, activation: "silu", attentionBias: false)
        var mods: [ModuleStats] = []
        for l in 0..<L {
            for (j, m) in ["q_proj", "down_proj"].enumerated() {
                mods.append(ModuleStats(layer: l, module: m, d_in: 8, d_out: j == 0 ? 8 : 16, grad_norm: 0.1 * Double(l + 1),
                                        act_energy: 1e3 * Double(l + 1), resnorm: 1.0 / 3.0 + Double(l), resnorm_lora: 0.2,
                                        lambda_max: l == 1 ? nil : 2.5, effective_rank: l == 1 ? nil : 1.5))
            }
        }
        let layers = (0..<L).map { (l: Int) -> LayerStats in
            let influence: Double? = l == 1 ? nil : 0.0625 + 0.1 * Double(l)
            let norm: Double? = l == 1 ? nil : 3.5 * Double(l + 1)
            return LayerStats(layer: l, grad_norm: 1, resnorm: 2, resnorm_lora: 0.5, act_energy_mean: 3, predicted_gain: 2,
                              cost: 1e6 - Double(l), cost_relative: 0.9, activation_bytes_per_token: 1024,
                              measured_step_seconds: l == 0 ? 0.5 : nil, measured_peak_bytes: nil, measured_gain: l == 2 ? 0.01 : nil,
                              block_influence: influence, act_norm: norm)
        }
        let coupling = (0..<L).map { i in (0..<L).map { j in i == j ? 1.0 : 0.25 } }
        return LayerCard(tool_version: "0.1.0", model_id: "synthetic", architecture: "llama", config: cfg, model_fingerprint: "abc",
                         dataset: DatasetInfo(path: "/x.jsonl", sha256: "00ff", records: 4, kind: "input_ids"),
                         parameters: CardParameters(max_tokens: 64, batch: 2, lora_rank: 8, lora_seed: 1234, lambda_rel: 1e-3,
                                                    precision: "f32", threads: 2, coupling_method: "test", max_records: 4),
                         loss: 2.345678901234, tokens: 99, modules: mods, layers: layers, coupling: coupling,
                         cost_model: CostModel(forward_flops_per_token: 1e6, adapter_flops_per_token: 10, adapter_params_per_layer: 5,
                                               optimizer_bytes_per_layer: 60, all_layers_cost: 2e6, measured_layers: [0, 2]))
    }

    func testHDF5RoundTripAndH5py() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-card-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let card = syntheticCard()
        let h5 = dir.appendingPathComponent("card.h5"), json = dir.appendingPathComponent("card.json")
        try card.writeHDF5(to: h5)
        try ProfileStage.encodeCard(card).write(to: json)
        XCTAssertEqual(try LayerCard.readHDF5(from: h5), card)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["card.h5", "card.json"], "no temp files left")
        let py = Process()
        py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        py.arguments = ["python3", profileRepoRoot().appendingPathComponent("scripts/tests/check_card_h5.py").path, h5.path, json.path]
        let pipe = Pipe()
        py.standardOutput = pipe; py.standardError = pipe
        try py.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        py.waitUntilExit()
        XCTAssertEqual(py.terminationStatus, 0, out)
        // The checker must be able to fail: a card.json that differs in one number.
        var other = card
        other.modules[3].resnorm += 1e-6
        try ProfileStage.encodeCard(other).write(to: json)
        let py2 = Process()
        py2.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        py2.arguments = py.arguments
        py2.standardOutput = FileHandle.nullDevice
        try py2.run(); py2.waitUntilExit()
        XCTAssertEqual(py2.terminationStatus, 1, "check_card_h5.py must detect a differing resnorm")
    }

    /// card.h5 files written before block_influence/act_norm existed have no such datasets: they read back as nil,
    /// and h5py's check accepts the file against a card.json without the fields.
    func testHDF5WithoutForwardColumnsReads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-card-old-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var card = syntheticCard()
        for l in card.layers.indices { card.layers[l].block_influence = nil; card.layers[l].act_norm = nil }
        let h5 = dir.appendingPathComponent("card.h5"), json = dir.appendingPathComponent("card.json")
        try card.writeHDF5(to: h5)
        try ProfileStage.encodeCard(card).write(to: json)
        func python(_ args: [String]) throws -> (Int32, String) {
            let py = Process()
            py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            py.arguments = ["python3"] + args
            let pipe = Pipe()
            py.standardOutput = pipe; py.standardError = pipe
            try py.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            py.waitUntilExit()
            return (py.terminationStatus, out)
        }
        let drop = "import h5py, sys\nf = h5py.File(sys.argv[1], 'r+')\ndel f['layers/block_influence']\ndel f['layers/act_norm']\nf.close()"
        let (s, o) = try python(["-c", drop, h5.path])
        XCTAssertEqual(s, 0, o)
        XCTAssertEqual(try LayerCard.readHDF5(from: h5), card)
        let check = profileRepoRoot().appendingPathComponent("scripts/tests/check_card_h5.py").path
        let (s2, o2) = try python([check, h5.path, json.path])
        XCTAssertEqual(s2, 0, o2)
        // ... but a card.json that has the columns does not match a file without them.
        try ProfileStage.encodeCard(syntheticCard()).write(to: json)
        XCTAssertEqual(try python([check, h5.path, json.path]).0, 1)
    }

    func testReadRejectsNonHDF5() throws {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lc-not-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(at: u) }
        try Data("not hdf5".utf8).write(to: u)
        XCTAssertThrowsError(try LayerCard.readHDF5(from: u)) { XCTAssertTrue("\($0)".contains(u.path), "\($0)") }
    }

    func testStrictJSONNamesNonFiniteField() {
        var card = syntheticCard()
        card.layers[1].resnorm = .nan
        XCTAssertThrowsError(try ProfileStage.encodeCard(card)) { e in
            XCTAssertTrue("\(e)".contains("layers.1.resnorm"), "\(e)")
        }
    }
}
