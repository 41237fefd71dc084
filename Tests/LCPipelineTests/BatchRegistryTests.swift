// The Stage plug-in contract, in process: a later stage (here a small "summary" stage that really
// reads the load manifest and writes its own) and a pair stage named "diff" registered beside the
// built-ins run in dependency order, skip when current, are blocked behind failures, and the diff
// runs once per consecutive version pair (unsharded) or is left to the diff job (sharded).
// These test stages exist because profile/rank/report/diff are not built yet; they use the same API.
import Foundation
import LCCore
@testable import LCPipeline
import Logging
import XCTest

/// Counts tensors of the load manifest into `summary.json` (fingerprint = f(load fingerprint)).
struct SummaryStage: Stage {
    var name: String { "summary" }
    var dependencies: [String] { ["load"] }
    struct Out: Codable { var stage = "summary"; var status: StageStatus; var error: StageError?; var fingerprint: String; var tensors: Int }
    struct LoadPart: Decodable { var tensors: [LoadedTensor] }

    func expected(_ s: StageSubject, _ ws: Workspace) -> Result<String, StageBlock> {
        requireUpstream(ws, model: s.modelID, stage: "load").map { Hashing.sha256("summary\n" + $0.fingerprint) }
    }
    func check(_ s: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        manifestState(s, workspace: workspace, expected: expected(s, workspace)) { _ in nil }
    }
    func run(_ s: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        guard case let .success(fp) = expected(s, workspace),
              let load = try? JSON.decode(LoadPart.self, from: workspace.manifestURL(model: s.modelID, stage: "load")) else {
            return [StageOutcome(modelID: s.modelID, status: .failed, skipped: false, message: "no load manifest")]
        }
        let out = Out(status: .ok, error: nil, fingerprint: fp, tensors: load.tensors.count)
        do { try AtomicFile.write(try JSON.encode(out), to: workspace.manifestURL(model: s.modelID, stage: name)) } catch {
            return [StageOutcome(modelID: s.modelID, status: .failed, skipped: false, message: "\(error)")]
        }
        return [StageOutcome(modelID: s.modelID, status: .ok, skipped: false, message: "ok")]
    }
    func outputs(_ s: StageSubject, workspace: Workspace) -> [URL] { [workspace.manifestURL(model: s.modelID, stage: name)] }
}

/// A pair stage: records the two summaries' tensor counts in `manifests/OLD--NEW/diff.json`.
struct PairStage: Stage {
    var name: String { "diff" }
    var dependencies: [String] { ["summary"] }
    func expected(_ s: StageSubject, _ ws: Workspace) -> Result<String, StageBlock> {
        guard let old = s.baseline else { return .failure(StageBlock("diff needs two versions")) }
        return requireUpstream(ws, model: old, stage: "summary").flatMap { a in
            requireUpstream(ws, model: s.modelID, stage: "summary").map { b in Hashing.sha256("diff\n\(a.fingerprint)\n\(b.fingerprint)") }
        }
    }
    func check(_ s: StageSubject, workspace: Workspace, params: StageParams) -> StageState {
        manifestState(s, workspace: workspace, expected: expected(s, workspace)) { _ in nil }
    }
    func run(_ s: StageSubject, workspace: Workspace, params: StageParams, logger: Logger) -> [StageOutcome] {
        guard case let .success(fp) = expected(s, workspace) else {
            return [StageOutcome(modelID: s.lockKey, status: .failed, skipped: false, message: "blocked")]
        }
        let out = SummaryStage.Out(stage: "diff", status: .ok, error: nil, fingerprint: fp, tensors: 0)
        do { try AtomicFile.write(try JSON.encode(out), to: workspace.manifestURL(model: s.lockKey, stage: name)) } catch {
            return [StageOutcome(modelID: s.lockKey, status: .failed, skipped: false, message: "\(error)")]
        }
        return [StageOutcome(modelID: s.lockKey, status: .ok, skipped: false, message: "ok")]
    }
    func outputs(_ s: StageSubject, workspace: Workspace) -> [URL] { [workspace.manifestURL(model: s.lockKey, stage: name)] }
}

final class BatchRegistryTests: XCTestCase {
    func testPluggedStagesRunInOrderSkipWhenCurrentAndDiffPairs() throws {
        let root = try BatchFixtures.tempDir("registry")
        defer { try? FileManager.default.removeItem(at: root) }
        let models = root.appendingPathComponent("models")
        try BatchFixtures.makeModels(models, count: 3, broken: true)
        let ws = Workspace(root: root.appendingPathComponent("ws"))
        let reg = StageRegistry(stages: [IngestBatchStage(), LoadBatchStage(), SummaryStage(), PairStage()])
        let versions = [VersionSeries(name: "llama", versions: ["llama-00", "llama-01", "llama-02"]),
                        VersionSeries(name: "bad", versions: ["llama-02", "broken-magic"])]
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        func run(_ shard: Shard = .all) throws -> BatchReport {
            try BatchRunner.run(BatchRequest(paths: [models], workspace: ws, stages: try reg.select(nil), registry: reg,
                                             shard: shard, versions: versions, lockTimeout: 5), logger: logger)
        }
        XCTAssertEqual(try reg.select(nil).map(\.name), ["ingest", "load", "summary"], "diff is not a per-model stage")
        let r1 = try run()
        XCTAssertEqual(r1.exitCode, 1)
        let order = r1.steps.filter { $0.model == "llama-01" }.map(\.stage)
        XCTAssertEqual(order, ["ingest", "load", "summary"])
        XCTAssertEqual(r1.steps.filter { $0.model == "broken-magic" }.map { "\($0.stage):\($0.kind.rawValue)" },
                       ["ingest:ran", "load:blocked", "summary:blocked"])
        let diffs = r1.steps.filter { $0.stage == "diff" }
        XCTAssertEqual(diffs.map { "\($0.model):\($0.kind.rawValue)" },
                       ["llama-00--llama-01:ran", "llama-01--llama-02:ran", "llama-02--broken-magic:blocked"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.manifestURL(model: "llama-00--llama-01", stage: "diff").path))
        XCTAssertEqual(r1.diffNote, "3 version diff(s) checked")

        let r2 = try run()
        XCTAssertTrue(r2.ran.isEmpty, "\(r2.ran.map { "\($0.model) \($0.stage)" })")
        XCTAssertTrue(r2.summary.hasPrefix("6 models, all stages unchanged"), r2.summary)

        // Status shows the plugged stage as a column; sharded runs leave diffs to the diff job.
        let st = WorkspaceStatus.collect(ws, registry: reg)
        XCTAssertEqual(st.stages, ["ingest", "load", "summary"])
        XCTAssertEqual(st.models.first { $0.model == "llama-02" }?.stages.map(\.state), ["done", "done", "done"])
        try FileManager.default.removeItem(at: ws.manifestURL(model: "llama-00--llama-01", stage: "diff"))
        let r3 = try run(Shard(index: 0, count: 2, source: "test"))
        XCTAssertEqual(r3.steps.filter { $0.stage == "diff" }.count, 0)
        XCTAssertTrue(r3.diffNote?.contains("left to the diff job") ?? false, r3.diffNote ?? "nil")
    }
}
