// End-to-end load: generated checkpoints from scripts/fixtures/make_ingest_tree.py --generated-only
// (tiny llama GGUF with Q8_0/Q4_0/Q4_1/Q5_x/Q2_K..Q6_K/F16/BF16 weights, qwen2, qwen3, gpt2, a
// .tar.gz, a model with a NaN) go through the real `layercard ingest` + `load` executables; the
// stores are checked by scripts/fixtures/check_load_store.py (safetensors.safe_open, gguf-py
// dequantize + Q/K un-permute, bit-exact at f32). Also: NaN and corrupted/truncated tensors fail
// naming the tensor without touching other stores, bf16/int8 error figures, skip and --force.
import Foundation
import XCTest

final class LoadEndToEndTests: XCTestCase {
    nonisolated(unsafe) static var shared: Result<(dir: URL, tree: URL), Error>?

    override class func setUp() {
        super.setUp()
        shared = Result {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-load-e2e-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return (dir, try E2E.makeTree(in: dir, generatedOnly: true).tree)
        }
    }

    override class func tearDown() {
        if case .success(let s)? = shared { try? FileManager.default.removeItem(at: s.dir) }
        shared = nil
        super.tearDown()
    }

    let okModels = ["tiny-archive", "tiny-gpt2", "tiny-llama-q", "tiny-qwen2", "tiny-qwen3"]

    /// Fresh workspace with the shared tree ingested (exit 0: mamba is only unsupported).
    func ingestedWorkspace(tree: URL? = nil) throws -> URL {
        let tree = try tree ?? XCTUnwrap(Self.shared).get().tree
        let ws = try E2E.tempDir(self).appendingPathComponent("ws")
        let r = try E2E.run(try E2E.executable(), ["ingest", tree.path, "--workspace", ws.path])
        XCTAssertEqual(r.code, 0, r.stdout + r.stderr)
        return ws
    }

    func load(_ ws: URL, _ args: [String]) throws -> E2E.Run {
        try E2E.run(try E2E.executable(), ["load"] + args + ["--workspace", ws.path])
    }

    func store(_ ws: URL, _ id: String) -> URL { ws.appendingPathComponent("outputs/\(id)/loaded/model.safetensors") }

    func checkWithPython(_ ws: URL, _ ids: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try E2E.python("scripts/fixtures/check_load_store.py", [ws.path] + ids)
        XCTAssertEqual(r.code, 0, "check_load_store.py: \(r.stdout)\(r.stderr)", file: file, line: line)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThan(report["checked"] as? Int ?? 0, 20, file: file, line: line)
    }

    func loadedTensors(_ ws: URL, _ id: String) throws -> [[String: Any]] {
        try XCTUnwrap(try E2E.manifest(ws, id, "load")["tensors"] as? [[String: Any]])
    }

    func testF32StoresMatchPythonAndNaNFailsNamingTheTensor() throws {
        let ws = try ingestedWorkspace()
        let r = try load(ws, ["--all"])
        XCTAssertEqual(r.code, 1, "the NaN model must make load exit 1\n\(r.stdout)\(r.stderr)")
        for id in okModels {
            XCTAssertEqual(try E2E.manifest(ws, id, "load")["status"] as? String, "ok", id)
            XCTAssertTrue(FileManager.default.fileExists(atPath: store(ws, id).path), id)
        }
        let nan = try E2E.manifest(ws, "tiny-nan", "load")
        XCTAssertEqual(nan["status"] as? String, "failed")
        let msg = (nan["error"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertTrue(msg.contains("'model.layers.1.mlp.down_proj.weight'") && msg.contains("1 NaN"), msg)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store(ws, "tiny-nan").path), "no store for a failed load")
        XCTAssertTrue(r.stdout.contains("unsupported tiny-mamba (skipped"), r.stdout)
        try checkWithPython(ws, okModels)
        // GPT-2 Conv1D [in, out] → [out, in]; tied lm_head recorded as an alias.
        let gpt2 = try loadedTensors(ws, "tiny-gpt2")
        XCTAssertEqual(gpt2.first { $0["name"] as? String == "transformer.h.0.attn.c_attn.weight" }?["shape"] as? [Int], [192, 64])
        XCTAssertEqual(gpt2.first { $0["name"] as? String == "transformer.h.1.mlp.c_fc.weight" }?["shape"] as? [Int], [256, 64])
        XCTAssertFalse(gpt2.contains { ($0["name"] as? String ?? "").hasSuffix(".attn.bias") }, "causal-mask buffers are not weights")
        let aliases = try E2E.manifest(ws, "tiny-llama-q", "load")["aliases"] as? [String: String]
        XCTAssertEqual(aliases?["lm_head.weight"], "model.embed_tokens.weight")
        for t in try loadedTensors(ws, "tiny-llama-q") {
            XCTAssertEqual(t["quant_rel_error"] as? Double, 0, "f32 store is exact")
            XCTAssertEqual(t["nan_count"] as? Int, 0)
        }
    }

    func testSecondLoadIsSkippedAndForceRebuilds() throws {
        let ws = try ingestedWorkspace()
        XCTAssertEqual(try load(ws, okModels).code, 0)
        func store(_ id: String) -> URL { self.store(ws, id) }
        let before = okModels.map { (E2E.identity(store($0)), E2E.identity(ws.appendingPathComponent("manifests/\($0)/load.json"))) }
        let again = try load(ws, okModels)
        XCTAssertEqual(again.code, 0)
        for id in okModels { XCTAssertTrue(again.stdout.contains("ok          \(id) (skipped: unchanged)"), again.stdout) }
        let after = okModels.map { (E2E.identity(store($0)), E2E.identity(ws.appendingPathComponent("manifests/\($0)/load.json"))) }
        XCTAssertEqual(after.map { "\($0.0 ?? "-") \($0.1 ?? "-")" }, before.map { "\($0.0 ?? "-") \($0.1 ?? "-")" })
        let forced = try load(ws, ["tiny-qwen3", "--force"])
        XCTAssertEqual(forced.code, 0)
        XCTAssertFalse(forced.stdout.contains("skipped"), forced.stdout)
        XCTAssertNotEqual(E2E.identity(store("tiny-qwen3")), before[okModels.firstIndex(of: "tiny-qwen3")!].0, "--force rebuilds the store")
        XCTAssertEqual(E2E.identity(store("tiny-gpt2")), before[okModels.firstIndex(of: "tiny-gpt2")!].0)
    }

    func testBF16AndInt8RecordErrorAndStats() throws {
        let ws = try ingestedWorkspace()
        let ids = ["tiny-llama-q", "tiny-gpt2", "tiny-qwen2"]
        for (precision, stored, maxErr) in [("bf16", "BF16", 0.01), ("int8", "I8", 0.05)] {
            let r = try load(ws, ids + ["--precision", precision])
            XCTAssertEqual(r.code, 0, r.stdout + r.stderr)
            XCTAssertFalse(r.stdout.contains("skipped"), "a precision change rebuilds: \(r.stdout)")
            for id in ids {
                let m = try E2E.manifest(ws, id, "load")
                XCTAssertEqual(m["precision"] as? String, precision)
                var quantized = 0
                for t in try loadedTensors(ws, id) {
                    let name = t["name"] as? String ?? "?", shape = t["shape"] as? [Int] ?? []
                    let err = t["quant_rel_error"] as? Double ?? -1
                    let (mn, mx, mean, std) = (t["min"] as? Double ?? .nan, t["max"] as? Double ?? .nan,
                                               t["mean"] as? Double ?? .nan, t["std"] as? Double ?? .nan)
                    XCTAssertTrue(mn <= mean && mean <= mx && std >= 0 && std <= mx - mn, "\(id) \(name): stats \(t)")
                    if shape.count == 2 && name.hasSuffix(".weight") {
                        XCTAssertEqual(t["dtype"] as? String, stored, "\(id) \(name)")
                        if precision == "bf16" && t["source_dtype"] as? String == "BF16" {
                            XCTAssertEqual(err, 0, "\(id) \(name): BF16 source round-trips exactly")
                        } else {
                            XCTAssertGreaterThan(err, 0, "\(id) \(name): \(precision) loses precision")
                        }
                        XCTAssertLessThan(err, maxErr, "\(id) \(name)")
                        XCTAssertGreaterThan(std, 0, "\(id) \(name)")
                        if precision == "int8" { XCTAssertEqual(t["scale_tensor"] as? String, name + "_scale") }
                        quantized += 1
                    }
                }
                XCTAssertGreaterThanOrEqual(quantized, 8, id)
            }
            try checkWithPython(ws, ids)
        }
    }

    func testCorruptedTensorAfterIngestFailsNamingItWithoutTouchingOtherStores() throws {
        let shared = try XCTUnwrap(Self.shared).get()
        let tree = try E2E.tempDir(self).appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        for id in ["tiny-qwen2", "tiny-gpt2"] {
            try FileManager.default.copyItem(at: shared.tree.appendingPathComponent(id), to: tree.appendingPathComponent(id))
        }
        let ws = try ingestedWorkspace(tree: tree)
        XCTAssertEqual(try load(ws, ["--all"]).code, 0)
        let gpt2Store = E2E.identity(store(ws, "tiny-gpt2"))
        let weights = tree.appendingPathComponent("tiny-qwen2/model.safetensors")
        let original = try Data(contentsOf: weights)
        let ingest = try E2E.manifest(ws, "tiny-qwen2", "ingest")
        let tensors = try XCTUnwrap(ingest["tensors"] as? [[String: Any]])
        let q = try XCTUnwrap(tensors.first { $0["name"] as? String == "model.layers.0.self_attn.q_proj.weight" })
        let qOffset = try XCTUnwrap(q["offset"] as? Int)

        // 1. Same size, one weight overwritten with +Inf.
        var corrupted = original
        corrupted.replaceSubrange((qOffset + 40)..<(qOffset + 44), with: [0x00, 0x00, 0x80, 0x7F])
        try corrupted.write(to: weights)
        var r = try load(ws, ["--all"])
        XCTAssertEqual(r.code, 1, r.stdout)
        var msg = (try E2E.manifest(ws, "tiny-qwen2", "load")["error"] as? [String: Any])?["message"] as? String ?? ""
        XCTAssertTrue(msg.contains("tensor 'model.layers.0.self_attn.q_proj.weight'") && msg.contains("1 Inf"), msg)
        XCTAssertTrue(msg.contains(weights.path), msg)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store(ws, "tiny-qwen2").path))
        XCTAssertTrue(r.stdout.contains("ok          tiny-gpt2 (skipped: unchanged)"), r.stdout)
        XCTAssertEqual(E2E.identity(store(ws, "tiny-gpt2")), gpt2Store, "another model's store must not be touched")

        // 2. Truncated by 100 bytes: the tensor(s) whose bytes now lie past the end are named.
        try original.prefix(original.count - 100).write(to: weights)
        r = try load(ws, ["tiny-qwen2"])
        XCTAssertEqual(r.code, 1, r.stdout)
        msg = (try E2E.manifest(ws, "tiny-qwen2", "load")["error"] as? [String: Any])?["message"] as? String ?? ""
        let cut = tensors.filter { ($0["offset"] as? Int ?? 0) + ($0["bytes"] as? Int ?? 0) > original.count - 100 }
            .compactMap { $0["name"] as? String }
        XCTAssertFalse(cut.isEmpty)
        XCTAssertTrue(cut.contains { msg.contains("tensor '\($0)'") }, "\(msg) should name one of \(cut)")
        XCTAssertEqual(E2E.identity(store(ws, "tiny-gpt2")), gpt2Store)

        // 3. Restored: loads again (the source changed since the failed attempt, so it is rebuilt).
        try original.write(to: weights)
        r = try load(ws, ["tiny-qwen2"])
        XCTAssertEqual(r.code, 0, r.stdout + r.stderr)
        try checkWithPython(ws, ["tiny-qwen2"])
    }
}
