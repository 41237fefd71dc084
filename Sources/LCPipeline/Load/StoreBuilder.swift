// Builds the canonical weight store for one ingested checkpoint, one tensor at a time:
// decode → canonical layout → NaN/Inf check → statistics → storage precision → append.
import Foundation
import LCCore
import LCFormats
import LCModel
import Logging

enum StoreBuilder {
    struct Result {
        var tensors: [LoadedTensor]
        var aliases: [String: String]
        var sha256: String
        var bytes: Int
    }

    /// Tensors quantized to int8 under `--precision int8`: 2-D weights (matrices).
    static func isInt8Candidate(_ name: String, shape: [Int]) -> Bool { shape.count == 2 && name.hasSuffix(".weight") }

    static func storedShape(_ t: TensorRecord, arch: String, sourceFormat: String) -> [Int] {
        if sourceFormat != "gguf", let c = t.canonical, CanonicalLayout.isConv1D(c, arch: arch), t.shape.count == 2 {
            return [t.shape[1], t.shape[0]]
        }
        return t.shape
    }

    static func build(_ ingest: IngestManifest, precision: StorePrecision, to store: URL, logger: Logger) throws -> Result {
        guard let cfg = ingest.config, let arch = ingest.architecture else {
            throw LCError.stage(model: ingest.model_id, message: "ingest manifest has no config")
        }
        let params = ingest.tensors.filter { $0.canonical != nil }
            .sorted { (($0.layer ?? -1), $0.canonical!) < (($1.layer ?? -1), $1.canonical!) }
        // Plan the entries (header first), then stream.
        var entries: [SafetensorsWriter.Entry] = []
        for t in params {
            let name = t.canonical!, shape = storedShape(t, arch: arch, sourceFormat: ingest.format)
            let n = shape.reduce(1, *)
            switch precision {
            case .f32: entries.append(.init(name: name, dtype: "F32", shape: shape, bytes: 4 * n))
            case .bf16: entries.append(.init(name: name, dtype: "BF16", shape: shape, bytes: 2 * n))
            case .int8:
                if isInt8Candidate(name, shape: shape) {
                    entries.append(.init(name: name, dtype: "I8", shape: shape, bytes: n))
                    entries.append(.init(name: name + "_scale", dtype: "F32", shape: [shape[0]], bytes: 4 * shape[0]))
                } else {
                    entries.append(.init(name: name, dtype: "F32", shape: shape, bytes: 4 * n))
                }
            }
        }
        var aliases: [String: String] = [:]
        let names = Set(params.compactMap(\.canonical))
        if arch != "bert" && !names.contains("lm_head.weight") {
            let embed = arch == "gpt2" ? "transformer.wte.weight" : "model.embed_tokens.weight"
            aliases["lm_head.weight"] = embed // no head in the file: llama.cpp and HF both tie it to the embedding
        }
        let configJSON = String(data: try JSON.encode(cfg), encoding: .utf8) ?? "{}"
        let writer = try SafetensorsWriter(url: store, entries: entries, metadata: [
            "format": "pt", "layercard_model_id": ingest.model_id, "layercard_precision": precision.rawValue,
            "layercard_config": configJSON, "layercard_aliases": aliases.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","),
        ])
        var files: [String: MappedFile] = [:]
        var out: [LoadedTensor] = []
        do {
            for t in params {
                let name = t.canonical!
                let file: MappedFile
                if let f = files[t.file] { file = f } else {
                    file = try MappedFile(url: URL(fileURLWithPath: t.file)); files = [t.file: file] // keep one file mapped
                }
                let info = TensorInfo(name: t.name, dtype: t.dtype, shape: t.shape, file: t.file, offset: t.offset,
                                      bytes: t.bytes, strides: t.strides)
                let raw = try TensorDecoder.decode(info, from: file)
                let (data, shape) = CanonicalLayout.canonicalize(raw, shape: t.shape, canonical: name, config: cfg,
                                                                 sourceFormat: ingest.format)
                let st = TensorStats.compute(data)
                if st.nan > 0 || st.inf > 0 {
                    throw LCError.format(path: t.file, message: "tensor '\(t.name)' contains \(st.nan) NaN and \(st.inf) Inf values")
                }
                var lt = LoadedTensor(name: name, shape: shape, dtype: "F32", source_dtype: t.dtype, scale_tensor: nil,
                                      min: st.min, max: st.max, mean: st.mean, std: st.std, nan_count: 0, inf_count: 0,
                                      quant_rel_error: 0)
                switch precision {
                case .f32:
                    try data.withUnsafeBytes { try writer.append($0) }
                case .bf16:
                    let b = data.map { BF16.fromFloat($0).littleEndian }
                    lt.dtype = "BF16"
                    lt.quant_rel_error = relError(data) { i in BF16.toFloat(UInt16(littleEndian: b[i])) }
                    try b.withUnsafeBytes { try writer.append($0) }
                case .int8:
                    if isInt8Candidate(name, shape: shape) {
                        let (q, scales) = data.withUnsafeBufferPointer { Int8RowQuant.quantize(rows: shape[0], cols: shape[1], $0) }
                        let cols = shape[1]
                        lt.dtype = "I8"; lt.scale_tensor = name + "_scale"
                        lt.quant_rel_error = relError(data) { i in Float(q[i]) * scales[i / cols] }
                        try q.withUnsafeBytes { try writer.append($0) }
                        try scales.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try writer.append($0) }
                    } else {
                        try data.withUnsafeBytes { try writer.append($0) }
                    }
                }
                out.append(lt)
            }
            let sha = try writer.finish()
            return Result(tensors: out, aliases: aliases, sha256: sha, bytes: writer.totalBytes)
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// ||x - y|| / ||x|| in Float64, y given elementwise.
    static func relError(_ x: [Float], _ y: (Int) -> Float) -> Double {
        var num = 0.0, den = 0.0
        for i in 0..<x.count { let d = Double(x[i]) - Double(y(i)); num += d * d; den += Double(x[i]) * Double(x[i]) }
        return den > 0 ? (num / den).squareRoot() : 0
    }
}

/// Min, max, mean, std (Float64 accumulation) and NaN/Inf counts of a tensor.
struct TensorStats {
    var min = 0.0, max = 0.0, mean = 0.0, std = 0.0
    var nan = 0, inf = 0

    static func compute(_ x: [Float]) -> TensorStats {
        var s = TensorStats()
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, sq = 0.0, n = 0
        for v in x {
            if v.isNaN { s.nan += 1; continue }
            if v.isInfinite { s.inf += 1; continue }
            let d = Double(v)
            lo = Swift.min(lo, d); hi = Swift.max(hi, d); sum += d; n += 1
        }
        if n > 0 {
            let mean = sum / Double(n)
            for v in x where v.isFinite { let d = Double(v) - mean; sq += d * d }
            s.min = lo; s.max = hi; s.mean = mean; s.std = (sq / Double(n)).squareRoot()
        }
        return s
    }
}
