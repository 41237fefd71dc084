// `diff` as the batch runner's pair stage: for consecutive versions (subject.baseline → modelID)
// compares their cards and writes outputs/diffs/<OLD>__<NEW>/ plus manifests/<OLD--NEW>/diff.json.
// Not yet in `StageRegistry.builtin` (it depends on "profile"; register it after profile).
// Options: the decision keys (`DecisionOptions.batchKeys`), `tolerance`, `allow_mismatch` ("true").
import Foundation
import LCCore
import Logging

public struct DiffBatchStage: Stage {
    public init() {}
    public var name: String { "diff" }
    public var dependencies: [String] { ["profile"] }

    func expected(_ s: StageSubject, _ ws: Workspace, _ params: StageParams) -> Result<String, StageBlock> {
        guard let old = s.baseline else { return .failure(StageBlock("diff needs two versions")) }
        return requireUpstream(ws, model: old, stage: "profile").flatMap { _ in
            requireUpstream(ws, model: s.modelID, stage: "profile").flatMap { _ in
                guard let a = try? Hashing.sha256(file: RankStage.cardURL(ws, model: old)),
                      let b = try? Hashing.sha256(file: RankStage.cardURL(ws, model: s.modelID)) else {
                    return .failure(StageBlock("a card is missing"))
                }
                let opts = params.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
                return .success(Hashing.sha256(["diff", ToolInfo.version, a, b, opts].joined(separator: "\n")))
            }
        }
    }

    public func check(_ s: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        manifestState(s, workspace: workspace, expected: expected(s, workspace, params)) { _ in
            let dir = outDir(s, workspace)
            return FileManager.default.fileExists(atPath: dir.appendingPathComponent("diff.json").path) ? nil : "diff.json is gone"
        }
    }

    func outDir(_ s: StageSubject, _ ws: Workspace) -> URL {
        ws.outputsDir.appendingPathComponent("diffs/\(s.baseline ?? "")__\(s.modelID)", isDirectory: true)
    }

    public func run(_ s: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        guard let old = s.baseline, case let .success(fp) = expected(s, workspace, params) else {
            return [StageOutcome(modelID: s.lockKey, status: .failed, skipped: false, message: "diff is blocked: both versions need a card")]
        }
        var m = DecisionManifest(stage: name, model_id: s.lockKey, status: .ok, fingerprint: fp, options: DecisionOptions(),
                                 card_path: RankStage.cardURL(workspace, model: s.modelID).path, outputs: [])
        var message = "ok"
        do {
            m.options = try DecisionOptions(batchOptions: params.options)
            let tol = try params.options["tolerance"].map { v -> Double in
                guard let x = Double(v) else { throw LCError.usage("invalid value '\(v)' for stage option tolerance") }
                return x
            } ?? 0.05
            let r = try DiffStage.run(DiffRequest(workspace: workspace, a: old, b: s.modelID, allowMismatch: params.options["allow_mismatch"] == "true",
                                                  tolerance: tol, options: m.options, outDir: outDir(s, workspace)), logger: logger)
            m.outputs = try ["diff.json", "diff.md", "diff.html"].map { f in
                let u = r.dir.appendingPathComponent(f)
                let data = try Data(contentsOf: u)
                return OutputRecord(path: u.path, sha256: Hashing.sha256(data), bytes: data.count)
            }
            message = "\(r.diff.verdict); changed layers \(r.diff.changed_layers)"
        } catch {
            m.status = .failed; m.error = RankStage.failure(error, path: m.card_path); message = "\(error)"
        }
        do { try RankStage.writeManifest(workspace, m) } catch {
            return [StageOutcome(modelID: s.lockKey, status: .failed, skipped: false, message: "cannot write diff manifest: \(error)")]
        }
        return [StageOutcome(modelID: s.lockKey, status: m.status, skipped: false, message: message)]
    }

    public func outputs(_ s: StageSubject, workspace: Workspace) -> [URL] {
        [workspace.manifestURL(model: s.lockKey, stage: name), outDir(s, workspace)]
    }
}
