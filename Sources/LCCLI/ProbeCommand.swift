// `layercard probe MODEL-ID …`: short LoRA fine-tunes per layer and per layer set on a loaded model (issue 7),
// writing outputs/<id>/probe.json and the measured columns of card.json and card.h5. Option parsing only; the work is ProbeStage.
import ArgumentParser
import Foundation
import LCCore
import LCModel
import LCPipeline

public struct ProbeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Measure LoRA gain and step time per layer and per layer set (short fine-tunes).",
        discussion: """
        For every probed layer l, trains LoRA adapters (rank R, alpha A, Adam lr LR, weight decay 0) on layer l only for N steps and records the held-out loss decrease (measured_gain) and the median seconds per step (forward + backward truncated at l + update). Then runs the same training on layer sets of size K: the rank stage's selections (performance, cost, balanced; skipped with a note when outputs/<id>/selection-<objective>.json is absent), bottom-k, top-k, mid-k, uniform-k, random-k (mean over --random-draws draws) and all layers, reporting each set's gain, fraction of the all-layer gain, seconds per step and speed-up vs all layers. With a card (outputs/<id>/card.json) present, adds measured_gain / probe_step_seconds (and measured_step_seconds where profile left none) to its layers, the set table and the Spearman correlation (p-value, n) of measured_gain with resnorm, resnorm_lora, grad_norm, act_energy and predicted_gain, and rewrites card.h5 from the updated card (probe columns NaN-free: 0 with a <column>_mask). `layercard rank` then ranks by measured_gain when every layer was probed; `layercard report` shows the measured strategy table and a verdict.

        Data: --train FILE --eval FILE, or --dataset FILE split by --seed into train and eval (--eval-fraction); default data/default-d2t.jsonl. Loss per layer-card-spec §1 (response tokens only for prompt/response records).

        Example (SmolLM2, all 30 layers and the k = 5 sets; about 30 minutes on 2 quiet cores, see docs/examples/probe-smollm2.md):
          layercard probe SmolLM2-135M-Instruct.Q4_1 --steps 5 --batch 4 --max-tokens 128 --rank 8 --alpha 16 --lr 1e-3 --eval-fraction 0.1 --k 5 --sets all,bottom-k,top-k,mid-k,uniform-k,random-k,performance,cost,balanced
        """)

    @OptionGroup public var common: CommonOptions

    @Argument(help: ArgumentHelp("Model id (folder under DIR/manifests).", valueName: "MODEL-ID"))
    public var model: String

    @Option(help: "Layers to probe one at a time: all, or a comma list (e.g. 0,5,29).")
    public var layers = "all"

    @Option(help: "Layer sets: comma list of performance,cost,balanced,bottom-k,top-k,mid-k,uniform-k,random-k,all; 'none' for none.")
    public var sets = "performance,cost,balanced,bottom-k,top-k,mid-k,uniform-k,random-k,all"

    @Option(help: "Layers per set (baselines).")
    public var k = 5

    @Option(help: "Adam steps per run.")
    public var steps = 5

    @Option(help: "LoRA rank r.")
    public var rank = 8

    @Option(help: "LoRA alpha (scale alpha/r).")
    public var alpha = 16.0

    @Option(help: "Adam learning rate.")
    public var lr = 1e-3

    @Option(help: "Comma list of PEFT module names to adapt (default: all targetable modules).")
    public var modules: String?

    @Option(help: "Training JSONL (with --eval).")
    public var train: String?

    @Option(help: "Held-out JSONL (with --train).")
    public var eval: String?

    @Option(help: "One JSONL split into train/eval by --seed (default data/default-d2t.jsonl).")
    public var dataset: String?

    @Option(name: .customLong("eval-fraction"), help: "Fraction of --dataset records held out.")
    public var evalFraction = 0.2

    @Option(help: "Seed of the train/eval split.")
    public var seed: UInt64 = 0

    @Option(name: .customLong("lora-seed"), help: "Seed of LoRA A's initialization.")
    public var loraSeed: UInt64 = 1234

    @Option(name: .customLong("random-draws"), help: "Draws of random-k (seeds 0..<n).")
    public var randomDraws = 3

    @Option(name: .customLong("budget-minutes"), help: "Fit the probe into M minutes by probing an evenly spaced layer subsample (first and last always).")
    public var budgetMinutes: Double?

    @Option(help: "Sequences per training batch and per eval forward.")
    public var batch = 4

    @Option(name: .customLong("max-tokens"), help: "Per-sequence token cap (longer sequences are truncated).")
    public var maxTokens = 128

    @Option(help: "Seeds per layer set (A's init and batch order; seed 0 = --lora-seed and file order). The set's gain is the mean, its spread the sample std.")
    public var seeds = 1

    @Option(help: "Validation-corpus mode: a JSONL plan of {\"name\", \"layers\", \"seed\"} runs (no probe.json, no card edit); needs --results.")
    public var plan: String?

    @Option(help: "With --plan: JSONL file each finished run is appended to; entries already there (same settings and data) are skipped, so a killed run resumes.")
    public var results: String?

    @Flag(help: "After the single-layer sweep, measure the rank stage's choice per objective on the measured gains (+ shifted/swapped alternatives, --seeds each) and recommend the best measured set per objective; rank then uses it.")
    public var verify = false

    @Option(name: .customLong("target-fraction"), help: "With --verify: share of the all-layer gain the cost objective must reach, as measured.")
    public var targetFraction = 0.9

    @Option(name: .customLong("cache-mb"), help: "Memory for cached block inputs of the frozen model (runs start at their lowest adapted layer; same numbers); 0 = off.")
    public var cacheMB = 4096

    @Flag(help: "The plain path (benchmarks, checks): no input cache, full LM head; the same numbers, slower.")
    public var plain = false

    @Flag(name: .customLong("update-card"), help: "No training: re-apply outputs/<id>/probe.json to the current card.json (correlations recomputed).")
    public var updateCard = false

    @Flag(help: "Print probe.json on stdout.")
    public var json = false

    public init() {}

    public func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if rank < 1 || rank > 4096 { throw ValidationError("--rank must be in 1...4096") }
        if !(lr > 0) || !lr.isFinite { throw ValidationError("--lr must be positive") }
        if !alpha.isFinite || alpha <= 0 { throw ValidationError("--alpha must be positive") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2") }
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if randomDraws < 1 { throw ValidationError("--random-draws must be at least 1") }
        if !(evalFraction > 0 && evalFraction < 1) { throw ValidationError("--eval-fraction must be in (0, 1)") }
        if (train == nil) != (eval == nil) { throw ValidationError("--train and --eval go together") }
        if train != nil, dataset != nil { throw ValidationError("use --train/--eval or --dataset, not both") }
        if let b = budgetMinutes, !(b > 0) { throw ValidationError("--budget-minutes must be positive") }
        if seeds < 1 || seeds > 100 { throw ValidationError("--seeds must be in 1...100") }
        if !(targetFraction > 0 && targetFraction <= 1) { throw ValidationError("--target-fraction must be in (0, 1]") }
        if cacheMB < 0 { throw ValidationError("--cache-mb must be ≥ 0") }
        if (plan == nil) != (results == nil) { throw ValidationError("--plan and --results go together") }
        if plan != nil, updateCard { throw ValidationError("--plan and --update-card exclude each other") }
        _ = try parsedLayers()
        _ = try parsedSets()
    }

    func parsedLayers() throws -> [Int]? {
        if layers == "all" { return nil }
        let parts = layers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let v = parts.compactMap { Int($0) }
        guard !parts.isEmpty, v.count == parts.count, v.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--layers must be 'all' or a comma list of layer indices")
        }
        return v
    }

    func parsedSets() throws -> [String] {
        if sets == "none" { return [] }
        let v = sets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for s in v where !ProbeStage.allSets.contains(s) {
            throw ValidationError("--sets: unknown '\(s)' (one of \(ProbeStage.allSets.joined(separator: ",")), or none)")
        }
        return v
    }

    public func run() throws {
        let logger = common.logger("probe")
        let mods = modules.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        var lora = LoRAOptions(rank: rank, alpha: alpha, seed: loraSeed, lr: lr, modules: mods)
        lora.beta1 = 0.9; lora.beta2 = 0.999; lora.eps = 1e-8
        let rq = ProbeRequest(model: model, layers: try parsedLayers(), sets: try parsedSets(), k: k,
                              settings: ProbeSettings(steps: steps, batch: batch, lora: lora), maxTokens: maxTokens,
                              train: train.map { URL(fileURLWithPath: $0) }, eval: eval.map { URL(fileURLWithPath: $0) },
                              dataset: dataset.map { URL(fileURLWithPath: $0) }, evalFraction: evalFraction, seed: seed,
                              randomDraws: randomDraws, budgetMinutes: budgetMinutes)
        var rq2 = rq
        rq2.seeds = seeds
        rq2.cacheBudgetBytes = cacheMB << 20
        rq2.verify = verify
        if plain { rq2.cacheBudgetBytes = 0; rq2.compactHead = false }
        rq2.targetFraction = targetFraction
        if let plan, let results {
            do {
                let (ran, skipped) = try ProbePlan.run(workspace: common.ws, request: rq2, plan: URL(fileURLWithPath: plan),
                                                       results: URL(fileURLWithPath: results), logger: logger)
                print("probe plan: \(ran) run(s) measured, \(skipped) already in \(results)")
                return
            } catch let e as LCError {
                FileHandle.standardError.write(Data("error: \(e)\n".utf8))
                if case .usage = e { throw ExitCode(ExitCodes.usage) }
                throw ExitCode(ExitCodes.someFailed)
            }
        }
        let r: ProbeReport
        do {
            r = updateCard ? try ProbeStage.updateCard(workspace: common.ws, model: model, logger: logger)
                : try ProbeStage.run(workspace: common.ws, request: rq2, logger: logger)
        } catch let e as LCError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            if case .usage = e { throw ExitCode(ExitCodes.usage) }
            throw ExitCode(ExitCodes.someFailed)
        }
        if json {
            print(String(decoding: try JSON.encode(r), as: UTF8.self), terminator: "")
            return
        }
        print(ProbeText.render(r))
    }
}
