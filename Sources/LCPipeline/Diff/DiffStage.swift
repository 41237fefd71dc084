// `diff A B`: resolves two cards (model ids in the workspace or card.json paths), refuses different
// spec versions or layer counts unless allowed (naming the file and field), compares them and writes
// outputs/diffs/<A>__<B>/{diff.json, diff.md, diff.html}. Malformed cards are errors (exit 2).
import Foundation
import LCCard
import LCCore
import Logging

public struct DiffRequest: Sendable {
    public var workspace: Workspace
    public var a: String
    public var b: String
    public var allowMismatch: Bool
    public var tolerance: Double
    public var options: DecisionOptions
    /// Output folder; nil = outputs/diffs/<A>__<B>.
    public var outDir: URL?
    public init(workspace: Workspace, a: String, b: String, allowMismatch: Bool = false, tolerance: Double = 0.05,
                options: DecisionOptions = DecisionOptions(), outDir: URL? = nil) {
        self.workspace = workspace; self.a = a; self.b = b; self.allowMismatch = allowMismatch; self.tolerance = tolerance
        self.options = options; self.outDir = outDir
    }
}

public struct DiffResult: Sendable {
    public var diff: CardDiff
    public var dir: URL
}

public enum DiffStage {
    /// A model id (outputs/<id>/card.json exists) or a path to a card file.
    static func resolve(_ arg: String, ws: Workspace) throws -> (label: String?, url: URL) {
        if !arg.contains("/"), !arg.hasSuffix(".json") {
            try Workspace.validateModelID(arg)
            let u = RankStage.cardURL(ws, model: arg)
            guard FileManager.default.fileExists(atPath: u.path) else {
                throw LCError.usage("model '\(arg)' has no card (\(u.path)); give a model id with a card or a path to card.json")
            }
            return (arg, u)
        }
        let u = URL(fileURLWithPath: arg)
        guard FileManager.default.fileExists(atPath: u.path) else { throw LCError.usage("no such card file: \(u.path)") }
        return (nil, u)
    }

    public static func run(_ req: DiffRequest, logger: Logger) throws -> DiffResult {
        guard req.tolerance > 0, req.tolerance.isFinite else { throw LCError.usage("--tolerance must be positive") }
        let (la, ua) = try resolve(req.a, ws: req.workspace), (lb, ub) = try resolve(req.b, ws: req.workspace)
        let A = try LayerCard.load(from: ua), B = try LayerCard.load(from: ub)
        var mismatches: [String] = []
        if A.spec_version != B.spec_version {
            mismatches.append("\(ub.path): field 'spec_version' is \(B.spec_version) but \(ua.path) has \(A.spec_version)")
        }
        if A.layers.count != B.layers.count {
            mismatches.append("\(ub.path): field 'config.num_layers' is \(B.layers.count) but \(ua.path) has \(A.layers.count)")
        }
        if !mismatches.isEmpty && !req.allowMismatch {
            throw LCError.format(path: ub.path, message: "cards are not comparable: " + mismatches.joined(separator: "; ") + " (pass --allow-mismatch to compare the common layers anyway)")
        }
        let nameA = Workspace.modelID(fromRelativePath: la ?? A.model_id), nameB = Workspace.modelID(fromRelativePath: lb ?? B.model_id)
        let sideA = CardSide(label: la ?? ua.path, path: ua.path, model_id: A.model_id, spec_version: A.spec_version, layers: A.layers.count, architecture: A.architecture)
        let sideB = CardSide(label: lb ?? ub.path, path: ub.path, model_id: B.model_id, spec_version: B.spec_version, layers: B.layers.count, architecture: B.architecture)
        let d = try Compare.diff(A, B, sideA: sideA, sideB: sideB, mismatches: mismatches, options: req.options, tolerance: req.tolerance)
        let dir = req.outDir ?? req.workspace.outputsDir.appendingPathComponent("diffs/\(nameA)__\(nameB)", isDirectory: true)
        try AtomicFile.write(try JSON.encode(d), to: dir.appendingPathComponent("diff.json"))
        try AtomicFile.write(Data(DiffReport.markdown(d).utf8), to: dir.appendingPathComponent("diff.md"))
        try AtomicFile.write(Data(DiffReport.html(d, A, B).utf8), to: dir.appendingPathComponent("diff.html"))
        logger.info("diff written", metadata: ["dir": "\(dir.path)", "verdict": "\(d.verdict)", "changed_layers": "\(d.changed_layers)"])
        return DiffResult(diff: d, dir: dir)
    }
}

/// diff.md and diff.html.
public enum DiffReport {
    static func num(_ x: Double?) -> String { x.map { String(format: "%.4g", $0) } ?? "–" }
    static func rel(_ x: Double?) -> String { x.map { String(format: "%+.1f%%", $0 * 100) } ?? "–" }
    /// Changed columns for display: layer columns, then the modules with any changed column.
    static func changedSummary(_ l: LayerDiff) -> String {
        let layerCols = l.changed_columns.filter { !$0.hasPrefix("module ") }
        var mods: [String] = []
        for c in l.changed_columns where c.hasPrefix("module ") {
            let m = String(c.dropFirst(7).split(separator: ".").dropLast().joined(separator: "."))
            if !mods.contains(m) { mods.append(m) }
        }
        return (layerCols + (mods.isEmpty ? [] : ["modules " + mods.joined(separator: " ")])).joined(separator: ", ")
    }

    static let keyColumns = ["grad_norm", "resnorm", "resnorm_lora", "act_energy_mean", "predicted_gain", "cost", "measured_gain"]

    public static func markdown(_ d: CardDiff) -> String {
        var s = "# Layer Card diff: \(d.a.label) → \(d.b.label)\n\n**Verdict: \(d.verdict)** (\(d.verdict_reason)).\n\n"
        s += "A: \(d.a.path) (model \(d.a.model_id), spec v\(d.a.spec_version), \(d.a.layers) layers)  \nB: \(d.b.path) (model \(d.b.model_id), spec v\(d.b.spec_version), \(d.b.layers) layers)  \n"
        s += "Layer 0 = input side. Deltas are B − A; relative = (B − A)/|A|; a layer is flagged when any column changes by more than \(d.tolerance * 100)% (coupling: absolute).\n\n"
        if !d.mismatches.isEmpty { s += "Mismatches accepted (--allow-mismatch):\n" + d.mismatches.map { "- \($0)\n" }.joined() + "\n" }
        s += "## Ranking correlations (Spearman, average ranks for ties)\n\n| column | Spearman | flag |\n|---|---|---|\n"
        for c in d.correlations { s += "| \(c.column) | \(String(format: "%.3f", c.spearman)) | \(c.flagged ? "below 0.8: ranking does not transfer" : "") |\n" }
        s += "\n## Selections (signal \(d.signal.rawValue), same parameters on both cards)\n\n| objective | A layers | B layers | Jaccard | A's set on B (share of B's gain) |\n|---|---|---|---|---|\n"
        for o in d.selections {
            s += "| \(o.objective.rawValue) | \(ReportText.layers(o.a_layers)) | \(ReportText.layers(o.b_layers)) | \(String(format: "%.2f", o.jaccard)) | \(o.transfer.map { ReportText.pct($0) } ?? "–") |\n"
        }
        s += "\n## Changed layers: \(d.changed_layers.isEmpty ? "none" : ReportText.layers(d.changed_layers))\n\n"
        s += "| layer | " + keyColumns.map { "\($0) (rel)" }.joined(separator: " | ") + " | coupling max abs Δ | changed columns |\n|" + String(repeating: "---|", count: keyColumns.count + 3) + "\n"
        for l in d.layers {
            s += "| \(l.layer)\(l.changed ? " ⚑" : "") | " + keyColumns.map { rel(l.columns[$0]?.relative) }.joined(separator: " | ")
            s += " | \(String(format: "%.3g", l.coupling_max_abs_delta)) | \(changedSummary(l)) |\n"
        }
        if !d.modules_only_in_a.isEmpty || !d.modules_only_in_b.isEmpty {
            s += "\nModules only in A: \(d.modules_only_in_a.joined(separator: ", ")); only in B: \(d.modules_only_in_b.joined(separator: ", "))\n"
        }
        s += "\nPer-module deltas of every column are in diff.json.\n"
        return s
    }

    public static func html(_ d: CardDiff, _ A: LayerCard, _ B: LayerCard) -> String {
        let e = SVGPlot.esc
        let n = d.layers.count
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Layer Card diff</title><style>\(ReportHTML.css)</style></head><body>\n"
        h += "<h1>Layer Card diff: \(e(d.a.label)) → \(e(d.b.label))</h1>\n<p><b>Verdict: \(e(d.verdict))</b> (\(e(d.verdict_reason))).</p>\n"
        h += "<p class=\"note\">A: \(e(d.a.path)) · B: \(e(d.b.path)). Layer 0 = input side. Deltas are B − A; a layer is flagged when a column changes by more than \(d.tolerance * 100)%.</p>\n"
        for m in d.mismatches { h += "<p class=\"note\">Mismatch accepted: \(e(m))</p>" }
        h += "<h2>Ranking correlations</h2><table><tr><th>column</th><th>Spearman</th><th>flag</th></tr>"
        for c in d.correlations { h += "<tr><td>\(c.column)</td><td class=\"num\">\(String(format: "%.3f", c.spearman))</td><td>\(c.flagged ? "below 0.8: ranking does not transfer" : "")</td></tr>" }
        h += "</table><h2>Selections (signal \(d.signal.rawValue))</h2><table><tr><th>objective</th><th>A layers</th><th>B layers</th><th>Jaccard</th><th>A's set on B</th></tr>"
        for o in d.selections {
            h += "<tr><td>\(o.objective.rawValue)</td><td>\(ReportText.layers(o.a_layers))</td><td>\(ReportText.layers(o.b_layers))</td><td class=\"num\">\(String(format: "%.2f", o.jaccard))</td><td class=\"num\">\(o.transfer.map { ReportText.pct($0) } ?? "–")</td></tr>"
        }
        h += "</table>\n<h2>Per-layer signals</h2>"
        for (col, f) in [("resnorm", { (s: LayerStats) in s.resnorm }), ("grad_norm", { (s: LayerStats) in s.grad_norm })] {
            h += "<figure>" + SVGPlot.plot(title: "\(col): A vs B", xLabel: "layer (0 = input side)", yLabel: "\(col) (log scale)",
                                           series: [PlotSeries("A \(d.a.model_id)", A.layers.prefix(n).map(f), color: SVGPlot.palette[0]),
                                                    PlotSeries("B \(d.b.model_id)", B.layers.prefix(n).map(f), color: SVGPlot.palette[1])], logY: true) + "</figure>\n"
        }
        h += "<h2>Changed layers: \(d.changed_layers.isEmpty ? "none" : ReportText.layers(d.changed_layers))</h2><table><tr><th>layer</th>"
        h += keyColumns.map { "<th>\($0) (rel)</th>" }.joined() + "<th>coupling max |Δ|</th><th>changed columns</th></tr>"
        for l in d.layers {
            h += "<tr\(l.changed ? " class=\"chosen\"" : "")><td>\(l.layer)</td>" + keyColumns.map { "<td class=\"num\">\(rel(l.columns[$0]?.relative))</td>" }.joined()
            h += "<td class=\"num\">\(String(format: "%.3g", l.coupling_max_abs_delta))</td><td class=\"note\">\(e(changedSummary(l)))</td></tr>"
        }
        h += "</table><p class=\"note\">Per-module deltas of every column are in diff.json.</p></body></html>\n"
        return h
    }
}
