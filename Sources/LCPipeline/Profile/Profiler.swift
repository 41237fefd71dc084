// The profile computation on an in-memory model and tokenized reference set (layer-card-spec §1–§4 with the
// choices of docs/decisions.md "Profile"): forward+backward per batch into per-layer accumulators (padding rows
// excluded, per-batch gradients rescaled to the global mean loss), per-module statistics, the forward-only layer
// columns (block_influence, act_norm: ForwardColumns.swift) from the same forward, coupling by central
// differences (ProfileCoupling.swift), analytic and measured cost (ProfileCost.swift).
// Deliberately no files: the stage (ProfileStage.swift) reads the workspace and writes the card.
import Foundation
import LCCard
import LCCore
import LCKernels
import LCModel

/// Knobs of one profile run (all recorded on the card).
public struct ProfileOptions: Sendable, Equatable {
    public var batch: Int = 8
    public var loraRank: Int = 8
    public var loraSeed: UInt64 = defaultLoRASeed
    public var coupling: Bool = true
    /// Coupling vectors cover the positions of the first `couplingRecords` records (nil = all): coupling costs
    /// about L forward passes over its positions, the statistics about three.
    public var couplingRecords: Int? = 16
    /// Coupling vectors cover at most the first `couplingMaxTokens` positions of each coupling record (nil = all).
    /// Causal LMs: a prefix's hidden states are exactly those of the whole sequence (attention looks back only),
    /// so this subsamples positions without changing them; coupling costs ~L forward passes over its positions.
    public var couplingMaxTokens: Int? = nil
    /// How step time is measured: see `CostMethod`.
    public var costMethod: CostMethod = .auto
    /// Depths at which step time is measured (0 = no measurement), and repeats per depth.
    public var costDepths: Int = 4
    public var costRepeats: Int = 3
    /// How the per-module statistics are formed: `auto` uses the N × N Gram form for input groups wider than the
    /// number of token positions (exact; G and C are never formed), the d × d primal form otherwise.
    public var statisticsForm: StatisticsForm = .auto
    /// Upper bound on one measured cost depth's seconds before the remaining repeats are skipped (big models:
    /// a single forward + truncated backward is already a stable measurement).
    public var costRepeatSecondsCap: Double = 20
    public init() {}
}

/// `--cost-method`. `repeated`: forward + truncated backward at `costDepths` depths, median of `costRepeats`
/// (spec §4's procedure). `segmented`: every layer from one step — the first batch of the statistics pass is timed
/// per stage (forward, head, each block's backward with its weight fetch and recompute, the statistics visitor
/// excluded) and cost(l) = forward + head + Σ_{j ≥ l} backward_j; no extra passes, which matters when each pass
/// streams the whole model from disk. `auto`: segmented when the weights are streamed, else repeated.
public enum CostMethod: String, Sendable, Equatable, CaseIterable {
    case auto, repeated, segmented
}

/// `--statistics-form`: see `ProfileOptions.statisticsForm`.
public enum StatisticsForm: String, Sendable, Equatable, CaseIterable {
    case auto, primal, gram
}

/// Progress of a long phase, for logging (tokens/s, ETA).
public struct ProfileProgress: Sendable {
    public var phase: String
    public var step: Int
    public var total: Int
    /// Token positions processed so far in this phase.
    public var tokens: Int
    /// Seconds since the phase started.
    public var elapsed: Double
}

/// Everything the profile computes, before it becomes a card.
public struct ProfileResult: Sendable {
    public var loss: Double
    /// P (predicted positions) for causal LMs, number of sequences for encoders.
    public var tokens: Int
    /// Real token positions N.
    public var positions: Int
    public var modules: [ModuleStats]
    public var layers: [LayerStats]
    public var coupling: [[Double]]
    public var costModel: CostModel
    /// Seconds per phase: forward_backward, statistics, coupling, cost; statistics_collect and forward_columns are
    /// the parts of forward_backward spent handing (a, delta) to the statistics and in the forward-only columns.
    public var timings: [String: Double]
    /// Analytic FLOPs of the forward+backward phase (forward, activation gradients of every layer and the head,
    /// and the G = deltaᵀa products of the modules in the primal form), over the real positions.
    public var forwardBackwardFlops: Double
    /// "primal", "gram" or "mixed" (see `StatisticsForm`).
    public var statisticsForm: String = "primal"
}

/// Real rows of a right-padded batch: sequence b occupies rows b·T ..< b·T + len_b.
func realRows(_ lengths: [Int]) -> [Range<Int>] {
    let T = lengths.max() ?? 0
    return lengths.enumerated().map { $0.offset * T ..< $0.offset * T + $0.element }
}

public enum Profiler {
    /// Runs the whole profile.
    /// - Throws: `LCError.usage` for data the model cannot use (no targets; encoder without target vectors),
    ///   `LCError.format` from the statistics (degenerate inputs), errors of the forward pass.
    /// - Parameter aroundForwardBackward: called right before ("before") and right after ("after") the
    ///   forward+backward phase (benchmarks time a reference there, under the same machine conditions).
    public static func run(model: TransformerModel, sequences: [ReferenceSequence], options o: ProfileOptions,
                           aroundForwardBackward: (String) -> Void = { _ in },
                           progress: (ProfileProgress) -> Void = { _ in }) throws -> ProfileResult {
        let c = model.config, L = c.numLayers, arch = c.architecture
        guard o.batch >= 1, o.loraRank >= 1, o.costDepths >= 0, o.costRepeats >= 1, (o.couplingRecords ?? 1) >= 1,
              (o.couplingMaxTokens ?? 1) >= 1 else {
            throw LCError.usage("profile: batch, lora rank and cost repeats must be ≥ 1 (cost depths ≥ 0)")
        }
        guard !sequences.isEmpty else { throw LCError.usage("profile: the reference set is empty") }
        let order = Architecture.modules(arch)
        let batches = stride(from: 0, to: sequences.count, by: o.batch).map { Array(sequences[$0..<min($0 + o.batch, sequences.count)]) }
        // Global normalization: P target positions (causal) or n sequences (encoder).
        let causal = model.isCausal
        func targets(_ s: ReferenceSequence) -> Int { s.lossMask.dropFirst().filter { $0 }.count }
        let P = causal ? sequences.reduce(0) { $0 + targets($1) } : sequences.count
        if causal {
            guard P > 0 else { throw LCError.usage("profile: the reference set has no target positions (nothing to predict)") }
        } else {
            guard sequences.allSatisfy({ $0.target?.count == c.hiddenSize }) else {
                throw LCError.usage("profile: encoder '\(arch)' needs a \"target\" vector of \(c.hiddenSize) numbers on every record")
            }
        }
        var timings: [String: Double] = [:]
        // ---- forward + backward, accumulate ----
        let totalPositions = sequences.reduce(0) { $0 + $1.ids.count }
        let gramRows: Int? = switch o.statisticsForm { case .auto: totalPositions; case .primal: nil; case .gram: 0 }
        var accs: [ModuleAccumulator?] = (0..<L).map { ModuleAccumulator(layer: $0, gramRows: gramRows) }
        var lossSum = 0.0, positions = 0
        // Segmented cost: the first batch's step is timed per stage (see CostMethod).
        let segmented = o.costDepths > 0 && (o.costMethod == .segmented || (o.costMethod == .auto && model.streamsWeights))
        let timer = segmented ? StepTimer(layers: L) : nil
        var firstStepPeak: Double?
        // Seconds the forward+backward spends inside the visitor, i.e. handing each module's (a, delta) to the
        // statistics (Gram-row copies, or the primal form's G and C products): statistics work, reported apart.
        var collectSeconds = 0.0
        // The forward-only columns, from every block's input and output in the same forward (no extra pass).
        let forwardColumns = ForwardColumnsAccumulator(layers: L, width: c.hiddenSize)
        var forwardColumnSeconds = 0.0
        aroundForwardBackward("before")
        var t0 = Date()
        for (bi, b) in batches.enumerated() {
            let stepTimer = bi == 0 ? timer : nil
            let canPeak = stepTimer != nil && ProfileCost.resetPeakRSS()
            let rssBefore = ProcessStats.currentRSSBytes()
            let tokens = b.map(\.ids), rows = realRows(tokens.map(\.count))
            let scale = causal ? Double(b.reduce(0) { $0 + targets($1) }) / Double(P) : Double(b.count) / Double(P)
            let visit: (ModuleGradient) -> Void = { mg in
                let v0 = DispatchTime.now().uptimeNanoseconds
                accs[mg.layer]?.add(module: mg.module, input: mg.input, outputGrad: mg.outputGrad, dIn: mg.dIn, dOut: mg.dOut,
                                    rows: rows, scale: scale, batch: bi)
                collectSeconds += Double(DispatchTime.now().uptimeNanoseconds - v0) * 1e-9
            }
            let observe: (BlockBoundary) -> Void = { bb in
                let v0 = DispatchTime.now().uptimeNanoseconds
                forwardColumns.add(layer: bb.layer, input: bb.input, output: bb.output, rows: rows)
                forwardColumnSeconds += Double(DispatchTime.now().uptimeNanoseconds - v0) * 1e-9
            }
            if causal {
                let r = try model.lossAndBackward(tokens: tokens, targetMask: b.map(\.lossMask), timer: stepTimer, observe: observe,
                                                  visit: visit)
                lossSum += r.sum
            } else {
                let l = try model.embeddingLossAndBackward(tokens: tokens, targets: b.compactMap(\.target), timer: stepTimer,
                                                           observe: observe, visit: visit)
                lossSum += l * Double(b.count)
            }
            if canPeak { firstStepPeak = Double(max(0, ProcessStats.peakRSSBytes() - rssBefore)) }
            positions += tokens.reduce(0) { $0 + $1.count }
            progress(ProfileProgress(phase: "forward_backward", step: bi + 1, total: batches.count, tokens: positions,
                                     elapsed: Date().timeIntervalSince(t0)))
        }
        timings["forward_backward"] = Date().timeIntervalSince(t0)
        timings["statistics_collect"] = collectSeconds
        timings["forward_columns"] = forwardColumnSeconds
        aroundForwardBackward("after")
        // ---- statistics per layer ----
        t0 = Date()
        var modules: [ModuleStats] = [], layers: [LayerStats] = [], steps: [[String: StepDirection]] = []
        for l in 0..<L {
            guard let acc = accs[l] else { continue }
            let st = try acc.statistics(moduleOrder: order, loraRank: o.loraRank, loraSeed: o.loraSeed, wantSteps: o.coupling)
            accs[l] = nil  // free G and C
            modules += st.modules; steps.append(st.steps)
            var agg = layerAggregate(layer: l, modules: st.modules)
            agg.block_influence = forwardColumns.blockInfluence(l)
            agg.act_norm = forwardColumns.actNorm(l)
            layers.append(agg)
            progress(ProfileProgress(phase: "statistics", step: l + 1, total: L, tokens: positions, elapsed: Date().timeIntervalSince(t0)))
        }
        timings["statistics"] = Date().timeIntervalSince(t0)
        // ---- coupling ----
        var coupling = (0..<L).map { i in (0..<L).map { $0 == i ? 1.0 : 0.0 } }
        if o.coupling && L > 0 {
            t0 = Date()
            let cSeqs = sequences.prefix(o.couplingRecords ?? sequences.count).map { Array($0.ids.prefix(o.couplingMaxTokens ?? $0.ids.count)) }
            let cBatches = stride(from: 0, to: cSeqs.count, by: o.batch).map { Array(cSeqs[$0..<min($0 + o.batch, cSeqs.count)]) }
            coupling = try ProfileCoupling.compute(model: model, batches: cBatches, steps: &steps,
                                                   order: order) { p in progress(ProfileProgress(phase: "coupling", step: p.step,
                                                       total: p.total, tokens: p.tokens, elapsed: Date().timeIntervalSince(t0))) }
            timings["coupling"] = Date().timeIntervalSince(t0)
        }
        steps = []
        // ---- cost ----
        let lengths = sequences.map(\.ids.count)
        let sumN = Double(lengths.reduce(0, +))
        let context = causal ? lengths.reduce(0.0) { $0 + Double($1) * Double($1 + 1) / 2 } / sumN
            : lengths.reduce(0.0) { $0 + Double($1) * Double($1) } / sumN
        let meanT = batches.reduce(0.0) { $0 + Double($1.count * ($1.map(\.ids.count).max() ?? 0)) } / Double(sequences.count)
        let dims = (0..<L).map { l in modules.filter { $0.layer == l }.map { (dIn: $0.d_in, dOut: $0.d_out) } }
        let analytic = AnalyticCost(config: c, modules: dims, rank: o.loraRank, context: context, sequenceLength: meanT)
        var costModel = analytic.model
        for l in 0..<layers.count {
            layers[l].cost = analytic.layerCost[l]
            layers[l].cost_relative = costModel.all_layers_cost > 0 ? analytic.layerCost[l] / costModel.all_layers_cost : 0
            layers[l].activation_bytes_per_token = analytic.activationBytes[l]
        }
        if let timer, L > 0 {
            // Segmented: every layer measured from the first batch's step (no extra passes).
            for l in 0..<layers.count {
                layers[l].measured_step_seconds = timer.truncatedStep(at: l)
                layers[l].measured_peak_bytes = l == 0 ? firstStepPeak : nil
            }
            costModel.measured_layers = Array(0..<L)
            costModel.measured_method = "segmented"
        } else if o.costDepths > 0, let first = batches.first, L > 0 {
            t0 = Date()
            let m = try ProfileCost.measure(model: model, batch: first, depths: o.costDepths, repeats: o.costRepeats,
                                            repeatSecondsCap: o.costRepeatSecondsCap) { p in
                progress(ProfileProgress(phase: "cost", step: p.step, total: p.total, tokens: p.tokens,
                                         elapsed: Date().timeIntervalSince(t0)))
            }
            for l in 0..<layers.count {
                layers[l].measured_step_seconds = m.seconds[l]; layers[l].measured_peak_bytes = m.peakBytes[l]
            }
            costModel.measured_layers = m.measuredLayers
            costModel.measured_method = "repeated"
            timings["cost"] = Date().timeIntervalSince(t0)
        }
        // G = δᵀa products are only computed in the primal form (Gram mode keeps rows instead).
        let weightGrad = dims.reduce(0.0) { $0 + $1.reduce(0.0) { acc, m in
            ModuleAccumulator.usesGram(d: m.dIn, gramRows: gramRows) ? acc : acc + 2 * Double(m.dIn) * Double(m.dOut) } }
        let adapter0 = dims.first.map { $0.reduce(0.0) { $0 + 6 * Double(o.loraRank) * Double($1.dIn + $1.dOut) } } ?? 0
        let fbFlops = ((analytic.layerCost.first ?? 0) - adapter0 + weightGrad) * Double(positions)
        let forms = Set(modules.map { m in ModuleAccumulator.usesGram(d: m.d_in, gramRows: gramRows) ? "gram" : "primal" })
        return ProfileResult(loss: lossSum / Double(P), tokens: P, positions: positions, modules: modules, layers: layers,
                             coupling: coupling, costModel: costModel, timings: timings, forwardBackwardFlops: fbFlops,
                             statisticsForm: forms.count == 1 ? forms.first ?? "primal" : "mixed")
    }
}
