// A probe run written down completely enough for an independent implementation to redo it (issue 14 item 3,
// scripts/reference/probe_golden.py with PyTorch + PEFT): the model's config, the adapted layers, the LoRA and Adam
// settings, every adapter's initial A, every training batch in step order, the eval chunks, and what LayerCard got
// (train loss per step, eval loss before/after, gain). Recorded through the plain path ProbeRunner.run takes
// (LoRATrainer.step per batch, evalLoss on the merged model); no timing, no memory figures. Floats are stored as
// JSON numbers of their exact Float64 value (Float32 → Double → JSON → Double → Float32 is exact).
import Foundation
import LCCore
import LCModel

public struct ProbeTrace: Codable, Sendable, Equatable {
    public static let formatName = "layercard-probe-trace/1"

    /// One forward's sequences, unpadded, as the trainer/eval got them.
    public struct Batch: Codable, Sendable, Equatable {
        public var ids: [[Int]]
        /// loss_mask[b][t]: token t of sequence b is a target (predicted from positions < t); position 0 never counts.
        public var loss_mask: [[Bool]]
        public init(ids: [[Int]], loss_mask: [[Bool]]) { self.ids = ids; self.loss_mask = loss_mask }
        init(_ seqs: [ReferenceSequence]) { ids = seqs.map(\.ids); loss_mask = seqs.map(\.lossMask) }
        /// Counted targets: token t ≥ 1 with loss_mask[t].
        public var targetCount: Int { loss_mask.reduce(0) { $0 + $1.dropFirst().filter { $0 }.count } }
    }

    /// LoRA and Adam settings, PEFT / torch.optim.Adam names where they exist.
    public struct LoRA: Codable, Sendable, Equatable {
        public var r: Int
        public var lora_alpha: Double
        /// lora_alpha / r (PEFT's `scaling` without rslora).
        public var scaling: Double
        /// Seed of LayerCard's A initialization (the A values themselves are in `adapters`).
        public var init_seed: UInt64
        /// PEFT target_modules, resolved (the architecture's order).
        public var target_modules: [String]
        public var lora_dropout: Double
        public var bias: String
        public var lr: Double
        public var beta1: Double
        public var beta2: Double
        public var eps: Double
        public var weight_decay: Double
    }

    /// One adapter: LoRA on `module` of `layer`; B starts at 0.
    public struct Adapter: Codable, Sendable, Equatable {
        public var layer: Int
        /// PEFT module name ("q_proj", ...).
        public var module: String
        public var d_in: Int
        public var d_out: Int
        public var rank: Int
        /// Initial A, row-major r × d_in (PEFT's lora_A.weight layout), Float32 values.
        public var a: [Double]
    }

    /// Everything the run depends on (a golden made from these inputs applies to any run with equal inputs).
    public struct Inputs: Codable, Sendable, Equatable {
        public var config: ModelConfig
        /// Adapted layers, ascending (PEFT layers_to_transform).
        public var layers: [Int]
        public var steps: Int
        /// Sequences per training batch and per eval forward.
        public var batch: Int
        public var lora: LoRA
        public var adapters: [Adapter]
        /// train_batches[i] is the batch of Adam step i (ProbeRunner.trainBatch(i)).
        public var train_batches: [Batch]
        /// The eval set in chunks of `eval_chunk_size` sequences (the last may be shorter).
        public var eval_chunk_size: Int
        public var eval_chunks: [Batch]
        public var eval_targets: Int
    }

    /// LayerCard's results for these inputs.
    public struct Outputs: Codable, Sendable, Equatable {
        /// Mean loss of step i's batch before its update (Σ target losses / #targets of the batch).
        public var train_losses: [Double]
        public var train_targets: [Int]
        /// Σ target losses / #targets over all eval chunks, base model.
        public var eval_loss_before: Double
        /// The same with the adapters after the last step.
        public var eval_loss_after: Double
        /// eval_loss_before − eval_loss_after.
        public var gain: Double
    }

    public var format: String
    /// How the numbers are defined, for a reader without the Swift code.
    public var conventions: [String]
    public var inputs: Inputs
    public var outputs: Outputs

    public static let conventionText = [
        "loss: position t of a sequence predicts token t+1; token t+1 counts iff loss_mask[t+1]; a batch's loss is the sum of "
            + "-log p over its counted tokens divided by their number (HF labels = ids where loss_mask, else -100)",
        "padding: sequences of a batch are right-padded with id 0 to the longest; padded keys are masked (attention_mask 0); "
            + "causal attention, so padding changes no real position",
        "lora: W_eff = W + scaling * B @ A on every (layer, module) of adapters; A (r x d_in) as given, B (d_out x r) = 0; "
            + "no dropout, no bias; only A and B train",
        "adam: torch.optim.Adam semantics (bias-corrected moments, eps added after the square root, weight_decay 0), "
            + "constant lr, one step per train batch, no clipping",
        "eval: sum of target losses over all eval chunks / total targets, before training (B = 0) and after the last step",
    ]

    public init(inputs: Inputs, outputs: Outputs) {
        format = Self.formatName; conventions = Self.conventionText; self.inputs = inputs; self.outputs = outputs
    }

    /// Writes the trace as the project's deterministic JSON (atomically).
    public func write(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(try JSON.encode(self), to: url)
    }

    /// - Throws: `LCError.io`/`LCError.format` for an unreadable file, bad JSON or another format.
    public static func read(_ url: URL) throws -> ProbeTrace {
        let t = try JSON.decode(ProbeTrace.self, from: url)
        guard t.format == formatName else { throw LCError.format(path: url.path, message: "format '\(t.format)', expected '\(formatName)'") }
        return t
    }
}

public enum ProbeTraceRecorder {
    /// Runs one probe run of `layers` the way ProbeRunner.run does (base eval loss, LoRATrainer steps on
    /// trainBatch(0..<steps), eval loss of the merged model) and records its inputs and results.
    /// - Throws: as ProbeRunner.run (bad layers, modules, tokens).
    public static func record(runner: ProbeRunner, layers: [Int]) throws -> ProbeTrace {
        let s = runner.settings, o = s.lora, c = runner.model.config
        let before = try runner.evalLoss(runner.model)
        let trainer = try LoRATrainer(model: runner.model, layers: layers, options: o)
        let adapters = trainer.adapters.map {
            ProbeTrace.Adapter(layer: $0.layer, module: $0.module, d_in: $0.dIn, d_out: $0.dOut, rank: $0.rank, a: $0.a.map(Double.init))
        }
        var batches: [ProbeTrace.Batch] = [], losses: [Double] = [], targets: [Int] = []
        for i in 0..<s.steps {
            let b = runner.trainBatch(i)
            let l = try trainer.step(tokens: b.map(\.ids), targetMask: b.map(\.lossMask))
            batches.append(ProbeTrace.Batch(b)); losses.append(l.mean); targets.append(l.count)
        }
        let after = try runner.evalLoss(trainer.merged)
        let chunks = stride(from: 0, to: runner.eval.count, by: s.batch).map {
            ProbeTrace.Batch(Array(runner.eval[$0..<min($0 + s.batch, runner.eval.count)]))
        }
        let lora = ProbeTrace.LoRA(r: o.rank, lora_alpha: o.alpha, scaling: o.scale, init_seed: o.seed,
                                   target_modules: Architecture.modules(c.architecture).filter { o.modules?.contains($0) ?? true },
                                   lora_dropout: 0, bias: "none", lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps,
                                   weight_decay: s.weight_decay)
        let inputs = ProbeTrace.Inputs(config: c, layers: trainer.layers, steps: s.steps, batch: s.batch, lora: lora,
                                       adapters: adapters, train_batches: batches, eval_chunk_size: s.batch, eval_chunks: chunks,
                                       eval_targets: chunks.reduce(0) { $0 + $1.targetCount })
        return ProbeTrace(inputs: inputs, outputs: ProbeTrace.Outputs(train_losses: losses, train_targets: targets,
                                                                      eval_loss_before: before, eval_loss_after: after,
                                                                      gain: before - after))
    }
}
