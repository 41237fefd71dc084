// report.html: one self-contained page (inline CSS and SVG; no scripts, fonts or links), readable
// offline and printable. Same sections as report.md plus the plots: per-layer signals, activation
// energy (log), predicted gain share, cost, coupling heatmap, gain-vs-cost scatter with Pareto front.
import Foundation
import LCCard
import LCCore

public enum ReportHTML {
    static func esc(_ s: String) -> String { SVGPlot.esc(s) }

    static let css = """
    body{font-family:sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#222;line-height:1.45}
    h1{font-size:24px;margin-bottom:4px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
    table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
    th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}tr.chosen td{background:#fff4d6;font-weight:bold}
    pre{background:#f6f6f6;padding:8px;font-size:12px;overflow-x:auto}.note{color:#555;font-size:13px}
    .grid{display:flex;flex-wrap:wrap;gap:18px}.card{border:1px solid #e3e3e3;padding:8px 12px;border-radius:4px}
    figure{margin:12px 0}figcaption{font-size:12px;color:#555}
    """

    public static func render(_ r: ReportData) -> String {
        let d = r.decision, c = d.card, T = ReportText.self
        let L = c.layers.count
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Layer Card: \(esc(c.model_id))</title><style>\(css)</style></head><body>\n"
        h += "<h1>Layer Card report: \(esc(c.model_id))</h1>\n"
        h += "<p class=\"note\">Layer 0 = input side (the block next to the embeddings); layer \(L - 1) is next to the LM head. All layer indices below use this convention.</p>\n"

        h += "<h2 id=\"provenance\">Model and data</h2>\n<table>"
        for (k, v) in ReportMarkdown.provenance(r) { h += "<tr><th>\(esc(k))</th><td>\(esc(v))</td></tr>" }
        h += "</table>\n"

        h += "<h2 id=\"recommendation\">Recommended layers</h2>\n"
        h += "<p>Signal <b>\(esc(d.signal.rawValue))</b> (\(esc(d.signalSource))); why: \(esc(d.signalReason)). Target modules <code>\(esc(d.modules.joined(separator: ",")))</code>; parameters from \(esc(r.optionsSource)). "
        h += "Gain is the share of gain(all layers) under the quadratic model; cost is the analytic training-step cost relative to adapters at every layer.</p>\n"
        h += "<table><tr><th>objective</th><th>layers</th><th>gain share</th><th>cost / cost(all)</th><th>speedup</th><th>method</th></tr>"
        for s in d.selections {
            h += "<tr><td>\(s.objective.rawValue)</td><td>\(T.layers(s.chosen.layers))</td><td class=\"num\">\(esc(T.fraction(s.chosen)))</td><td class=\"num\">\(T.pct(s.chosen.cost_fraction))</td><td class=\"num\">\(T.pct(s.chosen.speedup))</td><td class=\"note\">\(esc(s.method))</td></tr>"
        }
        h += "</table>\n<div class=\"grid\">"
        for s in d.selections {
            h += "<div class=\"card\"><h3>\(s.objective.rawValue): layers \(T.layers(s.chosen.layers))</h3><table><tr><th>strategy (layers)</th><th>gain share</th><th>cost / all</th><th>speedup</th></tr>"
            h += "<tr class=\"chosen\"><td>\(s.objective.rawValue) \(T.layers(s.chosen.layers))</td><td class=\"num\">\(esc(T.fraction(s.chosen)))</td><td class=\"num\">\(T.pct(s.chosen.cost_fraction))</td><td class=\"num\">\(T.pct(s.chosen.speedup))</td></tr>"
            for b in s.baselines {
                h += "<tr><td>\(esc(T.strategy(b)))</td><td class=\"num\">\(esc(T.fraction(b)))</td><td class=\"num\">\(T.pct(b.cost_fraction))</td><td class=\"num\">\(T.pct(b.speedup))</td></tr>"
            }
            h += "</table><p class=\"note\">PEFT adapter_config.json (outputs/\(esc(c.model_id))/peft/\(s.objective.rawValue)/):</p><pre>\(esc(r.peftJSON[s.objective] ?? ""))</pre></div>\n"
        }
        h += "</div>\n"

        h += "<h2 id=\"layers\">Per-layer statistics</h2>\n"
        let sc = d.signalCard.layers
        h += figure(SVGPlot.plot(title: "Residual signal per layer", xLabel: "layer (0 = input side)", yLabel: "norm (gradient units)",
                                 series: [PlotSeries("resnorm", sc.map { $0.resnorm }, color: SVGPlot.palette[0]),
                                          PlotSeries("grad_norm", sc.map { $0.grad_norm }, color: SVGPlot.palette[1]),
                                          PlotSeries("resnorm_lora", sc.map { $0.resnorm_lora }, color: SVGPlot.palette[2])], logY: true),
                    "resnorm = ||G (C+λI)^-1/2||_F (input-whitened), grad_norm = ||G||_F, resnorm_lora = what a rank-\(c.parameters.lora_rank) LoRA at init can capture; layer aggregates over the target modules, log scale.")
        var energy: [PlotSeries] = []
        for (i, m) in cardModules(c).enumerated() {
            var v = [Double?](repeating: nil, count: L)
            for s in c.modules where s.module == m { v[s.layer] = s.act_energy }
            energy.append(PlotSeries(m, v, color: SVGPlot.palette[i % SVGPlot.palette.count]))
        }
        h += figure(SVGPlot.plot(title: "Activation energy per module input", xLabel: "layer (0 = input side)", yLabel: "tr(C) = mean ||a_t||^2 (log scale)",
                                 series: energy, logY: true),
                    "Mean squared norm of each module's input activation over all token positions. Modules sharing an input (q/k/v, gate/up) coincide.")
        var gainSeries = [PlotSeries("predicted gain share", r.predictedShare.map { $0 * 100 }, color: SVGPlot.palette[0], style: .bars)]
        let ga = d.selector.gainAll
        if d.signal != .predicted_gain {
            gainSeries.append(PlotSeries("\(d.signal.rawValue): gain({l}) share", (0..<L).map { ga > 0 ? d.selector.gain.gain([$0]) / ga * 100 : 0 },
                                         color: SVGPlot.palette[3], style: .bars))
        }
        h += figure(SVGPlot.plot(title: "Single-layer gain as a share of gain(all layers)", xLabel: "layer (0 = input side)", yLabel: "% of gain(all)",
                                 series: gainSeries),
                    "predicted_gain = ½·resnorm² is in quadratic-model units; shown only as a share of gain(all) under the same signal. Shares can sum to more than 100% because coupled layers overlap.")
        let ca = d.selector.cost.costAll
        var costSeries = [PlotSeries("cost(adapters only at l) / cost(all)", sc.map { ca > 0 ? $0.cost / ca * 100 : 0 }, color: SVGPlot.palette[4])]
        let maxAct = sc.map(\.activation_bytes_per_token).max() ?? 0
        if maxAct > 0 {
            costSeries.append(PlotSeries("activation memory kept / max", sc.map { $0.activation_bytes_per_token / maxAct * 100 }, color: SVGPlot.palette[5]))
        }
        h += figure(SVGPlot.plot(title: "Training-step cost with adapters only at layer l", xLabel: "layer (0 = input side)", yLabel: "% (relative)",
                                 series: costSeries, yMin: 0),
                    "Analytic FLOPs per token (\(esc(c.cost_model.unit))): forward of the whole model + backward down to l + adapter gradients, relative to adapters at every layer; activation memory retained for layers ≥ l.")

        if let p = r.probe {
            h += probeSection(p, r)
        } else if let corr = ReportMarkdown.measuredCorrelations(c) {
            h += "<h2 id=\"measured\">Measured performance</h2>\n"
            let ms = c.layers.map { $0.measured_gain ?? 0 }
            h += figure(SVGPlot.plot(title: "Measured single-layer LoRA gain (probe)", xLabel: "layer (0 = input side)",
                                     yLabel: "held-out loss decrease (nats)", series: [PlotSeries("measured_gain", ms, color: SVGPlot.palette[2], style: .bars)]),
                        "Held-out loss decrease of a LoRA adapter trained at one layer at a time (spec section 5).")
            h += "<table><tr><th>signal</th><th>Spearman with measured_gain</th></tr>"
            for (k, v) in corr { h += "<tr><td>\(esc(k))</td><td class=\"num\">\(String(format: "%.3f", v))</td></tr>" }
            h += "</table>\n"
        }
        h += "<h2 id=\"coupling\">Coupling</h2>\n<p>\(esc(ReportMarkdown.couplingSummary(c)))</p>\n"
        h += figure(SVGPlot.heatmap(title: "Layer coupling (cosine of effects on the final hidden state)", matrix: c.coupling,
                                    xLabel: "layer m (0 = input side)", yLabel: "layer l (0 = input side)", colorbarLabel: "coupling[l][m] (cosine)"),
                    "Symmetric, unit diagonal. Large values mean two layers move the output the same way, so adapting both adds little over one.")

        h += "<h2 id=\"pareto\">Gain vs cost</h2>\n"
        let pts = ReportMarkdown.strategyPoints(r)
        h += figure(SVGPlot.scatter(title: "gain(S) vs cost(S) for every strategy (signal \(d.signal.rawValue))", xLabel: "cost(S) / cost(all layers)",
                                    yLabel: "gain(S) / gain(all layers)", cloud: r.cloud, markers: pts),
                    "Grey: the \(r.cloud.count) sets searched by the cost and balanced objectives (for each lowest layer m, greedy by gain). Dashed: their Pareto front (no other set is both cheaper and better). Baselines at k = \(d.selections.first?.chosen.layers.count ?? 0) (the performance selection's size).")

        let hasForward = ReportMarkdown.hasForwardColumns(c)
        h += "<h2 id=\"table\">Per-layer table</h2>\n<table><tr><th>layer</th><th>grad_norm</th><th>resnorm</th><th>resnorm_lora</th><th>act_energy (mean)</th><th>predicted_gain (model units)</th><th>cost / cost(all)</th>\(hasForward ? "<th>block_influence</th><th>act_norm</th>" : "")<th>measured_gain</th></tr>"
        for (l, st) in sc.enumerated() {
            let fwd = hasForward ? "<td class=\"num\">\(st.block_influence.map(T.sci) ?? "–")</td><td class=\"num\">\(st.act_norm.map(T.sci) ?? "–")</td>" : ""
            h += "<tr><td>\(l)</td><td class=\"num\">\(T.sci(st.grad_norm))</td><td class=\"num\">\(T.sci(st.resnorm))</td><td class=\"num\">\(T.sci(st.resnorm_lora))</td><td class=\"num\">\(T.sci(st.act_energy_mean))</td><td class=\"num\">\(T.sci(st.predicted_gain))</td><td class=\"num\">\(T.pct(ca > 0 ? st.cost / ca : 0))</td>\(fwd)<td class=\"num\">\(st.measured_gain.map(T.sci) ?? "–")</td></tr>"
        }
        h += "</table>\n"

        h += "<h2 id=\"caveats\">Caveats</h2>\n<ul>" + ReportText.caveats.map { "<li>\(esc($0))</li>" }.joined() + "</ul>\n"
        h += "<p class=\"note\">Generated by layercard \(ToolInfo.version) from \(esc(r.cardPath)).</p>\n</body></html>\n"
        return h
    }

    /// The probe's section: verdict, measured-vs-predicted plot, measured strategy table, correlations, notes.
    static func probeSection(_ p: ReportProbe, _ r: ReportData) -> String {
        let d = r.decision, T = ReportText.self
        var h = "<h2 id=\"measured\">Measured performance (probe)</h2>\n"
        h += "<p id=\"probe-verdict\"><b>Verdict.</b> \(esc(p.verdict(current: d.selections.first { $0.objective == .performance }?.chosen.layers)))</p>\n"
        if let w = p.warning { h += "<p class=\"note\"><b>Warning:</b> \(esc(w))</p>\n" }
        h += "<p class=\"note\">From \(esc(p.source)). Probed \(p.measured.count) of \(p.layerCount) layers \(T.layers(p.measuredLayers))"
        h += p.settings.map { "; \(esc($0))" } ?? ""
        h += ". Held-out gain = eval loss before − after a short LoRA fine-tune (nats per target token); s/step = median seconds per training step.</p>\n"
        let palette = [SVGPlot.palette[2], SVGPlot.palette[1], SVGPlot.palette[0]]
        let series = p.scaledSeries(d.signalCard.layers).enumerated().map { i, s in
            PlotSeries(i == 0 ? "measured_gain (probe)" : "\(s.name) (card)", s.values, color: palette[i], style: i == 0 ? .bars : .line)
        }
        h += figure(SVGPlot.plot(title: "Measured vs predicted per layer (each series / its maximum)", xLabel: "layer (0 = input side)",
                                 yLabel: "value / largest value of the series", series: series),
                    "Bars: the probe's measured single-layer LoRA gain, divided by its largest magnitude over the probed layers (no bar = layer not probed). Lines: the card's grad_norm and predicted_gain, each divided by its maximum over all layers. Only the shapes are comparable, not the units.")
        if !p.sets.isEmpty {
            h += "<h3>Strategies, measured (k = \(p.k))</h3>\n<table><tr><th>set</th><th>layers</th><th>held-out gain (nats/token)</th><th>% of all-layer gain</th><th>s/step</th><th>speed-up vs all layers</th></tr>"
            for x in p.sets {
                let layers = x.name == "random-k" ? "mean of \(x.draws ?? 1) random draws" : T.layers(x.layers)
                h += "<tr\(x.isCardChoice ? " class=\"chosen\"" : "")><td>\(esc(x.name.replacingOccurrences(of: "-k", with: "-\(x.layers.count)")))\(x.isCardChoice ? " (card)" : "")</td><td>\(esc(layers))</td>"
                h += "<td class=\"num\">\(ReportProbe.gainText(x.gain))</td><td class=\"num\">\(x.gainFraction.map(T.pct) ?? "–")</td>"
                h += "<td class=\"num\">\(String(format: "%.3f", x.stepSeconds))</td><td class=\"num\">\(x.speedup.map { String(format: "%.2f×", $0) } ?? "–")</td></tr>"
            }
            h += "</table>\n"
        }
        if !p.correlations.isEmpty {
            h += "<h3>How well the card's signals predicted the measurement</h3>\n<table><tr><th>signal</th><th>Spearman ρ with measured_gain</th><th>p (two-sided)</th><th>n layers</th></tr>"
            for c in p.correlations {
                h += "<tr><td>\(esc(c.signal))</td><td class=\"num\">\(c.spearman.map { String(format: "%.3f", $0) } ?? "– (constant)")</td><td class=\"num\">\(c.p_value.map { String(format: "%.3g", $0) } ?? "–")</td><td class=\"num\">\(c.n)</td></tr>"
            }
            h += "</table>\n"
        }
        if !p.notes.isEmpty { h += "<ul class=\"note\">" + p.notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>\n" }
        return h
    }

    static func figure(_ svg: String, _ caption: String) -> String {
        "<figure>\(svg)<figcaption>\(caption)</figcaption></figure>\n"
    }

    /// Module names in block order: the architecture's, restricted to those on the card.
    static func cardModules(_ c: LayerCard) -> [String] {
        var seen: [String] = []
        for m in c.modules where !seen.contains(m.module) { seen.append(m.module) }
        return seen
    }
}
