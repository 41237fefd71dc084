// The probe's measured numbers as the report shows them (spec §5): from outputs/<id>/probe.json, else from the
// card's `probe` object. Builds the strategy table (set, layers, held-out gain, % of the all-layer gain, s/step,
// speed-up), the measured-vs-predicted series and a plain verdict that states whichever won, the card's choice or
// a baseline. Shared by report.md and report.html; no I/O beyond reading probe.json in `load`.
import Foundation
import LCCard
import LCCore

/// One row of the measured strategy table.
public struct ReportProbeSet: Sendable, Equatable {
    public var name: String
    public var layers: [Int]
    public var gain: Double
    public var gainFraction: Double?
    public var stepSeconds: Double
    public var speedup: Double?
    /// random-k: number of draws averaged.
    public var draws: Int?
    public var source: String?
    /// performance / cost / balanced: a layer choice of the card (rank stage), not a baseline.
    public var isCardChoice: Bool { ReportProbe.choiceNames.contains(name) }
    public var isBaseline: Bool { name.hasSuffix("-k") }

    /// "top-5 [25-29]", "random-5 (mean of 3 draws)", "performance [3, 7]", "all [0-29]".
    public var label: String {
        let k = layers.count
        if name == "random-k" { return "random-\(k) (mean of \(draws ?? 1) draw\((draws ?? 1) == 1 ? "" : "s"))" }
        return name.replacingOccurrences(of: "-k", with: "-\(k)") + " " + ReportText.layers(layers)
    }
}

public struct ReportProbe: Sendable {
    static let choiceNames = ["performance", "cost", "balanced"]
    /// Where the numbers came from, for the reader.
    public var source: String
    public var layerCount: Int
    /// Probed layer → measured_gain (nats/token) and median s/step of its single-layer run.
    public var measured: [Int: Double]
    public var stepSeconds: [Int: Double]
    public var k: Int
    public var sets: [ReportProbeSet]
    public var correlations: [CardProbeCorrelation]
    public var notes: [String]
    /// Steps, batch, LoRA rank/alpha/lr in words (nil when unknown).
    public var settings: String?
    /// Set when probe.json was measured on another weight store than the card.
    public var warning: String?

    public var measuredLayers: [Int] { measured.keys.sorted() }
    public var isPartial: Bool { measured.count < layerCount }

    public init(source: String, layerCount: Int, measured: [Int: Double], stepSeconds: [Int: Double], k: Int, sets: [ReportProbeSet],
                correlations: [CardProbeCorrelation], notes: [String] = [], settings: String? = nil, warning: String? = nil) {
        self.source = source; self.layerCount = layerCount; self.measured = measured; self.stepSeconds = stepSeconds; self.k = k
        self.sets = sets; self.correlations = correlations; self.notes = notes; self.settings = settings; self.warning = warning
    }

    /// From a probe.json report without a card (the probe command's own summary): L from the all-layer set, else
    /// the highest probed layer.
    public init(report r: ProbeReport) {
        let L = r.sets.first { $0.name == "all" }?.layers.count ?? ((r.measured_layers.max() ?? -1) + 1)
        var m: [Int: Double] = [:], t: [Int: Double] = [:]
        for x in r.layers { if let l = x.layers.first { m[l] = x.gain; t[l] = x.step_seconds } }
        self.init(source: "probe", layerCount: L, measured: m, stepSeconds: t, k: r.k,
                  sets: r.sets.map { ReportProbeSet(name: $0.name, layers: $0.layers, gain: $0.gain, gainFraction: $0.gain_fraction,
                                                    stepSeconds: $0.step_seconds, speedup: $0.speedup, draws: $0.draws?.count, source: $0.source) },
                  correlations: r.correlations.map { CardProbeCorrelation(signal: $0.signal, spearman: $0.spearman, p_value: $0.p_value, n: $0.n) },
                  notes: r.notes)
    }

    /// From a probe.json report.
    public init(report r: ProbeReport, card: LayerCard, source: String) {
        var m: [Int: Double] = [:], t: [Int: Double] = [:]
        for x in r.layers { if let l = x.layers.first { m[l] = x.gain; t[l] = x.step_seconds } }
        let sets = r.sets.map {
            ReportProbeSet(name: $0.name, layers: $0.layers, gain: $0.gain, gainFraction: $0.gain_fraction, stepSeconds: $0.step_seconds,
                           speedup: $0.speedup, draws: $0.draws?.count, source: $0.source)
        }
        let corr = r.correlations.map { CardProbeCorrelation(signal: $0.signal, spearman: $0.spearman, p_value: $0.p_value, n: $0.n) }
        let s = r.settings
        let settings = "\(s.steps) Adam steps, batch \(s.batch), LoRA rank \(s.lora.rank), alpha \(ReportText.sci(s.lora.alpha)), lr \(ReportText.sci(s.lora.lr)); "
            + "train \(r.dataset.train_records) / eval \(r.dataset.eval_records) records; eval loss before \(String(format: "%.4f", r.eval_loss_before)) nats"
        let warn = r.model_fingerprint == card.model_fingerprint ? nil
            : "probe.json was measured on weight store \(r.model_fingerprint), the card on \(card.model_fingerprint): the numbers may not belong to this card."
        self.init(source: source, layerCount: card.layers.count, measured: m, stepSeconds: t, k: r.k, sets: sets, correlations: corr,
                  notes: r.notes, settings: settings, warning: warn)
    }

    /// From the card's `probe` object and measured columns.
    public init(card: LayerCard, probe p: CardProbe, source: String) {
        var m: [Int: Double] = [:], t: [Int: Double] = [:]
        for l in card.layers {
            if let g = l.measured_gain { m[l.layer] = g }
            if let s = l.probe_step_seconds { t[l.layer] = s }
        }
        let sets = p.sets.map {
            ReportProbeSet(name: $0.name, layers: $0.layers, gain: $0.gain, gainFraction: $0.gain_fraction, stepSeconds: $0.step_seconds,
                           speedup: $0.speedup, draws: $0.draws?.count, source: $0.source)
        }
        self.init(source: source, layerCount: card.layers.count, measured: m, stepSeconds: t, k: p.k, sets: sets,
                  correlations: p.correlations, notes: p.notes,
                  settings: "eval loss before \(String(format: "%.4f", p.eval_loss_before)) nats")
    }

    /// outputs/<id>/probe.json when it decodes and names this model, else the card's probe object, else nil.
    public static func load(_ ws: Workspace, id: String, card: LayerCard) -> ReportProbe? {
        let u = ProbeStage.reportURL(ws, model: id)
        var fallbackNote: String?
        if FileManager.default.fileExists(atPath: u.path) {
            do {
                let r = try JSON.decode(ProbeReport.self, from: u)
                if r.model_id == card.model_id { return ReportProbe(report: r, card: card, source: u.path) }
                fallbackNote = "\(u.path) is for model \(r.model_id), not \(card.model_id): ignored"
            } catch { fallbackNote = "\(u.path) could not be read (\(error)): ignored" }
        }
        guard let p = card.probe else { return nil }
        var out = ReportProbe(card: card, probe: p, source: "the card's probe object (no usable probe.json)")
        if let n = fallbackNote { out.notes.insert(n, at: 0) }
        return out
    }

    static func pct(_ x: Double) -> String { ReportText.pct(x) }
    static func secs(_ x: Double) -> String { String(format: x >= 0.1 ? "%.3f s" : "%.3g s", x) }
    public static func gainText(_ x: Double) -> String { String(format: "%.5f", x) }

    /// The verdict paragraph: the card's choice (performance, else the first choice measured) against all layers
    /// and against the best baseline at the same k, in plain words, whichever won.
    /// - Parameter current: the rank stage's current performance layers, to say when the probe measured another set.
    public func verdict(current: [Int]? = nil) -> String {
        let all = sets.first { $0.name == "all" }
        let baselines = sets.filter(\.isBaseline)
        let best = baselines.max { $0.gain < $1.gain }
        var out: [String] = []
        func share(_ s: ReportProbeSet) -> String {
            s.gainFraction.map { "\(ReportProbe.pct($0)) of the all-layer gain" } ?? "a held-out gain of \(ReportProbe.gainText(s.gain)) nats/token"
        }
        let choices = sets.filter(\.isCardChoice)
        if let choice = choices.first(where: { $0.name == "performance" }) ?? choices.first {
            var s = "On this model and data, the card's \(choice.name) choice \(ReportText.layers(choice.layers)) reached \(share(choice)) "
                + "with \(choice.layers.count) of \(layerCount) layers"
            if let all, all.stepSeconds > 0, choice.stepSeconds > 0 {
                let saved = 1 - choice.stepSeconds / all.stepSeconds
                s += saved >= 0
                    ? ", \(ReportProbe.pct(saved)) less time per step than all layers (\(ReportProbe.secs(choice.stepSeconds)) vs \(ReportProbe.secs(all.stepSeconds)), \(String(format: "%.2f", all.stepSeconds / choice.stepSeconds))× speed-up)"
                    : ", \(ReportProbe.pct(-saved)) more time per step than all layers (\(ReportProbe.secs(choice.stepSeconds)) vs \(ReportProbe.secs(all.stepSeconds)))"
            } else if all == nil {
                s += " (no all-layer run, so no share of the all-layer gain or speed-up)"
            }
            if let all, all.gain <= 0 {
                s += " (all-layer LoRA did not lower the held-out loss here, gain \(ReportProbe.gainText(all.gain)) nats/token, so no shares)"
            }
            if let b = best {
                s += "; the best baseline was \(b.label) at \(share(b))"
                if b.gain > choice.gain {
                    let by = (b.gainFraction != nil && choice.gainFraction != nil)
                        ? String(format: "%.1f percentage points", (b.gainFraction! - choice.gainFraction!) * 100)
                        : "\(ReportProbe.gainText(b.gain - choice.gain)) nats/token"
                    s += ", so a baseline beat the card's choice (by \(by))."
                } else if b.gain == choice.gain {
                    s += ", equal to the card's choice."
                } else {
                    s += ", below the card's choice."
                }
            } else {
                s += "; no baseline was run."
            }
            out.append(s)
            for other in choices where other.name != choice.name {
                out.append("The card's \(other.name) choice \(ReportText.layers(other.layers)) reached \(share(other))"
                           + (other.speedup.map { " at \(String(format: "%.2f", $0))× the all-layer step speed" } ?? "") + ".")
            }
            if let current, current.sorted() != choice.layers.sorted(), choice.name == "performance" {
                out.append("The rank stage's performance choice is now \(ReportText.layers(current)), not the \(ReportText.layers(choice.layers)) the probe measured; re-run the probe to measure it.")
            }
        } else if sets.isEmpty {
            out.append("The probe ran no layer sets, only single-layer runs: there is no measured comparison of the card's choice with the baselines.")
        } else {
            var s = "The probe did not run the card's choices (no selection files when it ran: run `layercard rank` first, then the probe)."
            if let b = best { s += " The best baseline was \(b.label) at \(share(b))." }
            out.append(s)
        }
        if isPartial {
            out.append("The probe measured \(measured.count) of \(layerCount) layers \(ReportText.layers(measuredLayers)), so rank's default signal stays grad_norm (measured_gain is the default only when every layer was probed).")
        }
        // Ranking needs a signal that orders layers like the measurement: the largest signed ρ, not |ρ|.
        let defined = correlations.filter { $0.spearman != nil }
        if let top = defined.max(by: { $0.spearman! < $1.spearman! }) {
            let rho = { (c: CardProbeCorrelation) in String(format: "%.2f", c.spearman!) + (c.p_value.map { String(format: ", p = %.2g", $0) } ?? "") }
            var s = top.spearman! > 0
                ? "Over the \(top.n) probed layers the card's signal that best ranked layers like measured_gain was \(top.signal) (Spearman ρ = \(rho(top)))"
                : "Over the \(top.n) probed layers none of the card's signals ranked layers like measured_gain (best Spearman ρ: \(top.signal), \(rho(top)))"
            if let g = defined.first(where: { $0.signal == "grad_norm" }), g.signal != top.signal { s += "; grad_norm had ρ = \(rho(g))" }
            out.append(s + ".")
        }
        return out.joined(separator: " ")
    }

    /// Per-layer series for "measured vs predicted", each divided by its largest magnitude (measured_gain over the
    /// probed layers, the card's columns over every layer) so they share one axis; nil where not measured.
    public func scaledSeries(_ layers: [LayerStats]) -> [(name: String, values: [Double?])] {
        func scaled(_ v: [Double?]) -> [Double?] {
            let m = v.compactMap { $0 }.map(abs).max() ?? 0
            return v.map { x in x.map { m > 0 ? $0 / m : 0 } }
        }
        let L = layers.count
        return [("measured_gain", scaled((0..<L).map { measured[$0] })),
                ("grad_norm", scaled(layers.map { $0.grad_norm })),
                ("predicted_gain", scaled(layers.map { $0.predicted_gain }))]
    }
}
