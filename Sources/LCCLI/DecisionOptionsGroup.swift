// Options shared by `rank`, `report` and `diff`: what to select for (objective, k, target fraction),
// which signal and modules, and the LoRA hyper-parameters written into the PEFT config.
import ArgumentParser
import Foundation
import LCCard
import LCCore
import LCPipeline

extension Objective: ExpressibleByArgument {}
extension Signal: ExpressibleByArgument {}

public struct DecisionOptionsGroup: ParsableArguments {
    @Option(name: .customLong("objective"),
            help: "performance, cost or balanced; repeat for several. Default: all three.")
    public var objectives: [Objective] = []

    @Option(help: "Layer budget for performance (default ceil(L/4)) and balanced (default: best over all sizes).")
    public var k: Int?

    @Option(name: .customLong("target-fraction"), help: ArgumentHelp(
        "Share of gain(all layers) the cost objective must reach (default 0.9); for performance without --k, the smallest greedy set reaching it.",
        valueName: "F"))
    public var targetFraction: Double?

    @Option(help: ArgumentHelp("Comma-separated PEFT target modules (Hugging Face names, e.g. q_proj,v_proj). Default: every module of the architecture. Unknown names are an error.", valueName: "LIST"))
    public var modules: String?

    @Option(help: "Per-layer signal: grad_norm, resnorm, resnorm_lora, predicted_gain, measured_gain, or the forward-only block_influence or act_norm (cards profiled since they exist). Default: measured_gain if the card has it for every layer, else grad_norm.")
    public var signal: Signal?

    @Option(name: .customLong("set-model"), help: ArgumentHelp("How set gains are predicted: nnls-coupling (spec v1), kernel-nnls:TAU, additive:BETA or saturating:C. Default: the model leave-one-task-out validation chose for the signal (docs/validity/), else nnls-coupling.", valueName: "MODEL"))
    public var setModel: String?

    @Option(help: "LoRA rank r. Default: the rank the card's resnorm_lora used.")
    public var rank: Int?

    @Option(help: "lora_alpha. Default: 2·r.")
    public var alpha: Double?

    @Option(help: "lora_dropout.")
    public var dropout: Double = 0.05

    @Option(name: .customLong("base-model"), help: ArgumentHelp("base_model_name_or_path for the PEFT config. Default: the card's model id.", valueName: "NAME"))
    public var baseModel: String?

    public init() {}

    public var options: DecisionOptions {
        var o = DecisionOptions(objectives: objectives, k: k, targetFraction: targetFraction,
                                modules: modules.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } },
                                signal: signal, rank: rank, alpha: alpha, dropout: dropout, baseModel: baseModel)
        o.setModel = setModel.flatMap { try? SetModel(parsing: $0) }
        return o
    }

    public func validate() throws {
        if let s = setModel {
            do { _ = try SetModel(parsing: s) } catch let e as LCError { throw ValidationError("\(e)") }
        }
    }
}
