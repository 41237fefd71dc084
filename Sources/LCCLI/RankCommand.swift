// `layercard rank MODEL-ID|--all`: choose layers per objective and export PEFT / Axolotl configs.
import ArgumentParser
import Foundation
import LCPipeline

public struct RankCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Choose LoRA layers from a Layer Card and write PEFT and Axolotl configs.",
        discussion: """
        Reads outputs/<model-id>/card.json and, for each objective, writes outputs/<model-id>/selection-<objective>.json (chosen layers, signal, gain(S) as a share of gain(all), cost(S), speedup(S), and the baselines bottom-k, top-k, mid-k, uniform-k, random-k (mean of 10 seeded draws) and all layers at the same k), outputs/<model-id>/peft/<objective>/adapter_config.json (loads with peft.LoraConfig.from_pretrained) and axolotl.yaml, then manifests/<model-id>/rank.json. Layer 0 is the input side.

        Objectives: performance = greedy forward selection maximizing gain(S) (k layers); cost = the cheapest set whose gain reaches F·gain(all); balanced = the largest gain(S)/cost(S). gain(S) is the spec's non-negative quadratic model over the coupling matrix, so near-collinear layers are not double counted. Exit code: 0 all ranked, 1 some cards unreadable or malformed, 2 usage error (unknown module, bad --k, missing signal).

        Examples:
          layercard rank SmolLM2-135M-Instruct.Q4_1 --objective performance --k 6 --modules q_proj,v_proj
          layercard rank --all --workspace /srv/layercard
        """)

    @OptionGroup public var common: CommonOptions
    @OptionGroup public var selection: ModelSelection
    @OptionGroup public var decision: DecisionOptionsGroup

    public init() {}

    public func run() throws {
        let logger = common.logger("rank")
        let outcomes = try RankStage.run(RankRequest(workspace: common.ws, models: selection.all ? [] : selection.models,
                                                     options: decision.options), logger: logger)
        for o in outcomes {
            print("\(o.status.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(o.modelID): \(o.message)")
        }
        throw ExitCodes.code(for: outcomes)
    }
}
