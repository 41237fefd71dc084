// `layercard run` / `layercard status` end to end on generated checkpoints plus broken ones: good
// ones finish and broken ones fail with reasons (exit 1), a second run does no work, touching or
// changing one checkpoint redoes only its stages, usage errors exit 2, versions without a diff stage.
import Foundation
import LCPipeline
import XCTest

final class BatchRunTests: XCTestCase {
    var models: URL!
    var ws: URL!

    override func setUpWithError() throws {
        models = try BatchFixtures.tempDir("models")
        ws = try BatchFixtures.tempDir("ws")
        try BatchFixtures.makeModels(models, count: 4, broken: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: models)
        try? FileManager.default.removeItem(at: ws)
    }

    func lcRun(_ extra: [String] = [], env: [String: String] = [:]) throws -> BatchFixtures.Result {
        try BatchFixtures.layercard(["run", models.path, "--workspace", ws.path] + extra, env: env)
    }

    func testGoodFinishBrokenFailWithReasonsAndSecondRunDoesNothing() throws {
        let r1 = try lcRun()
        XCTAssertEqual(r1.code, 1, "broken checkpoints must make the run exit 1\n\(r1.out)\n\(r1.err)")
        let good = ["llama-00", "llama-01", "llama-02", "llama-03"]
        for id in good {
            for stage in ["ingest", "load"] {
                let h = try JSONDecoder().decode(ManifestHeader.self, from: Data(contentsOf: ws.appendingPathComponent("manifests/\(id)/\(stage).json")))
                XCTAssertEqual(h.status, .ok, "\(id) \(stage): \(h.error?.message ?? "")")
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: ws.appendingPathComponent("outputs/\(id)/loaded/model.safetensors").path))
        }
        for id in ["broken-magic", "broken-torch", "broken-truncated"] {
            let h = try JSONDecoder().decode(ManifestHeader.self, from: Data(contentsOf: ws.appendingPathComponent("manifests/\(id)/ingest.json")))
            XCTAssertEqual(h.status, .failed, id)
            XCTAssertTrue(h.error?.message.contains(models.appendingPathComponent(id).path) ?? false, "reason names the file: \(h.error?.message ?? "nil")")
            XCTAssertTrue(r1.out.contains("failed      \(id) ingest: "), r1.out)
        }
        XCTAssertEqual(BatchFixtures.temps(ws), [], "no temp files after a clean run")

        // status: table and JSON agree, exit 1 because of the failures.
        let st = try BatchFixtures.layercard(["status", "--workspace", ws.path, "--json"])
        XCTAssertEqual(st.code, 1)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any])
        XCTAssertEqual(obj["failed"] as? Int, 3)
        let rows = try XCTUnwrap(obj["models"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 7)
        for row in rows {
            let id = row["model"] as? String ?? ""
            let cells = row["stages"] as? [[String: Any]] ?? []
            let states = cells.map { $0["state"] as? String ?? "" }
            // This run asked for ingest,load; the later stages of the registry are not run (missing) or wait on them (blocked).
            XCTAssertEqual(Array(states.prefix(2)), id.hasPrefix("broken") ? ["failed", "blocked"] : ["done", "done"], id)
            XCTAssertTrue(states.dropFirst(2).allSatisfy { $0 == "missing" || $0 == "blocked" }, "\(id): \(states)")
            if id.hasPrefix("broken") { XCTAssertNotNil(cells[0]["reason"] as? String); XCTAssertNotNil(cells[0]["when"] as? String) }
        }
        let table = try BatchFixtures.layercard(["status", "--workspace", ws.path])
        XCTAssertEqual(table.code, 1)
        XCTAssertTrue(table.out.contains("broken-torch ingest failed: "), table.out)

        // Second run: no stage work, says so, rewrites nothing.
        let before = try BatchFixtures.snapshot(ws), times = BatchFixtures.manifestTimes(ws)
        let r2 = try lcRun()
        XCTAssertEqual(r2.code, 1, "the failures are still there")
        XCTAssertTrue(r2.out.contains("7 models, all stages unchanged"), r2.out)
        XCTAssertEqual(BatchFixtures.ranLines(r2.out).filter { !$0.contains("broken-") }, [])
        XCTAssertEqual(try BatchFixtures.snapshot(ws), before)
        XCTAssertEqual(BatchFixtures.manifestTimes(ws), times)
    }

    func testTouchingOneCheckpointRedoesOnlyItsStages() throws {
        XCTAssertEqual(try lcRun().code, 1)
        let times = BatchFixtures.manifestTimes(ws)
        // Same bytes, new mtime: ingest re-hashes and rewrites; the content fingerprint is unchanged, so load is not redone.
        let weights = models.appendingPathComponent("llama-01/model.safetensors")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: weights.path)
        let r = try lcRun()
        XCTAssertEqual(BatchFixtures.ranLines(r.out).filter { !$0.contains("broken-") }, ["ok          llama-01 ingest: done"], r.out)
        var now = BatchFixtures.manifestTimes(ws)
        XCTAssertNotEqual(now["llama-01/ingest.json"], times["llama-01/ingest.json"])
        for (k, v) in times where k != "llama-01/ingest.json" { XCTAssertEqual(now[k], v, k) }

        // Changed bytes: ingest and load of that model only.
        var d = try Data(contentsOf: weights)
        d[d.count - 1] ^= 0x01
        try d.write(to: weights)
        let r3 = try lcRun()
        XCTAssertEqual(BatchFixtures.ranLines(r3.out).filter { !$0.contains("broken-") }.sorted(),
                       ["ok          llama-01 ingest: done", "ok          llama-01 load: done"], r3.out)
        let times2 = BatchFixtures.manifestTimes(ws)
        for (k, v) in times2 where !k.hasPrefix("llama-01/") { XCTAssertEqual(now[k], v, k) }
        now = times2

        // --force redoes everything; status shows load stale when its store disappears.
        try FileManager.default.removeItem(at: ws.appendingPathComponent("outputs/llama-02/loaded/model.safetensors"))
        let st = try BatchFixtures.layercard(["status", "--workspace", ws.path])
        XCTAssertTrue(st.out.contains("llama-02 load stale: store "), st.out)
        let r4 = try lcRun(["--stages", "load"])
        XCTAssertEqual(BatchFixtures.ranLines(r4.out), ["ok          llama-02 load: done"], r4.out)
        let r5 = try lcRun(["--force", "--stages", "ingest"])
        XCTAssertEqual(BatchFixtures.ranLines(r5.out).count, 7, r5.out)
    }

    func testUsageErrorsExit2() throws {
        XCTAssertEqual(try lcRun(["--stages", "ingest,bogus"]).code, 2)
        XCTAssertEqual(try lcRun(["--stages", ""]).code, 2)
        XCTAssertEqual(try lcRun(["--shard", "4/4"]).code, 2)
        XCTAssertEqual(try lcRun(["--shard", "x"]).code, 2)
        XCTAssertEqual(try lcRun(env: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "0"]).code, 2)
        XCTAssertEqual(try BatchFixtures.layercard(["run", models.path + "/nope", "--workspace", ws.path]).code, 2)
        let bad = ws.appendingPathComponent("bad.toml")
        try Data("[[series]]\nversions = [\"a\", \n".utf8).write(to: bad)
        let r = try lcRun(["--versions", bad.path])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("bad.toml"), r.err)
        XCTAssertEqual(try lcRun(["--versions", ws.appendingPathComponent("missing.toml").path]).code, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.appendingPathComponent("manifests").path), "usage errors do no work")
        let help = try BatchFixtures.layercard(["run", "--help"])
        XCTAssertTrue(help.out.contains("Example:"), help.out)
        XCTAssertTrue(try BatchFixtures.layercard(["status", "--help"]).out.contains("Example:"))
    }

    /// The versions file is read and its pairs go to the diff stage, which waits (blocked) on profile: this run
    /// asked only for ingest,load.
    func testVersionsPairsGoToTheDiffStage() throws {
        let v = ws.appendingPathComponent("versions.toml")
        try Data("# test\n[[series]]\nname = \"llama\"  # comment\nversions = [\n  \"llama-00\",\n  \"llama-01\", # x\n  \"llama-03\",\n]\n".utf8).write(to: v)
        let r = try lcRun(["--versions", v.path])
        XCTAssertEqual(r.code, 1)
        XCTAssertTrue(r.out.contains("versions: 2 version diff(s) checked"), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.appendingPathComponent("outputs/diffs").path), "no diff without cards")
    }

    func testArchiveWithTwoCheckpointsFeedsBothIntoLaterStages() throws {
        let arc = try BatchFixtures.tempDir("arc")
        defer { try? FileManager.default.removeItem(at: arc) }
        let tar = try BatchFixtures.run(URL(fileURLWithPath: "/usr/bin/env"),
                                        ["tar", "-C", models.path, "-czf", arc.appendingPathComponent("two.tar.gz").path, "llama-00", "llama-01"])
        XCTAssertEqual(tar.code, 0, tar.err)
        let r = try BatchFixtures.layercard(["run", arc.path, "--workspace", ws.path])
        XCTAssertEqual(r.code, 0, r.out + r.err)
        XCTAssertEqual(BatchFixtures.ranLines(r.out).sorted(), ["ok          two__llama-00 ingest: done", "ok          two__llama-00 load: done",
                                                               "ok          two__llama-01 ingest: done", "ok          two__llama-01 load: done"], r.out)
        let r2 = try BatchFixtures.layercard(["run", arc.path, "--workspace", ws.path])
        XCTAssertTrue(r2.out.contains("2 models, all stages unchanged"), r2.out)
        XCTAssertEqual(try BatchFixtures.layercard(["status", "--workspace", ws.path]).code, 0)
    }

    func testLockHeldByAnotherProcessIsWaitedForOrSkipped() throws {
        XCTAssertEqual(try lcRun(["--stages", "ingest"]).code, 1)
        let wsObj = Workspace(root: ws)
        let lock = try XCTUnwrap(try StageLock.acquire(wsObj, key: "llama-00", stage: "load", timeout: 0))
        let r = try lcRun(["--lock-timeout", "0.3"])
        XCTAssertEqual(r.code, 1)
        XCTAssertTrue(r.out.contains("busy        llama-00 load: skipped: another run holds the lock (pid=\(getpid())"), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.appendingPathComponent("manifests/llama-00/load.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.appendingPathComponent("manifests/llama-01/load.json").path))
        // A waiter gets the lock once it is released and then finds the work to do.
        let p = BatchFixtures.start(BatchFixtures.binary, ["run", models.path, "--workspace", ws.path, "--lock-timeout", "60"])
        try p.process.run()
        usleep(700_000)
        XCTAssertTrue(p.process.isRunning, "the second run waits for the lock")
        lock.release()
        p.process.waitUntilExit()
        let r2 = p.finish()
        XCTAssertEqual(BatchFixtures.ranLines(r2.out), ["ok          llama-00 load: done"], r2.out)
    }
}
