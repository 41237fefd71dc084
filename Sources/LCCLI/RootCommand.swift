// The umbrella `layercard` command.
import ArgumentParser

public struct RootCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "layercard",
        abstract: "Which layers of an LLM to put LoRA adapters into: ingest → load → profile → rank → report.",
        discussion: """
        Each stage is its own subcommand (and its own executable, layercard-<stage>), reading and writing only files in the workspace (DIR/manifests, DIR/outputs), so any stage can be rerun alone or fanned out.

        Example:
          layercard ingest ~/models --workspace /srv/layercard
        """,
        version: "0.1.0",
        subcommands: [IngestCommand.self, LoadCommand.self, ProfileCommand.self, RankCommand.self, ReportCommand.self,
                      DiffCommand.self, EvalCommand.self, RunCommand.self, StatusCommand.self])

    public init() {}
}
