// `layercard profile MODEL-ID|--all`: compute the Layer Card of loaded models on a reference set.
import ArgumentParser
import Foundation
import LCPipeline

public struct ProfileCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Compute the Layer Card (per-module statistics, coupling, cost) of loaded models.",
        discussion: """
        Reads manifests/<model-id>/load.json and the reference set, runs forward and backward passes, and writes outputs/<model-id>/card.json, outputs/<model-id>/card.h5 and manifests/<model-id>/profile.json (last; a killed run leaves no torn card). Numbers follow layer-card-spec v1 and docs/decisions.md. The reference set is JSONL with {"text"}, {"prompt","response"} (loss on the response only) or pre-tokenized {"input_ids"} records; encoders need a "target" vector per record. Default: data/default-d2t.jsonl of the repository (found above the executable, or set LAYERCARD_DATA to the file). A model whose load, dataset and parameters are unchanged is skipped. Exit code: 0 all profiled, 1 some failed, 2 usage error.

        Example:
          layercard profile SmolLM2-135M-Instruct.Q4_1 --max-records 64 --batch 8 --workspace /srv/layercard
        """)

    @OptionGroup public var common: CommonOptions
    @OptionGroup public var selection: ModelSelection

    @Option(help: ArgumentHelp("Reference set (JSONL). Default: the repository's data/default-d2t.jsonl.", valueName: "FILE"))
    public var dataset: String?
    @Option(name: .customLong("max-tokens"), help: "Per-sequence token cap (longer sequences are truncated, never dropped).")
    public var maxTokens = 512
    @Option(name: .customLong("max-records"), help: "Use only the first M records (0 = all).")
    public var maxRecords = 64
    @Option(help: "Sequences per forward/backward batch.")
    public var batch = 8
    @Option(help: "OpenBLAS threads (default: number of cores).")
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("lora-rank"), help: "LoRA rank r for resnorm_lora and the cost model.")
    public var loraRank = 8
    @Option(help: "Seed of the LoRA A0 matrices (SplitMix64, docs/decisions.md).")
    public var seed: UInt64 = 1234
    @Option(name: .customLong("cost-depths"), help: "Layers at which step time is measured (evenly spaced, incl. first and last; 0 = none).")
    public var costDepths = 4
    @Option(name: .customLong("cost-repeats"), help: "Repeats per measured depth (median is kept).")
    public var costRepeats = 3
    @Option(name: .customLong("coupling-records"), help: "Coupling vectors cover the positions of the first K records (0 = all; coupling costs about one forward pass per layer).")
    public var couplingRecords = 16
    @Option(name: .customLong("coupling-max-tokens"), help: "Coupling vectors use at most the first N positions of each coupling record (0 = all). For causal LMs a prefix's hidden states are those of the whole sequence; big models: coupling costs ~L forward passes over its positions.")
    public var couplingMaxTokens = 0
    @Option(name: .customLong("cost-method"), help: ArgumentHelp(
        "repeated: median of forward + truncated backward steps at --cost-depths depths; segmented: every layer from per-stage timings of the statistics pass's first step (no extra passes); auto: segmented when weights are streamed.",
        valueName: "auto|repeated|segmented"))
    public var costMethod = "auto"
    @Option(name: .customLong("statistics-form"), help: ArgumentHelp(
        "auto: the exact N×N Gram form for input groups wider than the token count N (big models, few tokens), else the d×d form; primal or gram force one (same numbers).",
        valueName: "auto|primal|gram"))
    public var statisticsForm = "auto"
    @Flag(name: .customLong("no-coupling"), help: "Skip the coupling matrix (identity on the card).")
    public var noCoupling = false
    @Option(name: .customLong("memory-budget"), help: ArgumentHelp(
        "Bytes for weights + activations, with optional K/M/G suffix (default: 80% of available memory). Over budget, weights stream one layer at a time and activations are checkpointed.",
        valueName: "BYTES"))
    public var memoryBudget: String?
    @Flag(help: "Recompute even if the card is up to date.")
    public var force = false
    @Flag(name: .customLong("bench-sgemm"), help: .hidden)
    public var benchSgemm = false

    public init() {}

    public func validate() throws {
        if maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2") }
        if maxRecords < 0 { throw ValidationError("--max-records must be ≥ 0 (0 = all)") }
        if couplingRecords < 0 { throw ValidationError("--coupling-records must be ≥ 0 (0 = all)") }
        if couplingMaxTokens < 0 { throw ValidationError("--coupling-max-tokens must be ≥ 0 (0 = all)") }
        if CostMethod(rawValue: costMethod) == nil { throw ValidationError("--cost-method must be auto, repeated or segmented (got '\(costMethod)')") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if loraRank < 1 { throw ValidationError("--lora-rank must be at least 1") }
        if costDepths < 0 { throw ValidationError("--cost-depths must be ≥ 0") }
        if costRepeats < 1 { throw ValidationError("--cost-repeats must be at least 1") }
        if StatisticsForm(rawValue: statisticsForm) == nil { throw ValidationError("--statistics-form must be auto, primal or gram (got '\(statisticsForm)')") }
        if let m = memoryBudget, Self.parseBytes(m) == nil { throw ValidationError("--memory-budget: '\(m)' is not a byte count (e.g. 6000000000 or 6G)") }
    }

    /// "123", "6G", "512M", "64K" (powers of 1024) → bytes; nil when malformed, not positive, or overflowing.
    static func parseBytes(_ s: String) -> Int? {
        var digits = Substring(s.trimmingCharacters(in: .whitespaces)), mult = 1
        if let last = digits.last, let m = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40][String(last).uppercased()] {
            mult = m; digits = digits.dropLast()
        }
        guard let n = Int(digits), n > 0 else { return nil }
        let (v, o) = n.multipliedReportingOverflow(by: mult)
        return o ? nil : v
    }

    public func run() throws {
        let logger = common.logger("profile")
        var req = ProfileRequest(workspace: common.ws, models: selection.all ? [] : selection.models,
                                 dataset: dataset.map { URL(fileURLWithPath: $0) })
        req.maxTokens = maxTokens; req.maxRecords = maxRecords == 0 ? nil : maxRecords; req.threads = threads; req.force = force
        req.benchSgemm = benchSgemm
        req.memoryBudget = memoryBudget.flatMap(Self.parseBytes)
        req.options.batch = batch; req.options.loraRank = loraRank; req.options.loraSeed = seed
        req.options.coupling = !noCoupling; req.options.couplingRecords = couplingRecords == 0 ? nil : couplingRecords
        req.options.costDepths = costDepths; req.options.costRepeats = costRepeats
        req.options.couplingMaxTokens = couplingMaxTokens == 0 ? nil : couplingMaxTokens
        req.options.costMethod = CostMethod(rawValue: costMethod) ?? .auto
        req.options.statisticsForm = StatisticsForm(rawValue: statisticsForm) ?? .auto
        let outcomes = try ProfileStage.run(req, logger: logger)
        for o in outcomes {
            print("\(o.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(o.modelID)\(o.skipped ? " (skipped: \(o.message))" : "")\(o.status != .ok ? ": " + o.message : "")")
        }
        throw ExitCodes.code(for: outcomes)
    }
}
