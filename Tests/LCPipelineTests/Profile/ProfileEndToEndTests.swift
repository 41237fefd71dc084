// The profile stage through the real executable: ingest + load + profile the tiny llama/gpt2/qwen3/bert fixtures
// in a temp workspace on a pre-tokenized dataset (bert with target vectors), then check the card is complete and
// finite, coupling symmetric with unit diagonal, gain({l}) = predicted_gain_l, card.h5 == card.json (Swift reader
// and h5py), the manifest, the skip on rerun and the exit codes. Also the real SmolLM2 GGUF on 8 short records.
import Foundation
import LCCard
import LCPipeline
import XCTest

func profileRepoRoot() -> URL { E2E.repoRoot }

/// Runs the layercard executable (found by `E2E.executable()`), returns (status, stdout+stderr).
@discardableResult
func runLayercard(_ args: [String], env: [String: String] = [:]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = try E2E.executable()
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe; p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Checks a finished card: complete, finite, coupling symmetric/unit diagonal, gain({l}) = predicted_gain_l,
/// HDF5 equal to JSON (Swift reader and h5py).
func checkCard(_ ws: URL, _ id: String, arch: String, layers L: Int, file: StaticString = #filePath, line: UInt = #line) throws -> LayerCard {
    let dir = ws.appendingPathComponent("outputs/\(id)")
    let jsonURL = dir.appendingPathComponent("card.json"), h5URL = dir.appendingPathComponent("card.h5")
    let card = try JSONDecoder().decode(LayerCard.self, from: Data(contentsOf: jsonURL))
    let names = LCModelArchitectureModules(arch)
    XCTAssertEqual(card.layers.count, L, file: file, line: line)
    XCTAssertEqual(card.modules.count, L * names.count, file: file, line: line)
    for l in 0..<L { XCTAssertEqual(card.modules.filter { $0.layer == l }.map(\.module), names, "layer \(l) modules", file: file, line: line) }
    XCTAssertTrue(card.loss.isFinite && card.loss > 0, file: file, line: line)
    XCTAssertGreaterThan(card.tokens, 0, file: file, line: line)
    for m in card.modules {
        for v in [m.grad_norm, m.act_energy, m.resnorm, m.resnorm_lora] { XCTAssertTrue(v.isFinite && v >= 0, "\(m)", file: file, line: line) }
        XCTAssertGreaterThan(m.resnorm, 0, file: file, line: line)
    }
    for s in card.layers {
        XCTAssertTrue(s.cost > 0 && s.cost_relative > 0 && s.cost_relative <= 1, "\(s)", file: file, line: line)
        XCTAssertNotNil(s.measured_step_seconds, file: file, line: line)
        // The forward-only columns are on every fresh card.
        let bi = try XCTUnwrap(s.block_influence, "layer \(s.layer) block_influence", file: file, line: line)
        let an = try XCTUnwrap(s.act_norm, "layer \(s.layer) act_norm", file: file, line: line)
        XCTAssertTrue(bi.isFinite && bi >= 0 && bi <= 2 && an.isFinite && an > 0, "\(s)", file: file, line: line)
    }
    // gain({l}) = predicted_gain_l (up to the 1e-6 ridge) with the rank stage's gain function, for the resnorm
    // column (b = resnorm) and the predicted_gain column (b = sqrt(2·predicted_gain)).
    for signal in [Signal.resnorm, .predicted_gain] {
        let g = try GainModel(card: card, signal: signal)
        for s in card.layers {
            XCTAssertEqual(g.gain([s.layer]), s.predicted_gain, accuracy: 2e-6 * s.predicted_gain, "\(signal) layer \(s.layer)",
                           file: file, line: line)
        }
    }
    XCTAssertEqual(card.cost_model.measured_layers.first, 0, file: file, line: line)
    XCTAssertEqual(card.cost_model.measured_layers.last, L - 1, file: file, line: line)
    XCTAssertEqual(card.coupling.count, L, file: file, line: line)
    for i in 0..<L {
        XCTAssertEqual(card.coupling[i][i], 1, file: file, line: line)
        for j in 0..<L {
            XCTAssertEqual(card.coupling[i][j], card.coupling[j][i], file: file, line: line)
            XCTAssertLessThanOrEqual(abs(card.coupling[i][j]), 1, file: file, line: line)
        }
    }
    XCTAssertEqual(try LayerCard.readHDF5(from: h5URL), card, "card.h5 read back differs from card.json", file: file, line: line)
    let py = Process()
    py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    py.arguments = ["python3", profileRepoRoot().appendingPathComponent("scripts/tests/check_card_h5.py").path, h5URL.path, jsonURL.path]
    let pipe = Pipe()
    py.standardOutput = pipe; py.standardError = pipe
    try py.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    py.waitUntilExit()
    XCTAssertEqual(py.terminationStatus, 0, "h5py check: \(out)", file: file, line: line)
    return card
}

/// Architecture.modules without importing LCModel into the helper's signature.
func LCModelArchitectureModules(_ arch: String) -> [String] {
    switch arch {
    case "gpt2": return ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"]
    case "bert": return ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
    default: return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    }
}

final class ProfileEndToEndTests: XCTestCase {
    func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lc-profile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    /// Pre-tokenized records (vocab 96), lengths 5…23 so batches are padded; bert records carry 64-d targets.
    func writeDataset(_ url: URL, targets: Bool) throws {
        var g = SystemRandomNumberGenerator()
        var lines: [String] = []
        for i in 0..<7 {
            let ids = (0..<(5 + 3 * i)).map { _ in Int.random(in: 0..<96, using: &g) }
            var rec: [String: Any] = ["input_ids": ids]
            if targets { rec["target"] = (0..<64).map { _ in Double.random(in: -1...1, using: &g) } }
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: rec), as: UTF8.self))
        }
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func testTinyFixturesEndToEnd() throws {
        let ws = try tempDir()
        let tiny = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny")
        let (s1, o1) = try runLayercard(["ingest", tiny.path, "--workspace", ws.path])
        XCTAssertEqual(s1, 0, o1)
        let (s2, o2) = try runLayercard(["load", "llama", "gpt2", "qwen3", "bert", "--workspace", ws.path])
        XCTAssertEqual(s2, 0, o2)
        let ds = ws.appendingPathComponent("ids.jsonl"), dsT = ws.appendingPathComponent("ids_targets.jsonl")
        try writeDataset(ds, targets: false); try writeDataset(dsT, targets: true)
        for arch in ["llama", "gpt2", "qwen3", "bert"] {
            let (s, o) = try runLayercard(["profile", arch, "--workspace", ws.path, "--dataset", (arch == "bert" ? dsT : ds).path,
                                           "--batch", "3", "--cost-repeats", "1", "--cost-depths", "2", "--log-format", "json"])
            XCTAssertEqual(s, 0, "\(arch): \(o)")
            XCTAssertTrue(o.contains("\"msg\":\"coupling\""), "progress lines per phase: \(o.prefix(400))")
            let card = try checkCard(ws, arch, arch: arch, layers: 2)
            XCTAssertEqual(card.dataset.kind, "input_ids")
            if arch != "bert" { XCTAssertNotEqual(card.coupling[0][1], 0, "\(arch): coupling computed") }
            let m = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.appendingPathComponent("manifests/\(arch)/profile.json"))) as? [String: Any]
            XCTAssertEqual(m?["status"] as? String, "ok")
        }
        // Unchanged → skipped; a different parameter → recomputed.
        let (s3, o3) = try runLayercard(["profile", "llama", "--workspace", ws.path, "--dataset", ds.path, "--batch", "3",
                                         "--cost-repeats", "1", "--cost-depths", "2"])
        XCTAssertEqual(s3, 0); XCTAssertTrue(o3.contains("unchanged"), o3)
        let (s4, o4) = try runLayercard(["profile", "llama", "--workspace", ws.path, "--dataset", ds.path, "--batch", "2",
                                         "--no-coupling", "--cost-depths", "0"])
        XCTAssertEqual(s4, 0, o4); XCTAssertFalse(o4.contains("unchanged"), o4)
        let card = try JSONDecoder().decode(LayerCard.self, from: Data(contentsOf: ws.appendingPathComponent("outputs/llama/card.json")))
        XCTAssertEqual(card.coupling, [[1, 0], [0, 1]])
        XCTAssertTrue(card.layers.allSatisfy { $0.measured_step_seconds == nil })
        // Exit codes: usage 2; unknown model → failed manifest, exit 1; bert without targets → failed, exit 1.
        XCTAssertEqual(try runLayercard(["profile", "llama", "--workspace", ws.path, "--batch", "0"]).0, 2)
        XCTAssertEqual(try runLayercard(["profile", "nosuch", "--workspace", ws.path, "--dataset", ds.path]).0, 1)
        let (s5, o5) = try runLayercard(["profile", "bert", "--workspace", ws.path, "--dataset", ds.path])
        XCTAssertEqual(s5, 1); XCTAssertTrue(o5.contains("target"), o5)
    }

    /// Same batch split into different batch sizes: padding is excluded and gradients are of the global mean
    /// loss, so the card's statistics must not depend on --batch.
    func testStatisticsIndependentOfBatching() throws {
        let ws = try tempDir()
        let tiny = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny/qwen3")
        XCTAssertEqual(try runLayercard(["ingest", tiny.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        let ds = ws.appendingPathComponent("ids.jsonl")
        try writeDataset(ds, targets: false)
        var cards: [LayerCard] = []
        for b in ["1", "7"] {
            let (s, o) = try runLayercard(["profile", "--all", "--workspace", ws.path, "--dataset", ds.path, "--batch", b,
                                           "--cost-depths", "0", "--force"])
            XCTAssertEqual(s, 0, o)
            let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("outputs").path).first)
            cards.append(try JSONDecoder().decode(LayerCard.self, from: Data(contentsOf: ws.appendingPathComponent("outputs/\(id)/card.json"))))
        }
        XCTAssertEqual(cards[0].loss, cards[1].loss, accuracy: 1e-6 * abs(cards[1].loss))  // float32 sums in a different batching order
        XCTAssertEqual(cards[0].tokens, cards[1].tokens)
        for (a, b) in zip(cards[0].modules, cards[1].modules) {
            for (x, y) in [(a.grad_norm, b.grad_norm), (a.act_energy, b.act_energy), (a.resnorm, b.resnorm), (a.resnorm_lora, b.resnorm_lora)] {
                XCTAssertEqual(x, y, accuracy: 1e-4 * y, "\(a.layer).\(a.module)")
            }
        }
        for i in 0..<2 { for j in 0..<2 { XCTAssertEqual(cards[0].coupling[i][j], cards[1].coupling[i][j], accuracy: 1e-3) } }
    }

    func testRealSmolLM2ShortProfile() throws {
        let cache = ProcessInfo.processInfo.environment["LAYERCARD_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/layercard")
        let gguf = cache.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: gguf.path) else {
            return XCTFail("\(gguf.path) missing: run scripts/setup.sh")
        }
        let ws = try tempDir()
        XCTAssertEqual(try runLayercard(["ingest", gguf.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        // Default dataset (found next to the executable), 8 records capped at 64 tokens.
        let (s, o) = try runLayercard(["profile", "--all", "--workspace", ws.path, "--max-records", "8", "--max-tokens", "64",
                                       "--batch", "8", "--cost-repeats", "1", "--cost-depths", "2", "--coupling-records", "4"])
        XCTAssertEqual(s, 0, o)
        let card = try checkCard(ws, "SmolLM2-135M-Instruct.Q4_1", arch: "llama", layers: 30)
        XCTAssertEqual(card.dataset.records, 8)
        XCTAssertEqual(card.dataset.kind, "prompt_response")
        XCTAssertLessThan(card.loss, 4, "an instruct model on its own data-to-text set")

        // Issue 5: rank the real card, then recompute every selection's cost(S) and gain(S) by hand from the card.
        let (rs, ro) = try runLayercard(["rank", "--all", "--workspace", ws.path, "--k", "4"])
        XCTAssertEqual(rs, 0, ro)
        let b = card.layers.map(\.grad_norm)  // default signal without a probe: grad_norm (a norm column: b = x)
        for objective in ["performance", "cost", "balanced"] {
            let url = ws.appendingPathComponent("outputs/SmolLM2-135M-Instruct.Q4_1/selection-\(objective).json")
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let sel = try XCTUnwrap(obj["selection"] as? [String: Any]), chosen = try XCTUnwrap(sel["chosen"] as? [String: Any])
            XCTAssertEqual(sel["signal"] as? String, "grad_norm")
            let S = try XCTUnwrap(chosen["layers"] as? [Int]).sorted()
            XCTAssertFalse(S.isEmpty)
            let cost = card.layers[S[0]].cost + Double(S.count - 1) * card.cost_model.adapter_flops_per_token
            XCTAssertEqual(try XCTUnwrap(chosen["cost"] as? Double), cost, accuracy: 1e-9 * cost, objective)
            if S.count <= 10 {
                // The NNLS runs on the coupling of the selection's set model (spec v2 §6b: the validated default).
                let model = try SetModel(parsing: try XCTUnwrap(sel["set_model"] as? String))
                let R = model.coupling(card: card.coupling, L: card.layers.count)
                let gain = Self.gainByEnumeration(b: S.map { b[$0] }, R: S.map { i in S.map { R[i][$0] } })
                XCTAssertEqual(try XCTUnwrap(chosen["gain"] as? Double), gain, accuracy: 1e-6 * max(gain, 1e-12), objective)
            }
        }
    }

    /// max over c ≥ 0 of b·c − ½ cᵀ(R + 1e-6 I)c (spec §3) by enumerating the active sets: for each subset A,
    /// solve (R+εI)_AA c_A = b_A by Gaussian elimination; keep feasible (c_A ≥ 0) solutions; take the best.
    static func gainByEnumeration(b: [Double], R: [[Double]]) -> Double {
        let n = b.count
        var best = 0.0
        for mask in 1..<(1 << n) {
            let A = (0..<n).filter { mask & (1 << $0) != 0 }
            var M = A.map { i in A.map { j in R[i][j] + (i == j ? 1e-6 : 0) } + [b[i]] }
            let m = A.count
            var ok = true
            for col in 0..<m {
                guard let piv = (col..<m).max(by: { abs(M[$0][col]) < abs(M[$1][col]) }), abs(M[piv][col]) > 1e-300 else { ok = false; break }
                M.swapAt(col, piv)
                for r in 0..<m where r != col {
                    let f = M[r][col] / M[col][col]
                    for k in col...m { M[r][k] -= f * M[col][k] }
                }
            }
            guard ok else { continue }
            let c = (0..<m).map { M[$0][m] / M[$0][$0] }
            guard c.allSatisfy({ $0 >= -1e-12 }) else { continue }
            var v = 0.0
            for (x, i) in A.enumerated() { v += b[i] * c[x] }
            for (x, i) in A.enumerated() { for (y, j) in A.enumerated() { v -= 0.5 * c[x] * (R[i][j] + (i == j ? 1e-6 : 0)) * c[y] } }
            best = max(best, v)
        }
        return best
    }
}
