// Crash safety and concurrency of `layercard run`: SIGKILL at spread-out points followed by a normal
// run always reproduces an uninterrupted run's workspace byte for byte (load.json minus its two
// per-run measurements); two concurrent runs equal one; 4 concurrent shards cover every model once.
import Foundation
import LCPipeline
import XCTest

final class BatchCrashTests: XCTestCase {
    var root: URL!
    var models: URL { root.appendingPathComponent("models") }

    override func setUpWithError() throws {
        root = try BatchFixtures.tempDir("crash")
        // Big enough that load takes a noticeable time, so kills land mid-stage.
        try BatchFixtures.makeModels(models, count: 5, hidden: 256, layers: 6, broken: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func ws(_ name: String) -> URL { root.appendingPathComponent(name) }

    func reference() throws -> (snapshot: [String: Data], seconds: Double) {
        let t = Date()
        let r = try BatchFixtures.layercard(["run", models.path, "--workspace", ws("ref").path])
        let secs = Date().timeIntervalSince(t)
        XCTAssertEqual(r.code, 1, r.out + r.err)
        let snap = try BatchFixtures.snapshot(ws("ref"))
        XCTAssertEqual(snap.keys.filter { $0.hasSuffix("model.safetensors") }.count, 5)
        return (snap, secs)
    }

    func testKilledRunsAreCompletedByTheNextRun() throws {
        let ref = try reference()
        let iterations = 8
        var strayTemps = 0, swept = 0, partial = 0
        for k in 0..<iterations {
            let w = ws("kill-\(k)")
            // Kill times spread over the uninterrupted run's duration (the last ones near its end).
            let delay = ref.seconds * (Double(k) + 0.5) / Double(iterations)
            let p = BatchFixtures.start(BatchFixtures.binary, ["run", models.path, "--workspace", w.path])
            try p.process.run()
            usleep(useconds_t(delay * 1_000_000))
            kill(p.process.processIdentifier, SIGKILL)
            p.process.waitUntilExit()
            _ = p.finish()
            let temps = BatchFixtures.temps(w)
            strayTemps += temps.isEmpty ? 0 : 1
            if let partialSnap = try? BatchFixtures.snapshot(w), partialSnap != ref.snapshot { partial += 1 }
            // Every manifest left behind is complete JSON (temp + rename: never torn).
            let en = FileManager.default.enumerator(atPath: w.appendingPathComponent("manifests").path)
            while let rel = en?.nextObject() as? String {
                guard rel.hasSuffix(".json") else { continue }
                let d = try Data(contentsOf: w.appendingPathComponent("manifests/" + rel))
                XCTAssertNoThrow(try JSONSerialization.jsonObject(with: d), "kill \(k): torn manifest \(rel)")
            }
            let r = try BatchFixtures.layercard(["run", models.path, "--workspace", w.path])
            XCTAssertEqual(r.code, 1, "kill \(k): \(r.out)\n\(r.err)")
            swept += r.out.components(separatedBy: "removed stray temp file").count - 1
            XCTAssertEqual(BatchFixtures.temps(w), [], "kill \(k) at \(delay) s: temp files left after the completing run")
            let snap = try BatchFixtures.snapshot(w)
            let extra = Set(snap.keys).subtracting(ref.snapshot.keys), missing = Set(ref.snapshot.keys).subtracting(snap.keys)
            XCTAssertTrue(extra.isEmpty && missing.isEmpty, "kill \(k) at \(delay) s: file set differs: extra \(extra.sorted()), missing \(missing.sorted())")
            for (path, data) in ref.snapshot where snap[path] != data {
                XCTFail("kill \(k) at \(String(format: "%.2f", delay)) s: \(path) differs from the uninterrupted run")
            }
        }
        print("kill loop: reference run \(String(format: "%.2f", ref.seconds)) s, \(iterations) kills, \(partial) left an incomplete workspace, \(strayTemps) left temp files, \(swept) temps swept")
        XCTAssertGreaterThan(partial, 0, "no kill landed before the end of the run; the test proves nothing")
    }

    func testTwoConcurrentRunsEqualOne() throws {
        let ref = try reference()
        let w = ws("concurrent")
        let a = BatchFixtures.start(BatchFixtures.binary, ["run", models.path, "--workspace", w.path])
        let b = BatchFixtures.start(BatchFixtures.binary, ["run", models.path, "--workspace", w.path])
        try a.process.run(); try b.process.run()
        a.process.waitUntilExit(); b.process.waitUntilExit()
        let ra = a.finish(), rb = b.finish()
        XCTAssertEqual(ra.code, 1, ra.out + ra.err); XCTAssertEqual(rb.code, 1, rb.out + rb.err)
        XCTAssertEqual(try BatchFixtures.snapshot(w), ref.snapshot)
        // Each stage of each good model did its work in exactly one of the two runs.
        let done = (BatchFixtures.ranLines(ra.out) + BatchFixtures.ranLines(rb.out)).filter { $0.hasPrefix("ok ") }
        XCTAssertEqual(done.count, 10, "\(done)")
        XCTAssertEqual(Set(done).count, 10, "a stage was done twice: \(done)")
    }

    func testFourShardsCoverEveryModelExactlyOnce() throws {
        let w = ws("sharded")
        var runs: [BatchFixtures.Running] = []
        // Two shards by flag, one by the Slurm variables, one by the Kubernetes ones: all concurrent on one workspace.
        let envs: [[String: String]] = [[:], [:], ["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"],
                                        ["JOB_COMPLETION_INDEX": "3", "LAYERCARD_SHARD_COUNT": "4"]]
        for i in 0..<4 {
            let args = ["run", models.path, "--workspace", w.path] + (i < 2 ? ["--shard", "\(i)/4"] : [])
            let p = BatchFixtures.start(BatchFixtures.binary, args, env: envs[i])
            try p.process.run()
            runs.append(p)
        }
        var seen: [String: Int] = [:]
        for (i, p) in runs.enumerated() {
            p.process.waitUntilExit()
            let r = p.finish()
            XCTAssertTrue([0, 1].contains(r.code), "shard \(i): \(r.out)\(r.err)")
            for l in BatchFixtures.ranLines(r.out) where l.contains(" ingest: ") {
                let id = l.split(separator: " ", omittingEmptySubsequences: true)[1]
                seen[String(id), default: 0] += 1
            }
        }
        let all = ["broken-magic", "broken-torch", "broken-truncated", "llama-00", "llama-01", "llama-02", "llama-03", "llama-04"]
        XCTAssertEqual(seen.keys.sorted(), all)
        XCTAssertEqual(seen.values.filter { $0 != 1 }, [], "\(seen)")
        // The sharded workspace equals an unsharded one, and a shard beyond the models exits 0 with nothing to do.
        let ref = try reference()
        XCTAssertEqual(try BatchFixtures.snapshot(w), ref.snapshot)
        let empty = try BatchFixtures.layercard(["run", models.path, "--workspace", ws("empty").path, "--shard", "8/9"])
        XCTAssertEqual(empty.code, 0, empty.out)
        XCTAssertTrue(empty.out.contains("0 models"), empty.out)
    }
}
