// probe.json (outputs/<id>/probe.json) and the probe's additions to the card: per-layer measured_gain and
// probe_step_seconds, the set table and the Spearman correlations of measured_gain with the card's signals.
// card.json is edited as generic JSON so every field written by other stages survives; only optional fields are
// added. card.h5 is then rewritten from the LayerCard decoded from exactly those card.json bytes (one value, two
// files), so it carries the same measured columns, correlations and set table (layout: LayerCard+HDF5.swift).
import Foundation
import LCCard
import LCCore

/// One layer set's measured numbers (the strategy table).
public struct ProbeSetResult: Codable, Sendable, Equatable {
    /// "performance", "cost", "balanced" (from the rank stage's selections), "bottom-k", "top-k", "mid-k",
    /// "uniform-k", "random-k" (mean over draws), "all".
    public var name: String
    public var layers: [Int]
    public var gain: Double
    /// gain / gain(all layers); nil when "all" was not run or its gain is ≤ 0.
    public var gain_fraction: Double?
    public var step_seconds: Double
    /// step_seconds(all) / step_seconds; nil when "all" was not run.
    public var speedup: Double?
    /// random-k: every draw's run (layers, gain, step seconds); the set's numbers are their means.
    public var draws: [ProbeRunResult]?
    /// For the card's choices: the selection file it came from.
    public var source: String?
    /// With `--seeds N > 1`: every seed's run (seed 0 first); `gain` is their mean.
    public var seed_runs: [ProbeRunResult]? = nil
    /// Number of seeds behind `gain` (nil = 1).
    public var seeds: Int? = nil
    /// Sample standard deviation of the seeds' gains (nats/token); nil with one seed.
    public var gain_spread: Double? = nil
}

/// Spearman correlation of measured_gain with one card signal over the probed layers.
public struct ProbeCorrelation: Codable, Sendable, Equatable {
    /// Card column: resnorm, resnorm_lora, grad_norm, act_energy (layer mean: act_energy_mean), predicted_gain.
    public var signal: String
    public var spearman: Double?
    /// Two-sided p-value, t-approximation with n−2 degrees of freedom.
    public var p_value: Double?
    public var n: Int
}

public struct ProbeDatasetInfo: Codable, Sendable, Equatable {
    public var train_path: String
    public var eval_path: String
    public var train_sha256: String
    public var eval_sha256: String
    public var train_records: Int
    public var eval_records: Int
    /// Target tokens in the eval set (the denominator of the held-out loss).
    public var eval_targets: Int
    /// Set when train/eval came from one file split by seed.
    public var eval_fraction: Double?
    public var split_seed: UInt64?
    public var max_tokens: Int
}

public struct ProbeReport: Codable, Sendable, Equatable {
    public static let schemaVersion = 1
    public var schema_version = ProbeReport.schemaVersion
    public var tool_version = ToolInfo.version
    public var model_id: String
    /// Fingerprint of the weight store: its SHA-256 from the load manifest (else the manifest's fingerprint), the
    /// same convention as the card's model_fingerprint so the report can tell whether both describe one store.
    public var model_fingerprint: String
    public var dataset: ProbeDatasetInfo
    public var settings: ProbeSettings
    public var eval_loss_before: Double
    /// Single-layer runs, ascending layer.
    public var layers: [ProbeRunResult]
    /// Layers probed one at a time (all, or the budget's subsample).
    public var measured_layers: [Int]
    public var k: Int
    public var sets: [ProbeSetResult]
    public var correlations: [ProbeCorrelation]
    /// Things a reader must know (skipped sets, budget subsampling, missing card).
    public var notes: [String]
    public var elapsed_seconds: Double
    /// With --verify: the best measured set per objective (ProbeVerify).
    public var recommendations: [ProbeRecommendation]? = nil
}

public enum ProbeCard {
    /// Card signals correlated with measured_gain: (name in the report, layer field in card.json).
    public static let signals: [(String, String)] = [("resnorm", "resnorm"), ("resnorm_lora", "resnorm_lora"),
                                                     ("grad_norm", "grad_norm"), ("act_energy", "act_energy_mean"),
                                                     ("predicted_gain", "predicted_gain"),
                                                     ("block_influence", "block_influence"), ("act_norm", "act_norm")]

    /// Spearman of measured gain against each signal read from card layer objects (`layers[i]["layer"]` keyed).
    public static func correlations(measured: [Int: Double], cardLayers: [[String: Any]]) -> [ProbeCorrelation] {
        var byLayer: [Int: [String: Any]] = [:]
        for o in cardLayers { if let l = (o["layer"] as? NSNumber)?.intValue { byLayer[l] = o } }
        return signals.map { name, field in
            var x: [Double] = [], y: [Double] = []
            for (l, g) in measured.sorted(by: { $0.key < $1.key }) {
                guard let v = (byLayer[l]?[field] as? NSNumber)?.doubleValue, v.isFinite, g.isFinite else { continue }
                x.append(v); y.append(g)
            }
            let rho = ProbeStats.spearman(x, y)
            return ProbeCorrelation(signal: name, spearman: rho, p_value: rho.flatMap { ProbeStats.spearmanPValue(rho: $0, n: x.count) },
                                    n: x.count)
        }
    }

    /// Reads card.json's layer objects; nil when the file does not exist.
    /// - Throws: `LCError.format` when it exists but is not a card (no "layers" array).
    public static func readLayers(_ url: URL) throws -> (root: [String: Any], layers: [[String: Any]])? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw LCError.io(path: url.path, message: "cannot read: \(error.localizedDescription)") }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let layers = root["layers"] as? [[String: Any]] else {
            throw LCError.format(path: url.path, message: "not a layer card (no \"layers\" array)")
        }
        return (root, layers)
    }

    /// Adds `measured_gain`, `probe_step_seconds`, `probe_peak_bytes` (and `measured_step_seconds` /
    /// `measured_peak_bytes` where the card has none from profile) to the probed layers and a `probe`
    /// object (settings, sets, correlations, measured layers) to card.json, rewritten atomically. Other fields are
    /// kept as they are. Layers not probed keep whatever they had. Then card.h5 (beside card.json) is rewritten
    /// atomically from the LayerCard those card.json bytes decode to, before card.json itself is replaced.
    /// - Returns: nil when both files were written; a note when card.json is not a complete Layer Card (then only
    ///   card.json is written and an existing card.h5 keeps its older content).
    @discardableResult
    public static func update(cardURL: URL, report: ProbeReport) throws -> String? {
        guard var (root, layers) = try readLayers(cardURL) else { return nil }
        let byLayer = Dictionary(report.layers.compactMap { r in r.layers.first.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        for i in layers.indices {
            guard let l = (layers[i]["layer"] as? NSNumber)?.intValue, let r = byLayer[l] else { continue }
            layers[i]["measured_gain"] = r.gain
            // profile owns measured_step_seconds/measured_peak_bytes when it measured or interpolated them (one
            // consistent column); the probe's own step time always goes to probe_step_seconds.
            if layers[i]["measured_step_seconds"] == nil || layers[i]["measured_step_seconds"] is NSNull {
                layers[i]["measured_step_seconds"] = r.step_seconds
            }
            if layers[i]["measured_peak_bytes"] == nil || layers[i]["measured_peak_bytes"] is NSNull {
                layers[i]["measured_peak_bytes"] = Double(r.peak_rss_bytes)
            }
            layers[i]["probe_step_seconds"] = r.step_seconds
            layers[i]["probe_peak_bytes"] = Double(r.peak_rss_bytes)
        }
        root["layers"] = layers
        struct CardProbe: Encodable {
            let settings: ProbeSettings; let measured_layers: [Int]; let eval_loss_before: Double; let k: Int
            let sets: [ProbeSetResult]; let correlations: [ProbeCorrelation]; let dataset: ProbeDatasetInfo; let notes: [String]
            let recommendations: [ProbeRecommendation]?
        }
        var sets = report.sets
        for i in sets.indices { sets[i].draws = sets[i].draws?.map { var d = $0; d.step_seconds_all = []; d.train_losses = []; return d } }
        let probe = CardProbe(settings: report.settings, measured_layers: report.measured_layers, eval_loss_before: report.eval_loss_before,
                              k: report.k, sets: sets, correlations: report.correlations, dataset: report.dataset, notes: report.notes,
                              recommendations: report.recommendations)
        root["probe"] = try JSONSerialization.jsonObject(with: try JSON.encode(probe))
        let out: Data
        do { out = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]) }
        catch { throw LCError.format(path: cardURL.path, message: "cannot re-encode card: \(error)") }
        let bytes = out + Data("\n".utf8)
        var note: String?
        let card: LayerCard?
        do { card = try LayerCard.decode(bytes, path: cardURL.path) } catch {
            card = nil
            note = "card.h5 not updated: the edited \(cardURL.lastPathComponent) is not a complete Layer Card (\(error))"
        }
        if let card { try card.writeHDF5(to: h5URL(cardURL)) }
        try AtomicFile.write(bytes, to: cardURL)
        return note
    }

    /// card.h5 beside card.json.
    public static func h5URL(_ cardURL: URL) -> URL { cardURL.deletingPathExtension().appendingPathExtension("h5") }
}
