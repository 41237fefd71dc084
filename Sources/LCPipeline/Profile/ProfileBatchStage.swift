// Profile as a batch stage (`layercard run` / `status`): freshness from the load manifest's fingerprint, the
// dataset's SHA-256 and the settings (batch options, else those recorded in profile.json, else the defaults);
// a run calls ProfileStage for one model. Options: dataset, max_tokens, max_records, batch, lora_rank, seed,
// coupling (true/false), coupling_records, coupling_max_tokens, cost_depths, cost_repeats, cost_method, threads (0 records
// or tokens = all). Deliberately no profile logic here.
import Foundation
import LCCore
import Logging

public struct ProfileBatchStage: Stage {
    public init() {}
    public var name: String { "profile" }
    public var dependencies: [String] { ["load"] }

    /// The request for `subject`: options override the recorded settings, which override the defaults.
    func request(_ subject: StageSubject, workspace: Workspace, params: StageParams) throws -> ProfileRequest {
        let o = params.options
        var req = ProfileRequest(workspace: workspace, models: [subject.modelID], dataset: o["dataset"].map { URL(fileURLWithPath: $0) })
        if let old = try? JSON.decode(ProfileManifest.self, from: workspace.manifestURL(model: subject.modelID, stage: name)),
           let s = old.settings {
            req.apply(s)
            if req.dataset == nil { req.dataset = URL(fileURLWithPath: old.dataset_path) }
        }
        func int(_ k: String) throws -> Int? {
            guard let v = o[k] else { return nil }
            guard let i = Int(v) else { throw LCError.usage("profile option \(k)=\(v) is not an integer") }
            return i
        }
        if let v = try int("max_tokens") { req.maxTokens = v }
        if let v = try int("max_records") { req.maxRecords = v == 0 ? nil : v }
        if let v = try int("coupling_records") { req.options.couplingRecords = v == 0 ? nil : v }
        if let v = try int("coupling_max_tokens") { req.options.couplingMaxTokens = v == 0 ? nil : v }
        if let v = o["cost_method"] {
            guard let m = CostMethod(rawValue: v) else { throw LCError.usage("profile option cost_method=\(v): expected auto, repeated or segmented") }
            req.options.costMethod = m
        }
        if let v = try int("batch") { req.options.batch = v }
        if let v = try int("lora_rank") { req.options.loraRank = v }
        if let v = o["seed"] { guard let s = UInt64(v) else { throw LCError.usage("profile option seed=\(v)") }; req.options.loraSeed = s }
        if let v = o["coupling"] { req.options.coupling = v != "false" && v != "0" }
        if let v = try int("cost_depths") { req.options.costDepths = v }
        if let v = try int("cost_repeats") { req.options.costRepeats = v }
        if let v = try int("threads") { req.threads = v }
        req.force = params.force
        return req
    }

    public func check(_ subject: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        let expected = requireUpstream(workspace, model: subject.modelID, stage: "load").flatMap { load -> Result<String, StageBlock> in
            do {
                let req = try request(subject, workspace: workspace, params: params)
                let sha = try Hashing.sha256(file: try req.dataset ?? DefaultDataset.url())
                return .success(ProfileStage.fingerprint(load: load.fingerprint, datasetSHA: sha, req: req))
            } catch { return .failure(StageBlock("\(error)")) }
        }
        return manifestState(subject, workspace: workspace, expected: expected) { _ in
            let fm = FileManager.default
            let ok = fm.fileExists(atPath: ProfileStage.cardJSONURL(workspace, model: subject.modelID).path)
                && fm.fileExists(atPath: ProfileStage.cardH5URL(workspace, model: subject.modelID).path)
            return ok ? nil : "card.json or card.h5 is missing"
        }
    }

    public func run(_ subject: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        do { return try ProfileStage.run(try request(subject, workspace: workspace, params: params), logger: logger) } catch {
            return [StageOutcome(modelID: subject.modelID, status: .failed, skipped: false, message: "\(error)")]
        }
    }

    public func outputs(_ subject: StageSubject, workspace: Workspace) -> [URL] {
        [workspace.manifestURL(model: subject.modelID, stage: name), ProfileStage.cardJSONURL(workspace, model: subject.modelID),
         ProfileStage.cardH5URL(workspace, model: subject.modelID)]
    }
}
