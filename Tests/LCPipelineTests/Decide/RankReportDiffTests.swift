// The rank, report and diff stages on hand-made cards in a temporary workspace: PEFT JSON fields,
// module validation, report files and sections, diff of a card with itself and with a perturbed copy,
// card validation errors, and exit codes of the built `layercard` executable.
import XCTest
import Foundation
import Logging
import LCCard
import LCCore
@testable import LCPipeline

final class RankReportDiffTests: XCTestCase {
    let logger = Logger(label: "test")

    func testRankWritesSelectionsAndPEFTConfigs() throws {
        let ws = try CardFixtures.tempDir(self)
        try CardFixtures.write(CardFixtures.card(L: 6, modelID: "m1"), workspace: ws)
        let out = try RankStage.run(RankRequest(workspace: Workspace(root: ws), models: ["m1"],
                                                options: DecisionOptions(k: 3, modules: ["v_proj", "q_proj"], rank: 4, alpha: 8)), logger: logger)
        XCTAssertEqual(out.map(\.status), [.ok])
        let dir = ws.appendingPathComponent("outputs/m1")
        let sel = try JSON.decode(SelectionFile.self, from: dir.appendingPathComponent("selection-performance.json"))
        XCTAssertEqual(sel.selection.chosen.layers, [3, 4, 5])
        XCTAssertEqual(sel.modules, ["q_proj", "v_proj"])
        XCTAssertEqual(sel.signal, .grad_norm)
        XCTAssertEqual(sel.selection.baselines.count, 6)
        let raw = try Data(contentsOf: dir.appendingPathComponent("peft/performance/adapter_config.json"))
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: raw) as? [String: Any])
        XCTAssertEqual(obj["peft_type"] as? String, "LORA")
        XCTAssertEqual(obj["task_type"] as? String, "CAUSAL_LM")
        XCTAssertEqual(obj["target_modules"] as? [String], ["q_proj", "v_proj"])
        XCTAssertEqual(obj["layers_to_transform"] as? [Int], [3, 4, 5])
        XCTAssertEqual(obj["layers_pattern"] as? String, "layers")
        XCTAssertEqual(obj["r"] as? Int, 4)
        XCTAssertEqual(obj["lora_alpha"] as? Double, 8)
        XCTAssertEqual(obj["bias"] as? String, "none")
        XCTAssertEqual(obj["base_model_name_or_path"] as? String, "m1")
        XCTAssertTrue(obj.keys.contains("revision"), "optional keys are written as null")
        for o in ["cost", "balanced"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("peft/\(o)/adapter_config.json").path))
        }
        let yaml = try String(contentsOf: dir.appendingPathComponent("peft/performance/axolotl.yaml"), encoding: .utf8)
        XCTAssertTrue(yaml.contains("adapter: lora\n"))
        XCTAssertTrue(yaml.contains("lora_r: 4\n"))
        XCTAssertTrue(yaml.contains("lora_alpha: 8\n"))
        XCTAssertTrue(yaml.contains("lora_target_modules:\n  - \"q_proj\"\n  - \"v_proj\"\n"))
        XCTAssertTrue(yaml.contains("peft_layers_to_transform: [3, 4, 5]\n"))
        let manifest = try JSON.decode(DecisionManifest.self, from: ws.appendingPathComponent("manifests/m1/rank.json"))
        XCTAssertEqual(manifest.outputs.count, 9)
        // A later run of one objective replaces the outputs: no stale selections of the others remain.
        _ = try RankStage.run(RankRequest(workspace: Workspace(root: ws), models: ["m1"], options: DecisionOptions(objectives: [.cost])), logger: logger)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("selection-performance.json").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("peft/performance").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("peft/cost/adapter_config.json").path))
    }

    func testModuleSubsetReaggregatesSignal() throws {
        // Give q_proj all the gradient at layer 0 only: with --modules q_proj, layer 0 must dominate.
        var card = CardFixtures.card(L: 4)
        for i in card.modules.indices where card.modules[i].module == "q_proj" { card.modules[i].grad_norm = card.modules[i].layer == 0 ? 100 : 0.1 }
        let d = try Decide.decide(card, options: DecisionOptions(objectives: [.performance], k: 1, modules: ["q_proj"]))
        XCTAssertEqual(d.selections[0].chosen.layers, [0])
        XCTAssertEqual(d.signalCard.layers[0].grad_norm, 100, accuracy: 1e-12)
        XCTAssertTrue(d.signalSource.contains("re-aggregated"))
        let all = try Decide.decide(card, options: DecisionOptions(objectives: [.performance], k: 1))
        XCTAssertEqual(all.signalCard.layers, card.layers)
    }

    func testUnknownModuleIsUsageError() throws {
        XCTAssertThrowsError(try Decide.validateModules(["q_proj", "qkv"], arch: "llama")) { e in
            guard case let LCError.usage(msg) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(msg.contains("'qkv'"))
        }
        XCTAssertThrowsError(try Decide.validateModules(["q_proj"], arch: "gpt2"))
        XCTAssertEqual(try Decide.validateModules(["mlp.c_proj", "c_attn"], arch: "gpt2"), ["c_attn", "mlp.c_proj"])
    }

    func testPEFTArchitectureFields() throws {
        let g = try Decide.decide(CardFixtures.card(L: 4, arch: "gpt2"), options: DecisionOptions(objectives: [.performance], k: 2))
        let gc = PEFTExport.loraConfig(g, layers: [2, 3])
        XCTAssertEqual(gc.layers_pattern, "h"); XCTAssertTrue(gc.fan_in_fan_out); XCTAssertEqual(gc.task_type, "CAUSAL_LM")
        let b = try Decide.decide(CardFixtures.card(L: 4, arch: "bert"), options: DecisionOptions(objectives: [.performance], k: 2,
                                                                                                   modules: ["query", "output.dense"]))
        let bc = PEFTExport.loraConfig(b, layers: [1, 3])
        XCTAssertEqual(bc.task_type, "FEATURE_EXTRACTION"); XCTAssertEqual(bc.layers_pattern, "layer")
        // FFN output.dense alone is written per layer so PEFT's suffix match cannot hit attention.output.dense.
        XCTAssertEqual(bc.target_modules, ["query", "layer.1.output.dense", "layer.3.output.dense"])
    }

    func testReportFilesAreSelfContainedWithEverySection() throws {
        let ws = try CardFixtures.tempDir(self)
        try CardFixtures.write(CardFixtures.card(L: 12, rho: 0.6, modelID: "m2"), workspace: ws)
        let out = try ReportStage.run(ReportRequest(workspace: Workspace(root: ws), models: ["m2"]), logger: logger)
        XCTAssertEqual(out.map(\.status), [.ok])
        let dir = ws.appendingPathComponent("outputs/m2")
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertFalse(html.lowercased().contains("http"), "no links or namespaces that could fetch anything")
        XCTAssertFalse(html.lowercased().contains("<script"))
        for external in ["src=", "url(", "<link", "@import", "<img"] { XCTAssertFalse(html.contains(external), "report.html references \(external)") }
        for needle in ["id=\"provenance\"", "id=\"recommendation\"", "id=\"layers\"", "id=\"coupling\"", "id=\"pareto\"", "id=\"caveats\"",
                       "Residual signal per layer", "Activation energy", "Single-layer gain", "Training-step cost", "Layer coupling",
                       "Pareto front", "layer (0 = input side)", "Layer 0 = input side", "peft_type", "/data/ref.jsonl", "top-3 [9-11]"] {
            XCTAssertTrue(html.contains(needle), "report.html lacks \(needle)")
        }
        XCTAssertGreaterThanOrEqual(html.components(separatedBy: "<svg ").count - 1, 6)
        let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
        for needle in ["## Model and data", "## Recommended layers", "## Per-layer statistics", "## Coupling", "## Gain vs cost", "## Caveats", "```json"] {
            XCTAssertTrue(md.contains(needle), "report.md lacks \(needle)")
        }
        let csv = try String(contentsOf: dir.appendingPathComponent("card.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + 12 * 7)
        XCTAssertTrue(csv[0].hasPrefix("layer,module,d_in,d_out,grad_norm"))
    }

    func testReportWithMeasuredGainShowsCorrelations() throws {
        let ws = try CardFixtures.tempDir(self)
        // measured_gain ranks layers exactly like grad_norm (1..6) → Spearman 1.
        try CardFixtures.write(CardFixtures.card(L: 6, modelID: "p", measured: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06]), workspace: ws)
        _ = try ReportStage.run(ReportRequest(workspace: Workspace(root: ws), models: ["p"]), logger: logger)
        let html = try String(contentsOf: ws.appendingPathComponent("outputs/p/report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"measured\""))
        XCTAssertTrue(html.contains("Signal <b>measured_gain</b>"))
        let md = try String(contentsOf: ws.appendingPathComponent("outputs/p/report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("| grad_norm | 1.000 |"), md)
        XCTAssertNil(html.range(of: "\\b(nan|inf)\\b", options: [.regularExpression, .caseInsensitive]), "no non-finite numbers printed")
    }

    func testReportReusesRankParameters() throws {
        let ws = try CardFixtures.tempDir(self)
        try CardFixtures.write(CardFixtures.card(L: 8, modelID: "m3"), workspace: ws)
        _ = try RankStage.run(RankRequest(workspace: Workspace(root: ws), models: ["m3"], options: DecisionOptions(k: 2, signal: .resnorm)), logger: logger)
        let opts = try XCTUnwrap(ReportStage.rankOptions(Workspace(root: ws), id: "m3",
                                                         cardSHA: Hashing.sha256(file: ws.appendingPathComponent("outputs/m3/card.json"))))
        XCTAssertEqual(opts.k, 2); XCTAssertEqual(opts.signal, .resnorm)
    }

    func testSpearmanAverageRanks() {
        XCTAssertEqual(Compare.averageRanks([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
        // No ties: 1 − 6Σd²/(n(n²−1)) reference.
        let a = [1.0, 5, 3, 2, 4, 9], b = [2.0, 4, 1, 3, 6, 5]
        let ra = Compare.averageRanks(a), rb = Compare.averageRanks(b)
        let d2 = zip(ra, rb).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        XCTAssertEqual(Compare.spearman(a, b), 1 - 6 * d2 / (6 * 35), accuracy: 1e-12)
        XCTAssertEqual(Compare.spearman(a, a.map { -$0 }), -1, accuracy: 1e-12)
        XCTAssertEqual(Compare.jaccard([1, 2, 3], [2, 3, 4]), 0.5)
    }

    func testDiffWithItselfAndWithPerturbedCard() throws {
        let ws = try CardFixtures.tempDir(self)
        let card = CardFixtures.card(L: 10, rho: 0.5, modelID: "base")
        try CardFixtures.write(card, workspace: ws)
        let same = try DiffStage.run(DiffRequest(workspace: Workspace(root: ws), a: "base", b: "base"), logger: logger)
        XCTAssertTrue(same.diff.correlations.allSatisfy { $0.spearman == 1 && !$0.flagged })
        XCTAssertEqual(same.diff.changed_layers, [])
        XCTAssertEqual(same.diff.verdict, "selection still valid")
        XCTAssertTrue(same.diff.selections.allSatisfy { $0.jaccard == 1 })
        for f in ["diff.json", "diff.md", "diff.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: ws.appendingPathComponent("outputs/diffs/base__base/\(f)").path))
        }
        // Scale layers 2 and 7's statistics (layer aggregates and their modules).
        var p = card
        p.model_id = "perturbed"
        for l in [2, 7] {
            p.layers[l].grad_norm *= 3; p.layers[l].resnorm *= 3; p.layers[l].predicted_gain *= 9
        }
        for i in p.modules.indices where [2, 7].contains(p.modules[i].layer) { p.modules[i].grad_norm *= 3; p.modules[i].resnorm *= 3 }
        try CardFixtures.write(p, workspace: ws)
        let r = try DiffStage.run(DiffRequest(workspace: Workspace(root: ws), a: "base", b: "perturbed"), logger: logger)
        XCTAssertEqual(r.diff.changed_layers, [2, 7])
        XCTAssertTrue(r.diff.layers[2].changed_columns.contains("resnorm"))
        XCTAssertFalse(r.diff.layers[2].changed_columns.contains("cost"))
        XCTAssertEqual(r.diff.layers[7].columns["grad_norm"]?.relative ?? 0, 2, accuracy: 1e-12)
        XCTAssertEqual(DiffReport.changedSummary(r.diff.layers[2]).hasSuffix("modules down_proj gate_proj k_proj o_proj q_proj up_proj v_proj"), true, DiffReport.changedSummary(r.diff.layers[2]))
        XCTAssertLessThan(r.diff.correlations.first { $0.column == "resnorm" }?.spearman ?? 1, 1)
        let json = try String(contentsOf: r.dir.appendingPathComponent("diff.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"verdict\""))
        let html = try String(contentsOf: r.dir.appendingPathComponent("diff.html"), encoding: .utf8)
        XCTAssertFalse(html.contains("http")); XCTAssertFalse(html.contains("<script"))
    }

    func testCardValidationNamesFileAndField() throws {
        let ws = try CardFixtures.tempDir(self)
        func check(_ mutate: (inout LayerCard) -> Void, field: String, file: StaticString = #filePath, line: UInt = #line) throws {
            var c = CardFixtures.card(L: 4)
            mutate(&c)
            let data = try JSON.encode(c)
            let url = ws.appendingPathComponent("bad-\(UUID().uuidString).json")
            try data.write(to: url)
            XCTAssertThrowsError(try LayerCard.load(from: url), file: file, line: line) { e in
                let msg = "\(e)"
                XCTAssertTrue(msg.contains(url.path) && msg.contains(field), "\(msg) should name \(url.path) and \(field)", file: file, line: line)
            }
        }
        try check({ $0.spec_version = 99 }, field: "spec_version")
        try check({ $0.coupling[1][2] = 0.3 }, field: "coupling.1.2")
        try check({ $0.coupling[3][3] = 0.9 }, field: "coupling.3.3")
        try check({ $0.layers.removeLast() }, field: "layers")
        try check({ $0.modules[0].layer = 4 }, field: "modules.0.layer")
        try check({ $0.layers[1].resnorm = -1 }, field: "layers.1.resnorm")
        let url = ws.appendingPathComponent("trunc.json")
        try Data("{\"spec_version\": 1, \"model_id\": 3}".utf8).write(to: url)
        XCTAssertThrowsError(try LayerCard.load(from: url)) { XCTAssertTrue("\($0)".contains(url.path)) }
        let dup = ws.appendingPathComponent("dup.json")
        var text = String(decoding: try JSON.encode(CardFixtures.card(L: 4)), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"loss\" : 2.5,", with: "\"loss\" : 2.5, \"loss\" : 9,")
        try Data(text.utf8).write(to: dup)
        XCTAssertThrowsError(try LayerCard.load(from: dup)) { XCTAssertTrue("\($0)".contains("duplicate key 'loss'") && "\($0)".contains(dup.path), "\($0)") }
        var nan = CardFixtures.card(L: 4); nan.layers[2].resnorm = .nan
        XCTAssertThrowsError(try nan.encodedJSON()) { XCTAssertTrue("\($0)".contains("layers.2.resnorm"), "\($0)") }
    }

    // MARK: - The built executable: exit codes and messages.

    var binary: URL {
        (try? E2E.executable()) ?? URL(fileURLWithPath: "/nonexistent/layercard")
    }

    func runCLI(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let o = Pipe(), e = Pipe()
        p.standardOutput = o; p.standardError = e
        try p.run()
        let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
    }

    func testCLIExitCodes() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("build the layercard executable first: \(binary.path)") }
        let ws = try CardFixtures.tempDir(self)
        try CardFixtures.write(CardFixtures.card(L: 6, modelID: "a"), workspace: ws)
        try CardFixtures.write(CardFixtures.card(L: 8, modelID: "b"), workspace: ws)
        var v2 = CardFixtures.card(L: 6, modelID: "c"); v2.spec_version = 1
        try CardFixtures.write(v2, workspace: ws)
        let w = ["--workspace", ws.path]

        var r = try runCLI(["rank", "a", "--modules", "q_proj,bogus"] + w)
        XCTAssertEqual(r.code, 2); XCTAssertTrue(r.err.contains("bogus"), r.err)
        r = try runCLI(["rank", "a", "--objective", "performance", "--k", "2"] + w)
        XCTAssertEqual(r.code, 0, r.err); XCTAssertTrue(r.out.contains("performance [4, 5]"), r.out)
        r = try runCLI(["rank", "a", "--k", "99"] + w)
        XCTAssertEqual(r.code, 2)
        r = try runCLI(["rank", "nosuch"] + w)
        XCTAssertEqual(r.code, 2)
        r = try runCLI(["report", "--all"] + w)
        XCTAssertEqual(r.code, 0, r.err)

        r = try runCLI(["diff", "a", "c"] + w)
        XCTAssertEqual(r.code, 0, r.err); XCTAssertTrue(r.out.contains("verdict: selection still valid"), r.out)
        r = try runCLI(["diff", "a", "b"] + w)
        XCTAssertEqual(r.code, 2); XCTAssertTrue(r.err.contains("b/card.json") && r.err.contains("config.num_layers"), r.err)
        r = try runCLI(["diff", "a", "b", "--allow-mismatch"] + w)
        XCTAssertEqual(r.code, 0, r.err)

        // Malformed: a coupling that is not symmetric, and a broken JSON file.
        let bad = ws.appendingPathComponent("outputs/c/card.json")
        var text = try String(contentsOf: bad, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"spec_version\" : 1", with: "\"spec_version\" : 7")
        try text.write(to: bad, atomically: true, encoding: .utf8)
        r = try runCLI(["diff", "a", "c"] + w)
        XCTAssertEqual(r.code, 2); XCTAssertTrue(r.err.contains("c/card.json") && r.err.contains("spec_version"), r.err)
        try Data("{\"layers\": [".utf8).write(to: bad)
        r = try runCLI(["diff", "a", bad.path] + w)
        XCTAssertEqual(r.code, 2); XCTAssertTrue(r.err.contains(bad.path), r.err)
        // rank with a malformed card fails that model only: exit 1.
        r = try runCLI(["rank", "a", "c"] + w)
        XCTAssertEqual(r.code, 1, r.out + r.err)
    }
}

final class ReportConsistencyTests: XCTestCase {
    /// The report shows the same selections the rank stage wrote (defaults, and k + F given).
    func testReportMatchesRankSelections() throws {
        for opts in [DecisionOptions(), DecisionOptions(k: 3, targetFraction: 0.7), DecisionOptions(targetFraction: 0.6)] {
            let ws = try CardFixtures.tempDir(self)
            let card = CardFixtures.card(L: 12, rho: 0.4, modelID: "m")
            try CardFixtures.write(card, workspace: ws)
            let w = Workspace(root: ws)
            _ = try RankStage.run(RankRequest(workspace: w, models: ["m"], options: opts), logger: Logger(label: "t"))
            let cardURL = ws.appendingPathComponent("outputs/m/card.json")
            let back = try XCTUnwrap(ReportStage.rankOptions(w, id: "m", cardSHA: Hashing.sha256(file: cardURL)))
            let data = try ReportStage.prepare(card: card, cardURL: cardURL, options: back, optionsSource: "rank")
            for s in data.decision.selections {
                let f = try JSON.decode(SelectionFile.self, from: ws.appendingPathComponent("outputs/m/selection-\(s.objective.rawValue).json"))
                XCTAssertEqual(s.chosen.layers, f.selection.chosen.layers, "\(opts) \(s.objective)")
            }
        }
    }

    func testNiceTicksCloseTheAxis() {
        XCTAssertEqual(SVGPlot.niceTicks(0, 89), [0, 20, 40, 60, 80, 100])
        XCTAssertEqual(SVGPlot.logTicks(0.01, 10), [0.01, 0.1, 1, 10])
        let front = SVGPlot.paretoFront([(0.5, 0.3), (0.6, 0.2), (0.7, 0.9), (0.9, 0.8), (1, 1)])
        XCTAssertEqual(front.map(\.x), [0.5, 0.7, 1])
    }
}

final class DecisionBatchStageTests: XCTestCase {
    /// rank/report through the batch `Stage` API: blocked without profile, missing → done after a run,
    /// stale when the card or options change, manifests readable as `ManifestHeader`.
    func testRankAndReportStagesFreshness() throws {
        let dir = try CardFixtures.tempDir(self)
        let ws = Workspace(root: dir)
        try CardFixtures.write(CardFixtures.card(L: 6, modelID: "m"), workspace: dir)
        let subject = StageSubject(modelID: "m"), rank = RankBatchStage(), report = ReportBatchStage(), log = Logger(label: "t")
        XCTAssertEqual(rank.check(subject, workspace: ws, params: StageParams()).name, "blocked")
        // A minimal ok profile manifest (the profile stage writes the real one).
        try AtomicFile.write(Data("{\"stage\":\"profile\",\"status\":\"ok\",\"fingerprint\":\"p1\"}".utf8), to: ws.manifestURL(model: "m", stage: "profile"))
        XCTAssertEqual(rank.check(subject, workspace: ws, params: StageParams()), .missing)
        XCTAssertEqual(rank.run(subject, workspace: ws, params: StageParams(options: ["k": "2"]), logger: log).map(\.status), [.ok])
        XCTAssertEqual(rank.check(subject, workspace: ws, params: StageParams()), .done, "recorded options are the freshness baseline")
        XCTAssertEqual(rank.check(subject, workspace: ws, params: StageParams(options: ["k": "2"])), .done)
        XCTAssertEqual(rank.check(subject, workspace: ws, params: StageParams(options: ["k": "3"])).name, "stale")
        XCTAssertEqual(ManifestHeader.read(ws, model: "m", stage: "rank")?.status, .ok)

        XCTAssertEqual(report.check(subject, workspace: ws, params: StageParams()), .missing)
        XCTAssertEqual(report.run(subject, workspace: ws, params: StageParams(), logger: log).map(\.status), [.ok])
        XCTAssertEqual(report.check(subject, workspace: ws, params: StageParams()), .done)
        // Rank re-run with other options → report is stale (it shows rank's parameters).
        _ = rank.run(subject, workspace: ws, params: StageParams(options: ["k": "3"]), logger: log)
        XCTAssertEqual(report.check(subject, workspace: ws, params: StageParams()).name, "stale")
        _ = report.run(subject, workspace: ws, params: StageParams(), logger: log)
        XCTAssertEqual(report.check(subject, workspace: ws, params: StageParams()), .done)
        // The card changes → both stale.
        try CardFixtures.write(CardFixtures.card(L: 6, grad: [6, 5, 4, 3, 2, 1], modelID: "m"), workspace: dir)
        XCTAssertEqual(rank.check(subject, workspace: ws, params: StageParams()).name, "stale")
        // A bad option fails the stage with a manifest saying why.
        let bad = rank.run(subject, workspace: ws, params: StageParams(options: ["modules": "nope"]), logger: log)
        XCTAssertEqual(bad.map(\.status), [.failed])
        XCTAssertTrue(ManifestHeader.read(ws, model: "m", stage: "rank")?.error?.message.contains("nope") ?? false)
    }
}

final class DiffBatchStageTests: XCTestCase {
    func testDiffPairStage() throws {
        let dir = try CardFixtures.tempDir(self)
        let ws = Workspace(root: dir)
        let log = Logger(label: "t")
        try CardFixtures.write(CardFixtures.card(L: 6, modelID: "v1"), workspace: dir)
        try CardFixtures.write(CardFixtures.card(L: 8, modelID: "v2"), workspace: dir)
        let pair = StageSubject(modelID: "v2", baseline: "v1"), stage = DiffBatchStage()
        XCTAssertEqual(stage.check(pair, workspace: ws, params: StageParams()).name, "blocked")
        for id in ["v1", "v2"] {
            try AtomicFile.write(Data("{\"stage\":\"profile\",\"status\":\"ok\",\"fingerprint\":\"\(id)\"}".utf8), to: ws.manifestURL(model: id, stage: "profile"))
        }
        XCTAssertEqual(stage.check(pair, workspace: ws, params: StageParams()), .missing)
        // Different layer counts: a deterministic failure naming the field, recorded in the manifest.
        XCTAssertEqual(stage.run(pair, workspace: ws, params: StageParams(), logger: log).map(\.status), [.failed])
        XCTAssertEqual(stage.check(pair, workspace: ws, params: StageParams()).name, "failed")
        XCTAssertTrue(ManifestHeader.read(ws, model: "v1--v2", stage: "diff")?.error?.message.contains("config.num_layers") ?? false)
        let allow = StageParams(options: ["allow_mismatch": "true"])
        XCTAssertEqual(stage.run(pair, workspace: ws, params: allow, logger: log).map(\.status), [.ok])
        XCTAssertEqual(stage.check(pair, workspace: ws, params: allow), .done)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("outputs/diffs/v1__v2/diff.html").path))
    }
}
