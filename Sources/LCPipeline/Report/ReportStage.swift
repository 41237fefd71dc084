// The report stage: card (+ the rank stage's parameters, when its outputs match the card) →
// outputs/<id>/report.md, report.html (one self-contained file, inline SVG, no scripts, no
// network) and card.csv (one row per module), then manifests/<id>/report.json last. When the probe has run
// (outputs/<id>/probe.json or the card's probe object) both reports get a measured-performance section.
import Foundation
import LCCard
import LCCore
import Logging

public struct ReportRequest: Sendable {
    public var workspace: Workspace
    public var models: [String]
    /// nil = reuse the parameters of the model's rank outputs when they were made from the same card,
    /// else the defaults.
    public var options: DecisionOptions?
    public init(workspace: Workspace, models: [String], options: DecisionOptions? = nil) {
        self.workspace = workspace; self.models = models; self.options = options
    }
}

/// Everything a report renders, computed once.
public struct ReportData: Sendable {
    public var decision: Decision
    public var cardPath: String
    public var cardSHA256: String
    /// gain(S)/cost(S) population for the scatter: every per-m greedy prefix.
    public var cloud: [(x: Double, y: Double)]
    /// Per-layer predicted_gain as a share of gain(all) under the predicted_gain signal.
    public var predictedShare: [Double]
    /// PEFT adapter_config.json text per objective.
    public var peftJSON: [Objective: String]
    public var optionsSource: String
    /// The probe's measured numbers (probe.json, else the card's probe object); nil = no probe section.
    public var probe: ReportProbe?
}

public enum ReportStage {
    /// Rebuilds the rank stage's options from its selection files, if they were made from this card.
    public static func rankOptions(_ ws: Workspace, id: String, cardSHA: String) -> DecisionOptions? {
        var files: [Objective: SelectionFile] = [:]
        for o in Objective.allCases {
            let u = ws.outputDir(model: id).appendingPathComponent("selection-\(o.rawValue).json")
            if let f = try? JSON.decode(SelectionFile.self, from: u), f.card_sha256 == cardSHA { files[o] = f }
        }
        guard let any = files.values.first else { return nil }
        // performance records F only when it used it (no k); cost always records its effective F.
        let f: Double?
        if let p = files[.performance] { f = p.selection.k == nil ? p.selection.target_fraction : files[.cost]?.selection.target_fraction }
        else { f = files[.cost]?.selection.target_fraction }
        return DecisionOptions(objectives: Objective.allCases.filter { files[$0] != nil },
                               k: files[.performance]?.selection.k ?? files[.balanced]?.selection.k,
                               targetFraction: f,
                               // A defaulted signal stays a default (re-derived from the card, with its reason).
                               modules: any.modules, signal: any.signal_requested == false ? nil : any.signal, rank: any.lora.r, alpha: any.lora.lora_alpha,
                               dropout: any.lora.lora_dropout, baseModel: any.lora.base_model_name_or_path)
    }

    /// Computes the report's content for one card.
    public static func prepare(card: LayerCard, cardURL: URL, options: DecisionOptions, optionsSource: String,
                               probe: ReportProbe? = nil) throws -> ReportData {
        var opts = options
        opts.objectives = []  // the report always shows all three objectives
        if options.objectives.count == 1 && options.objectives == [.cost] { opts.k = nil }
        let d = try Decide.decide(card, options: opts)
        let sel = d.selector
        let ga = sel.gainAll, ca = sel.cost.costAll
        let cloud = sel.prefixStates().map { st in (x: ca > 0 ? sel.cost.cost(st.S) / ca : 0, y: ga > 0 ? st.gain / ga : 0) }
        let pg = try GainModel(card: d.signalCard, signal: .predicted_gain)
        let pgAll = pg.gain(Array(0..<pg.count))
        let share = d.signalCard.layers.map { pgAll > 0 ? $0.predicted_gain / pgAll : 0 }
        var peft: [Objective: String] = [:]
        for s in d.selections {
            peft[s.objective] = compactJSON(try PEFTExport.adapterConfigJSON(d, layers: s.chosen.layers))
        }
        return ReportData(decision: d, cardPath: cardURL.path, cardSHA256: try Hashing.sha256(file: cardURL), cloud: cloud,
                          predictedShare: share, peftJSON: peft, optionsSource: optionsSource, probe: probe)
    }

    public static func run(_ req: ReportRequest, logger: Logger) throws -> [StageOutcome] {
        let ws = req.workspace
        var out: [StageOutcome] = []
        for id in try RankStage.resolve(ws, req.models) {
            let cURL = RankStage.cardURL(ws, model: id)
            let sha = (try? Hashing.sha256(file: cURL)) ?? ""
            let (opts, source): (DecisionOptions, String)
            if let o = req.options { (opts, source) = (o, "command-line options") }
            else if let o = rankOptions(ws, id: id, cardSHA: sha) { (opts, source) = (o, "the rank stage's selection files") }
            else { (opts, source) = (DecisionOptions(), "defaults (no rank outputs for this card)") }
            let fp = RankStage.fingerprint(stage: "report", cardSHA: RankStage.inputKey(ws, id: id, stage: "report", cardSHA: sha),
                                           options: opts)
            let card: LayerCard
            do { card = try LayerCard.load(from: cURL) } catch {
                logger.error("\(error)", metadata: ["model": "\(id)"])
                try RankStage.writeManifest(ws, DecisionManifest(stage: "report", model_id: id, status: .failed,
                                                                 error: RankStage.failure(error, path: cURL.path), fingerprint: fp,
                                                                 options: opts, card_path: cURL.path, card_sha256: sha, outputs: []))
                out.append(StageOutcome(modelID: id, status: .failed, skipped: false, message: "\(error)"))
                continue
            }
            let data = try prepare(card: card, cardURL: cURL, options: opts, optionsSource: source,
                                   probe: ReportProbe.load(ws, id: id, card: card))
            let dir = ws.outputDir(model: id)
            var records: [OutputRecord] = []
            records.append(try RankStage.record(Data(ReportMarkdown.render(data).utf8), dir.appendingPathComponent("report.md")))
            records.append(try RankStage.record(Data(ReportHTML.render(data).utf8), dir.appendingPathComponent("report.html")))
            records.append(try RankStage.record(Data(CardCSV.render(card).utf8), dir.appendingPathComponent("card.csv")))
            try RankStage.writeManifest(ws, DecisionManifest(stage: "report", model_id: id, status: .ok, fingerprint: fp, options: opts,
                                                             card_path: cURL.path, card_sha256: sha, outputs: records))
            logger.info("report written", metadata: ["model": "\(id)", "html": "\(dir.appendingPathComponent("report.html").path)"])
            out.append(StageOutcome(modelID: id, status: .ok, skipped: false, message: dir.appendingPathComponent("report.html").path))
        }
        return out
    }
}

/// One key per line, each value on one line (arrays stay short enough to read in a report).
public func compactJSON(_ data: Data) -> String {
    guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return String(decoding: data, as: UTF8.self) }
    func one(_ v: Any) -> String {
        if let a = v as? [Any] { return "[" + a.map(one).joined(separator: ", ") + "]" }
        let d = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        return d.map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
    let lines = obj.keys.sorted().map { "  \"\($0)\": " + one(obj[$0] ?? NSNull()) }
    return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
}

/// card.csv: one row per module with its layer's aggregates beside it. Columns a card lacks are empty (measured_gain
/// without a probe; block_influence and act_norm on cards profiled before they existed).
public enum CardCSV {
    public static let header = ["layer", "module", "d_in", "d_out", "grad_norm", "act_energy", "resnorm", "resnorm_lora", "lambda_max",
                                "effective_rank", "layer_grad_norm", "layer_resnorm", "layer_predicted_gain", "layer_cost",
                                "layer_cost_relative", "layer_measured_gain", "layer_block_influence", "layer_act_norm"]

    static func num(_ x: Double?) -> String { x.map { String(format: "%.9g", $0) } ?? "" }
    static func field(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    public static func render(_ card: LayerCard) -> String {
        var lines = [header.joined(separator: ",")]
        for m in card.modules.sorted(by: { ($0.layer, $0.module) < ($1.layer, $1.module) }) {
            let l = card.layers[m.layer]
            lines.append([String(m.layer), field(m.module), String(m.d_in), String(m.d_out), num(m.grad_norm), num(m.act_energy),
                          num(m.resnorm), num(m.resnorm_lora), num(m.lambda_max), num(m.effective_rank), num(l.grad_norm),
                          num(l.resnorm), num(l.predicted_gain), num(l.cost), num(l.cost_relative), num(l.measured_gain),
                          num(l.block_influence), num(l.act_norm)]
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Formatting shared by the Markdown and HTML reports.
public enum ReportText {
    /// Compact layer list: [0-3, 7, 9-11].
    public static func layers(_ ls: [Int]) -> String {
        let s = ls.sorted()
        var parts: [String] = [], i = 0
        while i < s.count {
            var j = i
            while j + 1 < s.count && s[j + 1] == s[j] + 1 { j += 1 }
            parts.append(j > i + 1 ? "\(s[i])-\(s[j])" : (j == i + 1 ? "\(s[i]), \(s[j])" : "\(s[i])"))
            i = j + 1
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }

    public static func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }

    /// A set's gain fraction as the card may show it (spec v2 §6b): the probe's measurement when it measured this
    /// set ("57.0% measured"), else the set model's prediction with the band validation measured ("≈ 55% ± 8"), or
    /// marked unvalidated when the model was not validated for the signal. Never a bare predicted point.
    public static func fraction(_ s: SetScore) -> String {
        if s.basis == "reference" { return "100% (reference)" }
        if s.basis == "measured", s.measured_gain_fraction == nil { return "measured (no all-layer gain to divide by)" }
        return fraction(predicted: s.gain_fraction, band: s.gain_fraction_band, measured: s.measured_gain_fraction)
    }

    public static func fraction(predicted: Double, band: Double?, measured: Double?) -> String {
        if let m = measured { return String(format: "%.1f%% measured", m * 100) }
        guard let b = band else { return String(format: "≈ %.0f%% (unvalidated model)", predicted * 100) }
        return String(format: "≈ %.0f%% ± %.0f", predicted * 100, b * 100)
    }
    public static func sci(_ x: Double) -> String { String(format: "%.4g", x) }

    /// Strategy label: name with k substituted and layer indices, e.g. "top-8 [22-29]".
    public static func strategy(_ s: SetScore) -> String {
        let k = s.layers.count
        let name = s.name.replacingOccurrences(of: "-k", with: "-\(k)")
        return s.name == "random-k" ? "\(name) (mean of \(s.seeds?.count ?? 0) seeds)" : "\(name) \(layers(s.layers))"
    }

    public static let caveats = [
        "Layer 0 is the input side (the block next to the embeddings); layer L-1 is next to the LM head. Strategy names such as bottom-k and top-k follow this convention; the layer indices are printed next to each.",
        "resnorm concentrates in the first layers of real models (their inputs are the least processed), so a resnorm ranking favours early layers that are also the most expensive to adapt (back-propagation must reach them).",
        "Measured performance (the probe's measured_gain) is the stronger signal when the card has it; without a probe the default signal is grad_norm, which tracked single-layer LoRA gains better than resnorm on SmolLM2 (spec section 6).",
        "Predicted gain is in the quadratic model's units, not calibrated loss (nats): it is shown only as a share of gain(all layers).",
        "gain(S) assumes each layer moves along its own descent direction with a non-negative step, and uses the coupling matrix to avoid double counting overlapping layers; it is a model, not a measurement.",
        "cost(S) is the analytic training-step cost per token with adapters only in S (backward down to min(S) plus one adapter term per extra layer); speedup is relative to adapters at every layer.",
    ]
}
