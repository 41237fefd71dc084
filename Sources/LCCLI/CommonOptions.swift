// Options every LayerCard command takes, and the process exit-code contract:
// 0 all done, 1 some checkpoints failed (the rest finished), 2 usage or configuration error.
import ArgumentParser
import Foundation
import LCCore
import LCKernels
import LCPipeline
import Logging

extension LogFormat: ExpressibleByArgument {}

public struct CommonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Workspace folder: manifests go to DIR/manifests, artifacts to DIR/outputs.", valueName: "DIR"))
    public var workspace: String = FileManager.default.currentDirectoryPath

    @Option(name: .customLong("log-format"), help: "Log lines on stderr: text or json (one object per line).")
    public var logFormat: LogFormat = .text

    @Flag(name: .shortAndLong, help: "Verbose (debug) logging.")
    public var verbose = false

    public init() {}

    public var ws: Workspace { Workspace(root: URL(fileURLWithPath: workspace)) }

    public func logger(_ label: String) -> Logger { LogSetup.logger(label, format: logFormat, verbose: verbose) }
}

public enum ExitCodes {
    public static let ok: Int32 = 0
    public static let someFailed: Int32 = 1
    public static let usage: Int32 = 2

    /// Exit code for a batch of per-model outcomes.
    public static func code(for outcomes: [StageOutcome]) -> ExitCode {
        outcomes.contains { $0.status == .failed } ? ExitCode(someFailed) : .success
    }
}

/// Runs a command with LayerCard's exit-code contract (ArgumentParser's usage errors exit 2, not 64).
public func runLayerCard(_ command: ParsableCommand.Type, arguments: [String]? = nil) -> Never {
    if arguments == nil {
        BLASRuntime.reexecWithBLASSettingsIfNeeded()
        AllocatorTuning.keepFreedBlocks()
    }
    do {
        var cmd = try command.parseAsRoot(arguments)
        try cmd.run()
        exit(0)
    } catch let e as ExitCode {
        exit(e.rawValue)
    } catch let e as LCError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        exit(ExitCodes.usage)
    } catch {
        let code = command.exitCode(for: error)
        if code == .success { command.exit(withError: error) } // --help, --version
        FileHandle.standardError.write(Data((command.fullMessage(for: error) + "\n").utf8))
        exit(code == .validationFailure ? ExitCodes.usage : code.rawValue)
    }
}
