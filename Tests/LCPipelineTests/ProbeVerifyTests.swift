// `probe --verify` (issue 15 item 4): the recommendation per objective is the best measured set meeting it, never a
// set a measured baseline dominates, with a verdict that respects the seed spread; end to end on the tiny llama
// (real ingest → load → profile → probe --verify → rank): deterministic, and rank then recommends the measured set.
import Foundation
import LCCard
import LCCore
import LCModel
@testable import LCPipeline
import XCTest

final class ProbeVerifyTests: XCTestCase {
    func set(_ name: String, _ layers: [Int], _ gain: Double, _ step: Double, spread: Double? = nil) -> ProbeSetResult {
        var s = ProbeSetResult(name: name, layers: layers, gain: gain, gain_fraction: nil, step_seconds: step, speedup: nil, draws: nil,
                               source: nil)
        if let spread { s.gain_spread = spread; s.seeds = 3 }
        return s
    }

    func testRecommendationIsTheBestMeasuredSetMeetingEachObjective() {
        let sets = [set("all", [0, 1, 2, 3, 4, 5], 1.0, 4.0, spread: 0.01),
                    set("bottom-k", [0, 1], 0.50, 3.9, spread: 0.02), set("top-k", [4, 5], 0.30, 1.0, spread: 0.02),
                    set("mid-k", [2, 3], 0.55, 2.5, spread: 0.02),
                    set("verify-performance", [1, 3], 0.62, 3.5, spread: 0.02),
                    set("verify-performance-shift", [2, 4], 0.54, 2.6, spread: 0.02),  // dominated by mid-k: never recommended
                    set("verify-cost", [3, 5], 0.40, 1.5)]
        let recs = ProbeVerify.recommend(sets: sets, k: 2, targetFraction: 0.35)
        let byObj = Dictionary(uniqueKeysWithValues: recs.map { ($0.objective, $0) })
        XCTAssertEqual(byObj["performance"]?.layers, [1, 3])
        XCTAssertEqual(byObj["performance"]?.gain_fraction ?? 0, 0.62, accuracy: 1e-12)
        XCTAssertTrue(byObj["performance"]?.verdict.hasPrefix("better than mid-2 by 7.0 ± 4.0 points") ?? false, byObj["performance"]?.verdict ?? "")
        // cost: the fastest step among sets reaching 35 %: verify-cost (1.5 s) — top-k (1.0 s) reaches only 30 %.
        XCTAssertEqual(byObj["cost"]?.layers, [3, 5])
        XCTAssertTrue(byObj["cost"]?.verdict.contains("points") ?? false, byObj["cost"]?.verdict ?? "")
        // balanced: gain per second: top-k 0.30, verify-cost 0.27, mid-k 0.22 → top-k.
        XCTAssertEqual(byObj["balanced"]?.layers, [4, 5])
        for r in recs { XCTAssertNotEqual(r.from_set, "verify-performance-shift") }
        // A target no set reaches: the highest-gain set, and the verdict says so.
        let none = ProbeVerify.recommend(sets: sets, k: 2, targetFraction: 0.9).first { $0.objective == "cost" }
        XCTAssertEqual(none?.layers, [1, 3])
        XCTAssertTrue(none?.verdict.hasPrefix("no measured set of 2 layers reached 90%") ?? false)
        // Within the noise: no reliable difference.
        let close = ProbeVerify.recommend(sets: [sets[0], sets[3], set("verify-performance", [1, 3], 0.57, 3.5, spread: 0.02)], k: 2,
                                          targetFraction: 0.9).first { $0.objective == "performance" }
        XCTAssertTrue(close?.verdict.hasPrefix("no reliable difference from mid-2") ?? false, close?.verdict ?? "")
    }

    func testVerifyEndToEndOnTinyLlama() throws {
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
        let id = try XCTUnwrap(ids.first { $0.contains("llama") })
        var g = ProbeRNG(seed: 11)
        let lines = (0..<24).map { _ in "{\"input_ids\": \((0..<(10 + Int(g.next(below: 8)))).map { _ in 2 + Int(g.next(below: 94)) })}" }
        let data = tmp.appendingPathComponent("d.jsonl")
        try lines.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        r = try E2E.run(exe, ["profile", id, "--workspace", ws.path, "--dataset", data.path, "--cost-depths", "0"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let args = ["probe", id, "--workspace", ws.path, "--dataset", data.path, "--steps", "3", "--batch", "4", "--k", "1", "--lr", "1e-2",
                    "--rank", "4", "--sets", "bottom-k,top-k,all", "--seeds", "2", "--verify", "--json"]
        r = try E2E.run(exe, args)
        XCTAssertEqual(r.code, 0, r.stderr)
        let rep = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let recs = try XCTUnwrap(rep["recommendations"] as? [[String: Any]], "\(rep.keys)")
        XCTAssertEqual(Set(recs.compactMap { $0["objective"] as? String }), ["performance", "cost", "balanced"])
        let sets = try XCTUnwrap(rep["sets"] as? [[String: Any]])
        let ofK = sets.filter { ($0["layers"] as? [Int])?.count == 1 }
        let bestGain = ofK.compactMap { $0["gain"] as? Double }.max()
        let perf = try XCTUnwrap(recs.first { $0["objective"] as? String == "performance" })
        XCTAssertEqual(perf["gain"] as? Double, bestGain, "performance = the best measured set of size k")
        XCTAssertEqual(perf["seeds"] as? Int, 2)
        XCTAssertNotNil(perf["verdict"] as? String)
        // Deterministic: the same command gives the same recommendations.
        let again = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try E2E.run(exe, args).stdout.utf8)) as? [String: Any])
        XCTAssertEqual((again["recommendations"] as? [[String: Any]])?.compactMap { $0["layers"] as? [Int] },
                       recs.compactMap { $0["layers"] as? [Int] })
        // rank now recommends the measured set, marked measured.
        r = try E2E.run(exe, ["rank", id, "--workspace", ws.path, "--k", "1", "--objective", "performance"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let sel = try XCTUnwrap(try E2E.jsonObject(ws.appendingPathComponent("outputs/\(id)/selection-performance.json")) as? [String: Any])
        let chosen = try XCTUnwrap((sel["selection"] as? [String: Any])?["chosen"] as? [String: Any])
        XCTAssertEqual(chosen["layers"] as? [Int], perf["layers"] as? [Int])
        XCTAssertEqual(chosen["basis"] as? String, "measured")
        XCTAssertTrue(((sel["selection"] as? [String: Any])?["method"] as? String ?? "").hasPrefix("best measured set"))
    }
}
