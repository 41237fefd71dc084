// Library entry point of the ingest stage for front ends (CLI, batch runner).
import Foundation
import Logging

public enum IngestStage {
    public static func run(paths: [URL], workspace: Workspace, force: Bool, logger: Logger) throws -> [StageOutcome] {
        try Ingest.run(IngestRequest(paths: paths, workspace: workspace, force: force), logger: logger)
    }
}
