// The probe stage (layer-card-spec §5–§6, issue 7): loads a model from its weight store, splits the data, runs a
// single-layer LoRA probe per layer (or a budget's subsample) and one run per layer set (the rank stage's
// selections and the §6 baselines at the same k), then writes outputs/<id>/probe.json and adds the measured columns
// and correlations to card.json and card.h5 when a card exists. Deliberately sequential runs (2-core machines) and no resume.
import Foundation
import LCCard
import LCCore
import LCModel
import Logging

public struct ProbeRequest: Sendable {
    public var model: String
    /// Layers to probe one at a time; nil = all (or the budget's subsample).
    public var layers: [Int]?
    /// Set names (see ProbeSetResult.name without the "-k" where it is a baseline): performance, cost, balanced,
    /// bottom-k, top-k, mid-k, uniform-k, random-k, all.
    public var sets: [String]
    public var k: Int
    public var settings: ProbeSettings
    public var maxTokens: Int
    public var train: URL?
    public var eval: URL?
    /// Single dataset split by `seed` (used when train/eval are not given); nil = data/default-d2t.jsonl.
    public var dataset: URL?
    public var evalFraction: Double
    public var seed: UInt64
    /// random-k draws (seeds 0..<randomDraws, the rank stage's first seeds).
    public var randomDraws: Int
    public var budgetMinutes: Double?
    /// Runs per layer set with seeds 0..<seeds (A's init and batch order, ProbeRunner.run(seed:)); the set's gain is
    /// their mean and `gain_spread` their sample standard deviation. Single layers and random-k draws run seed 0.
    public var seeds: Int = 1
    /// Measure the rank stage's choices on the measured single-layer gains (+ alternatives) and recommend the best
    /// measured set per objective (ProbeVerify.swift). Needs every layer probed.
    public var verify: Bool = false
    /// The cost objective's target share of the all-layer gain (verify).
    public var targetFraction: Double = 0.9
    /// Memory for the probe's cached block inputs (ProbeRunner; 0 = no cache).
    public var cacheBudgetBytes: Int = 4 << 30
    /// LM head on target positions only (ProbeRunner.compactHead; same numbers).
    public var compactHead: Bool = true

    public init(model: String, layers: [Int]? = nil, sets: [String] = [], k: Int = 5, settings: ProbeSettings, maxTokens: Int = 128,
                train: URL? = nil, eval: URL? = nil, dataset: URL? = nil, evalFraction: Double = 0.2, seed: UInt64 = 0,
                randomDraws: Int = 3, budgetMinutes: Double? = nil) {
        self.model = model; self.layers = layers; self.sets = sets; self.k = k; self.settings = settings
        self.maxTokens = maxTokens; self.train = train; self.eval = eval; self.dataset = dataset
        self.evalFraction = evalFraction; self.seed = seed; self.randomDraws = randomDraws; self.budgetMinutes = budgetMinutes
    }
}

public enum ProbeStage {
    public static let allSets = ["performance", "cost", "balanced", "bottom-k", "top-k", "mid-k", "uniform-k", "random-k", "all"]

    public static func reportURL(_ ws: Workspace, model: String) -> URL { ws.outputDir(model: model).appendingPathComponent("probe.json") }
    public static func cardURL(_ ws: Workspace, model: String) -> URL { ws.outputDir(model: model).appendingPathComponent("card.json") }

    /// Runs the probe and writes probe.json (and the card additions).
    /// - Throws: `LCError.usage` for bad options, `LCError.stage` when the model is not loaded, dataset errors.
    /// What every probe mode needs: the loaded model, its split data and the runner.
    struct Prepared {
        let weights: StoreWeights
        let config: ModelConfig
        let info: ProbeDatasetInfo
        let train: [ReferenceSequence], eval: [ReferenceSequence]
        let runner: ProbeRunner
    }

    static func prepare(workspace ws: Workspace, request rq: ProbeRequest) throws -> Prepared {
        try Workspace.validateModelID(rq.model)
        let weights = try StoreWeights(workspace: ws, model: rq.model)
        guard let cfg = weights.manifest.config else { throw LCError.stage(model: rq.model, message: "load manifest has no config") }
        let tokenizer = try TokenizerLoader.load(weights.manifest.tokenizer)
        let maxT = min(rq.maxTokens, cfg.maxPositions ?? rq.maxTokens)
        func load(_ u: URL) throws -> ReferenceDataset {
            try ReferenceDataset.load(url: u, tokenizer: tokenizer, vocabSize: cfg.vocabSize, maxTokens: maxT)
        }
        let info: ProbeDatasetInfo
        let trainSeqs: [ReferenceSequence], evalSeqs: [ReferenceSequence]
        if let tu = rq.train, let eu = rq.eval {
            let train = try load(tu), eval = try load(eu)
            trainSeqs = train.sequences; evalSeqs = eval.sequences
            info = ProbeDatasetInfo(train_path: tu.path, eval_path: eu.path, train_sha256: train.sha256, eval_sha256: eval.sha256,
                                    train_records: trainSeqs.count, eval_records: evalSeqs.count,
                                    eval_targets: eval.targetCount, eval_fraction: nil, split_seed: nil, max_tokens: maxT)
        } else {
            let du = try rq.dataset ?? DefaultDataset.url()
            let all = try load(du)
            guard all.sequences.count >= 2 else { throw LCError.usage("probe: \(du.path) needs at least 2 records to split") }
            let (ti, ei) = ProbeStats.split(count: all.sequences.count, evalFraction: rq.evalFraction, seed: rq.seed)
            trainSeqs = ti.map { all.sequences[$0] }; evalSeqs = ei.map { all.sequences[$0] }
            info = ProbeDatasetInfo(train_path: du.path, eval_path: du.path, train_sha256: all.sha256, eval_sha256: all.sha256,
                                    train_records: trainSeqs.count, eval_records: evalSeqs.count,
                                    eval_targets: evalSeqs.reduce(0) { $0 + $1.lossMask.filter { $0 }.count },
                                    eval_fraction: rq.evalFraction, split_seed: rq.seed, max_tokens: maxT)
        }
        let model = try TransformerModel(config: cfg, weights: weights)
        guard cfg.numLayers >= 1 else { throw LCError.usage("probe: model has no layers") }
        let runner = try ProbeRunner(model: model, train: trainSeqs, eval: evalSeqs, settings: rq.settings,
                                     cacheBudgetBytes: rq.cacheBudgetBytes, compactHead: rq.compactHead)
        return Prepared(weights: weights, config: cfg, info: info, train: trainSeqs, eval: evalSeqs, runner: runner)
    }

    public static func run(workspace ws: Workspace, request rq: ProbeRequest, logger: Logger) throws -> ProbeReport {
        let started = Date()
        let prep = try prepare(workspace: ws, request: rq)
        let weights = prep.weights, cfg = prep.config, info = prep.info, runner = prep.runner
        let trainSeqs = prep.train, evalSeqs = prep.eval
        var notes: [String] = []
        let L = cfg.numLayers
        guard rq.k >= 1, rq.k <= L else { throw LCError.usage("probe: --k must be in 1...\(L)") }
        if let ls = rq.layers, let bad = ls.first(where: { !(0..<L).contains($0) }) {
            throw LCError.usage("probe: layer \(bad) out of range 0..<\(L)")
        }
        for s in rq.sets where !allSets.contains(s) { throw LCError.usage("probe: unknown set '\(s)' (one of \(allSets.joined(separator: ",")))") }
        guard rq.seeds >= 1 else { throw LCError.usage("probe: --seeds must be at least 1") }

        let before = try runner.evalLoss(runner.model)
        logger.info("probe start", metadata: ["model": "\(rq.model)", "layers": "\(L)", "eval_loss": "\(String(format: "%.4f", before))",
                                              "train": "\(trainSeqs.count)", "eval": "\(evalSeqs.count)"])
        func runLogged(_ layers: [Int], _ what: String, seed: Int = 0) throws -> ProbeRunResult {
            let r = try runner.run(layers: layers, before: before, seed: seed)
            logger.info("probe run", metadata: ["set": "\(what)", "layers": "\(layers)", "seed": "\(seed)",
                                                "gain": "\(String(format: "%.5f", r.gain))",
                                                "step_s": "\(String(format: "%.3f", r.step_seconds))"])
            return r
        }

        let k = rq.k
        let nSetRuns = rq.sets.reduce(0) { $0 + ($1 == "random-k" ? max(1, rq.randomDraws) : 1) }

        // Single layers, with the budget's subsample chosen after timing the first and last layer.
        var wanted = rq.layers.map { Array(Set($0)).sorted() } ?? Array(0..<L)
        var results: [Int: ProbeRunResult] = [:]
        if let minutes = rq.budgetMinutes, rq.layers == nil, wanted.count > 2 {
            // Layer 0 (full backward) bounds a set run; the first/last mean estimates a single-layer run.
            var t = Date()
            results[0] = try runLogged([0], "layer")
            let first = Date().timeIntervalSince(t)
            t = Date()
            results[L - 1] = try runLogged([L - 1], "layer")
            let perLayer = (first + Date().timeIntervalSince(t)) / 2
            let remaining = minutes * 60 - Date().timeIntervalSince(started) - Double(nSetRuns) * first * 1.2
            let n = min(L, 2 + max(0, Int(remaining / perLayer)))
            wanted = ProbeStats.subsample(n: n, L: L)
            if n < L {
                notes.append("budget \(minutes) min: probed \(wanted.count) of \(L) layers (evenly spaced, first and last included), "
                             + "~\(String(format: "%.0f", perLayer)) s per layer run")
            }
        }
        for l in wanted where results[l] == nil { results[l] = try runLogged([l], "layer") }
        let layerRuns = wanted.compactMap { results[$0] }

        // Sets, resolved after the single-layer runs (a rank stage may write its selections meanwhile).
        var setLayers: [(String, [Int], String?)] = []
        for s in rq.sets {
            switch s {
            case "performance", "cost", "balanced":
                let u = ws.outputDir(model: rq.model).appendingPathComponent("selection-\(s).json")
                if let ls = try selectionLayers(u, L: L) {
                    if ls.count != k { notes.append("\(s): the rank stage chose \(ls.count) layers (\(ls)); baselines use k = \(k)") }
                    setLayers.append((s, ls, u.lastPathComponent))
                } else {
                    notes.append("\(s): skipped, no \(u.lastPathComponent) (run `layercard rank` first)")
                }
            case "bottom-k": setLayers.append((s, ProbeStats.bottom(k: k, L: L), nil))
            case "top-k": setLayers.append((s, ProbeStats.top(k: k, L: L), nil))
            case "mid-k": setLayers.append((s, ProbeStats.mid(k: k, L: L), nil))
            case "uniform-k": setLayers.append((s, ProbeStats.uniform(k: k, L: L), nil))
            case "random-k": setLayers.append((s, [], nil))  // draws below
            default: setLayers.append(("all", Array(0..<L), nil))
            }
        }
        var sets: [ProbeSetResult] = []
        for (name, ls, src) in setLayers {
            if name == "random-k" {
                let draws = try (0..<max(1, rq.randomDraws)).map { try runLogged(ProbeStats.random(k: k, L: L, seed: UInt64($0)), "random-k") }
                let n = Double(draws.count)
                sets.append(ProbeSetResult(name: name, layers: draws.first?.layers ?? [], gain: draws.reduce(0) { $0 + $1.gain } / n,
                                           gain_fraction: nil, step_seconds: draws.reduce(0) { $0 + $1.step_seconds } / n,
                                           speedup: nil, draws: draws, source: nil))
            } else {
                let runs = try (0..<rq.seeds).map { try runLogged(ls, name, seed: $0) }
                let gains = runs.map(\.gain), n = Double(runs.count)
                var set = ProbeSetResult(name: name, layers: runs[0].layers, gain: gains.reduce(0, +) / n, gain_fraction: nil,
                                         step_seconds: ProbeStats.median(runs.map(\.step_seconds)) ?? 0, speedup: nil, draws: nil,
                                         source: src)
                if runs.count > 1 {
                    set.seed_runs = runs
                    set.seeds = runs.count
                    set.gain_spread = ProbeStats.sampleStd(gains)
                }
                sets.append(set)
            }
        }
        var recommendations: [ProbeRecommendation] = []
        if rq.verify {
            if layerRuns.count == L, let cardData = try? Data(contentsOf: ProbeStage.cardURL(ws, model: rq.model)),
               let card = try? LayerCard.decode(cardData, path: ProbeStage.cardURL(ws, model: rq.model).path) {
                var measured: [Int: Double] = [:]
                for r in layerRuns { if let l = r.layers.first { measured[l] = r.gain } }
                for (name, ls) in try ProbeVerify.candidates(card: card, measured: measured, k: k, targetFraction: rq.targetFraction)
                where !sets.contains(where: { $0.layers == ls && ($0.seeds ?? 1) >= rq.seeds }) {
                    let runs = try (0..<rq.seeds).map { try runLogged(ls, name, seed: $0) }
                    let gains = runs.map(\.gain)
                    var set = ProbeSetResult(name: name, layers: ls, gain: gains.reduce(0, +) / Double(gains.count), gain_fraction: nil,
                                             step_seconds: ProbeStats.median(runs.map(\.step_seconds)) ?? 0, speedup: nil, draws: nil,
                                             source: "verify")
                    if runs.count > 1 { set.seed_runs = runs; set.seeds = runs.count; set.gain_spread = ProbeStats.sampleStd(gains) }
                    sets.append(set)
                }
            } else {
                notes.append("verify: skipped (needs every layer probed and a card.json; probed \(layerRuns.count) of \(L))")
            }
        }
        if let all = sets.first(where: { $0.name == "all" }) {
            for i in sets.indices {
                if all.gain > 0 { sets[i].gain_fraction = sets[i].gain / all.gain }
                if sets[i].step_seconds > 0 { sets[i].speedup = all.step_seconds / sets[i].step_seconds }
            }
        } else if !sets.isEmpty {
            notes.append("no 'all' set run: gain fractions and speed-ups are not available")
        }

        if rq.verify, layerRuns.count == L {
            recommendations = ProbeVerify.recommend(sets: sets, k: k, targetFraction: rq.targetFraction)
            for r in recommendations {
                logger.info("probe recommends", metadata: ["objective": "\(r.objective)", "layers": "\(r.layers)", "from": "\(r.from_set)",
                                                           "verdict": "\(r.verdict)"])
            }
        }
        // Correlations with the card's signals.
        let cardURL = cardURL(ws, model: rq.model)
        var correlations: [ProbeCorrelation] = []
        let card = try ProbeCard.readLayers(cardURL)
        if let card {
            var measured: [Int: Double] = [:]
            for r in layerRuns { if let l = r.layers.first { measured[l] = r.gain } }
            correlations = ProbeCard.correlations(measured: measured, cardLayers: card.layers)
        } else {
            notes.append("no card.json (run `layercard profile` first): no correlations with the card's signals")
        }
        var report = ProbeReport(model_id: rq.model, model_fingerprint: weights.manifest.store_sha256 ?? weights.manifest.fingerprint, dataset: info,
                                 settings: rq.settings, eval_loss_before: before, layers: layerRuns, measured_layers: wanted,
                                 k: k, sets: sets, correlations: correlations, notes: notes, elapsed_seconds: 0)
        report.recommendations = recommendations.isEmpty ? nil : recommendations
        report.elapsed_seconds = Date().timeIntervalSince(started)
        let out = reportURL(ws, model: rq.model)
        try FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(try JSON.encode(report), to: out)
        if card != nil, let note = try ProbeCard.update(cardURL: cardURL, report: report) {
            logger.warning("\(note)", metadata: ["model": "\(rq.model)"])
        }
        logger.info("probe done", metadata: ["model": "\(rq.model)", "seconds": "\(String(format: "%.1f", report.elapsed_seconds))",
                                             "report": "\(out.path)"])
        return report
    }

    /// Re-applies an existing probe.json to the current card.json (e.g. after `profile` rewrote the card): recomputes
    /// the correlations, rewrites probe.json and adds the measured columns to the card. No training.
    /// - Throws: `LCError.usage` when probe.json or card.json is missing.
    public static func updateCard(workspace ws: Workspace, model: String, logger: Logger) throws -> ProbeReport {
        try Workspace.validateModelID(model)
        let pu = reportURL(ws, model: model), cu = cardURL(ws, model: model)
        guard FileManager.default.fileExists(atPath: pu.path) else { throw LCError.usage("no \(pu.path): run the probe first") }
        var report = try JSON.decode(ProbeReport.self, from: pu)
        guard let card = try ProbeCard.readLayers(cu) else { throw LCError.usage("no \(cu.path): run `layercard profile` first") }
        var measured: [Int: Double] = [:]
        for r in report.layers { if let l = r.layers.first { measured[l] = r.gain } }
        report.correlations = ProbeCard.correlations(measured: measured, cardLayers: card.layers)
        report.notes.removeAll { $0.hasPrefix("no card.json") }
        try AtomicFile.write(try JSON.encode(report), to: pu)
        if let note = try ProbeCard.update(cardURL: cu, report: report) { logger.warning("\(note)", metadata: ["model": "\(model)"]) }
        logger.info("probe card updated", metadata: ["model": "\(model)", "card": "\(cu.path)", "h5": "\(ProbeCard.h5URL(cu).path)"])
        return report
    }

    /// `selection.chosen.layers` of a rank-stage selection file; nil when the file does not exist.
    /// - Throws: `LCError.format` when it exists but has no valid layer list.
    static func selectionLayers(_ u: URL, L: Int) throws -> [Int]? {
        guard FileManager.default.fileExists(atPath: u.path) else { return nil }
        guard let data = try? Data(contentsOf: u), let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw LCError.format(path: u.path, message: "not a JSON object")
        }
        let sel = (root["selection"] as? [String: Any]) ?? root
        guard let chosen = sel["chosen"] as? [String: Any], let raw = chosen["layers"] as? [NSNumber], !raw.isEmpty else {
            throw LCError.format(path: u.path, message: "no selection.chosen.layers")
        }
        let ls = raw.map(\.intValue)
        guard ls.allSatisfy({ (0..<L).contains($0) }) else { throw LCError.format(path: u.path, message: "layer out of range 0..<\(L)") }
        return Array(Set(ls)).sorted()
    }
}
