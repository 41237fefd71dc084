// `layercard report MODEL-ID|--all`: render a card and its selections as Markdown, HTML and CSV.
import ArgumentParser
import Foundation
import LCPipeline

public struct ReportCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write report.md, a self-contained report.html and card.csv for Layer Cards.",
        discussion: """
        Reads outputs/<model-id>/card.json and writes outputs/<model-id>/report.md, report.html (one file: inline SVG plots, no scripts, no network: per-layer resnorm / grad_norm, activation energy on a log scale, predicted gain as a share of gain(all), cost per layer, the coupling heatmap, and a gain-vs-cost scatter with the Pareto front and every strategy on it; the recommended layers per objective with their PEFT snippet and baselines; provenance; caveats) and card.csv (one row per module), then manifests/<model-id>/report.json. Layer 0 is the input side.

        Selection parameters: the options below when any is given; otherwise those of the model's rank outputs when they were made from the same card; otherwise the defaults. Exit code: 0 all written, 1 some cards unreadable or malformed, 2 usage error.

        Examples:
          layercard report SmolLM2-135M-Instruct.Q4_1
          layercard report --all --workspace /srv/layercard
        """)

    @OptionGroup public var common: CommonOptions
    @OptionGroup public var selection: ModelSelection
    @OptionGroup public var decision: DecisionOptionsGroup

    public init() {}

    public func run() throws {
        let logger = common.logger("report")
        let given = decision.options != DecisionOptions()
        let outcomes = try ReportStage.run(ReportRequest(workspace: common.ws, models: selection.all ? [] : selection.models,
                                                         options: given ? decision.options : nil), logger: logger)
        for o in outcomes {
            print("\(o.status.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(o.modelID): \(o.message)")
        }
        throw ExitCodes.code(for: outcomes)
    }
}
