// Library entry point of the ingest stage for front ends (CLI, batch runner).
import Foundation
import Logging

public enum IngestStage {
    public static func run(paths: [URL], workspace: Workspace, force: Bool, logger: Logger) throws -> [StageOutcome] {
        try Ingest.run(IngestRequest(paths: paths, workspace: workspace, force: force), logger: logger)
    }
}

extension IngestStage {
    /// Ingests exactly `candidates` (already discovered, e.g. one shard's share) instead of walking paths.
    public static func run(candidates: [Candidate], workspace: Workspace, force: Bool, logger: Logger) -> [StageOutcome] {
        let req = IngestRequest(paths: candidates.map(\.url), workspace: workspace, force: force)
        return candidates.flatMap { Ingest.ingestCandidate($0, request: req, logger: logger) }
    }
}
