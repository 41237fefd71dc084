// `layercard ingest PATH...`: find checkpoints and write one manifest per checkpoint.
import ArgumentParser
import Foundation
import LCPipeline

public struct IngestCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Find checkpoints under PATHs and write manifests/<model-id>/ingest.json for each.",
        discussion: """
        Walks directories (and accepts single files) and detects checkpoints by content: Hugging Face folders (config.json + model.safetensors, sharded safetensors with model.safetensors.index.json, or pytorch_model.bin), GGUF files (incl. split files), single safetensors / PyTorch files, and archives (.tar, .tar.gz, .tar.zst, .zip) holding any of these. The model id is the path relative to the scanned root with '/' replaced by '__' and the extension dropped. Unchanged checkpoints (same size and mtime) are skipped without hashing or rewriting. Exit code: 0 all ingested, 1 some checkpoints failed (their manifests say why; the rest finished), 2 usage error.

        Example:
          layercard ingest ~/models --workspace /srv/layercard
        """)

    @OptionGroup public var common: CommonOptions

    @Argument(help: ArgumentHelp("Checkpoint files or folders to scan.", valueName: "PATH"))
    public var paths: [String]

    @Flag(help: "Re-ingest even if the files are unchanged.")
    public var force = false

    public init() {}

    public func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one PATH to scan") }
    }

    public func run() throws {
        let logger = common.logger("ingest")
        let outcomes = try IngestStage.run(paths: paths.map { URL(fileURLWithPath: $0) }, workspace: common.ws,
                                           force: force, logger: logger)
        for o in outcomes {
            print("\(o.status.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(o.modelID)\(o.skipped ? " (unchanged)" : "")\(o.status == .ok ? "" : ": " + o.message)")
        }
        let failed = outcomes.filter { $0.status == .failed }.count
        print("ingest: \(outcomes.count) checkpoint(s), \(outcomes.filter { $0.status == .ok }.count) ok, \(failed) failed, \(outcomes.filter { $0.status == .unsupported }.count) unsupported, \(outcomes.filter { $0.skipped }.count) unchanged")
        throw ExitCodes.code(for: outcomes)
    }
}
