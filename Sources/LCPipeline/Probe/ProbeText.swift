// Plain-text (Markdown) rendering of a probe report: per-layer table, set table, correlations and a one-line verdict.
// Used by `layercard probe` and for docs/examples. Deliberately no judgement beyond the numbers it prints.
import Foundation

public enum ProbeText {
    static func f(_ x: Double?, _ d: Int = 4) -> String { x.map { String(format: "%.\(d)f", $0) } ?? "n/a" }

    public static func render(_ r: ProbeReport) -> String {
        var o: [String] = []
        let s = r.settings
        o.append("Probe of \(r.model_id): \(s.steps) Adam steps, batch \(s.batch) × ≤\(r.dataset.max_tokens) tokens, rank \(s.lora.rank), "
                 + "alpha \(f(s.lora.alpha, 1)), lr \(s.lora.lr), modules \(s.lora.modules?.joined(separator: ",") ?? "all"); "
                 + "train \(r.dataset.train_records) / eval \(r.dataset.eval_records) records (\(r.dataset.eval_targets) eval targets); "
                 + "eval loss before \(f(r.eval_loss_before))")
        o.append("")
        o.append("| layer | eval loss after | measured gain | s/step (median) | peak RSS MB |")
        o.append("|---:|---:|---:|---:|---:|")
        for x in r.layers {
            o.append("| \(x.layers.first ?? -1) | \(f(x.eval_loss_after)) | \(f(x.gain, 5)) | \(f(x.step_seconds, 3)) | "
                     + "\(x.peak_rss_bytes / 1_000_000) |")
        }
        if !r.sets.isEmpty {
            o.append("")
            o.append("| set (k = \(r.k)) | layers | gain | fraction of all | s/step | speed-up vs all |")
            o.append("|---|---|---:|---:|---:|---:|")
            for x in r.sets {
                let ls = x.name == "random-k" ? (x.draws ?? []).map { "\($0.layers)" }.joined(separator: " ") : "\(x.layers)"
                o.append("| \(x.name) | \(ls) | \(f(x.gain, 5)) | \(x.gain_fraction.map { f($0 * 100, 1) + " %" } ?? "n/a") | "
                         + "\(f(x.step_seconds, 3)) | \(x.speedup.map { f($0, 2) + "×" } ?? "n/a") |")
            }
        }
        if !r.correlations.isEmpty {
            o.append("")
            o.append("| signal | Spearman ρ with measured gain | p (t-approx., n−2 dof) | n |")
            o.append("|---|---:|---:|---:|")
            for c in r.correlations { o.append("| \(c.signal) | \(f(c.spearman, 3)) | \(f(c.p_value, 4)) | \(c.n) |") }
        }
        if let v = verdict(r) { o.append(""); o.append(v) }
        for n in r.notes { o.append("note: \(n)") }
        return o.joined(separator: "\n")
    }

    /// The verdict the report prints (ReportProbe.verdict): the card's choice vs all layers and the best baseline.
    public static func verdict(_ r: ProbeReport) -> String? {
        r.sets.isEmpty ? nil : ReportProbe(report: r).verdict()
    }
}
