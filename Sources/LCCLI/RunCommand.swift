// `layercard run PATH...`: every selected stage for every checkpoint of this shard, incremental and
// crash-safe (see BatchRunner). Prints one line per stage that did work or failed, then a summary.
import ArgumentParser
import Foundation
import LCCore
import LCPipeline

public struct RunCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the pipeline stages over every checkpoint under PATHs, redoing only what changed.",
        discussion: """
        For each checkpoint found (as 'layercard ingest' finds them) and each selected stage in dependency order, a stage is skipped when its manifest's fingerprint (stage, tool version, parameters, input hashes) is unchanged and its outputs verify; otherwise it is redone and its outputs replaced atomically. A stage that failed on unchanged inputs is not retried (use --force). One bad checkpoint never stops the others. Each (model, stage) is done under an flock in DIR/locks, so concurrent runs and shards never write the same files; a run killed at any point leaves the workspace valid, and the next run completes it (and removes temp files of dead writers).

        Sharding: --shard I/N, else SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, else JOB_COMPLETION_INDEX/LAYERCARD_SHARD_COUNT, else 0/1. Model ids are sorted bytewise and shard I takes positions p with p mod N = I. A shard with nothing to do exits 0.

        --versions FILE (pipelines/versions.toml format) writes diffs between consecutive versions after the stages, when the diff stage is built in and the run is unsharded (sharded runs leave diffs to the diff job).

        Exit code: 0 all done, 1 some checkpoints failed (the rest finished; 'layercard status' says why), 2 usage error.

        Example:
          layercard run ~/models --workspace /srv/layercard --stages ingest,load
          layercard run /shared/models --workspace /shared/ws --shard 2/4 --versions pipelines/versions.toml
        """)

    @OptionGroup public var common: CommonOptions

    @Argument(help: ArgumentHelp("Checkpoint files or folders to scan.", valueName: "PATH"))
    public var paths: [String] = []

    @Option(help: ArgumentHelp("Comma-separated stages to run (default: all built in: \(StageRegistry.builtin.names.joined(separator: ","))).", valueName: "LIST"))
    public var stages: String?

    @Flag(help: "Redo every selected stage even if its result is current.")
    public var force = false

    @Option(help: ArgumentHelp("Process shard I of N (0 <= I < N).", valueName: "I/N"))
    public var shard: String?

    @Option(help: ArgumentHelp("Versions file: which model ids are successive versions (pipelines/versions.toml format).", valueName: "FILE"))
    public var versions: String?

    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("Seconds to wait for a (model, stage) lock held by another run before skipping it.", valueName: "SECONDS"))
    public var lockTimeout: Double = 600

    @Option(help: "Load stage storage precision: f32, bf16 or int8 (default: as recorded, else f32).")
    public var precision: StorePrecision?

    public init() {}

    public func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one PATH to scan") }
        if !(lockTimeout >= 0 && lockTimeout.isFinite) { throw ValidationError("--lock-timeout must be a number of seconds >= 0") }
    }

    public func run() throws {
        let logger = common.logger("run")
        let registry = StageRegistry.builtin
        let selected = try registry.select(stages)
        let shardSel = try Shard.resolve(flag: shard, environment: ProcessInfo.processInfo.environment)
        var series: [VersionSeries]?
        if let v = versions {
            do { series = try VersionsFile.load(URL(fileURLWithPath: v)) } catch let e as LCError {
                throw LCError.usage("versions file: \(e)")
            }
        }
        var options: [String: String] = [:]
        if let precision { options["precision"] = precision.rawValue }
        let started = Date()
        let report = try BatchRunner.run(BatchRequest(
            paths: paths.map { URL(fileURLWithPath: $0) }, workspace: common.ws, stages: selected, registry: registry,
            params: StageParams(force: force, options: options), shard: shardSel, versions: series, lockTimeout: lockTimeout), logger: logger)
        for s in report.steps where s.kind != .unchanged || s.status == .failed {
            let tag = s.status?.rawValue ?? s.kind.rawValue
            print("\(tag.padding(toLength: 11, withPad: " ", startingAt: 0)) \(s.model) \(s.stage): \(s.message)")
        }
        for t in report.sweptTemps { print("removed stray temp file of a dead writer: \(t)") }
        if let note = report.diffNote { print("versions: \(note)") }
        print("\(report.summary) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        throw ExitCode(report.exitCode)
    }
}
