// report.md: the same content as report.html as text tables (the plots are in report.html).
// Sections: model and data, recommended layers (+ PEFT snippet), baselines, per-layer table,
// coupling summary, gain vs cost, caveats. Deliberately no embedded images.
import Foundation
import LCCard
import LCCore

public enum ReportMarkdown {
    public static func render(_ r: ReportData) -> String {
        let d = r.decision, c = d.card, T = ReportText.self
        var s = "# Layer Card report: \(c.model_id)\n\n"
        s += "Layer 0 = input side (next to the embeddings); layer \(c.layers.count - 1) is next to the LM head. Plots: report.html.\n\n"
        s += "## Model and data\n\n| | |\n|---|---|\n"
        for (k, v) in provenance(r) { s += "| \(k) | \(v.replacingOccurrences(of: "|", with: "\\|")) |\n" }
        s += "\n## Recommended layers\n\n"
        s += "Signal: `\(d.signal.rawValue)` (\(d.signalSource)); why: \(d.signalReason). Target modules: `\(d.modules.joined(separator: ","))`. "
        s += "gain(all) = \(T.sci(d.selector.gainAll)) (quadratic-model units); cost(all) = \(T.sci(d.selector.cost.costAll)) \(d.selector.cost.unit). Parameters: \(r.optionsSource).\n\n"
        s += "| objective | layers | gain share | cost / cost(all) | speedup | method |\n|---|---|---|---|---|---|\n"
        for sel in d.selections {
            s += "| \(sel.objective.rawValue) | \(T.layers(sel.chosen.layers)) | \(T.fraction(sel.chosen)) | \(T.pct(sel.chosen.cost_fraction)) | \(T.pct(sel.chosen.speedup)) | \(sel.method) |\n"
        }
        for sel in d.selections {
            s += "\n### \(sel.objective.rawValue): layers \(T.layers(sel.chosen.layers))\n\n"
            s += "| strategy | gain share | cost / cost(all) | speedup |\n|---|---|---|---|\n"
            s += "| **\(sel.objective.rawValue) \(T.layers(sel.chosen.layers))** | \(T.fraction(sel.chosen)) | \(T.pct(sel.chosen.cost_fraction)) | \(T.pct(sel.chosen.speedup)) |\n"
            for b in sel.baselines {
                s += "| \(T.strategy(b)) | \(T.fraction(b)) | \(T.pct(b.cost_fraction)) | \(T.pct(b.speedup)) |\n"
            }
            s += "\nPEFT `adapter_config.json` (outputs/\(c.model_id)/peft/\(sel.objective.rawValue)/):\n\n```json\n\(r.peftJSON[sel.objective] ?? "")```\n"
        }
        s += "\n## Per-layer statistics\n\n"
        let hasMeasured = c.layers.contains { $0.measured_gain != nil }
        let hasForward = hasForwardColumns(c)
        s += "| layer | grad_norm | resnorm | resnorm_lora | act_energy (mean) | predicted_gain (model units) | cost / cost(all) |\(hasForward ? " block_influence | act_norm |" : "")\(hasMeasured ? " measured_gain |" : "")\n"
        s += "|---|---|---|---|---|---|---|\(hasForward ? "---|---|" : "")\(hasMeasured ? "---|" : "")\n"
        for (l, st) in d.signalCard.layers.enumerated() {
            s += "| \(l) | \(T.sci(st.grad_norm)) | \(T.sci(st.resnorm)) | \(T.sci(st.resnorm_lora)) | \(T.sci(st.act_energy_mean)) | \(T.sci(st.predicted_gain)) | \(T.pct(st.cost / max(d.selector.cost.costAll, 1e-300))) |"
            if hasForward { s += " \(st.block_influence.map(T.sci) ?? "") | \(st.act_norm.map(T.sci) ?? "") |" }
            s += hasMeasured ? " \(st.measured_gain.map(T.sci) ?? "") |\n" : "\n"
        }
        if let p = r.probe {
            s += probeSection(p, r)
        } else if let corr = measuredCorrelations(c) {
            s += "\n## Measured performance\n\nSpearman rank correlation of the probe's measured_gain with each cheap signal (which signal to trust for this model and data):\n\n| signal | Spearman with measured_gain |\n|---|---|\n"
            for (k, v) in corr { s += "| \(k) | \(String(format: "%.3f", v)) |\n" }
        }
        s += "\n## Coupling\n\n" + couplingSummary(c) + "\n"
        s += "\n## Gain vs cost\n\nEvery strategy as (cost(S)/cost(all), gain(S)/gain(all)); the Pareto front and the \(r.cloud.count) searched sets are plotted in report.html.\n\n"
        s += "| # | strategy | cost / cost(all) | gain share | on the Pareto front |\n|---|---|---|---|---|\n"
        let front = SVGPlot.paretoFront(r.cloud + strategyPoints(r).map { ($0.x, $0.y) })
        for (i, m) in strategyPoints(r).enumerated() {
            let onFront = front.contains { abs($0.x - m.x) < 1e-12 && abs($0.y - m.y) < 1e-12 }
            let band = d.selections.first?.chosen.gain_fraction_band
            s += "| \(i + 1) | \(m.label) | \(T.pct(m.x)) | \(T.fraction(predicted: m.y, band: band, measured: nil)) | \(onFront ? "yes" : "no") |\n"
        }
        s += "\n## Caveats\n\n" + ReportText.caveats.map { "- \($0)" }.joined(separator: "\n") + "\n"
        return s
    }

    /// The probe's section: verdict, measured vs predicted per probed layer, measured strategy table, correlations.
    static func probeSection(_ p: ReportProbe, _ r: ReportData) -> String {
        let d = r.decision, T = ReportText.self
        var s = "\n## Measured performance (probe)\n\n"
        s += "**Verdict.** " + p.verdict(current: d.selections.first { $0.objective == .performance }?.chosen.layers) + "\n\n"
        if let w = p.warning { s += "**Warning:** \(w)\n\n" }
        s += "From \(p.source). Probed \(p.measured.count) of \(p.layerCount) layers \(T.layers(p.measuredLayers))"
        s += (p.settings.map { "; \($0)" } ?? "") + ". Held-out gain = eval loss before − after a short LoRA fine-tune (nats per target token); s/step = median seconds per training step.\n"
        if !p.sets.isEmpty {
            s += "\n### Strategies, measured (k = \(p.k))\n\n| set | layers | held-out gain (nats/token) | % of all-layer gain | s/step | speed-up vs all layers |\n|---|---|---|---|---|---|\n"
            for x in p.sets {
                let name = x.name.replacingOccurrences(of: "-k", with: "-\(x.layers.count)") + (x.isCardChoice ? " (card)" : "")
                let layers = x.name == "random-k" ? "mean of \(x.draws ?? 1) random draws" : T.layers(x.layers)
                s += "| \(x.isCardChoice ? "**\(name)**" : name) | \(layers) | \(ReportProbe.gainText(x.gain)) | \(x.gainFraction.map(T.pct) ?? "–") | "
                    + "\(String(format: "%.3f", x.stepSeconds)) | \(x.speedup.map { String(format: "%.2f×", $0) } ?? "–") |\n"
            }
        }
        s += "\n### Measured vs predicted per layer\n\nEach column divided by its largest magnitude (measured_gain over the probed layers, the card's columns over all layers); the plot is in report.html.\n\n"
        s += "| layer | measured_gain (nats/token) | measured / max | grad_norm / max | predicted_gain / max |\n|---|---|---|---|---|\n"
        let sc = p.scaledSeries(d.signalCard.layers)
        for l in p.measuredLayers {
            s += "| \(l) | \(ReportProbe.gainText(p.measured[l] ?? 0)) | " + sc.map { (l < $0.values.count ? $0.values[l] : nil).map { String(format: "%.3f", $0) } ?? "–" }.joined(separator: " | ") + " |\n"
        }
        if !p.correlations.isEmpty {
            s += "\n### How well the card's signals predicted the measurement\n\n| signal | Spearman ρ with measured_gain | p (two-sided) | n layers |\n|---|---|---|---|\n"
            for c in p.correlations {
                s += "| \(c.signal) | \(c.spearman.map { String(format: "%.3f", $0) } ?? "– (constant)") | \(c.p_value.map { String(format: "%.3g", $0) } ?? "–") | \(c.n) |\n"
            }
        }
        if !p.notes.isEmpty { s += "\n" + p.notes.map { "- note: \($0)" }.joined(separator: "\n") + "\n" }
        return s
    }

    /// Key/value provenance rows.
    public static func provenance(_ r: ReportData) -> [(String, String)] {
        let c = r.decision.card, p = c.parameters
        return [("model id", c.model_id), ("architecture", "\(c.architecture), \(c.config.numLayers) layers, hidden \(c.config.hiddenSize)"),
                ("model fingerprint (weight store SHA-256)", c.model_fingerprint),
                ("reference data", "\(c.dataset.path) (\(c.dataset.records) records, \(c.dataset.kind), SHA-256 \(c.dataset.sha256))"),
                ("tokens / mean loss", "\(c.tokens) / \(String(format: "%.4f", c.loss)) nats"),
                ("card parameters", "max_tokens \(p.max_tokens), batch \(p.batch), LoRA rank \(p.lora_rank) (seed \(p.lora_seed)), lambda_rel \(p.lambda_rel), precision \(p.precision), threads \(p.threads)"),
                ("coupling method", p.coupling_method),
                ("cost model", "\(c.cost_model.unit); adapter term \(ReportText.sci(c.cost_model.adapter_flops_per_token)); measured layers \(c.cost_model.measured_layers.isEmpty ? "none (analytic)" : "\(c.cost_model.measured_layers)")"),
                ("card", "\(r.cardPath) (SHA-256 \(r.cardSHA256))"),
                ("spec / tool version", "spec v\(c.spec_version), card written by \(c.tool_version), report by \(ToolInfo.version)")]
    }

    /// Objectives and the performance selection's baselines, as scatter points.
    public static func strategyPoints(_ r: ReportData) -> [PlotMarker] {
        let d = r.decision
        var out: [PlotMarker] = []
        for (i, s) in d.selections.enumerated() {
            out.append(PlotMarker(label: "\(s.objective.rawValue) \(ReportText.layers(s.chosen.layers))", x: s.chosen.cost_fraction,
                                  y: s.chosen.gain_fraction, color: SVGPlot.palette[i % 3 == 0 ? 1 : (i % 3 == 1 ? 2 : 3)]))
        }
        if let first = d.selections.first {
            for (i, b) in first.baselines.enumerated() {
                out.append(PlotMarker(label: ReportText.strategy(b), x: b.cost_fraction, y: b.gain_fraction,
                                      color: SVGPlot.palette[4 + i % 6]))
            }
        }
        return out
    }

    /// Spearman of measured_gain with each cheap signal (spec §5), when every layer was probed.
    public static func measuredCorrelations(_ c: LayerCard) -> [(String, Double)]? {
        let m = c.layers.compactMap(\.measured_gain)
        guard m.count == c.layers.count, m.count > 1 else { return nil }
        var cols = [("grad_norm", c.layers.map(\.grad_norm)), ("resnorm", c.layers.map(\.resnorm)),
                    ("resnorm_lora", c.layers.map(\.resnorm_lora)), ("act_energy (layer mean)", c.layers.map(\.act_energy_mean))]
        if hasForwardColumns(c) {
            cols += [("block_influence", c.layers.compactMap(\.block_influence)), ("act_norm", c.layers.compactMap(\.act_norm))]
        }
        return cols.map { ($0.0, Compare.spearman(m, $0.1)) }
    }

    /// True when every layer carries the forward-only columns (cards profiled before them have none).
    public static func hasForwardColumns(_ c: LayerCard) -> Bool {
        !c.layers.isEmpty && c.layers.allSatisfy { $0.block_influence != nil && $0.act_norm != nil }
    }

    static func couplingSummary(_ c: LayerCard) -> String {
        let L = c.coupling.count
        guard L > 1 else { return "One layer: no coupling." }
        let adj = (0..<(L - 1)).map { c.coupling[$0][$0 + 1] }
        var far: [Double] = []
        for i in 0..<L { for j in (i + 1)..<L where j - i >= 4 { far.append(c.coupling[i][j]) } }
        let mean = { (a: [Double]) in a.isEmpty ? 0 : a.reduce(0, +) / Double(a.count) }
        return "Cosine overlap of the layers' effects on the final hidden state (spec section 3). Mean between adjacent layers: "
            + String(format: "%.3f", mean(adj)) + " (max " + String(format: "%.3f", adj.max() ?? 0) + "); mean between layers 4 or more apart: "
            + String(format: "%.3f", mean(far)) + "."
    }
}
