// `layercard diff A B`: compare two Layer Cards (model versions, tasks) and say whether a selection transfers.
import ArgumentParser
import Foundation
import LCPipeline

public struct DiffCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two Layer Cards: per-layer deltas, rank correlations, selection overlap, verdict.",
        discussion: """
        A and B are model ids in the workspace (outputs/<id>/card.json) or paths to card.json files. Writes outputs/diffs/<A>__<B>/diff.json, diff.md and diff.html: layers matched by index and modules by Hugging Face name; per-layer and per-module deltas of every column (B − A), layers flagged when a column changes by more than --tolerance; Spearman rank correlation (average ranks for ties) of the resnorm, predicted_gain and grad_norm rankings (flagged below 0.8); Jaccard overlap of each objective's selection recomputed on both cards with the same parameters; and a verdict line, "selection still valid" (every correlation >= 0.8 and every Jaccard >= 0.5) or "changed".

        Exit code: 0 whatever the verdict; 2 for different spec versions or layer counts (unless --allow-mismatch), malformed cards (the message names the file and field) or usage errors.

        Example:
          layercard diff SmolLM2-135M-Instruct.Q4_1 SmolLM2-135M-Instruct.Q8_0
          layercard diff runs/old/card.json runs/new/card.json --workspace /srv/layercard
        """)

    @OptionGroup public var common: CommonOptions

    @Argument(help: ArgumentHelp("First card: model id or path to card.json.", valueName: "A"))
    public var a: String
    @Argument(help: ArgumentHelp("Second card: model id or path to card.json.", valueName: "B"))
    public var b: String

    @Flag(name: .customLong("allow-mismatch"), help: "Compare cards with different spec versions or layer counts (common layers only).")
    public var allowMismatch = false

    @Option(help: "Relative change (and absolute coupling change) above which a layer is flagged.")
    public var tolerance: Double = 0.05

    @Option(help: ArgumentHelp("Output folder (default DIR/outputs/diffs/<A>__<B>).", valueName: "DIR"))
    public var out: String?

    @OptionGroup public var decision: DecisionOptionsGroup

    public init() {}

    public func run() throws {
        let logger = common.logger("diff")
        let r = try DiffStage.run(DiffRequest(workspace: common.ws, a: a, b: b, allowMismatch: allowMismatch, tolerance: tolerance,
                                              options: decision.options, outDir: out.map { URL(fileURLWithPath: $0) }), logger: logger)
        for c in r.diff.correlations {
            print("spearman \(c.column.padding(toLength: 15, withPad: " ", startingAt: 0)) \(String(format: "%.3f", c.spearman))\(c.flagged ? "  (below 0.8)" : "")")
        }
        for o in r.diff.selections {
            print("jaccard  \(o.objective.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \(String(format: "%.2f", o.jaccard))  A \(o.a_layers)  B \(o.b_layers)")
        }
        print("changed layers: \(r.diff.changed_layers)")
        print("verdict: \(r.diff.verdict)")
        print("wrote \(r.dir.path)")
    }
}
