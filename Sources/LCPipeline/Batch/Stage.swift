// The uniform interface the batch runner (`layercard run`, `layercard status`) drives every stage
// through: a name, the stages it depends on, a freshness check, and a run for one model. Adding a
// stage to the batch is one `Stage` conformance plus one line in `StageRegistry.builtin`.
// Deliberately not a scheduler: ordering, locking and sharding live in BatchRunner.
import Foundation
import LCCore
import Logging

/// What a stage runs on: one model id, plus what only some stages need.
public struct StageSubject: Sendable {
    /// The model id (folder name under `manifests/`).
    public var modelID: String
    /// The checkpoint found by discovery (the source stage, ingest, needs it; later stages read manifests).
    public var candidate: Candidate?
    /// For pair stages (diff): the older version's model id; `modelID` is the newer one.
    public var baseline: String?
    public init(modelID: String, candidate: Candidate? = nil, baseline: String? = nil) {
        self.modelID = modelID; self.candidate = candidate; self.baseline = baseline
    }
    /// The key used for locks: the model id, or `OLD--NEW` for pair stages.
    public var lockKey: String { baseline.map { "\($0)--\(modelID)" } ?? modelID }
}

/// Parameters of one batch run that stages may read. `options` holds stage-specific settings
/// (e.g. `precision` for load); an absent option means "as recorded in the existing manifest"
/// when checking freshness (status) and "the stage default" when running.
public struct StageParams: Sendable {
    /// Redo the stage even when its previous result is still valid.
    public var force: Bool
    public var options: [String: String]
    public init(force: Bool = false, options: [String: String] = [:]) { self.force = force; self.options = options }
}

/// Freshness of one stage of one model, as `layercard status` reports it.
public enum StageState: Sendable, Equatable {
    /// Manifest present, fingerprint current, outputs verify (status ok).
    case done
    /// The stage ran on the current inputs and failed (or found the checkpoint unsupported): redoing it gives the same result.
    case failed(String)
    case unsupported(String)
    /// A manifest exists but its inputs changed (or its outputs no longer verify): the next run redoes it.
    case stale(String)
    /// Never ran for this model.
    case missing
    /// Cannot run: an upstream stage is missing or did not succeed.
    case blocked(String)

    /// Short name for tables and JSON.
    public var name: String {
        switch self {
        case .done: return "done"
        case .failed: return "failed"
        case .unsupported: return "unsupported"
        case .stale: return "stale"
        case .missing: return "missing"
        case .blocked: return "blocked"
        }
    }

    public var reason: String? {
        switch self {
        case .done, .missing: return nil
        case let .failed(r), let .unsupported(r), let .stale(r), let .blocked(r): return r
        }
    }

    /// True when a run needs to do no work for this stage (success or a deterministic failure).
    public var isCurrent: Bool {
        switch self {
        case .done, .failed, .unsupported: return true
        case .stale, .missing, .blocked: return false
        }
    }
}

/// A pipeline stage as the batch runner sees it.
public protocol Stage: Sendable {
    /// Stage name, also the manifest name (`manifests/<model>/<name>.json`) and the `--stages` token.
    var name: String { get }
    /// Stages whose manifests this one reads; they run first and must have succeeded.
    var dependencies: [String] { get }
    /// The stage's freshness for `subject` from the files alone (no heavy work, no writes).
    func check(_ subject: StageSubject, workspace: Workspace, params: StageParams) -> StageState
    /// Runs the stage for `subject` (the caller holds its lock). Never throws: failures are outcomes,
    /// and the stage writes a failed manifest saying why. Most stages return one outcome; ingest of an
    /// archive returns one per checkpoint inside.
    func run(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome]
    /// Files and folders the stage replaces (for cleaning stray temp files of killed writers).
    func outputs(_ subject: StageSubject, workspace: Workspace) -> [URL]
}

/// The fields every stage manifest shares; enough to judge freshness without knowing the stage.
public struct ManifestHeader: Decodable, Sendable {
    public var stage: String?
    public var status: StageStatus
    public var error: StageError?
    public var fingerprint: String
    public var tool_version: String?

    /// Reads `manifests/<model>/<stage>.json`; nil when absent or unreadable.
    public static func read(_ ws: Workspace, model: String, stage: String) -> ManifestHeader? {
        try? JSON.decode(ManifestHeader.self, from: ws.manifestURL(model: model, stage: stage))
    }
}

extension Stage {
    /// The common freshness rule for a manifest-writing stage: compare the manifest's fingerprint with
    /// `expected` (nil = upstream not usable, `blocked`), then let `verify` check outputs of a successful run.
    /// Stages call this from `check` after computing their fingerprint from upstream manifests.
    public func manifestState(_ subject: StageSubject, workspace: Workspace, expected: Result<String, StageBlock>,
                              verify: (ManifestHeader) -> String?) -> StageState {
        let fp: String
        switch expected {
        case let .failure(b): return .blocked(b.reason)
        case let .success(f): fp = f
        }
        guard FileManager.default.fileExists(atPath: workspace.manifestURL(model: subject.lockKey, stage: name).path) else { return .missing }
        guard let h = ManifestHeader.read(workspace, model: subject.lockKey, stage: name) else {
            return .stale("\(name).json is unreadable")
        }
        guard h.fingerprint == fp else { return .stale("inputs or parameters changed since the last \(name)") }
        switch h.status {
        case .failed: return .failed(h.error?.message ?? "failed")
        case .unsupported: return .unsupported(h.error?.message ?? "unsupported")
        case .ok: return verify(h).map { .stale($0) } ?? .done
        }
    }
}

/// Why a stage cannot run yet (an upstream stage missing or not ok).
public struct StageBlock: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// The upstream manifest `stage` of `model`, required to exist with status ok.
public func requireUpstream(_ ws: Workspace, model: String, stage: String) -> Result<ManifestHeader, StageBlock> {
    guard FileManager.default.fileExists(atPath: ws.manifestURL(model: model, stage: stage).path) else {
        return .failure(StageBlock("\(stage) has not run"))
    }
    guard let h = ManifestHeader.read(ws, model: model, stage: stage) else { return .failure(StageBlock("\(stage).json is unreadable")) }
    guard h.status == .ok else { return .failure(StageBlock("\(stage) \(h.status.rawValue)")) }
    return .success(h)
}
