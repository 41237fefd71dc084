// `layercard probe --plan FILE --results FILE`: the measuring loop of the validation corpus (issue 14,
// scripts/bench/validity.sh). A plan is a JSONL list of named layer sets with a seed each; every finished run is
// appended to the results JSONL at once (one line, flushed and fsync'ed), and a rerun skips every plan entry whose
// key (name, layers, seed, and the settings/data fingerprint) is already there, so a killed run resumes where it
// stopped and a changed setting or data file is measured anew instead of mixed in. Deliberately no probe.json and no
// card edit: the corpus is read by scripts/validity/*.py.
import Foundation
import LCCore
import Logging

/// One plan line: {"name": "mid-5", "layers": [12,13,14,15,16], "seed": 0}.
public struct ProbePlanEntry: Codable, Sendable, Equatable {
    public var name: String
    public var layers: [Int]
    public var seed: Int?
    public init(name: String, layers: [Int], seed: Int? = nil) { self.name = name; self.layers = layers; self.seed = seed }
}

/// One results line.
public struct ProbePlanResult: Codable, Sendable, Equatable {
    public var name: String
    public var layers: [Int]
    public var seed: Int
    /// SHA-256 of the settings, the data files and the weight store (`ProbePlan.settingsKey`).
    public var settings_key: String
    public var model_id: String
    public var steps: Int
    public var run: ProbeRunResult
    /// Wall seconds of the whole run (training steps, eval, cache fills it triggered).
    public var wall_seconds: Double
    public var finished_at: String
    /// Set when this line copies the run of an earlier name with the same layers and seed (not run again).
    public var alias_of: String? = nil
}

public enum ProbePlan {
    /// Reads a plan (JSONL; blank lines and lines starting with # skipped).
    /// - Throws: `LCError.format` naming the line for anything that is not a plan entry with valid layers.
    public static func read(_ url: URL, layers L: Int) throws -> [ProbePlanEntry] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw LCError.usage("probe --plan: cannot read \(url.path): \(error.localizedDescription)")
        }
        var out: [ProbePlanEntry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let e = try? JSONDecoder().decode(ProbePlanEntry.self, from: Data(line.utf8)) else {
                throw LCError.format(path: url.path, message: "line \(i + 1): not a plan entry {\"name\", \"layers\", \"seed\"?}")
            }
            guard !e.layers.isEmpty, e.layers.allSatisfy({ (0..<L).contains($0) }), Set(e.layers).count == e.layers.count else {
                throw LCError.format(path: url.path, message: "line \(i + 1): layers must be distinct indices in 0..<\(L)")
            }
            guard (e.seed ?? 0) >= 0 else { throw LCError.format(path: url.path, message: "line \(i + 1): seed must be ≥ 0") }
            out.append(e)
        }
        return out
    }

    /// The fingerprint a result is valid for: probe settings, token cap, data files and weight store.
    static func settingsKey(_ rq: ProbeRequest, info: ProbeDatasetInfo, store: String) throws -> String {
        struct K: Codable { let s: ProbeSettings; let max_tokens: Int; let train: String; let eval: String; let split: String; let store: String }
        let split = "\(info.eval_fraction.map { "\($0)" } ?? "-")/\(info.split_seed.map { "\($0)" } ?? "-")"
        let k = K(s: rq.settings, max_tokens: info.max_tokens, train: info.train_sha256, eval: info.eval_sha256, split: split, store: store)
        return Hashing.sha256(try JSON.encode(k))
    }

    static func entryKey(name: String, layers: [Int], seed: Int, settings: String) -> String {
        "\(name)|\(layers.sorted())|\(seed)|\(settings)"
    }

    /// Keys already in the results file (missing file = none). A torn last line (a killed writer) is ignored and
    /// reported in `torn`.
    static func done(_ url: URL) throws -> (keys: Set<String>, runs: [String: ProbePlanResult], torn: Int) {
        guard FileManager.default.fileExists(atPath: url.path) else { return ([], [:], 0) }
        let text = try String(contentsOf: url, encoding: .utf8)
        var keys = Set<String>(), runs: [String: ProbePlanResult] = [:], torn = 0
        for line in text.split(separator: "\n") where !line.isEmpty {
            guard let r = try? JSONDecoder().decode(ProbePlanResult.self, from: Data(line.utf8)) else { torn += 1; continue }
            keys.insert(entryKey(name: r.name, layers: r.layers, seed: r.seed, settings: r.settings_key))
            runs[runKey(layers: r.layers, seed: r.seed, settings: r.settings_key)] = runs[runKey(layers: r.layers, seed: r.seed, settings: r.settings_key)] ?? r
        }
        return (keys, runs, torn)
    }

    static func runKey(layers: [Int], seed: Int, settings: String) -> String { "\(layers.sorted())|\(seed)|\(settings)" }

    /// Runs every plan entry not yet in `results`, appending each result as it finishes. Returns (ran, skipped).
    public static func run(workspace ws: Workspace, request rq: ProbeRequest, plan planURL: URL, results: URL,
                           logger: Logger) throws -> (ran: Int, skipped: Int) {
        let prep = try ProbeStage.prepare(workspace: ws, request: rq)
        let plan = try read(planURL, layers: prep.config.numLayers)
        let store = prep.weights.manifest.store_sha256 ?? prep.weights.manifest.fingerprint
        let key = try settingsKey(rq, info: prep.info, store: store)
        var (keys, runs, torn) = try done(results)
        if torn > 0 { logger.warning("probe plan: ignored \(torn) unreadable line(s) in \(results.path) (a killed writer); they are rerun") }
        let todo = plan.filter { !keys.contains(entryKey(name: $0.name, layers: $0.layers, seed: $0.seed ?? 0, settings: key)) }
        logger.info("probe plan", metadata: ["plan": "\(plan.count)", "done": "\(plan.count - todo.count)", "todo": "\(todo.count)",
                                             "cache": "\(prep.runner.usesInputCache)", "results": "\(results.path)"])
        guard !todo.isEmpty else { return (0, plan.count) }
        try FileManager.default.createDirectory(at: results.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: results.path) {
            guard FileManager.default.createFile(atPath: results.path, contents: nil) else {
                throw LCError.io(path: results.path, message: "cannot create the results file")
            }
        }
        guard let h = FileHandle(forUpdatingAtPath: results.path) else {
            throw LCError.io(path: results.path, message: "cannot open the results file for appending")
        }
        defer { try? h.close() }
        let before = try prep.runner.evalLoss(prep.runner.model)
        let started = Date()
        var ran = 0
        let iso = ISO8601DateFormatter()
        for e in todo {
            let seed = e.seed ?? 0
            let k = entryKey(name: e.name, layers: e.layers, seed: seed, settings: key)
            if keys.contains(k) { continue }  // a duplicate plan line
            let rk = runKey(layers: e.layers, seed: seed, settings: key)
            let res: ProbePlanResult
            if var earlier = runs[rk] {
                earlier.alias_of = earlier.alias_of ?? earlier.name
                earlier.name = e.name
                earlier.finished_at = iso.string(from: Date())
                res = earlier
            } else {
                let t0 = Date()
                let r = try prep.runner.run(layers: e.layers, before: before, seed: seed)
                res = ProbePlanResult(name: e.name, layers: r.layers, seed: seed, settings_key: key, model_id: rq.model,
                                      steps: rq.settings.steps, run: r, wall_seconds: Date().timeIntervalSince(t0),
                                      finished_at: iso.string(from: Date()))
                runs[rk] = res
            }
            let r = res.run
            var line = try JSONEncoder.compact.encode(res)
            line.append(0x0A)
            try h.seekToEnd()
            try h.write(contentsOf: line)
            try h.synchronize()
            keys.insert(k); ran += 1
            let elapsed = Date().timeIntervalSince(started)
            let eta = elapsed / Double(ran) * Double(todo.count - ran)
            logger.info("probe run", metadata: ["set": "\(e.name)", "layers": "\(r.layers)", "seed": "\(seed)",
                                                "gain": "\(String(format: "%.5f", r.gain))", "step_s": "\(String(format: "%.3f", r.step_seconds))",
                                                "run_s": "\(String(format: "%.1f", res.wall_seconds))", "done": "\(ran)/\(todo.count)",
                                                "eta_s": "\(String(format: "%.0f", eta))"])
        }
        return (ran, plan.count - ran)
    }
}

extension JSONEncoder {
    /// One-line JSON with sorted keys (JSONL records).
    static var compact: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
