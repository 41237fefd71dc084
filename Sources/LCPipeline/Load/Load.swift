// The load stage: reads the ingest manifest, decodes every tensor (dequantizing GGUF blocks),
// brings it to canonical layout, checks for NaN/Inf, records statistics, and streams a
// canonical safetensors store to outputs/<id>/loaded/model.safetensors (one tensor in memory).
import Foundation
import LCCore
import LCFormats
import LCModel
import Logging

public struct LoadRequest: Sendable {
    public var workspace: Workspace
    /// Model ids; empty = every model with an ingest manifest.
    public var models: [String]
    public var precision: StorePrecision
    public var force: Bool
    public init(workspace: Workspace, models: [String], precision: StorePrecision = .f32, force: Bool = false) {
        self.workspace = workspace; self.models = models; self.precision = precision; self.force = force
    }
}

public enum LoadStage {
    public static func storeURL(_ ws: Workspace, model: String) -> URL {
        ws.outputDir(model: model).appendingPathComponent("loaded/model.safetensors")
    }

    public static func run(_ req: LoadRequest, logger: Logger) throws -> [StageOutcome] {
        let ws = req.workspace
        let ids = req.models.isEmpty ? ws.models(withStage: "ingest") : req.models
        if ids.isEmpty { throw LCError.usage("no ingested models in \(ws.manifestsDir.path); run 'layercard ingest' first") }
        var out: [StageOutcome] = []
        for id in ids {
            try Workspace.validateModelID(id)
            let mURL = ws.manifestURL(model: id, stage: "ingest")
            guard FileManager.default.fileExists(atPath: mURL.path) else {
                throw LCError.usage("model '\(id)' has no ingest manifest (\(mURL.path)); run 'layercard ingest' first")
            }
            let ingest: IngestManifest
            do { ingest = try JSON.decode(IngestManifest.self, from: mURL) } catch {
                out.append(StageOutcome(modelID: id, status: .failed, skipped: false, message: "\(error)"))
                logger.error("\(error)", metadata: ["model": "\(id)"])
                continue
            }
            guard ingest.status == .ok else {
                out.append(StageOutcome(modelID: id, status: ingest.status, skipped: true,
                                        message: "not loaded: ingest status is \(ingest.status.rawValue)"))
                continue
            }
            let o = loadOne(ingest, req: req, logger: logger)
            out.append(o)
        }
        return out
    }

    static func fingerprint(_ ingest: IngestManifest, precision: StorePrecision) -> String {
        fingerprint(ingestFingerprint: ingest.fingerprint, precision: precision)
    }

    /// The load fingerprint from the ingest fingerprint alone (the batch runner's freshness check).
    static func fingerprint(ingestFingerprint: String, precision: StorePrecision) -> String {
        Hashing.sha256(["load", ToolInfo.version, "\(LoadManifest.currentSchema)", precision.rawValue, ingestFingerprint].joined(separator: "\n"))
    }

    /// The previous load is still valid: same fingerprint, ok, store present with the recorded size.
    static func upToDate(_ ws: Workspace, id: String, fingerprint fp: String) -> LoadManifest? {
        let url = ws.manifestURL(model: id, stage: "load")
        guard let old = try? JSON.decode(LoadManifest.self, from: url), old.fingerprint == fp, old.status == .ok,
              let path = old.store_path, let bytes = old.store_bytes,
              let attrs = try? FileManager.default.attributesOfItem(atPath: path),
              (attrs[.size] as? Int) == bytes else { return nil }
        return old
    }

    /// The checkpoint's files still have the size and mtime ingest recorded (a cheap check, no hashing),
    /// so a store built from them is still the store of this checkpoint.
    static func sourcesUnchanged(_ ingest: IngestManifest) -> Bool {
        ingest.files.allSatisfy { f in
            guard let now = try? Ingest.fileRecord(URL(fileURLWithPath: f.path), role: f.role, base: URL(fileURLWithPath: "/")) else {
                return false
            }
            return now.bytes == f.bytes && now.mtime_ns == f.mtime_ns
        }
    }

    static func loadOne(_ ingest: IngestManifest, req: LoadRequest, logger: Logger) -> StageOutcome {
        let ws = req.workspace, id = ingest.model_id
        let fp = fingerprint(ingest, precision: req.precision)
        let sourcesSame = sourcesUnchanged(ingest)
        if !sourcesSame {
            logger.warning("checkpoint files changed since ingest; rebuilding the store (re-run 'layercard ingest' to refresh the manifest)",
                           metadata: ["model": "\(id)"])
        }
        if !req.force, sourcesSame, upToDate(ws, id: id, fingerprint: fp) != nil {
            logger.info("load unchanged, skipping", metadata: ["model": "\(id)"])
            return StageOutcome(modelID: id, status: .ok, skipped: true, message: "unchanged")
        }
        let started = Date()
        var m = LoadManifest(tool_version: ToolInfo.version, model_id: id, status: .ok, error: nil, precision: req.precision,
                             ingest_fingerprint: ingest.fingerprint, fingerprint: fp, architecture: ingest.architecture,
                             config: ingest.config, store_path: nil, store_sha256: nil, store_bytes: nil, aliases: [:],
                             tensors: [], tokenizer: ingest.tokenizer, seconds: 0, peak_rss_bytes: 0)
        let store = storeURL(ws, model: id)
        do {
            let r = try StoreBuilder.build(ingest, precision: req.precision, to: store, logger: logger)
            m.tensors = r.tensors; m.aliases = r.aliases
            m.store_path = store.path; m.store_sha256 = r.sha256; m.store_bytes = r.bytes
        } catch {
            try? FileManager.default.removeItem(at: store)
            let (status, err) = Ingest.describe(error, fallbackFile: ingest.source_path)
            m.status = status; m.error = err
        }
        m.seconds = Date().timeIntervalSince(started)
        m.peak_rss_bytes = ProcessStats.peakRSSBytes()
        do { try AtomicFile.write(try JSON.encode(m), to: ws.manifestURL(model: id, stage: "load")) } catch {
            return StageOutcome(modelID: id, status: .failed, skipped: false, message: "cannot write load manifest: \(error)")
        }
        let meta: Logger.Metadata = ["model": "\(id)", "seconds": "\(String(format: "%.2f", m.seconds))",
                                     "precision": "\(req.precision.rawValue)"]
        if m.status == .ok { logger.info("loaded", metadata: meta) } else { logger.error("\(m.error?.message ?? "failed")", metadata: meta) }
        return StageOutcome(modelID: id, status: m.status, skipped: false, message: m.error?.message ?? "ok")
    }
}
