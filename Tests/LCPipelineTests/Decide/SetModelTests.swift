// The set models (Sources/LCCard/SetModel.swift) against their Python twins (scripts/validity/set_models.py, the
// functions leave-one-task-out validation scored; goldens by scripts/reference/set_models_golden.py), the NNLS of
// each model's coupling against brute force, the calibration's inverse, the cost objective under a calibration,
// selections carrying model, band and measured marks, and the catalog constants against the committed table.
import Foundation
import LCCard
import LCCore
@testable import LCPipeline
import Logging
import XCTest

final class SetModelTests: XCTestCase {
    func testParsingRoundTripsAndRejectsBadForms() throws {
        for s in ["nnls-coupling", "kernel-nnls:2", "additive:0.6", "saturating:4"] {
            XCTAssertEqual(try SetModel(parsing: s).description, s)
        }
        for bad in ["", "nnls", "saturating", "saturating:-1", "additive:x", "nnls-coupling:3", "kernel-nnls:inf"] {
            XCTAssertThrowsError(try SetModel(parsing: bad), bad)
        }
    }

    func testCalibrationIsMonotoneWithExactInverse() {
        for m in [SetModel(kind: .additive, param: 0.5), SetModel(kind: .saturating, param: 6), SetModel(kind: .kernelNNLS, param: 2)] {
            var last = -1.0
            for i in 0...20 {
                let r = Double(i) / 20, f = m.calibrate(r)
                XCTAssertGreaterThanOrEqual(f, last, "\(m)")
                last = f
                XCTAssertEqual(m.uncalibrate(f), r, accuracy: 1e-12, "\(m)")
            }
            XCTAssertEqual(m.calibrate(1), 1, accuracy: 1e-12)
            XCTAssertEqual(m.calibrate(0), 0, accuracy: 1e-12)
        }
    }

    func testPredictionsEqualThePythonModelsValidationScored() throws {
        let url = repoRoot().appendingPathComponent("Tests/Fixtures/setmodels/golden.json")
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let g = try XCTUnwrap(c["grad_norm"] as? [Double]), R = try XCTUnwrap(c["coupling"] as? [[Double]])
            let sets = try XCTUnwrap(c["sets"] as? [[Int]])
            let card = CardFixtures.card(L: g.count, grad: g)
            var withCoupling = card
            withCoupling.coupling = R
            for p in try XCTUnwrap(c["predictions"] as? [[String: Any]]) {
                let kind = try XCTUnwrap(SetModel.Kind(rawValue: try XCTUnwrap(p["model"] as? String)))
                let model = SetModel(kind: kind, param: p["param"] as? Double)
                let sel = try Selector(card: withCoupling, signal: .grad_norm, model: model)
                let want = try XCTUnwrap(p["fractions"] as? [Double])
                for (S, w) in zip(sets, want) {
                    XCTAssertEqual(sel.score("x", S).gain_fraction, w, accuracy: 1e-6, "\(model) \(S)")
                }
            }
        }
    }

    func testEveryModelsGainIsTheBruteForceOptimumOnItsCoupling() throws {
        let card = CardFixtures.card(L: 7, grad: [3, 1, 2, 5, 4, 0.5, 2], rho: 0.6)
        for m in [SetModel.specV1, SetModel(kind: .kernelNNLS, param: 1.5), SetModel(kind: .saturating, param: 3)] {
            let s = try Selector(card: card, signal: .grad_norm, model: m)
            for S in [[0, 1, 2], [3, 4], [0, 2, 4, 6], Array(0..<7)] {
                XCTAssertEqual(s.gain.gain(S), s.gain.gainBruteForce(S), accuracy: 1e-9 * max(1, s.gain.gain(S)), "\(m) \(S)")
            }
        }
        // Identity coupling: gains add up (additive / saturating share one raw model).
        let add = try Selector(card: card, signal: .grad_norm, model: SetModel(kind: .additive, param: 1))
        XCTAssertEqual(add.score("x", [0, 3]).gain_fraction, (9.0 + 25) / ([3, 1, 2, 5, 4, 0.5, 2].reduce(0) { $0 + $1 * $1 }), accuracy: 1e-6)
    }

    func testCostObjectiveReachesTheCalibratedTarget() throws {
        let card = CardFixtures.card(L: 8, rho: 0.3)
        let m = SetModel(kind: .saturating, param: 5)
        let s = try Selector(card: card, signal: .grad_norm, model: m)
        for f in [0.5, 0.8, 0.95] {
            let sel = try s.select(.cost, targetFraction: f)
            XCTAssertGreaterThanOrEqual(sel.chosen.gain_fraction, f - 1e-9, "target \(f)")
            XCTAssertEqual(sel.set_model, "saturating:5")
        }
        // Saturation makes a target cheaper to reach than under the raw additive share.
        let raw = try Selector(card: card, signal: .grad_norm, model: SetModel(kind: .additive, param: 1)).select(.cost, targetFraction: 0.8)
        XCTAssertLessThanOrEqual(try s.select(.cost, targetFraction: 0.8).chosen.layers.count, raw.chosen.layers.count)
    }

    func testSelectionsCarryBandsAndMeasuredMarks() throws {
        let card = CardFixtures.card(L: 6)
        var s = try Selector(card: card, signal: .grad_norm, model: SetModel(kind: .saturating, param: 4))
        var sel = try s.select(.performance, k: 2)
        XCTAssertEqual(sel.chosen.basis, "predicted, not validated")
        XCTAssertNil(sel.chosen.gain_fraction_band)
        XCTAssertTrue(ReportText.fraction(sel.chosen).contains("unvalidated"))
        s.validation = SetModelValidation(model: s.model, source: "grad_norm", horizon_steps: 5, spearman: 0.9, mae: 0.05, p90: 0.08,
                                          tasks: ["a", "b"], table: "docs/validity/x.md")
        s.measuredFractions[[4, 5]] = 0.61
        sel = try s.select(.performance, k: 2)
        XCTAssertEqual(sel.chosen.layers, [4, 5])
        XCTAssertEqual(sel.chosen.basis, "measured")
        XCTAssertEqual(ReportText.fraction(sel.chosen), "61.0% measured")
        XCTAssertEqual(sel.set_model_validation?.p90, 0.08)
        XCTAssertEqual(sel.baselines.last?.basis, "reference")
        XCTAssertEqual(ReportText.fraction(try XCTUnwrap(sel.baselines.last)), "100% (reference)")
        for b in sel.baselines where b.name != "all" {
            XCTAssertEqual(b.gain_fraction_band, 0.08, b.name)
            XCTAssertTrue(ReportText.fraction(b).contains("± 8") || b.basis == "measured", ReportText.fraction(b))
        }
    }

    /// The catalog's constants are the committed leave-one-task-out winners (docs/validity/*/set-models.json).
    func testCatalogMatchesTheCommittedValidationTable() throws {
        for v in SetModelCatalog.validated {
            let url = repoRoot().appendingPathComponent(v.table.replacingOccurrences(of: ".md", with: ".json"))
            let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], url.path)
            let h = try XCTUnwrap((root["horizons"] as? [String: Any])?["\(v.horizon_steps)"] as? [String: Any])
            let src = v.source == "measured_gain" ? "measured" : v.source
            let rows = try XCTUnwrap(h["candidates"] as? [[String: Any]])
            let row = try XCTUnwrap(rows.first { $0["model"] as? String == v.model.kind.rawValue && $0["source"] as? String == src },
                                    "\(v.model) \(src) not in \(url.path)")
            XCTAssertEqual(row["param_all_tasks"] as? Double, v.model.param, "\(v.model)")
            XCTAssertEqual(try XCTUnwrap(row["mae"] as? Double), v.mae, accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(row["p90"] as? Double), v.p90, accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(row["spearman"] as? Double), v.spearman, accuracy: 1e-9)
        }
    }

    func repoRoot() -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}

/// spec v2 §6b on written outputs: after rank + report on a card (default signal grad_norm, the validated default
/// set model), no selection and no report cell shows a bare predicted fraction (scripts/tests/check_fractions.py,
/// the same check scripts/run-default.sh runs on the main job); and the checker fails on a bare one.
final class NoBareFractionTests: XCTestCase {
    func testRankAndReportShowBandsOrMeasurements() throws {
        let ws = try CardFixtures.tempDir(self)
        try CardFixtures.write(CardFixtures.card(L: 12, rho: 0.6, modelID: "nb"), workspace: ws)
        let logger = Logger(label: "test")
        _ = try RankStage.run(RankRequest(workspace: Workspace(root: ws), models: ["nb"], options: DecisionOptions()), logger: logger)
        _ = try ReportStage.run(ReportRequest(workspace: Workspace(root: ws), models: ["nb"]), logger: logger)
        let dir = ws.appendingPathComponent("outputs/nb")
        let ok = try E2E.python("scripts/tests/check_fractions.py", [dir.path])
        XCTAssertEqual(ok.code, 0, ok.stdout + ok.stderr)
        let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains(" ± "), "banded fractions in report.md")
        // The checker can fail: strip the band from one selection.
        let selURL = dir.appendingPathComponent("selection-performance.json")
        var root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: selURL)) as? [String: Any])
        var sel = try XCTUnwrap(root["selection"] as? [String: Any])
        var chosen = try XCTUnwrap(sel["chosen"] as? [String: Any])
        chosen["gain_fraction_band"] = NSNull()
        sel["chosen"] = chosen; root["selection"] = sel
        try JSONSerialization.data(withJSONObject: root).write(to: selURL)
        let bad = try E2E.python("scripts/tests/check_fractions.py", [dir.path])
        XCTAssertEqual(bad.code, 1, bad.stdout)
        XCTAssertTrue(bad.stdout.contains("without a band"), bad.stdout)
    }
}
