// The stages the batch runner knows, as `Stage` conformances over the existing library entry
// points (IngestStage, LoadStage), and the registry that orders them. Profile, rank, report and
// diff plug in here with one conformance and one line in `StageRegistry.builtin`.
// Not the stages' logic: that stays in Ingest/ and Load/.
import Foundation
import LCCore
import Logging

/// Ingest as a batch stage: the source stage, run on a discovered `Candidate`.
public struct IngestBatchStage: Stage {
    public init() {}
    public var name: String { "ingest" }
    public var dependencies: [String] { [] }

    public func check(_ subject: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        let url = workspace.manifestURL(model: subject.modelID, stage: name)
        guard FileManager.default.fileExists(atPath: url.path) else { return .missing }
        guard let old = try? JSON.decode(IngestManifest.self, from: url) else { return .stale("ingest.json is unreadable") }
        if let c = subject.candidate, c.kind != .archive {
            // Same files (the list may have grown, e.g. a new shard) with the same sizes and mtimes.
            let base = c.kind == .hfFolder ? c.url : c.url.deletingLastPathComponent()
            guard let listed = try? CheckpointInspector.files(of: c),
                  let records = try? listed.map({ try Ingest.fileRecord($0.url, role: $0.role, base: base) }) else {
                return .stale("checkpoint files cannot be listed")
            }
            if !Ingest.unchanged(old, files: records, archive: nil) { return .stale("checkpoint files changed") }
        } else {
            // From the manifest alone (status, or archives): the recorded files still have their size and mtime.
            let current: [FileRecord] = old.files.compactMap {
                try? Ingest.fileRecord(URL(fileURLWithPath: $0.path), role: $0.role, base: URL(fileURLWithPath: "/"))
            }
            func key(_ f: FileRecord) -> String { "\(f.path)|\(f.bytes)|\(f.mtime_ns)" }
            let archiveSame = old.archive.map { a in
                (try? Ingest.fileRecord(URL(fileURLWithPath: a.path), role: a.role, base: URL(fileURLWithPath: "/"))).map { key($0) == key(a) } ?? false
            } ?? true
            guard old.tool_version == ToolInfo.version, archiveSame, current.count == old.files.count else {
                return .stale("checkpoint files changed or are gone")
            }
            if old.archive == nil, current.map(key) != old.files.map(key) { return .stale("checkpoint files changed") }
        }
        switch old.status {
        case .ok: return .done
        case .failed: return .failed(old.error?.message ?? "failed")
        case .unsupported: return .unsupported(old.error?.message ?? "unsupported")
        }
    }

    public func run(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        guard let c = subject.candidate else {
            return [StageOutcome(modelID: subject.modelID, status: .failed, skipped: false,
                                 message: "ingest needs the checkpoint path; run 'layercard run PATH'")]
        }
        return IngestStage.run(candidates: [c], workspace: workspace, force: params.force, logger: logger)
    }

    public func outputs(_ subject: StageSubject, workspace: Workspace) -> [URL] {
        // An archive holding several checkpoints writes the manifests of `<id>__<inner>` too.
        let inner = subject.candidate?.kind == .archive
            ? ((try? FileManager.default.contentsOfDirectory(atPath: workspace.manifestsDir.path)) ?? [])
                .filter { $0.hasPrefix(subject.modelID + "__") }.map { workspace.manifestURL(model: $0, stage: name) }
            : []
        return [workspace.manifestURL(model: subject.modelID, stage: name),
                workspace.outputDir(model: subject.modelID).appendingPathComponent("extracted", isDirectory: true)] + inner
    }
}

/// Load as a batch stage: builds the canonical weight store from the ingest manifest.
public struct LoadBatchStage: Stage {
    public init() {}
    public var name: String { "load" }
    public var dependencies: [String] { ["ingest"] }

    struct Recorded: Decodable { var precision: StorePrecision?; var store_path: String?; var store_bytes: Int? }

    /// `options["precision"]`, else the precision of the existing store, else f32.
    func precision(_ subject: StageSubject, workspace: Workspace, params: StageParams) -> StorePrecision {
        if let p = params.options["precision"].flatMap(StorePrecision.init(rawValue:)) { return p }
        let rec = try? JSON.decode(Recorded.self, from: workspace.manifestURL(model: subject.modelID, stage: name))
        return rec?.precision ?? .f32
    }

    public func check(_ subject: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        let prec = precision(subject, workspace: workspace, params: params)
        let expected = requireUpstream(workspace, model: subject.modelID, stage: "ingest")
            .map { LoadStage.fingerprint(ingestFingerprint: $0.fingerprint, precision: prec) }
        return manifestState(subject, workspace: workspace, expected: expected) { _ in
            guard let rec = try? JSON.decode(Recorded.self, from: workspace.manifestURL(model: subject.modelID, stage: name)),
                  let path = rec.store_path, let bytes = rec.store_bytes else { return "load.json names no store" }
            let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
            return size == bytes ? nil : "store \(path) is missing or has the wrong size"
        }
    }

    public func run(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        let req = LoadRequest(workspace: workspace, models: [subject.modelID],
                              precision: precision(subject, workspace: workspace, params: params), force: params.force)
        do { return try LoadStage.run(req, logger: logger) } catch {
            return [StageOutcome(modelID: subject.modelID, status: .failed, skipped: false, message: "\(error)")]
        }
    }

    public func outputs(_ subject: StageSubject, workspace: Workspace) -> [URL] {
        [workspace.manifestURL(model: subject.modelID, stage: name), LoadStage.storeURL(workspace, model: subject.modelID)]
    }
}

/// The stages `layercard run` and `layercard status` know, in dependency order.
public struct StageRegistry: Sendable {
    public let stages: [any Stage]

    /// Every stage built into this binary. New stages add one line here (after their dependencies).
    public static let builtin = StageRegistry(stages: [
        IngestBatchStage(),
        LoadBatchStage(),
        ProfileBatchStage(),
        RankBatchStage(),
        ReportBatchStage(),
        DiffBatchStage(),
    ])

    public init(stages: [any Stage]) { self.stages = stages }

    public var names: [String] { stages.map(\.name) }

    public func stage(named n: String) -> (any Stage)? { stages.first { $0.name == n } }

    /// Per-model stages (everything except the pair stage `diff`).
    public var modelStages: [any Stage] { stages.filter { $0.name != "diff" } }

    /// Parses a `--stages a,b` list: known names only, returned in registry (dependency) order.
    /// - Throws: `LCError.usage` for an unknown or empty name.
    public func select(_ list: String?) throws -> [any Stage] {
        guard let list else { return modelStages }
        let wanted = list.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for w in wanted where stage(named: w) == nil {
            throw LCError.usage("unknown stage '\(w)' in --stages (available: \(names.joined(separator: ", ")))")
        }
        return stages.filter { wanted.contains($0.name) }
    }
}
