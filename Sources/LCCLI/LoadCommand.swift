// `layercard load MODEL-ID|--all`: build the canonical weight store of ingested checkpoints.
import ArgumentParser
import Foundation
import LCPipeline

extension StorePrecision: ExpressibleByArgument {}

/// Selects models: explicit ids or `--all`.
public struct ModelSelection: ParsableArguments {
    @Argument(help: ArgumentHelp("Model ids (folder names under DIR/manifests).", valueName: "MODEL-ID"))
    public var models: [String] = []

    @Flag(help: "Every model in the workspace.")
    public var all = false

    public init() {}

    public func validate() throws {
        if models.isEmpty && !all { throw ValidationError("give MODEL-ID(s) or --all") }
        if !models.isEmpty && all { throw ValidationError("give either MODEL-ID(s) or --all, not both") }
    }
}

public struct LoadCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Dequantize and convert ingested checkpoints into a canonical weight store.",
        discussion: """
        Reads manifests/<model-id>/ingest.json and writes outputs/<model-id>/loaded/model.safetensors (Hugging Face tensor names, [out, in] layout, GGUF llama Q/K rows un-permuted, GPT-2 Conv1D transposed, tied lm_head recorded as an alias) plus manifests/<model-id>/load.json with per-tensor statistics and quantization error. The store is a plain safetensors file: open it with safetensors.safe_open. --precision int8 stores 2-D weights as per-output-channel symmetric int8 with an F32 '<name>_scale' tensor beside each. NaN or Inf in a weight fails the load naming the tensor. Exit code: 0 all loaded, 1 some failed, 2 usage error.

        Example:
          layercard load --all --workspace /srv/layercard --precision bf16
        """)

    @OptionGroup public var common: CommonOptions
    @OptionGroup public var selection: ModelSelection

    @Option(help: "Storage precision of the store: f32, bf16 or int8.")
    public var precision: StorePrecision = .f32

    @Flag(help: "Rebuild even if the store is up to date.")
    public var force = false

    public init() {}

    public func run() throws {
        let logger = common.logger("load")
        let outcomes = try LoadStage.run(LoadRequest(workspace: common.ws, models: selection.all ? [] : selection.models,
                                                     precision: precision, force: force), logger: logger)
        for o in outcomes {
            print("\(o.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(o.modelID)\(o.skipped ? " (skipped: \(o.message))" : "")\(o.status == .failed && !o.skipped ? ": " + o.message : "")")
        }
        throw ExitCodes.code(for: outcomes)
    }
}
