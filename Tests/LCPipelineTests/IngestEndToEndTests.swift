// End-to-end ingest: scripts/fixtures/make_ingest_tree.py builds a scan tree from the real SmolLM2
// GGUF and MiniLM folder (plus a sharded copy, a torch.save .bin, a .tar.gz and tiny generated
// qwen2/qwen3/gpt2/llama-GGUF/mamba models) with golden expected.json from the gguf/safetensors
// Python packages; the malformed corpus (Tests/Fixtures/malformed) is mixed in; the real
// `layercard` executable runs as a subprocess. Covers manifests vs golden, per-file failures,
// exit codes, and incremental re-runs (nothing rewritten; a touched checkpoint alone re-ingested).
import Foundation
import XCTest

final class IngestEndToEndTests: XCTestCase {
    /// Built once per class: tree + malformed corpus, and the first ingest run.
    struct Shared {
        var dir: URL, tree: URL, ws: URL
        var expected: [String: [String: Any]]
        var firstRun: E2E.Run
        var malformed: [(name: String, status: String, contains: String)]
    }
    nonisolated(unsafe) static var shared: Result<Shared, Error>?

    static func malformedTable() throws -> [(name: String, status: String, contains: String)] {
        let dir = E2E.repoRoot.appendingPathComponent("Tests/Fixtures/malformed")
        var out: [(String, String, String)] = []
        let plain = try XCTUnwrap(try E2E.jsonObject(dir.appendingPathComponent("expected.json")) as? [String: String])
        for (n, s) in plain { out.append((n, "failed", s)) }
        let torch = try XCTUnwrap(try E2E.jsonObject(dir.appendingPathComponent("expected_torch.json")) as? [String: [String: String]])
        for (n, e) in torch { out.append((n, e["kind"] == "unsupported" ? "unsupported" : "failed", e["contains"] ?? "")) }
        return out.sorted { $0.0 < $1.0 }
    }

    static func setUpShared() throws -> Shared {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-ingest-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let (tree, expected) = try E2E.makeTree(in: dir, generatedOnly: false)
        let bad = tree.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        let table = try malformedTable()
        let src = E2E.repoRoot.appendingPathComponent("Tests/Fixtures/malformed")
        for m in table {
            try FileManager.default.copyItem(at: src.appendingPathComponent(m.name), to: bad.appendingPathComponent(m.name))
        }
        let ws = dir.appendingPathComponent("ws")
        let run = try E2E.run(try E2E.executable(), ["ingest", tree.path, "--workspace", ws.path])
        return Shared(dir: dir, tree: tree, ws: ws, expected: expected, firstRun: run, malformed: table)
    }

    override class func setUp() {
        super.setUp()
        shared = Result { try setUpShared() }
    }

    override class func tearDown() {
        if case .success(let s)? = shared { try? FileManager.default.removeItem(at: s.dir) }
        shared = nil
        super.tearDown()
    }

    func fixture() throws -> Shared { try XCTUnwrap(Self.shared).get() }

    /// Model id of a file directly under `bad/`: the name without its checkpoint extension.
    static func badID(_ name: String) -> String {
        for ext in [".tar.gz", ".gguf", ".safetensors", ".bin", ".pt", ".tar", ".zip"] where name.hasSuffix(ext) {
            return "bad__" + String(name.dropLast(ext.count))
        }
        return "bad__" + name
    }

    func testFirstRunExitsOneAndReportsEveryCheckpoint() throws {
        let s = try fixture()
        XCTAssertEqual(s.firstRun.code, 1, "malformed files must make the run exit 1\n\(s.firstRun.stderr)")
        XCTAssertFalse(s.firstRun.stderr.contains("Fatal error"), s.firstRun.stderr)
        for id in s.expected.keys { XCTAssertTrue(s.firstRun.stdout.contains(" \(id)"), "no outcome line for \(id)") }
        XCTAssertTrue(s.firstRun.stdout.contains("ingest: \(s.expected.count + s.malformed.count) checkpoint(s)"), s.firstRun.stdout)
    }

    func testManifestsMatchPythonGolden() throws {
        let s = try fixture()
        XCTAssertGreaterThanOrEqual(s.expected.count, 10)
        for (id, e) in s.expected.sorted(by: { $0.key < $1.key }) {
            let m = try E2E.manifest(s.ws, id, "ingest")
            let status = m["status"] as? String
            if let want = e["status"] as? String, want != "ok" {
                XCTAssertEqual(status, want, id)
                let msg = (m["error"] as? [String: Any])?["message"] as? String ?? ""
                XCTAssertTrue(msg.contains(e["contains"] as? String ?? "?"), "\(id): \(msg)")
                XCTAssertTrue(msg.contains(s.tree.appendingPathComponent(id).path), "\(id): message must name the file: \(msg)")
                XCTAssertFalse(s.firstRun.stderr.contains("Fatal error"))
                continue
            }
            XCTAssertEqual(status, "ok", "\(id): \(m["error"] ?? "")")
            XCTAssertEqual(m["format"] as? String, e["format"] as? String, id)
            XCTAssertEqual(m["architecture"] as? String, e["architecture"] as? String, id)
            let cfg = try XCTUnwrap(m["config"] as? [String: Any], id)
            let layers = try XCTUnwrap(e["num_layers"] as? Int)
            XCTAssertEqual(cfg["num_layers"] as? Int, layers, id)
            let tensors = try XCTUnwrap(m["tensors"] as? [[String: Any]], id)
            let golden = try XCTUnwrap(e["tensors"] as? [String: [String: Any]], id)
            XCTAssertEqual(tensors.count, e["tensor_count"] as? Int, "\(id): tensor count")
            XCTAssertEqual(Set(tensors.compactMap { $0["name"] as? String }), Set(golden.keys), "\(id): tensor names")
            for t in tensors {
                let name = t["name"] as? String ?? "?"
                guard let g = golden[name] else { continue }
                XCTAssertEqual(t["dtype"] as? String, g["dtype"] as? String, "\(id): \(name) dtype")
                XCTAssertEqual(t["shape"] as? [Int], g["shape"] as? [Int], "\(id): \(name) shape")
                if let l = t["layer"] as? Int { XCTAssertTrue((0..<layers).contains(l), "\(id): \(name) layer \(l)") }
            }
            let perLayer = ["gpt2": 4, "bert": 6][e["architecture"] as? String ?? ""] ?? 7
            let modules = try XCTUnwrap(m["modules"] as? [[String: Any]], id)
            XCTAssertEqual(modules.count, layers * perLayer, "\(id): LoRA module table")
            XCTAssertEqual(Set(modules.compactMap { $0["layer"] as? Int }), Set(0..<layers), id)
            let files = try XCTUnwrap(m["files"] as? [[String: Any]], id)
            XCTAssertTrue(files.allSatisfy { ($0["sha256"] as? String)?.count == 64 }, "\(id): every file hashed")
        }
        // Spot checks the golden cannot express.
        let smol = try E2E.manifest(s.ws, "SmolLM2-135M-Instruct.Q4_1", "ingest")
        XCTAssertEqual((smol["tokenizer"] as? [String: Any])?["source"] as? String, "gguf-metadata")
        let gpt2 = try E2E.manifest(s.ws, "tiny-gpt2", "ingest")
        let cattn = (gpt2["modules"] as? [[String: Any]])?.first { $0["module"] as? String == "c_attn" }
        XCTAssertEqual(cattn?["shape"] as? [Int], [192, 64], "Conv1D [in, out] reported in [out, in] layout")
        let arch = try E2E.manifest(s.ws, "tiny-archive", "ingest")
        XCTAssertNotNil(arch["archive"] as? [String: Any], "archive record kept")
    }

    func testEveryMalformedFileFailsNamingFileAndProblem() throws {
        let s = try fixture()
        XCTAssertGreaterThanOrEqual(s.malformed.count, 80)
        for bad in s.malformed {
            let id = Self.badID(bad.name)
            let m = try E2E.manifest(s.ws, id, "ingest")
            XCTAssertEqual(m["status"] as? String, bad.status, "\(bad.name)")
            let err = try XCTUnwrap(m["error"] as? [String: Any], bad.name)
            let msg = err["message"] as? String ?? ""
            XCTAssertTrue(msg.contains(s.tree.appendingPathComponent("bad/\(bad.name)").path), "\(bad.name): must name the file: \(msg)")
            XCTAssertTrue(msg.contains(bad.contains), "\(bad.name): expected '\(bad.contains)' in: \(msg)")
            XCTAssertTrue(s.firstRun.stdout.contains("\(bad.status.padding(toLength: 11, withPad: " ", startingAt: 0)) \(id)"), bad.name)
        }
    }

    func testSecondRunRewritesNothingAndTouchReingestsOnlyThatCheckpoint() throws {
        let s = try fixture()
        let exe = try E2E.executable()
        let before = E2E.manifestIdentities(s.ws)
        XCTAssertGreaterThanOrEqual(before.count, s.expected.count + s.malformed.count)
        let second = try E2E.run(exe, ["ingest", s.tree.path, "--workspace", s.ws.path])
        XCTAssertEqual(second.code, 1)
        XCTAssertEqual(E2E.manifestIdentities(s.ws), before, "an unchanged tree must rewrite no manifest")
        let lines = second.stdout.split(separator: "\n").filter { !$0.hasPrefix("ingest:") }
        XCTAssertEqual(lines.count, s.expected.count + s.malformed.count)
        for l in lines { XCTAssertTrue(l.contains("(unchanged)"), "not reported unchanged: \(l)") }

        try E2E.bumpMTime(s.tree.appendingPathComponent("tiny-qwen2/model.safetensors"))
        let third = try E2E.run(exe, ["ingest", s.tree.path, "--workspace", s.ws.path])
        XCTAssertEqual(third.code, 1)
        let after = E2E.manifestIdentities(s.ws)
        let changed = Set(after.filter { before[$0.key] != $0.value }.map(\.key))
        XCTAssertEqual(changed, ["tiny-qwen2/ingest.json"], "only the touched checkpoint is re-ingested")
        let reingested = third.stdout.split(separator: "\n").filter { !$0.hasPrefix("ingest:") && !$0.contains("(unchanged)") }
        XCTAssertEqual(reingested.map { String($0) }, ["ok          tiny-qwen2"])
        XCTAssertEqual(try E2E.manifest(s.ws, "tiny-qwen2", "ingest")["status"] as? String, "ok")
    }
}
