// The profile stage: for each loaded model, tokenize the reference set, run the Profiler, write
// outputs/<id>/card.json and card.h5 (each temp + rename) and then manifests/<id>/profile.json (written last:
// only the manifest marks the card done). Skips a model whose fingerprint (load fingerprint + dataset SHA-256 +
// parameters) is unchanged and whose card files exist. Deliberately one model at a time, in this process.
import Foundation
import LCCard
import LCCore
import LCKernels
import LCModel
import Logging

public struct ProfileRequest: Sendable {
    public var workspace: Workspace
    /// Model ids; empty = every model with a load manifest.
    public var models: [String]
    /// Reference set; nil = the repository's data/default-d2t.jsonl (`DefaultDataset.url()`).
    public var dataset: URL?
    public var maxTokens: Int = 512
    /// Records used (nil = all). The CLI default is 64.
    public var maxRecords: Int? = 64
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Memory budget in bytes for weights + activations (nil = from MemAvailable; see LCModel MemoryPlan).
    /// Over budget, weights are streamed layer by layer and activations checkpointed; the card is unchanged.
    public var memoryBudget: Int?
    public var options = ProfileOptions()
    public var force = false
    /// The settings recorded in the manifest.
    public var settings: ProfileSettings {
        ProfileSettings(max_tokens: maxTokens, max_records: maxRecords, batch: options.batch, lora_rank: options.loraRank,
                        lora_seed: options.loraSeed, coupling: options.coupling, coupling_records: options.couplingRecords,
                        cost_depths: options.costDepths, cost_repeats: options.costRepeats,
                        coupling_max_tokens: options.couplingMaxTokens, cost_method: options.costMethod.rawValue)
    }
    /// Applies recorded settings.
    public mutating func apply(_ s: ProfileSettings) {
        maxTokens = s.max_tokens; maxRecords = s.max_records; options.batch = s.batch; options.loraRank = s.lora_rank
        options.loraSeed = s.lora_seed; options.coupling = s.coupling; options.couplingRecords = s.coupling_records
        options.costDepths = s.cost_depths
        options.costRepeats = s.cost_repeats
        options.couplingMaxTokens = s.coupling_max_tokens
        options.costMethod = s.cost_method.flatMap(CostMethod.init(rawValue:)) ?? .auto
    }
    /// Also time a plain cblas_sgemm of the forward+backward's FLOPs (benchmarks; recorded in the manifest).
    public var benchSgemm = false
    public init(workspace: Workspace, models: [String], dataset: URL? = nil) {
        self.workspace = workspace; self.models = models; self.dataset = dataset
    }
}

public enum ProfileStage {
    public static func cardJSONURL(_ ws: Workspace, model: String) -> URL { ws.outputDir(model: model).appendingPathComponent("card.json") }
    public static func cardH5URL(_ ws: Workspace, model: String) -> URL { ws.outputDir(model: model).appendingPathComponent("card.h5") }

    public static func run(_ req: ProfileRequest, logger: Logger) throws -> [StageOutcome] {
        let ws = req.workspace
        let ids = req.models.isEmpty ? ws.models(withStage: "load") : req.models
        if ids.isEmpty { throw LCError.usage("no loaded models in \(ws.manifestsDir.path); run 'layercard load' first") }
        for id in ids { try Workspace.validateModelID(id) }
        guard req.maxTokens >= 2 else { throw LCError.usage("--max-tokens must be at least 2") }
        if let m = req.maxRecords, m < 1 { throw LCError.usage("--max-records must be at least 1") }
        let o = req.options
        guard o.batch >= 1, o.loraRank >= 1, o.costRepeats >= 1, o.costDepths >= 0, (o.couplingMaxTokens ?? 1) >= 1 else {
            throw LCError.usage("--batch, --lora-rank, --cost-repeats and --coupling-max-tokens must be ≥ 1, --cost-depths ≥ 0")
        }
        let dsURL = try req.dataset ?? DefaultDataset.url()
        let dsSHA = try Hashing.sha256(file: dsURL)
        Threads.set(req.threads)
        return ids.map { profileOne(id: $0, req: req, datasetURL: dsURL, datasetSHA: dsSHA, logger: logger) }
    }

    static func fingerprint(load: String, datasetSHA: String, req: ProfileRequest) -> String {
        let o = req.options
        return Hashing.sha256(["profile", ToolInfo.version, "\(ProfileManifest.currentSchema)", "spec \(layerCardSpecVersion)", load,
                               datasetSHA, "max_tokens=\(req.maxTokens)", "max_records=\(req.maxRecords.map(String.init) ?? "all")",
                               "batch=\(o.batch)", "rank=\(o.loraRank)", "seed=\(o.loraSeed)", "coupling=\(o.coupling)",
                               "coupling_records=\(o.couplingRecords.map(String.init) ?? "all")",
                               "coupling_max_tokens=\(o.couplingMaxTokens.map(String.init) ?? "all")", "cost_method=\(o.costMethod.rawValue)",
                               "cost=\(o.costDepths)x\(o.costRepeats)",
                               // Cards from before the forward-only columns lack them: a re-run recomputes such cards.
                               "layer_columns=block_influence,act_norm"].joined(separator: "\n"))
    }

    static func profileOne(id: String, req: ProfileRequest, datasetURL: URL, datasetSHA: String, logger: Logger) -> StageOutcome {
        let ws = req.workspace, started = Date()
        let mURL = ws.manifestURL(model: id, stage: "profile")
        let jsonURL = cardJSONURL(ws, model: id), h5URL = cardH5URL(ws, model: id)
        var m = ProfileManifest(tool_version: ToolInfo.version, model_id: id, status: .ok, error: nil, fingerprint: "",
                                load_fingerprint: "", dataset_path: datasetURL.path, dataset_sha256: datasetSHA,
                                card_json: nil, card_h5: nil, card_sha256: nil, loss: nil, tokens: nil, positions: nil,
                                timings: [:], threads: req.threads, seconds: 0, peak_rss_bytes: 0)
        m.settings = req.settings
        m.blas_core = BLASRuntime.coreName
        m.blas_thread_timeout = BLASRuntime.threadTimeoutInEffect
        do {
            let loadURL = ws.manifestURL(model: id, stage: "load")
            guard FileManager.default.fileExists(atPath: loadURL.path) else {
                throw LCError.stage(model: id, message: "no load manifest (\(loadURL.path)); run 'layercard load \(id)' first")
            }
            let load = try JSON.decode(LoadManifest.self, from: loadURL)
            m.load_fingerprint = load.fingerprint
            m.fingerprint = fingerprint(load: load.fingerprint, datasetSHA: datasetSHA, req: req)
            let fm = FileManager.default
            if !req.force, let old = try? JSON.decode(ProfileManifest.self, from: mURL), old.fingerprint == m.fingerprint,
               old.status == .ok, fm.fileExists(atPath: jsonURL.path), fm.fileExists(atPath: h5URL.path) {
                logger.info("profile unchanged, skipping", metadata: ["model": "\(id)"])
                return StageOutcome(modelID: id, status: .ok, skipped: true, message: "unchanged")
            }
            guard let config = load.config else { throw LCError.stage(model: id, message: "load manifest has no config") }
            let store = try StoreWeights(manifest: load)
            let model = try TransformerModel(config: config, weights: store, memory: MemoryOptions(budget: req.memoryBudget))
            let plan = model.memoryPlan
            logger.info("memory plan", metadata: ["model": "\(id)", "budget_bytes": "\(plan.budget)",
                                                  "weights_bytes": "\(plan.weightBytes)", "streamed": "\(plan.streamWeights)"])
            let tok = try TokenizerLoader.load(load.tokenizer)
            let ds = try ReferenceDataset.load(url: datasetURL, tokenizer: tok, vocabSize: config.vocabSize, maxTokens: req.maxTokens,
                                               maxRecords: req.maxRecords)
            logger.info("profiling", metadata: ["model": "\(id)", "records": "\(ds.sequences.count)", "positions": "\(ds.tokenCount)",
                                                "layers": "\(config.numLayers)", "threads": "\(req.threads)"])
            var lastLog = Date.distantPast
            // --bench-sgemm: the reference is timed right before and right after the forward+backward, so both run
            // under the machine's conditions of the moment (a shared VM's speed drifts by tens of percent).
            var sgemmRefs: [Double] = []
            let refShape = (M: min(512, max(64, ds.tokenCount)), N: config.intermediateSize, K: config.hiddenSize)
            let r = try Profiler.run(model: model, sequences: ds.sequences, options: req.options, aroundForwardBackward: { _ in
                if req.benchSgemm { sgemmRefs.append(sgemmReference(seconds: 1, M: refShape.M, N: refShape.N, K: refShape.K)) }
            }) { p in
                let now = Date()
                guard p.step == p.total || now.timeIntervalSince(lastLog) >= 1 else { return }
                lastLog = now
                let eta = p.step > 0 ? p.elapsed / Double(p.step) * Double(p.total - p.step) : 0
                logger.info("\(p.phase)", metadata: ["model": "\(id)", "step": "\(p.step)/\(p.total)",
                                                     "tokens_per_s": "\(String(format: "%.0f", Double(p.tokens) / max(p.elapsed, 1e-9)))",
                                                     "elapsed_s": "\(String(format: "%.1f", p.elapsed))", "eta_s": "\(String(format: "%.1f", eta))"])
            }
            let card = LayerCard(tool_version: ToolInfo.version, model_id: id, architecture: config.architecture, config: config,
                                 model_fingerprint: load.store_sha256 ?? load.fingerprint,
                                 dataset: DatasetInfo(path: datasetURL.path, sha256: datasetSHA, records: ds.sequences.count, kind: ds.kind),
                                 parameters: CardParameters(max_tokens: req.maxTokens, batch: req.options.batch, lora_rank: req.options.loraRank,
                                                            lora_seed: req.options.loraSeed, lambda_rel: resnormLambdaRel,
                                                            precision: load.precision.rawValue, threads: req.threads,
                                                            coupling_method: req.options.coupling
                                                                ? ProfileCoupling.method + "; positions of " + (req.options.couplingRecords.map { "the first \($0) records" } ?? "all records")
                                                                    + (req.options.couplingMaxTokens.map { ", at most the first \($0) positions of each" } ?? "")
                                                                : "none (--no-coupling)",
                                                            max_records: req.maxRecords,
                                                            cost_depths: req.options.costDepths > 0 ? req.options.costDepths : nil,
                                                            cost_repeats: req.options.costDepths > 0 ? req.options.costRepeats : nil,
                                                            coupling_records: req.options.coupling ? req.options.couplingRecords : nil,
                                                            statistics_form: r.statisticsForm,
                                                            coupling_max_tokens: req.options.coupling ? req.options.couplingMaxTokens : nil),
                                 loss: r.loss, tokens: r.tokens, modules: r.modules, layers: r.layers, coupling: r.coupling,
                                 cost_model: r.costModel)
            let data = try encodeCard(card)
            try AtomicFile.write(data, to: jsonURL)
            try card.writeHDF5(to: h5URL)
            m.card_json = jsonURL.path; m.card_h5 = h5URL.path; m.card_sha256 = Hashing.sha256(data)
            m.loss = r.loss; m.tokens = r.tokens; m.positions = r.positions; m.timings = r.timings
            m.forward_backward_flops = r.forwardBackwardFlops
            if let fb = r.timings["forward_backward"], fb > 0 {
                m.forward_backward_gflops = r.forwardBackwardFlops / fb / 1e9
                let step = fb - (r.timings["statistics_collect"] ?? 0) - (r.timings["forward_columns"] ?? 0)
                if step > 0 { m.forward_backward_step_gflops = r.forwardBackwardFlops / step / 1e9 }
            }
            if req.benchSgemm, let fb = m.forward_backward_gflops, !sgemmRefs.isEmpty {
                let ref = sgemmRefs.reduce(0, +) / Double(sgemmRefs.count)
                m.sgemm_reference_gflops = ref; m.sgemm_reference_samples_gflops = sgemmRefs
                m.forward_backward_vs_sgemm = ref > 0 ? fb / ref : nil
                m.forward_backward_step_vs_sgemm = ref > 0 ? m.forward_backward_step_gflops.map { $0 / ref } : nil
                logger.info("sgemm reference", metadata: ["model": "\(id)", "sgemm_gflops": "\(String(format: "%.1f", ref))",
                                                          "before_after": "\(sgemmRefs.map { String(format: "%.1f", $0) }.joined(separator: ","))",
                                                          "forward_backward_gflops": "\(String(format: "%.1f", fb))"])
            }
        } catch {
            let (status, err) = Ingest.describe(error, fallbackFile: datasetURL.path)
            m.status = status == .unsupported ? .unsupported : .failed; m.error = err
        }
        m.seconds = Date().timeIntervalSince(started)
        m.peak_rss_bytes = ProcessStats.peakRSSBytes()
        do { try AtomicFile.write(try JSON.encode(m), to: mURL) } catch {
            return StageOutcome(modelID: id, status: .failed, skipped: false, message: "cannot write profile manifest: \(error)")
        }
        let meta: Logger.Metadata = ["model": "\(id)", "seconds": "\(String(format: "%.2f", m.seconds))",
                                     "loss": "\(m.loss.map { String(format: "%.5f", $0) } ?? "-")"]
        if m.status == .ok { logger.info("profiled", metadata: meta) } else { logger.error("\(m.error?.message ?? "failed")", metadata: meta) }
        return StageOutcome(modelID: id, status: m.status, skipped: false, message: m.error?.message ?? "ok")
    }

    /// GFLOP/s of plain cblas_sgemm (M,K)·(K,N) calls repeated for at least `seconds` (after one warm-up call).
    static func sgemmReference(seconds: Double, M: Int, N: Int, K: Int) -> Double {
        let a = FloatBuffer(count: M * K), b = FloatBuffer(count: K * N), c = FloatBuffer(count: M * N)
        for i in 0..<a.count { a.ptr[i] = Float(i % 7) * 0.01 }
        for i in 0..<b.count { b.ptr[i] = Float(i % 5) * 0.01 }
        let per = 2 * Double(M) * Double(N) * Double(K)
        sgemmPlain(c: c.ptr, a: a.cptr, b: b.cptr, M: M, N: N, K: K)
        let t = Date()
        var reps = 0
        repeat {
            for _ in 0..<4 { sgemmPlain(c: c.ptr, a: a.cptr, b: b.cptr, M: M, N: N, K: K) }
            reps += 4
        } while Date().timeIntervalSince(t) < seconds
        let s = Date().timeIntervalSince(t)
        return s > 0 ? Double(reps) * per / s / 1e9 : 0
    }

    /// Strict card JSON (`LayerCard.encodedJSON`: a NaN/Infinity anywhere is an error naming the field), after the
    /// invariants readers rely on (`LayerCard.validate`) have been checked.
    public static func encodeCard(_ card: LayerCard) throws -> Data {
        let data = try card.encodedJSON()
        try card.validate(path: "card \(card.model_id)")
        return data
    }
}
