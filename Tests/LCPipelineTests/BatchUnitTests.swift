// Unit tests of the batch building blocks: the versions-file TOML subset (accepts the committed
// example, rejects what it does not understand with a line number), shard parsing and selection,
// the dead-writer temp sweep, flock exclusion, and the registry's dependency order.
import Foundation
import LCCore
import LCPipeline
import XCTest

final class BatchUnitTests: XCTestCase {
    func testVersionsExampleParses() throws {
        let s = try VersionsFile.load(BatchFixtures.repoRoot.appendingPathComponent("pipelines/versions.toml.example"))
        XCTAssertEqual(s.map(\.name), ["smollm2", "minilm"])
        XCTAssertEqual(s[1].versions, ["all-MiniLM-L6-v2-2021", "all-MiniLM-L6-v2-2024", "all-MiniLM-L6-v2-ft-support"])
        XCTAssertEqual(s[1].pairs.map { "\($0.old)>\($0.new)" }, ["all-MiniLM-L6-v2-2021>all-MiniLM-L6-v2-2024",
                                                                 "all-MiniLM-L6-v2-2024>all-MiniLM-L6-v2-ft-support"])
    }

    func testVersionsSubsetDetails() throws {
        let t = "[[series]]\nversions = ['lit#x', \"esc\\\"q\"] # c\n[[series]]\nname = \"one\"\nversions = [\"solo\"]\n"
        let s = try VersionsFile.parse(t, path: "v.toml")
        XCTAssertEqual(s, [VersionSeries(name: "series 1", versions: ["lit#x", "esc\"q"]), VersionSeries(name: "one", versions: ["solo"])])
        XCTAssertTrue(s[1].pairs.isEmpty)
        func rejects(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try VersionsFile.parse(text, path: "v.toml"), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains("v.toml") && "\(e)".contains(fragment), "\(e)", file: file, line: line)
            }
        }
        rejects("versions = [\"a\"]\n", "line 1: 'versions' outside")
        rejects("[[series]]\nname = \"x\"\n", "has no 'versions'")
        rejects("[[series]]\nversions = [\"a\"]\nversions = [\"b\"]\n", "line 3: duplicate key")
        rejects("[[series]]\nversions = [\"a\" \"b\"]\n", "expected ',' or ']'")
        rejects("[[series]]\nversions = [\"\"]\n", "empty model id")
        rejects("[series]\n", "only [[series]]")
        rejects("[[series]]\nowner = \"x\"\n", "unknown key 'owner'")
        rejects("[[series]]\nversions = [1, 2]\n", "expected a quoted string")
        rejects("[[series]]\nname = \"x\nversions=[]\n", "unterminated string")
    }

    func testShardParsingAndSelection() throws {
        XCTAssertEqual(try Shard.resolve(flag: "1/3", environment: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"]),
                       Shard(index: 1, count: 3, source: "--shard"))
        XCTAssertEqual(try Shard.resolve(flag: nil, environment: ["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2",
                                                                  "JOB_COMPLETION_INDEX": "1", "LAYERCARD_SHARD_COUNT": "5"]),
                       Shard(index: 0, count: 2, source: "slurm"))
        XCTAssertEqual(try Shard.resolve(flag: nil, environment: ["JOB_COMPLETION_INDEX": "4", "LAYERCARD_SHARD_COUNT": "5"]),
                       Shard(index: 4, count: 5, source: "k8s"))
        XCTAssertEqual(try Shard.resolve(flag: nil, environment: ["JOB_COMPLETION_INDEX": "4"]), .all)
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", "1/2/3", "+1/2", "1/99999999999"] {
            XCTAssertThrowsError(try Shard.parse(bad, source: "--shard"), bad)
        }
        // Bytewise order (uppercase before lowercase, '-' before '.'), positions p ≡ I (mod N).
        let ids = ["b", "a", "Z", "a-1", "a.1", "c", "_x"]
        XCTAssertEqual(Shard(index: 0, count: 1, source: "t").select(ids, id: { $0 }), ["Z", "_x", "a", "a-1", "a.1", "b", "c"])
        var union: [String] = []
        for i in 0..<3 { union += Shard(index: i, count: 3, source: "t").select(ids, id: { $0 }) }
        XCTAssertEqual(union.sorted(), ids.sorted())
        XCTAssertEqual(Shard(index: 1, count: 3, source: "t").select(ids, id: { $0 }), ["_x", "a.1"])
    }

    func testSweepRemovesOnlyDeadWritersTemps() throws {
        let dir = try BatchFixtures.tempDir("sweep")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        let dead = p.processIdentifier
        let out = dir.appendingPathComponent("load.json")
        let names = [".load.json.tmp-\(dead)-7", ".load.json.tmp-\(getpid())-7", ".load.json.tmp-1-7",
                     ".other.json.tmp-\(dead)-7", ".load.json.tmpx-\(dead)-7", ".extracted.extract-\(dead)-3"]
        for n in names { XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: Data())) }
        let removed = TempSweeper.sweep(outputs: [out, dir.appendingPathComponent("extracted")])
        XCTAssertEqual(Set(removed.map { ($0 as NSString).lastPathComponent }), [".load.json.tmp-\(dead)-7", ".extracted.extract-\(dead)-3"])
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(Set(left), Set(names).subtracting([".load.json.tmp-\(dead)-7", ".extracted.extract-\(dead)-3"]))
    }

    func testLockExcludesAndIsReleasedOnDeath() throws {
        let dir = try BatchFixtures.tempDir("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ws = Workspace(root: dir)
        let lockPath = StageLock.url(ws, key: "m", stage: "load").path
        // Another process holds it (flock(1)), then dies: the kernel releases it, nothing to recover.
        try FileManager.default.createDirectory(atPath: (lockPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-F", lockPath, "sleep", "30"]  // -F: no fork, the holder is this one process
        try holder.run()
        var held = false
        for _ in 0..<100 where !held {
            if let l = try StageLock.acquire(ws, key: "m", stage: "load", timeout: 0) { l.release(); usleep(50_000) } else { held = true }
        }
        XCTAssertTrue(held, "flock(1) never took the lock")
        let t = Date()
        XCTAssertNil(try StageLock.acquire(ws, key: "m", stage: "load", timeout: 0.3))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t), 0.3)
        kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit()
        let t2 = Date()
        let l = try StageLock.acquire(ws, key: "m", stage: "load", timeout: 3)
        XCTAssertNotNil(l)
        XCTAssertLessThan(Date().timeIntervalSince(t2), 2.9, "the dead holder's lock is free at once (acquired before the 3 s timeout)")
        XCTAssertEqual(StageLock.holder(ws, key: "m", stage: "load").hasPrefix("pid=\(getpid()) "), true)
    }

    func testRegistryIsInDependencyOrder() throws {
        let reg = StageRegistry.builtin
        for (i, s) in reg.stages.enumerated() {
            for d in s.dependencies {
                let j = try XCTUnwrap(reg.stages.firstIndex { $0.name == d }, "\(s.name) depends on unknown \(d)")
                XCTAssertLessThan(j, i, "\(s.name) listed before its dependency \(d)")
            }
        }
        XCTAssertEqual(try reg.select("load,ingest").map(\.name), ["ingest", "load"])
        XCTAssertThrowsError(try reg.select("ingest,profilee"))
    }
}
