// `layercard profile --memory-budget 1` (weights streamed from the store one layer at a time, activations
// checkpointed, blockwise LM head) produces the same card as the default all-in-memory run on the tiny qwen3
// (loss, every module statistic, coupling), and malformed budgets are usage errors.
import Foundation
import LCCard
import XCTest

final class ProfileStreamedTests: XCTestCase {
    func testStreamedProfileEqualsResident() throws {
        let ws = FileManager.default.temporaryDirectory.appendingPathComponent("lc-streamed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: ws, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: ws) }
        let tiny = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny/qwen3")
        XCTAssertEqual(try runLayercard(["ingest", tiny.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        let ds = ws.appendingPathComponent("ids.jsonl")
        var g = SystemRandomNumberGenerator()
        let lines = try (0..<7).map { i in  // lengths 5…23: padded batches
            String(decoding: try JSONSerialization.data(withJSONObject: ["input_ids": (0..<(5 + 3 * i)).map { _ in Int.random(in: 0..<96, using: &g) }]),
                   as: UTF8.self)
        }
        try lines.joined(separator: "\n").write(to: ds, atomically: true, encoding: .utf8)
        var cards: [LayerCard] = []
        for budget in [nil, "1"] {
            var args = ["profile", "--all", "--workspace", ws.path, "--dataset", ds.path, "--batch", "3", "--cost-depths", "0", "--force"]
            if let budget { args += ["--memory-budget", budget] }
            let (s, o) = try runLayercard(args)
            XCTAssertEqual(s, 0, o)
            if budget != nil { XCTAssertTrue(o.contains("streamed") && o.contains("true"), o) }
            let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("outputs").path).first)
            cards.append(try JSONDecoder().decode(LayerCard.self, from: Data(contentsOf: ws.appendingPathComponent("outputs/\(id)/card.json"))))
        }
        XCTAssertEqual(cards[1].loss, cards[0].loss, accuracy: 1e-6 * abs(cards[0].loss))
        XCTAssertEqual(cards[1].tokens, cards[0].tokens)
        XCTAssertEqual(cards[1].modules.count, cards[0].modules.count)
        for (a, b) in zip(cards[1].modules, cards[0].modules) {
            for (x, y) in [(a.grad_norm, b.grad_norm), (a.act_energy, b.act_energy), (a.resnorm, b.resnorm), (a.resnorm_lora, b.resnorm_lora)] {
                XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), "\(a.layer).\(a.module)")
            }
        }
        for (ra, rb) in zip(cards[1].coupling, cards[0].coupling) {
            for (x, y) in zip(ra, rb) { XCTAssertEqual(x, y, accuracy: 1e-4, "coupling") }
        }
        for bad in ["0", "-5", "6X", "G", "99999999999T"] {
            XCTAssertEqual(try runLayercard(["profile", "--all", "--workspace", ws.path, "--memory-budget", bad]).0, 2, bad)
        }
    }
}
