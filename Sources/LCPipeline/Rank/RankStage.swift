// The rank stage: card → selection-<objective>.json + peft/<objective>/{adapter_config.json,
// axolotl.yaml} under outputs/<model-id>/, then manifests/<model-id>/rank.json last (the commit
// marker, listing every output with its SHA-256). Cheap, so it always recomputes (no skip check).
import Foundation
import LCCard
import LCCore
import Logging

/// One output file of a stage, with its hash.
public struct OutputRecord: Codable, Sendable, Equatable {
    public var path: String
    public var sha256: String
    public var bytes: Int
}

/// manifests/<id>/{rank,report}.json (readable as the batch runner's `ManifestHeader`).
public struct DecisionManifest: Codable, Sendable {
    public var schema_version = 1
    public var stage: String
    public var tool_version = ToolInfo.version
    public var model_id: String
    public var status: StageStatus
    public var error: StageError?
    /// SHA-256 of stage, tool version, schema, the options and the card's SHA-256 (see `RankStage.fingerprint`).
    public var fingerprint: String
    /// The options the stage ran with.
    public var options: DecisionOptions
    public var card_path: String
    public var card_sha256: String?
    public var outputs: [OutputRecord]
}

/// The content of outputs/<id>/selection-<objective>.json.
public struct SelectionFile: Codable, Sendable, Equatable {
    public var schema_version = 1
    public var tool_version = ToolInfo.version
    public var model_id: String
    public var spec_version: Int
    public var card_path: String
    public var card_sha256: String
    public var signal: Signal
    public var signal_source: String
    /// Why this signal was used: "requested (--signal …)" or the spec §6 default and its reason (measured_gain when
    /// every layer was probed; grad_norm without a probe or when the probe covered only some layers). Optional so
    /// selection files from before it still decode.
    public var signal_reason: String?
    /// Whether --signal named it (false = the default).
    public var signal_requested: Bool?
    public var modules: [String]
    /// "layer 0 = input side (next to the embeddings)".
    public var layer_convention = "layer 0 = input side (next to the embeddings)"
    public var lora: LoraParams
    public var selection: Selection
    /// Smallest eigenvalue of the card's coupling when it was not positive definite and had to be clipped to
    /// PSD before solving; null when it was positive definite.
    public var coupling_min_eigenvalue: Double?
    public var peft_dir: String

    public struct LoraParams: Codable, Sendable, Equatable {
        public var r: Int
        public var lora_alpha: Double
        public var lora_dropout: Double
        public var target_modules: [String]
        public var base_model_name_or_path: String
    }
}

public struct RankRequest: Sendable {
    public var workspace: Workspace
    /// Model ids; empty = every model with outputs/<id>/card.json.
    public var models: [String]
    public var options: DecisionOptions
    public init(workspace: Workspace, models: [String], options: DecisionOptions) {
        self.workspace = workspace; self.models = models; self.options = options
    }
}

public enum RankStage {
    public static func cardURL(_ ws: Workspace, model: String) -> URL {
        ws.outputDir(model: model).appendingPathComponent("card.json")
    }

    /// Model ids with a card, sorted.
    public static func modelsWithCards(_ ws: Workspace) -> [String] {
        let fm = FileManager.default
        guard let ids = try? fm.contentsOfDirectory(atPath: ws.outputsDir.path) else { return [] }
        return ids.filter { fm.fileExists(atPath: cardURL(ws, model: $0).path) }.sorted()
    }

    /// Resolves explicit ids (must have a card: usage error otherwise) or all models with cards.
    static func resolve(_ ws: Workspace, _ models: [String]) throws -> [String] {
        let ids = models.isEmpty ? modelsWithCards(ws) : models
        if ids.isEmpty { throw LCError.usage("no cards in \(ws.outputsDir.path); run 'layercard profile' first") }
        for id in ids {
            try Workspace.validateModelID(id)
            let u = cardURL(ws, model: id)
            guard FileManager.default.fileExists(atPath: u.path) else {
                throw LCError.usage("model '\(id)' has no card (\(u.path)); run 'layercard profile' first")
            }
        }
        return ids
    }

    /// Ranks every selected model. Usage errors (unknown module, bad k/F, missing signal) throw (exit 2);
    /// an unreadable or malformed card fails only that model (exit 1).
    public static func run(_ req: RankRequest, logger: Logger) throws -> [StageOutcome] {
        let ws = req.workspace
        var out: [StageOutcome] = []
        for id in try resolve(ws, req.models) {
            let cURL = cardURL(ws, model: id)
            let card: LayerCard
            let sha = (try? Hashing.sha256(file: cURL)) ?? ""
            let fp = fingerprint(stage: "rank", cardSHA: sha, options: req.options)
            do { card = try LayerCard.load(from: cURL) } catch {
                logger.error("\(error)", metadata: ["model": "\(id)"])
                try writeManifest(ws, DecisionManifest(stage: "rank", model_id: id, status: .failed, error: failure(error, path: cURL.path),
                                                       fingerprint: fp, options: req.options, card_path: cURL.path, card_sha256: sha, outputs: []))
                out.append(StageOutcome(modelID: id, status: .failed, skipped: false, message: "\(error)"))
                continue
            }
            let d = try Decide.decide(card, options: req.options)
            logger.info("signal", metadata: ["model": "\(id)", "signal": "\(d.signal.rawValue)", "why": "\(d.signalReason)"])
            let records = try writeOutputs(d, ws: ws, id: id, cardURL: cURL)
            try writeManifest(ws, DecisionManifest(stage: "rank", model_id: id, status: .ok, fingerprint: fp, options: req.options,
                                                   card_path: cURL.path, card_sha256: sha, outputs: records))
            for s in d.selections {
                logger.info("selected", metadata: ["model": "\(id)", "objective": "\(s.objective.rawValue)",
                                                   "layers": "\(s.chosen.layers)", "signal": "\(d.signal.rawValue)",
                                                   "gain_fraction": "\(String(format: "%.3f", s.chosen.gain_fraction))",
                                                   "speedup": "\(String(format: "%.3f", s.chosen.speedup))"])
            }
            let summary = d.selections.map { "\($0.objective.rawValue) \($0.chosen.layers)" }.joined(separator: "; ")
                + " (signal \(d.signal.rawValue): \(d.signalReason))"
            out.append(StageOutcome(modelID: id, status: .ok, skipped: false, message: summary))
        }
        return out
    }

    /// Fingerprint of a rank or report run: what it was computed from and with.
    public static func fingerprint(stage: String, cardSHA: String, options: DecisionOptions) -> String {
        let opts = (try? JSON.encode(options)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return Hashing.sha256([stage, ToolInfo.version, "1", cardSHA, opts].joined(separator: "\n"))
    }

    /// What a decision stage's output depends on besides its options: the card, and for report also the
    /// rank run it takes its parameters from.
    public static func inputKey(_ ws: Workspace, id: String, stage: String, cardSHA: String) -> String {
        guard stage == "report" else { return cardSHA }
        return cardSHA + ":" + (ManifestHeader.read(ws, model: id, stage: "rank")?.fingerprint ?? "no-rank")
    }

    static func failure(_ error: Error, path: String) -> StageError {
        if case let LCError.format(p, _) = error { return StageError(file: p, message: "\(error)") }
        if case let LCError.io(p, _) = error { return StageError(file: p, message: "\(error)") }
        return StageError(file: path, message: "\(error)")
    }

    static func writeManifest(_ ws: Workspace, _ m: DecisionManifest) throws {
        try AtomicFile.write(try JSON.encode(m), to: ws.manifestURL(model: m.model_id, stage: m.stage))
    }

    static func record(_ data: Data, _ url: URL) throws -> OutputRecord {
        try AtomicFile.write(data, to: url)
        return OutputRecord(path: url.path, sha256: Hashing.sha256(data), bytes: data.count)
    }

    /// Writes the selection files and PEFT/Axolotl configs of every objective in `d`.
    public static func writeOutputs(_ d: Decision, ws: Workspace, id: String, cardURL: URL) throws -> [OutputRecord] {
        let dir = ws.outputDir(model: id)
        let cardSHA = try Hashing.sha256(file: cardURL)
        // The stage replaces all its outputs: selections of objectives not run now would be stale.
        for o in Objective.allCases {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("selection-\(o.rawValue).json"))
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("peft/\(o.rawValue)", isDirectory: true))
        }
        var records: [OutputRecord] = []
        for s in d.selections {
            let peftDir = dir.appendingPathComponent("peft/\(s.objective.rawValue)", isDirectory: true)
            let cfg = PEFTExport.loraConfig(d, layers: s.chosen.layers)
            let file = SelectionFile(model_id: id, spec_version: d.card.spec_version, card_path: cardURL.path, card_sha256: cardSHA,
                                     signal: d.signal, signal_source: d.signalSource, signal_reason: d.signalReason,
                                     signal_requested: d.signalRequested, modules: d.modules,
                                     lora: .init(r: d.rank, lora_alpha: d.alpha, lora_dropout: d.dropout,
                                                 target_modules: cfg.target_modules, base_model_name_or_path: d.baseModel),
                                     selection: s, coupling_min_eigenvalue: d.selector.gain.couplingMinEigenvalue, peft_dir: peftDir.path)
            records.append(try record(try JSON.encode(file), dir.appendingPathComponent("selection-\(s.objective.rawValue).json")))
            records.append(try record(try PEFTExport.adapterConfigJSON(d, layers: s.chosen.layers),
                                      peftDir.appendingPathComponent("adapter_config.json")))
            records.append(try record(Data(PEFTExport.axolotlYAML(d, selection: s).utf8), peftDir.appendingPathComponent("axolotl.yaml")))
        }
        return records
    }
}
