// card.h5: the Layer Card as HDF5 for array tools (h5py, pandas). Layout:
//   /modules/{layer,d_in,d_out (int64), module (utf-8 strings), grad_norm,act_energy,resnorm,resnorm_lora,
//             lambda_max,effective_rank (float64; NaN = not computed)}
//   /layers/{layer (int64), grad_norm,resnorm,resnorm_lora,act_energy_mean,predicted_gain,cost,cost_relative,
//            activation_bytes_per_token,measured_step_seconds,measured_peak_bytes,block_influence,act_norm
//            (float64; NaN = none; block_influence and act_norm are absent from files written before they existed)}
//   /layers/{measured_gain,probe_step_seconds,probe_peak_bytes} (float64, 0 where not probed) with
//            /layers/{measured_gain_mask,probe_step_seconds_mask,probe_peak_bytes_mask} (int64, 1 = measured): the
//            probe's columns are NaN-free, a subset probe (--budget-minutes, --layers) is told apart by the mask
//   /probe (only when the probe ran; card.json's `probe` object):
//     /probe/measured_layers (int64)
//     /probe/sets/{name,source (strings; "" = none), membership (n_sets × L int64, 1 = layer adapted), k (int64),
//                  gain,step_seconds (float64), gain_fraction,speedup (float64, 0 when unavailable) with
//                  gain_fraction_mask,speedup_mask (int64)}                      (when the probe ran sets)
//     /probe/correlations/{signal (strings), spearman,p_value (float64, 0 when undefined) with spearman_mask,
//                          p_value_mask (int64), n (int64)}                        (when there are correlations)
//   /coupling (L×L float64)
//   root attributes: spec_version, schema_version, tokens (int64); loss (float64); tool_version, model_id,
//   architecture, model_fingerprint, dataset_sha256 (strings); dataset, parameters, config, cost_model and, when
//   probed, probe (JSON strings).
// Written to a temp file then renamed. Deliberately mirrors card.json; card.json stays the source of truth.
import Foundation
import LCCore
import LCModel

extension LayerCard {
    static func jsonString<T: Encodable>(_ v: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(v), as: UTF8.self)
    }

    /// Writes the card as HDF5 at `url` atomically (temp file in the same folder, then rename).
    /// - Throws: `LCError.io`/`.format` naming the file and the object that failed.
    public func writeHDF5(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = AtomicFile.tempURL(for: url)
        do {
            let f = try HDF5File.create(tmp)
            try f.createGroup("/modules")
            try f.writeInts("/modules/layer", modules.map(\.layer))
            try f.writeStrings("/modules/module", modules.map(\.module))
            try f.writeInts("/modules/d_in", modules.map(\.d_in))
            try f.writeInts("/modules/d_out", modules.map(\.d_out))
            try f.writeDoubles("/modules/grad_norm", modules.map(\.grad_norm))
            try f.writeDoubles("/modules/act_energy", modules.map(\.act_energy))
            try f.writeDoubles("/modules/resnorm", modules.map(\.resnorm))
            try f.writeDoubles("/modules/resnorm_lora", modules.map(\.resnorm_lora))
            try f.writeDoubles("/modules/lambda_max", modules.map { $0.lambda_max ?? .nan })
            try f.writeDoubles("/modules/effective_rank", modules.map { $0.effective_rank ?? .nan })
            try f.createGroup("/layers")
            try f.writeInts("/layers/layer", layers.map(\.layer))
            let cols: [(String, (LayerStats) -> Double?)] = LayerCard.layerColumns
            for (name, get) in cols { try f.writeDoubles("/layers/\(name)", layers.map { get($0) ?? .nan }) }
            for (name, get) in LayerCard.maskedLayerColumns {
                try f.writeDoubles("/layers/\(name)", layers.map { get($0) ?? 0 })
                try f.writeInts("/layers/\(name)_mask", layers.map { get($0) == nil ? 0 : 1 })
            }
            if let probe { try writeProbe(probe, to: f) }
            let L = coupling.count
            try f.writeDoubles("/coupling", coupling.flatMap { $0 }, dims: [L, L])
            try f.setAttribute("spec_version", spec_version)
            try f.setAttribute("schema_version", schema_version)
            try f.setAttribute("tokens", tokens)
            try f.setAttribute("loss", loss)
            try f.setAttribute("tool_version", tool_version)
            try f.setAttribute("model_id", model_id)
            try f.setAttribute("architecture", architecture)
            try f.setAttribute("model_fingerprint", model_fingerprint)
            try f.setAttribute("dataset_sha256", dataset.sha256)
            try f.setAttribute("dataset", LayerCard.jsonString(dataset))
            try f.setAttribute("parameters", LayerCard.jsonString(parameters))
            try f.setAttribute("config", LayerCard.jsonString(config))
            try f.setAttribute("cost_model", LayerCard.jsonString(cost_model))
            if let probe { try f.setAttribute("probe", LayerCard.jsonString(probe)) }
            try f.close()
            try AtomicFile.commit(temp: tmp, to: url)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// The probe's table and correlations as arrays (the `probe` attribute holds the same object as JSON).
    private func writeProbe(_ p: CardProbe, to f: HDF5File) throws {
        let L = layers.count
        try f.createGroup("/probe")
        if !p.measured_layers.isEmpty { try f.writeInts("/probe/measured_layers", p.measured_layers) }
        if !p.sets.isEmpty {
            let s = p.sets
            try f.createGroup("/probe/sets")
            try f.writeStrings("/probe/sets/name", s.map(\.name))
            try f.writeStrings("/probe/sets/source", s.map { $0.source ?? "" })
            try f.writeInts("/probe/sets/membership", s.flatMap { set in (0..<L).map { set.layers.contains($0) ? 1 : 0 } }, dims: [s.count, L])
            try f.writeInts("/probe/sets/k", s.map(\.layers.count))
            try f.writeDoubles("/probe/sets/gain", s.map(\.gain))
            try f.writeDoubles("/probe/sets/step_seconds", s.map(\.step_seconds))
            for (name, get) in [("gain_fraction", { (x: CardProbeSet) in x.gain_fraction }), ("speedup", { (x: CardProbeSet) in x.speedup })] {
                try f.writeDoubles("/probe/sets/\(name)", s.map { get($0) ?? 0 })
                try f.writeInts("/probe/sets/\(name)_mask", s.map { get($0) == nil ? 0 : 1 })
            }
        }
        if !p.correlations.isEmpty {
            let c = p.correlations
            try f.createGroup("/probe/correlations")
            try f.writeStrings("/probe/correlations/signal", c.map(\.signal))
            try f.writeInts("/probe/correlations/n", c.map(\.n))
            for (name, get) in [("spearman", { (x: CardProbeCorrelation) in x.spearman }), ("p_value", { (x: CardProbeCorrelation) in x.p_value })] {
                try f.writeDoubles("/probe/correlations/\(name)", c.map { get($0) ?? 0 })
                try f.writeInts("/probe/correlations/\(name)_mask", c.map { get($0) == nil ? 0 : 1 })
            }
        }
    }

    /// The float64 columns of /layers written by profile, in file order (nil is stored as NaN).
    static var layerColumns: [(String, (LayerStats) -> Double?)] { [
        ("grad_norm", { $0.grad_norm }), ("resnorm", { $0.resnorm }), ("resnorm_lora", { $0.resnorm_lora }),
        ("act_energy_mean", { $0.act_energy_mean }), ("predicted_gain", { $0.predicted_gain }), ("cost", { $0.cost }),
        ("cost_relative", { $0.cost_relative }), ("activation_bytes_per_token", { $0.activation_bytes_per_token }),
        ("measured_step_seconds", { $0.measured_step_seconds }), ("measured_peak_bytes", { $0.measured_peak_bytes }),
        ("block_influence", { $0.block_influence }), ("act_norm", { $0.act_norm }),
    ] }

    /// Columns of `layerColumns` that files written before them lack (read back as nil).
    static let laterLayerColumns: Set<String> = ["block_influence", "act_norm"]

    /// The probe's float64 columns of /layers: nil is stored as 0 with `<name>_mask` = 0 (NaN-free).
    static var maskedLayerColumns: [(String, (LayerStats) -> Double?)] { [
        ("measured_gain", { $0.measured_gain }), ("probe_step_seconds", { $0.probe_step_seconds }),
        ("probe_peak_bytes", { $0.probe_peak_bytes }),
    ] }

    /// Reads a card written by `writeHDF5`.
    /// - Throws: `LCError.format(path:…)` naming the missing or inconsistent object.
    public static func readHDF5(from url: URL) throws -> LayerCard {
        let f = try HDF5File.open(url)
        defer { try? f.close() }
        func bad(_ m: String) -> LCError { .format(path: url.path, message: m) }
        func decode<T: Decodable>(_ t: T.Type, _ attr: String) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: Data(try f.stringAttribute(attr).utf8)) } catch let e as LCError {
                throw e
            } catch { throw bad("attribute \(attr): \(JSON.describe(error))") }
        }
        let mLayer = try f.readInts("/modules/layer"), names = try f.readStrings("/modules/module")
        let dIn = try f.readInts("/modules/d_in"), dOut = try f.readInts("/modules/d_out")
        var mCols: [String: [Double]] = [:]
        for c in ["grad_norm", "act_energy", "resnorm", "resnorm_lora", "lambda_max", "effective_rank"] {
            mCols[c] = try f.readDoubles("/modules/\(c)").values
        }
        let n = mLayer.count
        guard names.count == n, dIn.count == n, dOut.count == n, mCols.values.allSatisfy({ $0.count == n }) else {
            throw bad("/modules datasets have different lengths")
        }
        func col(_ c: String, _ i: Int) -> Double { mCols[c]?[i] ?? .nan }
        func opt(_ x: Double) -> Double? { x.isNaN ? nil : x }
        let modules = (0..<n).map { i in
            ModuleStats(layer: mLayer[i], module: names[i], d_in: dIn[i], d_out: dOut[i], grad_norm: col("grad_norm", i),
                        act_energy: col("act_energy", i), resnorm: col("resnorm", i), resnorm_lora: col("resnorm_lora", i),
                        lambda_max: opt(col("lambda_max", i)), effective_rank: opt(col("effective_rank", i)))
        }
        let lIdx = try f.readInts("/layers/layer")
        var lCols: [String: [Double]] = [:]
        for (c, _) in layerColumns {
            if laterLayerColumns.contains(c) && !f.exists("/layers/\(c)") { continue }
            let v = try f.readDoubles("/layers/\(c)").values
            guard v.count == lIdx.count else { throw bad("/layers/\(c) has \(v.count) values, expected \(lIdx.count)") }
            lCols[c] = v
        }
        // Probe columns: value where the mask is 1; files from before the masks stored NaN for "none".
        for (c, _) in maskedLayerColumns {
            if f.exists("/layers/\(c)_mask") {
                let v = try f.readDoubles("/layers/\(c)").values, m = try f.readInts("/layers/\(c)_mask")
                guard v.count == lIdx.count, m.count == lIdx.count else { throw bad("/layers/\(c) or its mask has the wrong length") }
                lCols[c] = zip(v, m).map { $1 == 0 ? .nan : $0 }
            } else if f.exists("/layers/\(c)") {
                lCols[c] = try f.readDoubles("/layers/\(c)").values
            }
        }
        func lc(_ c: String, _ i: Int) -> Double { lCols[c]?[i] ?? .nan }
        let layers = lIdx.indices.map { i in
            LayerStats(layer: lIdx[i], grad_norm: lc("grad_norm", i), resnorm: lc("resnorm", i), resnorm_lora: lc("resnorm_lora", i),
                       act_energy_mean: lc("act_energy_mean", i), predicted_gain: lc("predicted_gain", i), cost: lc("cost", i),
                       cost_relative: lc("cost_relative", i), activation_bytes_per_token: lc("activation_bytes_per_token", i),
                       measured_step_seconds: opt(lc("measured_step_seconds", i)), measured_peak_bytes: opt(lc("measured_peak_bytes", i)),
                       measured_gain: opt(lc("measured_gain", i)), probe_step_seconds: opt(lc("probe_step_seconds", i)),
                       probe_peak_bytes: opt(lc("probe_peak_bytes", i)), block_influence: opt(lc("block_influence", i)),
                       act_norm: opt(lc("act_norm", i)))
        }
        let (cv, cd) = try f.readDoubles("/coupling")
        guard cd.count == 2, cd[0] == cd[1], cd[0] == layers.count else { throw bad("/coupling has shape \(cd), expected L×L") }
        let L = cd[0]
        let coupling = (0..<L).map { i in Array(cv[(i * L)..<((i + 1) * L)]) }
        return LayerCard(spec_version: try f.intAttribute("spec_version"), schema_version: try f.intAttribute("schema_version"),
                         tool_version: try f.stringAttribute("tool_version"), model_id: try f.stringAttribute("model_id"),
                         architecture: try f.stringAttribute("architecture"), config: try decode(ModelConfig.self, "config"),
                         model_fingerprint: try f.stringAttribute("model_fingerprint"), dataset: try decode(DatasetInfo.self, "dataset"),
                         parameters: try decode(CardParameters.self, "parameters"), loss: try f.doubleAttribute("loss"),
                         tokens: try f.intAttribute("tokens"), modules: modules, layers: layers, coupling: coupling,
                         cost_model: try decode(CostModel.self, "cost_model"),
                         probe: f.hasAttribute("probe") ? try decode(CardProbe.self, "probe") : nil)
    }
}
