// One probe run: LoRA on a set of layers for N Adam steps over fixed train batches, the held-out loss before and
// after, and the wall time of every step (forward + truncated backward + update). Works on any TransformerModel and
// tokenized sequences, so tests drive it without a workspace. Deliberately single-threaded above BLAS and no
// early stopping, learning-rate schedule or gradient clipping (a probe compares placements, it does not tune).
import Foundation
import LCCore
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
}

public struct ProbeRunner: Sendable {
    public let model: TransformerModel
    public let train: [ReferenceSequence]
    public let eval: [ReferenceSequence]
    public let settings: ProbeSettings

    /// - Throws: `LCError.usage` for an encoder, empty train/eval sets, or steps/batch < 1.
    public init(model: TransformerModel, train: [ReferenceSequence], eval: [ReferenceSequence], settings: ProbeSettings) throws {
        guard model.isCausal else { throw LCError.usage("probe: \(model.config.architecture) is not a causal LM (encoders are not probed)") }
        guard !train.isEmpty, !eval.isEmpty else { throw LCError.usage("probe: need non-empty train and eval sets") }
        guard settings.steps >= 1, settings.batch >= 1 else { throw LCError.usage("probe: --steps and --batch must be at least 1") }
        self.model = model; self.train = train; self.eval = eval; self.settings = settings
    }

    /// Training batch for step i: train sequences i·B … i·B+B−1, cycling through the train set in order.
    public func trainBatch(_ i: Int) -> [ReferenceSequence] {
        let B = settings.batch, n = train.count
        return (0..<B).map { train[(i * B + $0) % n] }
    }

    /// Mean next-token loss of `m` over the eval set (spec §1: Σ losses / Σ targets over all eval batches).
    public func evalLoss(_ m: TransformerModel) throws -> Double {
        var sum = 0.0, count = 0
        for start in stride(from: 0, to: eval.count, by: settings.batch) {
            let chunk = Array(eval[start..<min(start + settings.batch, eval.count)])
            let r = try m.loss(tokens: chunk.map(\.ids), targetMask: chunk.map(\.lossMask))
            sum += r.sum; count += r.count
        }
        guard count > 0 else { throw LCError.usage("probe: the eval set has no target tokens") }
        return sum / Double(count)
    }

    /// Adapts `layers` for `settings.steps` steps and measures the held-out gain; `before` is the base model's eval
    /// loss (the same for every run, computed once by the caller).
    public func run(layers: [Int], before: Double) throws -> ProbeRunResult {
        let reset = PeakMemory.reset()
        let trainer = try LoRATrainer(model: model, layers: layers, options: settings.lora)
        var times: [Double] = [], losses: [Double] = []
        for i in 0..<settings.steps {
            let b = trainBatch(i)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let l = try trainer.step(tokens: b.map(\.ids), targetMask: b.map(\.lossMask))
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            losses.append(l.mean)
        }
        let after = try evalLoss(trainer.merged)
        return ProbeRunResult(layers: trainer.layers, eval_loss_before: before, eval_loss_after: after, gain: before - after,
                              step_seconds: ProbeStats.median(times) ?? 0, step_seconds_all: times, train_losses: losses,
                              peak_rss_bytes: ProcessStats.peakRSSBytes(), peak_rss_is_reset: reset,
                              trainable_parameters: trainer.parameterCount)
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
