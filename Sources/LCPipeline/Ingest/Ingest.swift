// The ingest stage: discover checkpoints, skip unchanged ones by a cheap (size, mtime) check,
// otherwise hash and inspect them and write `manifests/<model-id>/ingest.json` atomically.
// One bad checkpoint never stops the others: its manifest says `failed` and why.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LCCore
import LCFormats
import LCModel
import Logging

public struct IngestRequest: Sendable {
    public var paths: [URL]
    public var workspace: Workspace
    public var force: Bool
    public var archiveLimits: ArchiveLimits
    public init(paths: [URL], workspace: Workspace, force: Bool = false, archiveLimits: ArchiveLimits = .init()) {
        self.paths = paths; self.workspace = workspace; self.force = force; self.archiveLimits = archiveLimits
    }
}

public struct StageOutcome: Sendable {
    public var modelID: String
    public var status: StageStatus
    /// True when the stage found its previous result still valid and did no work.
    public var skipped: Bool
    public var message: String
}

public enum Ingest {
    /// Runs ingest over `request.paths`. Throws only for usage errors (a path that does not exist);
    /// checkpoint problems are reported per outcome.
    public static func run(_ request: IngestRequest, logger: Logger) throws -> [StageOutcome] {
        let candidates = try Discovery.discover(paths: request.paths)
        if candidates.isEmpty { logger.warning("no checkpoints found", metadata: ["paths": "\(request.paths.map(\.path))"]) }
        var outcomes: [StageOutcome] = []
        for c in candidates {
            let started = Date()
            let results = ingestCandidate(c, request: request, logger: logger)
            for r in results {
                let meta: Logger.Metadata = ["model": "\(r.modelID)", "status": "\(r.status.rawValue)",
                                             "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"]
                if r.skipped { logger.info("ingest unchanged, skipping", metadata: meta) }
                else if r.status == .ok { logger.info("ingested", metadata: meta) }
                else { logger.error("\(r.message)", metadata: meta) }
            }
            outcomes += results
        }
        return outcomes
    }

    static func fileRecord(_ url: URL, role: String, base: URL) throws -> FileRecord {
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            throw LCError.io(path: url.path, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        let p = url.standardizedFileURL.path, b = base.standardizedFileURL.path
        let rel = p.hasPrefix(b + "/") ? String(p.dropFirst(b.count + 1)) : url.lastPathComponent
        return FileRecord(path: p, relpath: rel, role: role, bytes: Int(st.st_size), mtime_ns: mtime, sha256: nil)
    }

    /// Same files with the same sizes and mtimes as the previous manifest → unchanged.
    static func unchanged(_ old: IngestManifest, files: [FileRecord], archive: FileRecord?) -> Bool {
        guard old.tool_version == ToolInfo.version, old.schema_version == IngestManifest.currentSchema else { return false }
        func key(_ f: FileRecord) -> String { "\(f.path)|\(f.bytes)|\(f.mtime_ns)" }
        if let a = archive {
            guard let oa = old.archive, key(oa) == key(a) else { return false }
            // Extracted files must still be in place.
            return old.files.allSatisfy { f in (try? fileRecord(URL(fileURLWithPath: f.path), role: f.role, base: URL(fileURLWithPath: "/"))).map { $0.bytes == f.bytes } ?? false }
        }
        return old.files.map(key) == files.map(key)
    }

    static func ingestCandidate(_ c: Candidate, request: Request, logger: Logger) -> [StageOutcome] {
        let ws = request.workspace
        if c.kind == .archive { return ingestArchive(c, request: request, logger: logger) }
        let base = c.kind == .hfFolder ? c.url : c.url.deletingLastPathComponent()
        let manifestURL = ws.manifestURL(model: c.modelID, stage: "ingest")
        var records: [FileRecord] = []
        do {
            let listed = try CheckpointInspector.files(of: c)
            records = try listed.map { try fileRecord($0.url, role: $0.role, base: base) }
        } catch {
            return [write(failure(c, error: error, files: records, archive: nil), to: manifestURL, logger: logger)]
        }
        if !request.force, FileManager.default.fileExists(atPath: manifestURL.path),
           let old = try? JSON.decode(IngestManifest.self, from: manifestURL), unchanged(old, files: records, archive: nil) {
            return [StageOutcome(modelID: c.modelID, status: old.status, skipped: true, message: old.error?.message ?? "unchanged")]
        }
        return [write(build(c, files: records, archive: nil), to: manifestURL, logger: logger)]
    }

    typealias Request = IngestRequest

    /// Hashes and inspects; never throws — errors become a failed/unsupported manifest.
    static func build(_ c: Candidate, files: [FileRecord], archive: FileRecord?, idOverride: String? = nil) -> IngestManifest {
        var files = files
        do {
            for i in files.indices { files[i].sha256 = try Hashing.sha256(file: URL(fileURLWithPath: files[i].path)) }
            let insp = try CheckpointInspector.inspect(c, files: files.map { (url: URL(fileURLWithPath: $0.path), role: $0.role) })
            var modules: [ModuleRecord] = []
            if let cfg = insp.config {
                modules = try TensorValidation.modules(cfg, tensors: insp.tensors, conv1DLayout: insp.format != "gguf",
                                                       path: c.url.path)
            }
            var m = manifest(c, status: .ok, error: nil, files: files, archive: archive)
            m.model_id = idOverride ?? c.modelID
            m.format = insp.format; m.architecture = insp.architecture; m.config = insp.config
            m.tensors = insp.tensors; m.modules = modules; m.tokenizer = insp.tokenizer; m.details = insp.details
            return m
        } catch {
            var m = failure(c, error: error, files: files, archive: archive)
            m.model_id = idOverride ?? c.modelID
            return m
        }
    }

    static func manifest(_ c: Candidate, status: StageStatus, error: StageError?, files: [FileRecord], archive: FileRecord?) -> IngestManifest {
        let fp = Hashing.sha256((["ingest", ToolInfo.version, "\(IngestManifest.currentSchema)"] +
                                 (archive.map { [$0.sha256 ?? "\($0.bytes)|\($0.mtime_ns)"] } ?? []) +
                                 files.map { "\($0.relpath)=\($0.sha256 ?? "\($0.bytes)|\($0.mtime_ns)")" }).joined(separator: "\n"))
        return IngestManifest(tool_version: ToolInfo.version, model_id: c.modelID, status: status, error: error,
                              source_path: c.url.path, scan_root: c.root.path, format: formatName(c.kind), archive: archive,
                              files: files, architecture: nil, config: nil, tensors: [], modules: [], tokenizer: nil,
                              details: [:], fingerprint: fp)
    }

    static func formatName(_ k: Candidate.Kind) -> String {
        switch k {
        case .gguf: return "gguf"
        case .safetensors, .hfFolder: return "safetensors"
        case .pytorch: return "pytorch"
        case .archive: return "archive"
        case .broken: return "unknown"
        }
    }

    static func failure(_ c: Candidate, error: Error, files: [FileRecord], archive: FileRecord?) -> IngestManifest {
        let (status, err) = describe(error, fallbackFile: c.url.path)
        return manifest(c, status: status, error: err, files: files, archive: archive)
    }

    /// Maps an error to a manifest status and message that names the file.
    static func describe(_ error: Error, fallbackFile: String) -> (StageStatus, StageError) {
        switch error {
        case let LCError.unsupported(path, message): return (.unsupported, StageError(file: path, message: "\(path): unsupported: \(message)"))
        case let LCError.format(path, message): return (.failed, StageError(file: path, message: "\(path): \(message)"))
        case let LCError.io(path, message): return (.failed, StageError(file: path, message: "\(path): \(message)"))
        default: return (.failed, StageError(file: fallbackFile, message: "\(fallbackFile): \(error)"))
        }
    }

    static func write(_ m: IngestManifest, to url: URL, logger: Logger) -> StageOutcome {
        do {
            try AtomicFile.write(try JSON.encode(m), to: url)
        } catch {
            return StageOutcome(modelID: m.model_id, status: .failed, skipped: false, message: "cannot write manifest: \(error)")
        }
        return StageOutcome(modelID: m.model_id, status: m.status, skipped: false, message: m.error?.message ?? "ok")
    }
}
