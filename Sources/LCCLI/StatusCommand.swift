// `layercard status`: models × stages with their state, from the workspace manifests. Exit 1 when any
// stage failed, so cron and CI can alert on it.
import ArgumentParser
import Foundation
import LCCore
import LCPipeline

public struct StatusCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the state of every model and stage in a workspace; exit 1 if any failed.",
        discussion: """
        States: done (current and outputs verify), stale (inputs or parameters changed, or outputs gone: the next run redoes it), failed (with the reason), unsupported, missing (never ran), blocked (an upstream stage is missing or not ok). The time is the manifest's modification time (UTC). Read-only: safe to run while a batch is running.

        Exit code: 0 nothing failed, 1 at least one stage failed, 2 usage error.

        Example:
          layercard status --workspace /srv/layercard
          layercard status --workspace /srv/layercard --json | jq '.models[] | select(.stages[].state == "failed")'
        """)

    @OptionGroup public var common: CommonOptions

    @Flag(help: "Print the table as one JSON object on stdout.")
    public var json = false

    public init() {}

    public func run() throws {
        let st = WorkspaceStatus.collect(common.ws)
        if json {
            FileHandle.standardOutput.write(try JSON.encode(st))
        } else {
            print(st.table())
        }
        throw ExitCode(st.failed > 0 ? 1 : 0)
    }
}
