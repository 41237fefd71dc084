// The probe's results downstream, on hand-made cards and a hand-made probe.json (every expected number is
// recomputed from the fixture here): card.h5 gets the measured columns, set table and correlations and equals
// card.json (Swift reader and h5py, which must also catch a changed number); rank defaults to measured_gain only
// when every layer was probed and says why (selection file, log line, command summary); the report shows the
// measured strategy table and a verdict that names a baseline when it beat the card's choice, renders with a
// partial probe, and has no probe section without one.
import Foundation
import LCCard
import LCCore
import LCModel
import Logging
@testable import LCPipeline
import XCTest

/// Collects log events (message + metadata) for assertions.
final class LogBox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [(String, [String: String])] = []
    func append(_ m: String, _ md: [String: String]) { lock.lock(); events.append((m, md)); lock.unlock() }
    var all: [(String, [String: String])] { lock.lock(); defer { lock.unlock() }; return events }
}

struct CaptureLogHandler: LogHandler {
    let box: LogBox
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey k: String) -> Logger.Metadata.Value? { get { metadata[k] } set { metadata[k] = newValue } }
    func log(event: LogEvent) {
        var md: [String: String] = [:]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { md[k] = "\(v)" }
        box.append(event.message.description, md)
    }
}

final class ProbeCardReportTests: XCTestCase {
    // MARK: fixtures

    static func run(_ l: [Int], gain: Double, step: Double) -> ProbeRunResult {
        ProbeRunResult(layers: l, eval_loss_before: 3, eval_loss_after: 3 - gain, gain: gain, step_seconds: step, step_seconds_all: [step, step],
                       train_losses: [3, 2.9], peak_rss_bytes: 1_000_000 + 1000 * (l.first ?? 0), peak_rss_is_reset: true, trainable_parameters: 64)
    }

    static func set(_ name: String, _ layers: [Int], gain: Double, step: Double, all: (gain: Double, step: Double)?,
                    source: String? = nil, draws: [ProbeRunResult]? = nil) -> ProbeSetResult {
        ProbeSetResult(name: name, layers: layers, gain: gain, gain_fraction: all.map { gain / $0.gain }, step_seconds: step,
                       speedup: all.map { $0.step / step }, draws: draws, source: source)
    }

    /// A probe.json for a 6-layer card: single-layer runs at `layers` (gain 0.01·(6−l), 0.1 + 0.05·(5−l) s/step),
    /// and the set table performance [0, 1] 0.03 / 0.25 s, top-k [4, 5] `topGain` / 0.10 s, bottom-k [0, 1] 0.02 /
    /// 0.25 s, mid-k [2, 3] 0.01 / 0.2 s with its fraction and speed-up removed (the report must render a set without
    /// them), random-k (2 draws), all 0.05 / 0.40 s.
    static func probeReport(model: String, layers: [Int] = Array(0..<6), topGain: Double = 0.04, fingerprint: String = "0000") -> ProbeReport {
        let all = (gain: 0.05, step: 0.40)
        let d1 = run([1, 4], gain: 0.025, step: 0.3), d2 = run([2, 3], gain: 0.015, step: 0.2)
        var mid = set("mid-k", [2, 3], gain: 0.01, step: 0.2, all: nil)
        mid.gain_fraction = nil; mid.speedup = nil
        let sets = [set("performance", [0, 1], gain: 0.03, step: 0.25, all: all, source: "selection-performance.json"),
                    set("bottom-k", [0, 1], gain: 0.02, step: 0.25, all: all),
                    set("top-k", [4, 5], gain: topGain, step: 0.10, all: all),
                    mid,
                    set("random-k", [1, 4], gain: 0.02, step: 0.25, all: all, draws: [d1, d2]),
                    set("all", Array(0..<6), gain: all.gain, step: all.step, all: all)]
        let info = ProbeDatasetInfo(train_path: "/d.jsonl", eval_path: "/d.jsonl", train_sha256: "aa", eval_sha256: "aa", train_records: 16,
                                    eval_records: 4, eval_targets: 40, eval_fraction: 0.2, split_seed: 0, max_tokens: 32)
        let corr = [ProbeCorrelation(signal: "resnorm", spearman: -0.6, p_value: 0.2080, n: layers.count),
                    ProbeCorrelation(signal: "grad_norm", spearman: -1, p_value: 0, n: layers.count),
                    ProbeCorrelation(signal: "act_energy", spearman: nil, p_value: nil, n: layers.count)]
        var lora = LoRAOptions(rank: 4, alpha: 8, seed: 1234, lr: 1e-2)
        lora.beta1 = 0.9; lora.beta2 = 0.999; lora.eps = 1e-8
        return ProbeReport(model_id: model, model_fingerprint: fingerprint, dataset: info,
                           settings: ProbeSettings(steps: 3, batch: 4, lora: lora), eval_loss_before: 3,
                           layers: layers.map { run([$0], gain: 0.01 * Double(6 - $0), step: 0.1 + 0.05 * Double(5 - $0)) },
                           measured_layers: layers, k: 2, sets: sets, correlations: corr,
                           notes: layers.count < 6 ? ["budget 1 min: probed \(layers.count) of 6 layers"] : [], elapsed_seconds: 1)
    }

    func checkH5(_ h5: URL, _ json: URL) throws -> (Int32, String) {
        let py = Process()
        py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        py.arguments = ["python3", CardFixtures.repoRoot.appendingPathComponent("scripts/tests/check_card_h5.py").path, h5.path, json.path]
        let pipe = Pipe()
        py.standardOutput = pipe; py.standardError = pipe
        try py.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        py.waitUntilExit()
        return (py.terminationStatus, out)
    }

    /// Edits card.json as generic JSON.
    func editJSON(_ url: URL, _ body: (inout [String: Any]) -> Void) throws {
        var root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        body(&root)
        try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys]).write(to: url)
    }

    // MARK: card.h5

    func testProbeUpdateWritesCardH5EqualToCardJSON() throws {
        let ws = try CardFixtures.tempDir(self)
        let card = CardFixtures.card(L: 6, modelID: "h")
        let json = try CardFixtures.write(card, workspace: ws)
        let h5 = ProbeCard.h5URL(json)
        try card.writeHDF5(to: h5)  // as profile leaves it
        let rep = Self.probeReport(model: "h", layers: [0, 2, 5])
        XCTAssertNil(try ProbeCard.update(cardURL: json, report: rep), "a valid card gets card.h5 too")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: json.deletingLastPathComponent().path).sorted(),
                       ["card.h5", "card.json"], "no temp files left")

        let fromJSON = try LayerCard.load(from: json)
        func at(_ f: (Int) -> Double) -> [Double?] { (0..<6).map { [0, 2, 5].contains($0) ? f($0) : nil } }
        XCTAssertEqual(fromJSON.layers.map(\.measured_gain), at { 0.01 * Double(6 - $0) })
        XCTAssertEqual(fromJSON.layers.map(\.probe_step_seconds), at { 0.1 + 0.05 * Double(5 - $0) })
        let probe = try XCTUnwrap(fromJSON.probe)
        XCTAssertEqual(probe.measured_layers, [0, 2, 5])
        XCTAssertEqual(probe.sets.map(\.name), ["performance", "bottom-k", "top-k", "mid-k", "random-k", "all"])
        XCTAssertEqual(probe.sets[0].gain_fraction ?? 0, 0.6, accuracy: 1e-12)
        XCTAssertEqual(probe.sets[2].speedup ?? 0, 4, accuracy: 1e-12)
        XCTAssertEqual(probe.sets[4].draws?.count, 2)
        XCTAssertEqual(probe.correlations.map(\.signal), ["resnorm", "grad_norm", "act_energy"])

        let fromH5 = try LayerCard.readHDF5(from: h5)
        XCTAssertEqual(fromH5, fromJSON, "card.h5 read back differs from card.json")
        var (code, out) = try checkH5(h5, json)
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("probe: 3 layers measured, 6 sets"), out)

        // h5py must catch a changed measured number, a changed set-table number and a missing measured layer.
        let pristine = try Data(contentsOf: json)
        try editJSON(json) { root in
            var ls = root["layers"] as! [[String: Any]]; ls[2]["measured_gain"] = 0.041; root["layers"] = ls
        }
        (code, out) = try checkH5(h5, json)
        XCTAssertEqual(code, 1, out); XCTAssertTrue(out.contains("/layers/measured_gain"), out)
        try pristine.write(to: json)
        try editJSON(json) { root in
            var p = root["probe"] as! [String: Any]; var s = p["sets"] as! [[String: Any]]
            s[2]["speedup"] = 3.5; p["sets"] = s; root["probe"] = p
        }
        (code, out) = try checkH5(h5, json)
        XCTAssertEqual(code, 1, out); XCTAssertTrue(out.contains("probe"), out)
        try pristine.write(to: json)
        try editJSON(json) { root in
            var ls = root["layers"] as! [[String: Any]]; ls[1]["measured_gain"] = 0.05; root["layers"] = ls
        }
        (code, out) = try checkH5(h5, json)
        XCTAssertEqual(code, 1, out); XCTAssertTrue(out.contains("/layers/measured_gain_mask"), out)
        try pristine.write(to: json)

        // Re-applying probe.json (probe --update-card) after profile rewrote both files gives the same h5 content.
        try AtomicFile.write(try JSON.encode(rep), to: ProbeStage.reportURL(Workspace(root: ws), model: "h"))
        try CardFixtures.write(card, workspace: ws)
        try card.writeHDF5(to: h5)
        XCTAssertNil(try LayerCard.readHDF5(from: h5).probe)
        _ = try ProbeStage.updateCard(workspace: Workspace(root: ws), model: "h", logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        XCTAssertEqual(try LayerCard.readHDF5(from: h5).layers.map(\.measured_gain), at { 0.01 * Double(6 - $0) })
        (code, out) = try checkH5(h5, json)
        XCTAssertEqual(code, 0, out)
    }

    func testProbeUpdateOfAnIncompleteCardSaysCardH5WasNotWritten() throws {
        let dir = try CardFixtures.tempDir(self)
        let json = dir.appendingPathComponent("card.json")
        try JSONSerialization.data(withJSONObject: ["layers": [["layer": 0, "grad_norm": 1.0]], "model_id": "x"]).write(to: json)
        let note = try ProbeCard.update(cardURL: json, report: Self.probeReport(model: "x", layers: [0]))
        XCTAssertTrue(note?.contains("card.h5 not updated") ?? false, "\(note ?? "nil")")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ProbeCard.h5URL(json).path))
    }

    // MARK: rank

    /// The signal tests pin the set model to the plain additive share (top-k by the signal), so the expected
    /// layers follow from the signal alone whatever the validated default model is.
    static let additive: DecisionOptions = { var o = DecisionOptions(k: 2); o.setModel = SetModel(kind: .additive, param: 1); return o }()

    func rank(_ card: LayerCard, _ ws: URL, options: DecisionOptions = ProbeCardReportTests.additive) throws -> (SelectionFile, [(String, [String: String])], String) {
        try CardFixtures.write(card, workspace: ws)
        let box = LogBox()
        let out = try RankStage.run(RankRequest(workspace: Workspace(root: ws), models: [card.model_id], options: options),
                                    logger: Logger(label: "rank") { _ in CaptureLogHandler(box: box) })
        XCTAssertEqual(out.map(\.status), [.ok])
        let sel = try JSON.decode(SelectionFile.self, from: ws.appendingPathComponent("outputs/\(card.model_id)/selection-performance.json"))
        return (sel, box.all, out.first?.message ?? "")
    }

    func testRankDefaultsToMeasuredGainOnlyWhenEveryLayerWasProbedAndSaysWhy() throws {
        let ws = try CardFixtures.tempDir(self)
        // grad_norm rises with depth (1…6), measured_gain falls: the two signals pick opposite ends.
        let measured = [0.06, 0.05, 0.04, 0.03, 0.02, 0.01]
        let full = CardFixtures.card(L: 6, modelID: "full", measured: measured)
        var (sel, log, msg) = try rank(full, ws)
        XCTAssertEqual(sel.signal, .measured_gain)
        XCTAssertEqual(sel.selection.chosen.layers, [0, 1])
        XCTAssertEqual(sel.signal_requested, false)
        XCTAssertTrue(sel.signal_reason?.contains("measured every layer (6 of 6)") ?? false, sel.signal_reason ?? "nil")
        var line = try XCTUnwrap(log.first { $0.0 == "signal" }, "rank logs the signal line")
        XCTAssertEqual(line.1["signal"], "measured_gain")
        XCTAssertTrue(line.1["why"]?.contains("measured every layer") ?? false, "\(line.1)")
        XCTAssertTrue(msg.contains("signal measured_gain: default: the probe measured every layer"), msg)

        // A probe of 3 of 6 layers (--budget-minutes): grad_norm, and the reason names the coverage.
        var partial = CardFixtures.card(L: 6, modelID: "part", measured: measured)
        for l in [1, 2, 4] { partial.layers[l].measured_gain = nil }
        (sel, log, msg) = try rank(partial, ws)
        XCTAssertEqual(sel.signal, .grad_norm)
        XCTAssertEqual(sel.selection.chosen.layers, [4, 5])
        XCTAssertTrue(sel.signal_reason?.contains("measured only 3 of 6 layers [0, 3, 5]") ?? false, sel.signal_reason ?? "nil")
        line = try XCTUnwrap(log.first { $0.0 == "signal" })
        XCTAssertEqual(line.1["signal"], "grad_norm")
        XCTAssertTrue(line.1["why"]?.contains("only 3 of 6") ?? false, "\(line.1)")

        // No probe; and an explicit --signal on a probed card says what the default would have been.
        (sel, _, _) = try rank(CardFixtures.card(L: 6, modelID: "none"), ws)
        XCTAssertEqual(sel.signal, .grad_norm)
        XCTAssertTrue(sel.signal_reason?.contains("no probe") ?? false, sel.signal_reason ?? "nil")
        (sel, _, _) = try rank(full, ws, options: DecisionOptions(k: 2, signal: .grad_norm))
        XCTAssertEqual(sel.signal, .grad_norm); XCTAssertEqual(sel.signal_requested, true)
        XCTAssertTrue(sel.signal_reason?.hasPrefix("requested (--signal grad_norm); the default would be measured_gain") ?? false,
                      sel.signal_reason ?? "nil")
        // The report reuses a defaulted signal as a default (not as a --signal request).
        let opts = try XCTUnwrap(ReportStage.rankOptions(Workspace(root: ws), id: "part",
                                                         cardSHA: Hashing.sha256(file: ws.appendingPathComponent("outputs/part/card.json"))))
        XCTAssertNil(opts.signal)
    }

    // MARK: report

    func report(_ ws: URL, _ id: String) throws -> (md: String, html: String) {
        let out = try ReportStage.run(ReportRequest(workspace: Workspace(root: ws), models: [id]), logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        XCTAssertEqual(out.map(\.status), [.ok])
        let dir = ws.appendingPathComponent("outputs/\(id)")
        return (try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8),
                try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8))
    }

    func testReportShowsMeasuredStrategyTableAndVerdict() throws {
        let ws = try CardFixtures.tempDir(self)
        let id = "r"
        let rep = Self.probeReport(model: id)
        let json = try CardFixtures.write(CardFixtures.card(L: 6, modelID: id), workspace: ws)
        try AtomicFile.write(try JSON.encode(rep), to: ProbeStage.reportURL(Workspace(root: ws), model: id))
        try ProbeCard.update(cardURL: json, report: rep)
        let (md, html) = try report(ws, id)

        // Numbers recomputed from the fixture: performance 0.03/0.05, 0.25 s vs 0.40 s; top-k 0.04/0.05 at 0.10 s.
        let perf = rep.sets[0], top = rep.sets[2], all = rep.sets[5]
        func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
        XCTAssertTrue(md.contains("## Measured performance (probe)"), md)
        XCTAssertTrue(md.contains("| **performance (card)** | [0, 1] | 0.03000 | \(pct(perf.gain / all.gain)) | 0.250 | \(String(format: "%.2f×", all.step_seconds / perf.step_seconds)) |"), md)
        XCTAssertTrue(md.contains("| top-2 | [4, 5] | 0.04000 | 80.0% | 0.100 | 4.00× |"), md)
        XCTAssertTrue(md.contains("| mid-2 | [2, 3] | 0.01000 | – | 0.200 | – |"), md)
        XCTAssertTrue(md.contains("| random-2 | mean of 2 random draws | 0.02000 | 40.0% | 0.250 | 1.60× |"), md)
        XCTAssertTrue(md.contains("| all | [0-5] | 0.05000 | 100.0% | 0.400 | 1.00× |"), md)
        let verdict = "On this model and data, the card's performance choice [0, 1] reached \(pct(0.6)) of the all-layer gain with 2 of 6 layers, "
            + "\(pct(1 - 0.25 / 0.40)) less time per step than all layers (0.250 s vs 0.400 s, 1.60× speed-up); "
            + "the best baseline was top-2 [4, 5] at \(pct(top.gain / all.gain)) of the all-layer gain, so a baseline beat the card's choice (by 20.0 percentage points)."
        XCTAssertEqual(pct(1 - 0.25 / 0.40), "37.5%")
        XCTAssertTrue(md.contains("**Verdict.** " + verdict), md)
        XCTAssertTrue(html.contains(verdict), "HTML verdict")
        XCTAssertTrue(md.contains("| grad_norm | -1.000 | 0 | 6 |"), md)
        XCTAssertTrue(md.contains("| act_energy | – (constant) | – | 6 |"), md)
        // Measured vs predicted: layer 0 has the largest measured gain (1.000), grad_norm 1/6, predicted_gain (0.5·(0.5·1)²)/(0.5·3²).
        XCTAssertTrue(md.contains("| 0 | 0.06000 | 1.000 | 0.167 | 0.028 |"), md)
        for needle in ["id=\"measured\"", "id=\"probe-verdict\"", "Measured vs predicted per layer", "measured_gain (probe)",
                       "grad_norm (card)", "predicted_gain (card)", "<tr class=\"chosen\"><td>performance (card)</td>", "Strategies, measured (k = 2)"] {
            XCTAssertTrue(html.contains(needle), "report.html lacks \(needle)")
        }
        XCTAssertNil(html.range(of: "\\b(nan|inf)\\b", options: [.regularExpression, .caseInsensitive]), "no non-finite numbers printed")
        // The rank signal: the card now has measured_gain everywhere → the report's signal is measured_gain, with why.
        XCTAssertTrue(md.contains("Signal: `measured_gain`"), md)
        XCTAssertTrue(md.contains("why: default: the probe measured every layer"), md)
    }

    func testVerdictWhenTheCardsChoiceWinsAndWithoutAllOrChoices() throws {
        let card = CardFixtures.card(L: 6, modelID: "v")
        var p = ReportProbe(report: Self.probeReport(model: "v", topGain: 0.025), card: card, source: "t")
        XCTAssertTrue(p.verdict().contains("the best baseline was top-2 [4, 5] at 50.0% of the all-layer gain, below the card's choice."), p.verdict())
        p.sets.removeAll { $0.name == "all" }
        for i in p.sets.indices { p.sets[i].gainFraction = nil; p.sets[i].speedup = nil }
        XCTAssertTrue(p.verdict().contains("reached a held-out gain of 0.03000 nats/token with 2 of 6 layers (no all-layer run"), p.verdict())
        p.sets.removeAll(where: \.isCardChoice)
        XCTAssertTrue(p.verdict().hasPrefix("The probe did not run the card's choices"), p.verdict())
        XCTAssertTrue(p.verdict().contains("The best baseline was top-2 [4, 5]"), p.verdict())
        // Signals: the largest signed ρ counts (a negative ρ ranks layers backwards).
        XCTAssertTrue(p.verdict().contains("none of the card's signals ranked layers like measured_gain (best Spearman ρ: resnorm, -0.60, p = 0.21); grad_norm had ρ = -1.00"), p.verdict())
        p.correlations = [CardProbeCorrelation(signal: "resnorm", spearman: 0.3, p_value: 0.5, n: 6),
                          CardProbeCorrelation(signal: "grad_norm", spearman: 0.9, p_value: 0.014, n: 6)]
        XCTAssertTrue(p.verdict().contains("the card's signal that best ranked layers like measured_gain was grad_norm (Spearman ρ = 0.90, p = 0.014)."), p.verdict())
        // The probe measured another performance set than the rank stage's current one: said so.
        let q = ReportProbe(report: Self.probeReport(model: "v"), card: card, source: "t")
        XCTAssertTrue(q.verdict(current: [3, 4]).contains("The rank stage's performance choice is now [3, 4], not the [0, 1] the probe measured"))
        XCTAssertFalse(q.verdict(current: [0, 1]).contains("is now"))
    }

    func testReportWithPartialProbeAndWithoutProbe() throws {
        let ws = try CardFixtures.tempDir(self)
        let rep = Self.probeReport(model: "p", layers: [0, 5])
        let json = try CardFixtures.write(CardFixtures.card(L: 6, modelID: "p"), workspace: ws)
        try AtomicFile.write(try JSON.encode(rep), to: ProbeStage.reportURL(Workspace(root: ws), model: "p"))
        try ProbeCard.update(cardURL: json, report: rep)
        var (md, html) = try report(ws, "p")
        XCTAssertTrue(md.contains("## Measured performance (probe)"), md)
        XCTAssertTrue(md.contains("Probed 2 of 6 layers [0, 5]"), md)
        XCTAssertTrue(md.contains("The probe measured 2 of 6 layers [0, 5], so rank's default signal stays grad_norm"), md)
        XCTAssertTrue(md.contains("Signal: `grad_norm`"), md)
        XCTAssertTrue(md.contains("why: default: the probe measured only 2 of 6 layers"), md)
        XCTAssertTrue(md.contains("| 5 | 0.01000 | 0.167 | 1.000 | 1.000 |"), md)
        XCTAssertFalse(md.contains("| 3 | 0.03000 |"), "unprobed layers have no measured row")
        XCTAssertTrue(md.contains("note: budget 1 min: probed 2 of 6 layers"), md)
        XCTAssertTrue(html.contains("id=\"probe-verdict\""))
        XCTAssertNil(html.range(of: "\\b(nan|inf)\\b", options: [.regularExpression, .caseInsensitive]))

        try CardFixtures.write(CardFixtures.card(L: 6, modelID: "n"), workspace: ws)
        (md, html) = try report(ws, "n")
        XCTAssertFalse(md.contains("## Measured performance"), "no probe, no section")
        XCTAssertFalse(html.contains("id=\"probe-verdict\""))
        XCTAssertFalse(html.contains("id=\"measured\""))
    }
}
