// Probe stage checks: Spearman with ties and its t-approximation p-value against scipy 1.17 values and exact
// small-dof formulas, the spec §6 layer sets, the seeded split, the card update (fields kept, measured columns and
// correlations added), and an end-to-end `layercard ingest/load/probe` on the tiny llama fixture with
// pre-tokenized data, a synthetic card and a selection file (determinism of probe.json for a fixed seed).
import Foundation
import LCCore
import LCModel
@testable import LCPipeline
import XCTest

final class ProbeTests: XCTestCase {
    func testSpearmanAndPValueMatchScipy() throws {
        // scipy.stats.spearmanr (1.17.1) on the same inputs.
        let r1 = try XCTUnwrap(ProbeStats.spearman([1, 2, 3, 4, 5, 6, 7], [2, 1, 4, 4, 7, 6, 5]))
        XCTAssertEqual(r1, 0.8108437164260032, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ProbeStats.spearmanPValue(rho: r1, n: 7)), 0.026916328843161995, accuracy: 1e-10)
        let r2 = try XCTUnwrap(ProbeStats.spearman([0.3, 0.1, 0.1, 0.9, 0.5, 0.5, 0.2, 0.8], [1, 3, 2, 8, 4, 6, 5, 7]))
        XCTAssertEqual(r2, 0.7831893756568049, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ProbeStats.spearmanPValue(rho: r2, n: 8)), 0.02151553051380284, accuracy: 1e-10)
        XCTAssertEqual(ProbeStats.averageRanks([5, 1, 5, 3]), [3.5, 1, 3.5, 2])
        XCTAssertNil(ProbeStats.spearman([1, 1, 1], [1, 2, 3]), "constant signal has no rank correlation")
        XCTAssertEqual(ProbeStats.spearman([1, 2, 3, 4], [40, 30, 20, 10]), -1)
    }

    func testStudentTTail() {
        // scipy: 2·t.sf(t, df)
        XCTAssertEqual(ProbeStats.studentTTwoSided(t: 2.0, df: 10), 0.07338803477074037, accuracy: 1e-12)
        XCTAssertEqual(ProbeStats.studentTTwoSided(t: 0.5, df: 27), 0.6211258637632511, accuracy: 1e-12)
        XCTAssertEqual(ProbeStats.studentTTwoSided(t: -4.2, df: 3), 0.024632078176939253, accuracy: 1e-12)
        for t in [0.1, 1.0, 3.0, 25.0] {  // exact closed forms for df = 1 and 2
            XCTAssertEqual(ProbeStats.studentTTwoSided(t: t, df: 1), 1 - 2 * atan(t) / .pi, accuracy: 1e-12)
            XCTAssertEqual(ProbeStats.studentTTwoSided(t: t, df: 2), 1 - t / (2 + t * t).squareRoot(), accuracy: 1e-12)
        }
    }

    func testLayerSets() {
        XCTAssertEqual(ProbeStats.uniform(k: 5, L: 30), [0, 7, 14, 22, 29])
        XCTAssertEqual(ProbeStats.uniform(k: 7, L: 30), [0, 5, 10, 14, 19, 24, 29], "14.5 rounds half-to-even")
        XCTAssertEqual(ProbeStats.mid(k: 5, L: 30), [12, 13, 14, 15, 16])
        XCTAssertEqual(ProbeStats.bottom(k: 5, L: 30), [0, 1, 2, 3, 4])
        XCTAssertEqual(ProbeStats.top(k: 5, L: 30), [25, 26, 27, 28, 29])
        let r = ProbeStats.random(k: 5, L: 30, seed: 0)
        XCTAssertEqual(r, ProbeStats.random(k: 5, L: 30, seed: 0))
        XCTAssertNotEqual(r, ProbeStats.random(k: 5, L: 30, seed: 1))
        XCTAssertEqual(Set(r).count, 5); XCTAssertTrue(r.allSatisfy { (0..<30).contains($0) })
        XCTAssertEqual(ProbeStats.subsample(n: 4, L: 30), [0, 10, 19, 29])
        XCTAssertEqual(ProbeStats.subsample(n: 40, L: 30), Array(0..<30))
        XCTAssertEqual(ProbeStats.subsample(n: 1, L: 30), [0, 29], "first and last always")
    }

    func testSplitIsSeededDisjointAndCovering() {
        let (tr, ev) = ProbeStats.split(count: 400, evalFraction: 0.2, seed: 0)
        XCTAssertEqual(ev.count, 80); XCTAssertEqual(tr.count, 320)
        XCTAssertEqual(Set(tr).union(ev), Set(0..<400)); XCTAssertTrue(Set(tr).isDisjoint(with: ev))
        XCTAssertEqual(ProbeStats.split(count: 400, evalFraction: 0.2, seed: 0).eval, ev)
        XCTAssertNotEqual(ProbeStats.split(count: 400, evalFraction: 0.2, seed: 1).eval, ev)
        XCTAssertEqual(ProbeStats.split(count: 3, evalFraction: 0.01, seed: 0).eval.count, 1)
    }

    func testCardUpdateKeepsFieldsAndAddsMeasurements() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-probe-card-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let card = dir.appendingPathComponent("card.json")
        var layers: [[String: Any]] = []
        for l in 0..<4 {
            var o: [String: Any] = ["layer": l, "grad_norm": Double(4 - l), "resnorm": Double(l), "resnorm_lora": Double(l * l)]
            o["act_energy_mean"] = 1.0; o["predicted_gain"] = Double(10 - l); o["cost"] = 1.0; o["future_field"] = "kept"
            if l == 0 { o["measured_step_seconds"] = 9.0 }  // profile's own timing: kept
            layers.append(o)
        }
        try JSONSerialization.data(withJSONObject: ["layers": layers, "model_id": "m", "other": [1, 2]]).write(to: card)
        func run(_ l: Int, _ gain: Double) -> ProbeRunResult {
            ProbeRunResult(layers: [l], eval_loss_before: 3, eval_loss_after: 3 - gain, gain: gain, step_seconds: 0.5, step_seconds_all: [0.5],
                           train_losses: [3], peak_rss_bytes: 1000, peak_rss_is_reset: true, trainable_parameters: 10)
        }
        let runs = [run(0, 0.4), run(1, 0.3), run(3, 0.1)]
        var measured: [Int: Double] = [:]
        for r in runs { measured[r.layers[0]] = r.gain }
        let corr = ProbeCard.correlations(measured: measured, cardLayers: layers)
        XCTAssertEqual(corr.first { $0.signal == "grad_norm" }?.spearman ?? 0, 1, accuracy: 1e-12)
        XCTAssertEqual(corr.first { $0.signal == "resnorm" }?.spearman ?? 0, -1, accuracy: 1e-12)
        XCTAssertNil(corr.first { $0.signal == "act_energy" }?.spearman, "constant act_energy")
        XCTAssertEqual(corr.first?.n, 3)
        let info = ProbeDatasetInfo(train_path: "t", eval_path: "e", train_sha256: "", eval_sha256: "", train_records: 1, eval_records: 1,
                                    eval_targets: 1, eval_fraction: nil, split_seed: nil, max_tokens: 8)
        let rep = ProbeReport(model_id: "m", model_fingerprint: "f", dataset: info,
                              settings: ProbeSettings(steps: 1, batch: 1, lora: LoRAOptions()), eval_loss_before: 3, layers: runs,
                              measured_layers: [0, 1, 3], k: 2, sets: [], correlations: corr, notes: [], elapsed_seconds: 1)
        try ProbeCard.update(cardURL: card, report: rep)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: card)) as? [String: Any])
        XCTAssertEqual(root["model_id"] as? String, "m"); XCTAssertEqual(root["other"] as? [Int], [1, 2])
        let out = try XCTUnwrap(root["layers"] as? [[String: Any]])
        XCTAssertEqual(out[1]["measured_gain"] as? Double, 0.3); XCTAssertEqual(out[1]["measured_step_seconds"] as? Double, 0.5)
        XCTAssertEqual(out[0]["measured_step_seconds"] as? Double, 9.0, "profile's measured_step_seconds is not overwritten")
        XCTAssertEqual(out[0]["probe_step_seconds"] as? Double, 0.5)
        XCTAssertNil(out[2]["measured_gain"], "layer 2 was not probed")
        XCTAssertEqual(out[2]["future_field"] as? String, "kept")
        let probe = try XCTUnwrap(root["probe"] as? [String: Any])
        XCTAssertEqual(probe["measured_layers"] as? [Int], [0, 1, 3])
        XCTAssertEqual((probe["correlations"] as? [Any])?.count, 7)
    }

    /// ingest + load the tiny llama, then `layercard probe` twice with the same seed: identical gains, a card gets
    /// its measured columns, the selection file's layers are run as the performance set.
    func testProbeEndToEndOnTinyLlama() throws {
        let exe = try E2E.executable()
        let tmp = try E2E.tempDir(self)
        let models = tmp.appendingPathComponent("models/tiny-llama")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: E2E.repoRoot.appendingPathComponent("Tests/Fixtures/tiny/llama/\(f)"),
                                             to: models.appendingPathComponent(f))
        }
        let ws = tmp.appendingPathComponent("ws")
        var r = try E2E.run(exe, ["ingest", tmp.appendingPathComponent("models").path, "--workspace", ws.path])
        XCTAssertEqual(r.code, 0, r.stderr)
        r = try E2E.run(exe, ["load", "--all", "--workspace", ws.path])
        XCTAssertEqual(r.code, 0, r.stderr)
        let ids = try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("manifests").path).filter { !$0.hasPrefix(".") }
        let id = try XCTUnwrap(ids.first { $0.contains("llama") }, "\(ids)")
        // Pre-tokenized records (the fixture has no tokenizer); ids from 2 (main's reader takes 0/1 for JSON booleans).
        var g = ProbeRNG(seed: 9)
        let lines = (0..<20).map { _ in "{\"input_ids\": \((0..<(12 + Int(g.next(below: 10)))).map { _ in 2 + Int(g.next(below: 94)) })}" }
        let data = tmp.appendingPathComponent("d.jsonl")
        try lines.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let out = ws.appendingPathComponent("outputs/\(id)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var cardLayers: [[String: Any]] = []
        for l in 0..<2 {
            var o: [String: Any] = ["layer": l, "grad_norm": Double(l + 1), "resnorm": 1.0 - Double(l)]
            o["resnorm_lora"] = 0.5; o["act_energy_mean"] = 2.0; o["predicted_gain"] = 0.1
            cardLayers.append(o)
        }
        try JSONSerialization.data(withJSONObject: ["layers": cardLayers, "model_id": id]).write(to: out.appendingPathComponent("card.json"))
        try JSONSerialization.data(withJSONObject: ["selection": ["chosen": ["layers": [1]]]])
            .write(to: out.appendingPathComponent("selection-performance.json"))
        let args = ["probe", id, "--workspace", ws.path, "--dataset", data.path, "--steps", "3", "--batch", "4", "--k", "1", "--lr", "1e-2",
                    "--rank", "4", "--sets", "performance,bottom-k,top-k,random-k,all", "--random-draws", "2", "--json"]
        r = try E2E.run(exe, args)
        XCTAssertEqual(r.code, 0, r.stderr)
        let rep = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let layers = try XCTUnwrap(rep["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, 2)
        let gains = layers.compactMap { $0["gain"] as? Double }
        XCTAssertEqual(gains.count, 2)
        XCTAssertTrue(gains.allSatisfy { $0.isFinite && $0 > 0 }, "lr 1e-2 for 3 steps must help on held-out data drawn alike: \(gains)")
        let sets = try XCTUnwrap(rep["sets"] as? [[String: Any]])
        XCTAssertEqual(sets.map { $0["name"] as? String }, ["performance", "bottom-k", "top-k", "random-k", "all"])
        XCTAssertEqual(sets[0]["layers"] as? [Int], [1]); XCTAssertEqual(sets[0]["source"] as? String, "selection-performance.json")
        XCTAssertEqual(sets.last?["gain_fraction"] as? Double, 1)
        XCTAssertEqual((sets[3]["draws"] as? [Any])?.count, 2)
        let card = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("card.json"))) as? [String: Any])
        let cl = try XCTUnwrap(card["layers"] as? [[String: Any]])
        XCTAssertEqual(cl.compactMap { $0["measured_gain"] as? Double }, gains)
        XCTAssertNotNil((card["probe"] as? [String: Any])?["correlations"])
        // Same seed ⇒ same numbers (times aside).
        r = try E2E.run(exe, args)
        XCTAssertEqual(r.code, 0, r.stderr)
        let rep2 = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((rep2["layers"] as? [[String: Any]])?.compactMap { $0["gain"] as? Double }, gains)
        XCTAssertEqual((rep2["sets"] as? [[String: Any]])?.compactMap { $0["gain"] as? Double }, sets.compactMap { $0["gain"] as? Double })
        // Bad options exit 2.
        XCTAssertEqual(try E2E.run(exe, ["probe", id, "--workspace", ws.path, "--sets", "nope"]).code, 2)
        XCTAssertEqual(try E2E.run(exe, ["probe", id, "--workspace", ws.path, "--dataset", data.path, "--layers", "7"]).code, 2)
    }
}
