// One probe run: LoRA on a set of layers for N Adam steps over fixed train batches, the held-out loss before and
// after, and the wall time of every step (forward + truncated backward + update). Works on any TransformerModel and
// tokenized sequences, so tests drive it without a workspace. Deliberately single-threaded above BLAS and no
// early stopping, learning-rate schedule or gradient clipping (a probe compares placements, it does not tune).
import Foundation
import LCCore
import LCKernels
import LCModel

/// Settings shared by every run of one probe (recorded in probe.json).
public struct ProbeSettings: Codable, Sendable, Equatable {
    public var steps: Int
    /// Sequences per training batch (and per eval forward).
    public var batch: Int
    public var lora: LoRAOptions
    /// Always 0 (recorded for readers).
    public var weight_decay: Double = 0
    public init(steps: Int, batch: Int, lora: LoRAOptions) { self.steps = steps; self.batch = batch; self.lora = lora }
}

/// The outcome of adapting one layer set.
public struct ProbeRunResult: Codable, Sendable, Equatable {
    public var layers: [Int]
    public var eval_loss_before: Double
    public var eval_loss_after: Double
    /// eval_loss_before − eval_loss_after (nats per target token); positive = the adapters helped.
    public var gain: Double
    /// Median wall time of one training step (seconds).
    public var step_seconds: Double
    /// Every step's wall time, in order.
    public var step_seconds_all: [Double]
    /// Training-batch loss at each step (before its update).
    public var train_losses: [Double]
    /// Process peak RSS during the run (bytes): VmHWM after resetting it at the run's start when the kernel allows
    /// (/proc/self/clear_refs), else the process-lifetime peak (see `peak_rss_is_reset`).
    public var peak_rss_bytes: Int
    public var peak_rss_is_reset: Bool
    public var trainable_parameters: Int
    /// Seed index of the run (A's initialization and batch order, `ProbeRunner.run(seed:)`); nil = 0.
    public var seed: Int? = nil
    /// Median seconds of the step as run (forward from the lowest adapted layer with the input cache, LM head on
    /// target positions only with the compact head); nil when neither was on. `step_seconds` adds the frozen
    /// forward below and the full head's extra time, both measured on the same batch.
    public var step_seconds_cached: Double? = nil
}

public struct ProbeRunner: Sendable {
    public let model: TransformerModel
    public let train: [ReferenceSequence]
    public let eval: [ReferenceSequence]
    public let settings: ProbeSettings
    /// Block inputs of the frozen base model per training batch and eval chunk (nil = every run does the whole
    /// forward). Not recorded anywhere: it changes no number (tests assert the cached path equals the plain one).
    let cache: ProbeInputCache?
    /// LM head only on target positions (TransformerModel.lossAndBackward `compactHead`; same numbers). The step time
    /// then swaps the compact head's measured seconds for those of the full head on the same batch
    /// (`fullHeadSeconds`), so it stays the time of a training step that computes every logit.
    public let compactHead: Bool
    let headTimes = ProbeHeadTimes()

    /// - Parameter cacheBudgetBytes: memory allowed for the cached block inputs (0 = no cache). The cache is
    ///   skipped when the model streams its weights or when the train batches of the steps and the eval set would
    ///   need more than this.
    /// - Throws: `LCError.usage` for an encoder, empty train/eval sets, or steps/batch < 1.
    public init(model: TransformerModel, train: [ReferenceSequence], eval: [ReferenceSequence], settings: ProbeSettings,
                cacheBudgetBytes: Int = 4 << 30, compactHead: Bool = true) throws {
        guard model.isCausal else { throw LCError.usage("probe: \(model.config.architecture) is not a causal LM (encoders are not probed)") }
        guard !train.isEmpty, !eval.isEmpty else { throw LCError.usage("probe: need non-empty train and eval sets") }
        guard settings.steps >= 1, settings.batch >= 1 else { throw LCError.usage("probe: --steps and --batch must be at least 1") }
        self.model = model; self.train = train; self.eval = eval; self.settings = settings
        self.compactHead = compactHead && !model.streamsWeights
        let perOrder = ProbeInputCache.bytes(model: model, batches: (0..<settings.steps).map { Self.batch(train, settings.batch, $0, order: nil) })
        let evalBytes = ProbeInputCache.bytes(model: model, batches: Self.evalChunks(eval, settings.batch))
        let fits = cacheBudgetBytes > 0 && perOrder + evalBytes <= cacheBudgetBytes
        cache = !model.streamsWeights && fits ? ProbeInputCache(budget: cacheBudgetBytes) : nil
    }

    /// True when runs start their forward at the lowest adapted layer from cached inputs.
    public var usesInputCache: Bool { cache != nil }

    /// Training batch for step i: train sequences i·B … i·B+B−1, cycling through the train set in order.
    public func trainBatch(_ i: Int) -> [ReferenceSequence] { Self.batch(train, settings.batch, i, order: nil) }

    /// Training batch for step i of seed `seed`: seed 0 is `trainBatch(i)`; seed s > 0 cycles through the train set
    /// in the order of a Fisher–Yates shuffle by SplitMix64(seed: s) (docs/decisions.md "Probe seeds").
    public func trainBatch(_ i: Int, seed: Int) -> [ReferenceSequence] {
        Self.batch(train, settings.batch, i, order: seed == 0 ? nil : Self.order(count: train.count, seed: seed))
    }

    static func batch(_ train: [ReferenceSequence], _ B: Int, _ i: Int, order: [Int]?) -> [ReferenceSequence] {
        let n = train.count
        return (0..<B).map { j -> ReferenceSequence in
            let p = (i * B + j) % n
            return train[order?[p] ?? p]
        }
    }

    /// The train order of seed s > 0.
    static func order(count n: Int, seed: Int) -> [Int] {
        var g = ProbeRNG(seed: 0x5EED_0000_0000 ^ UInt64(seed))
        var o = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { o.swapAt(i, Int(g.next() % UInt64(i + 1))) } }
        return o
    }

    /// LoRA options of seed s: A's seed moves by s golden-ratio increments (s = 0 keeps the given seed).
    public func loraOptions(seed: Int) -> LoRAOptions {
        var o = settings.lora
        o.seed = o.seed &+ UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
        return o
    }

    static func evalChunks(_ eval: [ReferenceSequence], _ B: Int) -> [[ReferenceSequence]] {
        stride(from: 0, to: eval.count, by: B).map { Array(eval[$0..<min($0 + B, eval.count)]) }
    }

    /// Mean next-token loss of `m` over the eval set (spec §1: Σ losses / Σ targets over all eval batches).
    public func evalLoss(_ m: TransformerModel) throws -> Double {
        var sum = 0.0, count = 0
        for chunk in Self.evalChunks(eval, settings.batch) {
            let r = try m.loss(tokens: chunk.map(\.ids), targetMask: chunk.map(\.lossMask), from: nil, compactHead: compactHead)
            sum += r.sum; count += r.count
        }
        guard count > 0 else { throw LCError.usage("probe: the eval set has no target tokens") }
        return sum / Double(count)
    }

    /// `evalLoss` of a model whose blocks below `layer` are the base model's, from the cached block inputs.
    func evalLoss(_ m: TransformerModel, from layer: Int, cache: ProbeInputCache) throws -> Double {
        var sum = 0.0, count = 0
        for (c, chunk) in Self.evalChunks(eval, settings.batch).enumerated() {
            let x = try cache.inputs(key: .eval(c), model: model, tokens: chunk.map(\.ids)).inputs[layer]
            let r = try m.loss(tokens: chunk.map(\.ids), targetMask: chunk.map(\.lossMask), from: (layer, x), compactHead: compactHead)
            sum += r.sum; count += r.count
        }
        guard count > 0 else { throw LCError.usage("probe: the eval set has no target tokens") }
        return sum / Double(count)
    }

    /// Adapts `layers` for `settings.steps` steps and measures the held-out gain; `before` is the base model's eval
    /// loss (the same for every run, computed once by the caller). `seed` picks A's initialization and the batch
    /// order (`loraOptions(seed:)`, `trainBatch(_:seed:)`; 0 = the settings' own). `plain: true` runs the whole
    /// forward every time even when the input cache is on (the reference the tests compare against).
    ///
    /// Step time: with the cache, a step's forward starts at the lowest adapted layer l; the recorded step time adds
    /// the frozen forward below l as measured for the same batch when the cache was filled, so `step_seconds` stays
    /// the time of a whole training step (`step_seconds_cached` holds the part measured in the run itself).
    /// Seconds of the full LM head (forward, loss, backward to the last block's output) of the base model on step i's
    /// batch of `seed`, measured once per batch.
    func fullHeadSeconds(seed: Int, step i: Int, tokens: [[Int]], mask: [[Bool]]) throws -> Double {
        if let t = headTimes.get(seed: seed, step: i) { return t }
        let L = model.config.numLayers
        let timer = StepTimer(layers: L)
        let from = try cache.map { (layer: L - 1, input: try $0.inputs(key: .train(seed: seed, step: i), model: model, tokens: tokens).inputs[L - 1]) }
        _ = try model.lossAndBackward(tokens: tokens, targetMask: mask, from: from, stopAtLayer: L, compactHead: false, timer: timer) { _ in }
        headTimes.set(seed: seed, step: i, timer.head)
        return timer.head
    }

    public func run(layers: [Int], before: Double, seed: Int = 0, plain: Bool = false) throws -> ProbeRunResult {
        let reset = PeakMemory.reset()
        let trainer = try LoRATrainer(model: model, layers: layers, options: loraOptions(seed: seed))
        let lo = trainer.layers.first ?? 0
        let cache = plain ? nil : self.cache
        var times: [Double] = [], cachedTimes: [Double] = [], losses: [Double] = []
        for i in 0..<settings.steps {
            let b = trainBatch(i, seed: seed)
            let tokens = b.map(\.ids), mask = b.map(\.lossMask)
            let entry = try cache?.inputs(key: .train(seed: seed, step: i), model: model, tokens: tokens)
            let fullHead = compactHead ? try fullHeadSeconds(seed: seed, step: i, tokens: tokens, mask: mask) : 0
            let timer = compactHead ? StepTimer(layers: model.config.numLayers) : nil
            let t0 = DispatchTime.now().uptimeNanoseconds
            let l = try trainer.step(tokens: tokens, targetMask: mask, from: entry?.inputs[lo], compactHead: compactHead, timer: timer)
            let measured = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let t = measured - (timer?.head ?? 0) + fullHead
            if entry != nil || compactHead { cachedTimes.append(measured) }
            times.append(t + (entry?.seconds[lo] ?? 0))
            losses.append(l.mean)
        }
        let after = try cache.map { try evalLoss(trainer.merged, from: lo, cache: $0) } ?? evalLoss(trainer.merged)
        return ProbeRunResult(layers: trainer.layers, eval_loss_before: before, eval_loss_after: after, gain: before - after,
                              step_seconds: ProbeStats.median(times) ?? 0, step_seconds_all: times, train_losses: losses,
                              peak_rss_bytes: ProcessStats.peakRSSBytes(), peak_rss_is_reset: reset,
                              trainable_parameters: trainer.parameterCount, seed: seed == 0 ? nil : seed,
                              step_seconds_cached: cachedTimes.isEmpty ? nil : ProbeStats.median(cachedTimes))
    }

}

/// The frozen base model's block inputs per batch (training batches per seed and step, eval chunks), filled on
/// first use, with the seconds the forward spent before each block (for the whole-step time). One run uses it at a
/// time (the probe's runs are sequential); the lock makes that safe anyway.
final class ProbeInputCache: @unchecked Sendable {
    enum Key: Hashable { case train(seed: Int, step: Int), eval(Int) }
    struct Entry { let inputs: [FloatBuffer]; let seconds: [Double] }
    private var entries: [Key: Entry] = [:]
    private var bytes = 0
    private let budget: Int
    private let lock = NSLock()

    init(budget: Int) { self.budget = budget }

    /// Bytes of the block inputs of `batches` (L inputs of B·T·C floats each).
    static func bytes(model: TransformerModel, batches: [[ReferenceSequence]]) -> Int {
        let c = model.config
        return batches.reduce(0) { acc, b in
            acc + c.numLayers * b.count * (b.map(\.ids.count).max() ?? 0) * c.hiddenSize * MemoryLayout<Float>.size
        }
    }

    /// The entry of `key`, computing it from `tokens` with the base model when absent. Entries past the budget are
    /// computed, used and not kept.
    func inputs(key: Key, model: TransformerModel, tokens: [[Int]]) throws -> Entry {
        lock.lock(); defer { lock.unlock() }
        if let e = entries[key] { return e }
        let (inputs, seconds) = try model.timedBlockInputs(try model.makeBatch(tokens))
        let e = Entry(inputs: inputs, seconds: seconds)
        let size = inputs.reduce(0) { $0 + $1.count * MemoryLayout<Float>.size }
        if bytes + size <= budget { entries[key] = e; bytes += size }
        return e
    }
}

/// Resetting the process's peak-RSS mark so a run's peak can be read on its own.
enum PeakMemory {
    /// Writes "5" to /proc/self/clear_refs (Linux ≥ 4.0 resets VmHWM to the current RSS). Returns false when that
    /// is not possible; the peak then covers the whole process lifetime.
    static func reset() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)); return true } catch { return false }
    }
}

/// Full-head seconds per (seed, step) batch, measured once (ProbeRunner.fullHeadSeconds).
final class ProbeHeadTimes: @unchecked Sendable {
    private var t: [String: Double] = [:]
    private let lock = NSLock()
    func get(seed: Int, step: Int) -> Double? { lock.lock(); defer { lock.unlock() }; return t["\(seed).\(step)"] }
    func set(seed: Int, step: Int, _ v: Double) { lock.lock(); defer { lock.unlock() }; t["\(seed).\(step)"] = v }
}
