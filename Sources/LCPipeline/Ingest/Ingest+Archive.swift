// Archives (.tar, .tar.gz, .tar.zst, .zip holding checkpoints): extracted safely into
// `outputs/<model-id>/extracted/`, then each checkpoint inside is ingested. One checkpoint
// inside keeps the archive's model id; several get `<archive-id>__<inner-id>`.
import Foundation
import LCCore
import LCFormats
import Logging

extension Ingest {
    static func ingestArchive(_ c: Candidate, request: IngestRequest, logger: Logger) -> [StageOutcome] {
        let ws = request.workspace
        let manifestURL = ws.manifestURL(model: c.modelID, stage: "ingest")
        var arch: FileRecord
        do { arch = try fileRecord(c.url, role: "archive", base: c.url.deletingLastPathComponent()) } catch {
            return [write(failure(c, error: error, files: [], archive: nil), to: manifestURL, logger: logger)]
        }
        // Unchanged archive: every manifest that came from it is still valid.
        if !request.force {
            let previous = ws.models(withStage: "ingest").filter { $0 == c.modelID || $0.hasPrefix(c.modelID + "__") }
                .compactMap { try? JSON.decode(IngestManifest.self, from: ws.manifestURL(model: $0, stage: "ingest")) }
                .filter { $0.archive?.path == arch.path }
            if !previous.isEmpty, previous.allSatisfy({ unchanged($0, files: [], archive: arch) }) {
                return previous.map { StageOutcome(modelID: $0.model_id, status: $0.status, skipped: true, message: $0.error?.message ?? "unchanged") }
            }
        }
        let dest = ws.outputDir(model: c.modelID).appendingPathComponent("extracted", isDirectory: true)
        do {
            arch.sha256 = try Hashing.sha256(file: c.url)
            try? FileManager.default.removeItem(at: dest)
            _ = try ArchiveExtractor.extract(archive: c.url, into: dest, limits: request.archiveLimits)
            let inner = try Discovery.discover(paths: [dest]).map { cand -> Candidate in
                var cc = cand; cc.root = dest; return cc
            }
            let usable = inner.filter { $0.kind != .archive }
            guard !usable.isEmpty else {
                throw LCError.format(path: c.url.path, message: "archive holds no checkpoint (nested archives are not opened)")
            }
            var out: [StageOutcome] = []
            for cand in usable {
                let rel = Discovery.relative(cand.url, to: dest)
                let id = usable.count == 1 ? c.modelID : c.modelID + "__" + Workspace.modelID(fromRelativePath: Discovery.stripExtension(rel))
                let base = cand.kind == .hfFolder ? cand.url : cand.url.deletingLastPathComponent()
                let files = try CheckpointInspector.files(of: cand).map { try fileRecord($0.url, role: $0.role, base: base) }
                var m = build(cand, files: files, archive: arch, idOverride: id)
                m.source_path = c.url.path
                m.scan_root = c.root.path
                out.append(write(m, to: ws.manifestURL(model: id, stage: "ingest"), logger: logger))
            }
            return out
        } catch {
            try? FileManager.default.removeItem(at: dest)
            return [write(failure(c, error: error, files: [], archive: arch), to: manifestURL, logger: logger)]
        }
    }
}
