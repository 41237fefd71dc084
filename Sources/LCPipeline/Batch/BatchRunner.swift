// `layercard run`: discover checkpoints, keep this shard's share, and for each checkpoint run the
// selected stages in dependency order — each under its (model, stage) lock, skipped when its manifest
// is still current, otherwise redone (outputs replaced atomically by the stage). One bad checkpoint
// never stops the others. Then version diffs through the registry's `diff` stage, when it exists.
// Not parallel inside one process: parallelism comes from shards (Slurm, Kubernetes) and BLAS threads.
import Foundation
import LCCore
import Logging

public struct BatchRequest: Sendable {
    public var paths: [URL]
    public var workspace: Workspace
    /// Stages to run, in dependency order (from `StageRegistry.select`).
    public var stages: [any Stage]
    public var registry: StageRegistry
    public var params: StageParams
    public var shard: Shard
    /// Parsed versions file, nil when none was given.
    public var versions: [VersionSeries]?
    /// Seconds to wait for a lock another run holds before skipping that stage (0 = do not wait).
    public var lockTimeout: Double

    public init(paths: [URL], workspace: Workspace, stages: [any Stage], registry: StageRegistry = .builtin,
                params: StageParams = .init(), shard: Shard = .all, versions: [VersionSeries]? = nil, lockTimeout: Double = 600) {
        self.paths = paths; self.workspace = workspace; self.stages = stages; self.registry = registry
        self.params = params; self.shard = shard; self.versions = versions; self.lockTimeout = lockTimeout
    }
}

/// What happened to one stage of one model in a run.
public struct BatchStep: Sendable {
    public enum Kind: String, Sendable {
        /// The stage did its work (its status says with what result).
        case ran
        /// Its previous result was current: no work.
        case unchanged
        /// An upstream stage is missing or did not succeed.
        case blocked
        /// Another run held the lock past `--lock-timeout`; that run does the work.
        case busy
    }
    public var model: String
    public var stage: String
    public var kind: Kind
    /// nil for blocked/busy.
    public var status: StageStatus?
    public var message: String
    public var seconds: Double
}

public struct BatchReport: Sendable {
    /// Model ids this run handled (this shard's checkpoints, archives expanded).
    public var models: [String]
    public var steps: [BatchStep]
    /// Candidates discovered in total (before sharding).
    public var discovered: Int
    public var shard: Shard
    /// What happened to version diffs ("diff not available", "left to the diff job", ...), nil without a versions file.
    public var diffNote: String?
    /// Temp files of killed writers that this run removed.
    public var sweptTemps: [String]

    public var failed: [BatchStep] { steps.filter { $0.status == .failed } }
    public var ran: [BatchStep] { steps.filter { $0.kind == .ran } }

    /// 0 everything done (or unsupported), 1 some stage failed.
    public var exitCode: Int32 { failed.isEmpty ? 0 : 1 }

    /// One line: "N models, all stages unchanged" or the counts of work done.
    public var summary: String {
        let n = "\(models.count) model\(models.count == 1 ? "" : "s")"
        let shardNote = shard.count > 1 ? " (shard \(shard) of \(discovered) checkpoints)" : ""
        let busy = steps.filter { $0.kind == .busy }.count
        let blocked = steps.filter { $0.kind == .blocked }.count
        var extra = ""
        if failed.count > 0 { extra += ", \(failed.count) failed" }
        if blocked > 0 { extra += ", \(blocked) blocked" }
        if busy > 0 { extra += ", \(busy) left to another run (locked)" }
        if ran.isEmpty { return "\(n)\(shardNote), all stages unchanged\(extra)" }
        let unchanged = steps.filter { $0.kind == .unchanged }.count
        return "\(n)\(shardNote): \(ran.count) stage run\(ran.count == 1 ? "" : "s"), \(unchanged) unchanged\(extra)"
    }
}

public enum BatchRunner {
    /// Runs the batch. Throws only usage errors (a path that does not exist).
    public static func run(_ req: BatchRequest, logger: Logger) throws -> BatchReport {
        let all = try Discovery.discover(paths: req.paths)
        let mine = req.shard.select(all, id: \.modelID)
        if all.isEmpty { logger.warning("no checkpoints found", metadata: ["paths": "\(req.paths.map(\.path))"]) }
        logger.info("run", metadata: ["checkpoints": "\(all.count)", "shard": "\(req.shard) (\(req.shard.source))", "mine": "\(mine.count)",
                                      "stages": "\(req.stages.map(\.name).joined(separator: ","))"])
        var report = BatchReport(models: [], steps: [], discovered: all.count, shard: req.shard, diffNote: nil, sweptTemps: [])
        for c in mine {
            var ids = modelIDs(of: c, workspace: req.workspace)
            for stage in req.stages {
                if stage.dependencies.isEmpty {
                    // The source stage runs on the checkpoint and names the model ids it produced.
                    let steps = step(stage, StageSubject(modelID: c.modelID, candidate: c), req: req, logger: logger, report: &report)
                    let produced = steps.filter { $0.kind == .ran }.map(\.model)
                    ids = produced.isEmpty ? modelIDs(of: c, workspace: req.workspace) : produced
                } else {
                    for id in ids { _ = step(stage, StageSubject(modelID: id), req: req, logger: logger, report: &report) }
                }
            }
            for id in ids where !report.models.contains(id) { report.models.append(id) }
        }
        if let versions = req.versions { report.diffNote = diffs(versions, req: req, logger: logger, report: &report) }
        return report
    }

    /// Model ids a checkpoint has in the workspace: its own id, or for an archive every id ingested from it.
    static func modelIDs(of c: Candidate, workspace ws: Workspace) -> [String] {
        guard c.kind == .archive else { return [c.modelID] }
        let ids = ws.models(withStage: "ingest").filter { $0 == c.modelID || $0.hasPrefix(c.modelID + "__") }.filter {
            (try? JSON.decode(IngestManifest.self, from: ws.manifestURL(model: $0, stage: "ingest")))?.archive?.path == c.url.path
        }
        return ids.isEmpty ? [c.modelID] : ids
    }

    /// One stage for one subject: gate on upstream, lock, sweep dead temps, skip if current, else run.
    static func step(_ stage: any Stage, _ subject: StageSubject, req: BatchRequest, logger: Logger,
                     report: inout BatchReport) -> [BatchStep] {
        let ws = req.workspace, started = Date()
        var meta: Logger.Metadata = ["model": "\(subject.lockKey)", "stage": "\(stage.name)"]
        func record(_ s: [BatchStep]) -> [BatchStep] {
            for x in s {
                meta["model"] = "\(x.model)"
                let m = meta.merging(["result": "\(x.kind.rawValue)", "seconds": "\(String(format: "%.2f", x.seconds))"]) { $1 }
                if x.status == .failed { logger.error("\(x.message)", metadata: m) } else { logger.info("\(x.message)", metadata: m) }
            }
            report.steps += s
            return s
        }
        if case let .blocked(why) = stage.check(subject, workspace: ws, params: req.params) {
            return record([BatchStep(model: subject.lockKey, stage: stage.name, kind: .blocked, status: nil, message: "blocked: \(why)", seconds: 0)])
        }
        let lock: StageLock
        do {
            guard let l = try StageLock.acquire(ws, key: subject.lockKey, stage: stage.name, timeout: req.lockTimeout) else {
                let who = StageLock.holder(ws, key: subject.lockKey, stage: stage.name)
                return record([BatchStep(model: subject.lockKey, stage: stage.name, kind: .busy, status: nil,
                                         message: "skipped: another run holds the lock (\(who)) after waiting \(Int(req.lockTimeout)) s",
                                         seconds: Date().timeIntervalSince(started))])
            }
            lock = l
        } catch {
            return record([BatchStep(model: subject.lockKey, stage: stage.name, kind: .ran, status: .failed, message: "\(error)", seconds: 0)])
        }
        defer { lock.release() }
        report.sweptTemps += TempSweeper.sweep(outputs: stage.outputs(subject, workspace: ws))
        // Re-check under the lock: a concurrent run may just have finished this stage.
        let state = stage.check(subject, workspace: ws, params: req.params)
        if !req.params.force, state.isCurrent {
            let status: StageStatus = state == .done ? .ok : (state.name == "failed" ? .failed : .unsupported)
            return record([BatchStep(model: subject.lockKey, stage: stage.name, kind: .unchanged, status: status,
                                     message: state.reason.map { "unchanged: \($0)" } ?? "unchanged", seconds: Date().timeIntervalSince(started))])
        }
        if case let .blocked(why) = state {
            return record([BatchStep(model: subject.lockKey, stage: stage.name, kind: .blocked, status: nil, message: "blocked: \(why)", seconds: 0)])
        }
        let outcomes = stage.run(subject, workspace: ws, params: req.params, logger: logger)
        let secs = Date().timeIntervalSince(started)
        return record(outcomes.map {
            BatchStep(model: $0.modelID, stage: stage.name, kind: $0.skipped ? .unchanged : .ran, status: $0.status,
                      message: $0.skipped ? "unchanged" : ($0.status == .ok ? "done" : $0.message), seconds: secs)
        })
    }

    /// Version diffs for consecutive versions, through the registry's `diff` stage.
    static func diffs(_ series: [VersionSeries], req: BatchRequest, logger: Logger, report: inout BatchReport) -> String {
        let pairs = series.flatMap(\.pairs)
        guard !pairs.isEmpty else { return "versions file has no pairs to diff" }
        guard let diff = req.registry.stage(named: "diff") else {
            logger.info("diff not available in this build; version diffs skipped", metadata: ["pairs": "\(pairs.count)"])
            return "diff not available: \(pairs.count) version pair(s) not diffed"
        }
        guard req.shard.count == 1 else {
            return "sharded run: \(pairs.count) version pair(s) left to the diff job (all shards must finish first)"
        }
        var n = 0
        for p in pairs {
            n += step(diff, StageSubject(modelID: p.new, baseline: p.old), req: req, logger: logger, report: &report).count
        }
        return "\(n) version diff(s) checked"
    }
}
