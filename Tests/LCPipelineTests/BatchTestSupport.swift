// Helpers for the batch tests: run the real `layercard` executable as a subprocess, generate small
// checkpoints with scripts/fixtures/make_batch_models.py, and snapshot a workspace (file set and
// bytes, minus locks/logs and the two per-run fields of load.json) to compare runs.
// Not a fake of anything: every test drives the built binary on real files.
import Foundation
import XCTest

enum BatchFixtures {
    static var repoRoot: URL { E2E.repoRoot }

    /// The built `layercard` (E2E.executable: $LAYERCARD_BIN, else the build holding the test bundle).
    static var binary: URL {
        (try? E2E.executable()) ?? repoRoot.appendingPathComponent(".build/debug/layercard")
    }

    static func tempDir(_ tag: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lc-batch-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Writes `count` valid models (HF F32, HF F16, GGUF, ...) and optionally 3 broken files into `dir`.
    static func makeModels(_ dir: URL, count: Int, hidden: Int = 64, layers: Int = 2, broken: Bool = false) throws {
        var args = [repoRoot.appendingPathComponent("scripts/fixtures/make_batch_models.py").path, dir.path,
                    "--count", "\(count)", "--hidden", "\(hidden)", "--layers", "\(layers)"]
        if broken { args.append("--broken") }
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + args)
        guard r.code == 0 else { throw NSError(domain: "make_batch_models", code: Int(r.code), userInfo: [NSLocalizedDescriptionKey: r.err]) }
    }

    struct Result { var code: Int32; var out: String; var err: String }

    /// Runs an executable to completion, capturing stdout and stderr (through files: no pipe deadlock).
    static func run(_ exe: URL, _ args: [String], env: [String: String] = [:]) throws -> Result {
        let p = start(exe, args, env: env)
        try p.process.run()
        p.process.waitUntilExit()
        return p.finish()
    }

    final class Running {
        let process = Process()
        let outURL: URL, errURL: URL
        init(outURL: URL, errURL: URL) { self.outURL = outURL; self.errURL = errURL }
        func finish() -> Result {
            let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
            let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL)
            return Result(code: process.terminationStatus, out: out, err: err)
        }
    }

    /// A configured (not yet started) process whose output goes to temp files.
    static func start(_ exe: URL, _ args: [String], env: [String: String] = [:]) -> Running {
        let tmp = FileManager.default.temporaryDirectory
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let r = Running(outURL: tmp.appendingPathComponent("lc-out-\(tag)"), errURL: tmp.appendingPathComponent("lc-err-\(tag)"))
        FileManager.default.createFile(atPath: r.outURL.path, contents: nil)
        FileManager.default.createFile(atPath: r.errURL.path, contents: nil)
        r.process.executableURL = exe
        r.process.arguments = withBatchStages(args)
        var e = ProcessInfo.processInfo.environment
        for k in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX", "LAYERCARD_SHARD_COUNT"] { e[k] = nil }
        e["OPENBLAS_NUM_THREADS"] = "1"
        e.merge(env) { $1 }
        r.process.environment = e
        r.process.standardOutput = try? FileHandle(forWritingTo: r.outURL)
        r.process.standardError = try? FileHandle(forWritingTo: r.errURL)
        return r
    }

    /// `layercard ARGS...`
    static func layercard(_ args: [String], env: [String: String] = [:]) throws -> Result {
        try run(binary, args, env: env)
    }

    /// The batch tests exercise the runner's contract (skips, locks, kills, shards) on ingest and load:
    /// the batch models carry no tokenizer, and profile's measured step times differ between runs by
    /// design, so `run` gets `--stages ingest,load` unless a test names stages itself. Profile, rank and
    /// report have their own end-to-end tests (Profile*/Decide*), and the main job runs them all.
    static func withBatchStages(_ args: [String]) -> [String] {
        guard args.first == "run", !args.contains("--stages"), !args.contains("--help") else { return args }
        return args + ["--stages", "ingest,load"]
    }

    /// Every file under `ws` except locks/ and logs/, keyed by relative path. load.json and profile.json lose
    /// `seconds`, `peak_rss_bytes` (and profile's timings: per-run measurements, the only fields that differ
    /// between identical runs), and the
    /// workspace path is replaced by `$WS` so workspaces at different paths compare equal.
    static func snapshot(_ ws: URL) throws -> [String: Data] {
        let fm = FileManager.default
        let root = ws.standardizedFileURL.path
        var out: [String: Data] = [:]
        guard let en = fm.enumerator(atPath: root) else { return out }
        while let rel = en.nextObject() as? String {
            if rel == "locks" || rel.hasPrefix("locks/") || rel == "logs" || rel.hasPrefix("logs/") { continue }
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue else { continue }
            var d = try Data(contentsOf: URL(fileURLWithPath: root + "/" + rel))
            if rel.hasSuffix(".json"), var obj = try JSONSerialization.jsonObject(with: d) as? [String: Any] {
                if rel.hasSuffix("/load.json") { obj["seconds"] = nil; obj["peak_rss_bytes"] = nil }
                if rel.hasSuffix("/profile.json") {  // per-run measurements of the profile stage
                    for k in ["seconds", "peak_rss_bytes", "timings", "forward_backward_gflops", "sgemm_reference_gflops",
                              "forward_backward_vs_sgemm"] { obj[k] = nil }
                }
                d = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                d = Data(String(decoding: d, as: UTF8.self).replacingOccurrences(of: root, with: "$WS")
                    .replacingOccurrences(of: root.replacingOccurrences(of: "/", with: "\\/"), with: "$WS").utf8)
            }
            out[rel] = d
        }
        return out
    }

    /// Relative paths of temp files (`.<name>.tmp-*`, `.<name>.extract-*`) under `ws`.
    static func temps(_ ws: URL) -> [String] {
        let en = FileManager.default.enumerator(atPath: ws.path)
        var out: [String] = []
        while let rel = en?.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix("."), name.contains(".tmp-") || name.contains(".extract-") { out.append(rel) }
        }
        return out
    }

    /// Manifest modification times, to prove a run rewrote nothing.
    static func manifestTimes(_ ws: URL) -> [String: Date] {
        var out: [String: Date] = [:]
        let en = FileManager.default.enumerator(atPath: ws.appendingPathComponent("manifests").path)
        while let rel = en?.nextObject() as? String {
            guard rel.hasSuffix(".json") else { continue }
            let p = ws.appendingPathComponent("manifests/" + rel).path
            out[rel] = (try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date
        }
        return out
    }

    /// Lines of `layercard run` stdout that report a stage that did work: "<status> <model> <stage>: ...".
    static func ranLines(_ out: String) -> [String] {
        out.split(separator: "\n").map(String.init).filter { l in
            (l.hasPrefix("ok ") || l.hasPrefix("failed ") || l.hasPrefix("unsupported ")) && !l.contains(": unchanged")
        }
    }
}
