// Rank and report as batch-runner stages (`Stage` conformances over RankStage / ReportStage).
// Freshness: the manifest's fingerprint over (stage, tool version, card SHA-256, options) and the
// recorded output hashes. Not yet in `StageRegistry.builtin`: rank depends on "profile", which must
// be registered first (add `RankBatchStage(), ReportBatchStage()` after it).
import Foundation
import LCCard
import LCCore
import Logging

extension DecisionOptions {
    /// Keys of `StageParams.options` the decision stages read.
    public static let batchKeys = ["objective", "k", "target_fraction", "modules", "signal", "rank", "alpha", "dropout", "base_model"]

    /// Options from batch `StageParams.options` (strings); absent keys keep the defaults.
    /// - Throws: `LCError.usage` naming the key with an invalid value.
    public init(batchOptions o: [String: String]) throws {
        self.init()
        func bad(_ k: String) -> LCError { .usage("invalid value '\(o[k] ?? "")' for stage option \(k)") }
        if let v = o["objective"] {
            objectives = try v.split(separator: ",").map { guard let x = Objective(rawValue: String($0)) else { throw bad("objective") }; return x }
        }
        if let v = o["k"] { guard let x = Int(v) else { throw bad("k") }; k = x }
        if let v = o["target_fraction"] { guard let x = Double(v) else { throw bad("target_fraction") }; targetFraction = x }
        if let v = o["modules"] { modules = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let v = o["signal"] { guard let x = Signal(rawValue: v) else { throw bad("signal") }; signal = x }
        if let v = o["rank"] { guard let x = Int(v) else { throw bad("rank") }; rank = x }
        if let v = o["alpha"] { guard let x = Double(v) else { throw bad("alpha") }; alpha = x }
        if let v = o["dropout"] { guard let x = Double(v) else { throw bad("dropout") }; dropout = x }
        if let v = o["base_model"] { baseModel = v }
    }
}

/// Shared freshness and run logic of the two decision stages.
protocol DecisionBatchStage: Stage {}

extension DecisionBatchStage {
    func given(_ params: StageParams) -> Bool { params.options.keys.contains(where: DecisionOptions.batchKeys.contains) }

    /// Options given to this run, else those recorded in the existing manifest, else the defaults.
    func options(_ subject: StageSubject, workspace: Workspace, params: StageParams) throws -> DecisionOptions {
        if given(params) { return try DecisionOptions(batchOptions: params.options) }
        let m = try? JSON.decode(DecisionManifest.self, from: workspace.manifestURL(model: subject.modelID, stage: name))
        return m?.options ?? DecisionOptions()
    }

    public func check(_ subject: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        let card = RankStage.cardURL(workspace, model: subject.modelID)
        let expected: Result<String, StageBlock>
        switch requireUpstream(workspace, model: subject.modelID, stage: dependencies[0]) {
        case let .failure(b): expected = .failure(b)
        case .success:
            if let sha = try? Hashing.sha256(file: card), let o = try? options(subject, workspace: workspace, params: params) {
                expected = .success(RankStage.fingerprint(stage: name, cardSHA: RankStage.inputKey(workspace, id: subject.modelID, stage: name, cardSHA: sha), options: o))
            } else {
                expected = .failure(StageBlock("\(card.path) is missing or the stage options are invalid"))
            }
        }
        return manifestState(subject, workspace: workspace, expected: expected) { _ in
            guard let m = try? JSON.decode(DecisionManifest.self, from: workspace.manifestURL(model: subject.modelID, stage: name)) else {
                return "\(name).json is unreadable"
            }
            for o in m.outputs {
                guard let sha = try? Hashing.sha256(file: URL(fileURLWithPath: o.path)), sha == o.sha256 else { return "\(o.path) changed or is gone" }
            }
            return nil
        }
    }

    /// Runs `body`; a thrown error (bad options, unknown module) becomes a failed outcome and manifest.
    func guarded(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger,
                 _ body: (DecisionOptions) throws -> [StageOutcome]) -> [StageOutcome] {
        let id = subject.modelID
        do {
            return try body(try options(subject, workspace: workspace, params: params))
        } catch {
            let card = RankStage.cardURL(workspace, model: id)
            let sha = (try? Hashing.sha256(file: card)) ?? ""
            let o = (try? options(subject, workspace: workspace, params: params)) ?? DecisionOptions()
            let key = RankStage.inputKey(workspace, id: id, stage: name, cardSHA: sha)
            try? RankStage.writeManifest(workspace, DecisionManifest(stage: name, model_id: id, status: .failed,
                                                                     error: RankStage.failure(error, path: card.path),
                                                                     fingerprint: RankStage.fingerprint(stage: name, cardSHA: key, options: o),
                                                                     options: o, card_path: card.path, card_sha256: sha, outputs: []))
            logger.error("\(error)", metadata: ["model": "\(id)", "stage": "\(name)"])
            return [StageOutcome(modelID: id, status: .failed, skipped: false, message: "\(error)")]
        }
    }
}

/// `rank` in `layercard run`: selections and PEFT/Axolotl configs from outputs/<id>/card.json.
public struct RankBatchStage: DecisionBatchStage {
    public init() {}
    public var name: String { "rank" }
    public var dependencies: [String] { ["profile"] }

    public func run(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        guarded(subject, workspace: workspace, params: params, logger: logger) { o in
            try RankStage.run(RankRequest(workspace: workspace, models: [subject.modelID], options: o), logger: logger)
        }
    }

    public func outputs(_ subject: StageSubject, workspace: Workspace) -> [URL] {
        let dir = workspace.outputDir(model: subject.modelID)
        return [workspace.manifestURL(model: subject.modelID, stage: name), dir.appendingPathComponent("peft", isDirectory: true)]
            + Objective.allCases.map { dir.appendingPathComponent("selection-\($0.rawValue).json") }
    }
}

/// `report` in `layercard run`: report.md, report.html and card.csv, with the rank stage's parameters.
public struct ReportBatchStage: DecisionBatchStage {
    public init() {}
    public var name: String { "report" }
    public var dependencies: [String] { ["rank"] }

    public func run(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        guarded(subject, workspace: workspace, params: params, logger: logger) { o in
            try ReportStage.run(ReportRequest(workspace: workspace, models: [subject.modelID], options: given(params) ? o : nil), logger: logger)
        }
    }

    public func outputs(_ subject: StageSubject, workspace: Workspace) -> [URL] {
        let dir = workspace.outputDir(model: subject.modelID)
        return [workspace.manifestURL(model: subject.modelID, stage: name)] + ["report.md", "report.html", "card.csv"].map { dir.appendingPathComponent($0) }
    }
}
