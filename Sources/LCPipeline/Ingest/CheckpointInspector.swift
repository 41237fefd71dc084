// Reads one checkpoint's headers (never its tensor data) and produces the normalized config,
// the tensor table with canonical names, layer/module mapping and tokenizer source.
// Validation of tensors against the config lives in TensorValidation.swift.
import Foundation
import LCCore
import LCFormats
import LCModel

struct Inspection {
    var format: String
    var config: ModelConfig?
    var architecture: String?
    var tensors: [TensorRecord]
    var tokenizer: TokenizerRecord?
    var details: [String: String]
    /// Files making up the checkpoint, with roles (paths absolute).
    var files: [(url: URL, role: String)]
}

struct GGUFMetadata: MetadataSource {
    let md: [String: GGUFValue]
    func int(_ key: String) -> Int? { md[key]?.int }
    func double(_ key: String) -> Double? { md[key]?.double }
    func string(_ key: String) -> String? { md[key]?.string }
    func bool(_ key: String) -> Bool? { md[key]?.bool }
}

enum CheckpointInspector {
    static let tokenizerFiles = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                 "merges.txt", "vocab.json"]

    /// Lists the files that make up a candidate (cheap: no parsing beyond the index file name list).
    static func files(of c: Candidate) throws -> [(url: URL, role: String)] {
        let fm = FileManager.default
        switch c.kind {
        case .gguf:
            var out = [(url: c.url, role: "weights")]
            out += ggufSplitParts(first: c.url).map { (url: $0, role: "weights") }
            return out
        case .archive, .broken:
            return [(url: c.url, role: c.kind == .archive ? "archive" : "unknown")]
        case .safetensors, .pytorch:
            var out = [(url: c.url, role: "weights")]
            let dir = c.url.deletingLastPathComponent()
            if fm.fileExists(atPath: dir.appendingPathComponent("config.json").path) {
                out.append((url: dir.appendingPathComponent("config.json"), role: "config"))
                out += tokenizerFiles.map { dir.appendingPathComponent($0) }
                    .filter { fm.fileExists(atPath: $0.path) }.map { (url: $0, role: "tokenizer") }
            }
            return out
        case .hfFolder:
            let dir = c.url
            var out = [(url: dir.appendingPathComponent("config.json"), role: "config")]
            let names = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
            if names.contains("model.safetensors.index.json") || names.contains("pytorch_model.bin.index.json") {
                let idxName = names.contains("model.safetensors.index.json") ? "model.safetensors.index.json" : "pytorch_model.bin.index.json"
                let idx = dir.appendingPathComponent(idxName)
                out.append((url: idx, role: "index"))
                for shard in try shardNames(index: idx) { out.append((url: dir.appendingPathComponent(shard), role: "weights")) }
            } else if names.contains("model.safetensors") {
                out.append((url: dir.appendingPathComponent("model.safetensors"), role: "weights"))
            } else if names.contains("pytorch_model.bin") {
                out.append((url: dir.appendingPathComponent("pytorch_model.bin"), role: "weights"))
            } else if let st = names.first(where: { $0.hasSuffix(".safetensors") }) {
                out.append((url: dir.appendingPathComponent(st), role: "weights"))
            } else if let b = names.first(where: { $0.hasSuffix(".bin") }) {
                out.append((url: dir.appendingPathComponent(b), role: "weights"))
            }
            out += tokenizerFiles.filter { names.contains($0) }.map { (url: dir.appendingPathComponent($0), role: "tokenizer") }
            return out
        }
    }

    /// Shard file names named by an index's weight_map (validated to be plain names).
    static func shardNames(index: URL) throws -> [String] {
        let data = try readSmall(index, limit: 64 << 20)
        let v = try StrictJSON.parse(data, path: index.path)
        guard let wm = v["weight_map"]?.object else {
            throw LCError.format(path: index.path, message: "missing object 'weight_map'")
        }
        var names = Set<String>()
        for (tensor, file) in wm {
            guard let f = file.string, !f.isEmpty, !f.contains("/"), f != "..", f != "." else {
                throw LCError.format(path: index.path, message: "weight_map entry '\(tensor)' names an invalid shard file")
            }
            names.insert(f)
        }
        return names.sorted()
    }

    static func ggufSplitParts(first: URL) -> [URL] {
        let name = first.lastPathComponent
        guard let r = name.range(of: #"-00001-of-(\d{5})\.gguf$"#, options: .regularExpression) else { return [] }
        let n = Int(name[r].dropFirst("-00001-of-".count).prefix(5)) ?? 1
        guard n > 1 else { return [] }
        let stem = name[..<r.lowerBound]
        return (2...n).map { first.deletingLastPathComponent().appendingPathComponent(String(format: "%@-%05d-of-%05d.gguf", String(stem), $0, n)) }
    }

    static func readSmall(_ url: URL, limit: Int) throws -> Data {
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let size = attrs?[.size] as? Int, size > limit {
            throw LCError.format(path: url.path, message: "file is \(size) bytes; refusing to parse a JSON file larger than \(limit)")
        }
        do { return try Data(contentsOf: url) } catch {
            throw LCError.io(path: url.path, message: "cannot read: \(error.localizedDescription)")
        }
    }

    // MARK: - Inspection

    static func inspect(_ c: Candidate, files: [(url: URL, role: String)]) throws -> Inspection {
        switch c.kind {
        case .gguf: return try inspectGGUF(c.url, files: files)
        case .hfFolder, .safetensors, .pytorch: return try inspectHF(c, files: files)
        case .archive:
            throw LCError.format(path: c.url.path, message: c.reason ?? "not a checkpoint")
        case .broken:
            // The name promises a format the content lacks: let that format's reader say what is
            // wrong (bad magic, header too small, ...); fall back to the generic reason.
            let name = c.url.lastPathComponent.lowercased()
            if name.hasSuffix(".gguf") { _ = try GGUFFile.read(url: c.url) }
            if name.hasSuffix(".safetensors") { _ = try SafetensorsFile.read(url: c.url) }
            if Discovery.hasTorchExtension(name) { _ = try TorchCheckpoint.read(url: c.url) }
            throw LCError.format(path: c.url.path, message: c.reason ?? "not a checkpoint")
        }
    }

    static func inspectGGUF(_ url: URL, files: [(url: URL, role: String)]) throws -> Inspection {
        var parts: [GGUFFile] = []
        for f in files where f.role == "weights" {
            guard FileManager.default.fileExists(atPath: f.url.path) else {
                throw LCError.format(path: url.path, message: "split part \(f.url.lastPathComponent) is missing")
            }
            parts.append(try GGUFFile.read(url: f.url))
        }
        guard let first = parts.first else { throw LCError.format(path: url.path, message: "no GGUF data") }
        let md = GGUFMetadata(md: first.metadata)
        let allTensors = parts.flatMap { $0.tensors }
        var seen = Set<String>()
        for t in allTensors where !seen.insert(t.name).inserted {
            throw LCError.format(path: t.file, message: "duplicate tensor '\(t.name)' across split parts")
        }
        if let n = md.int("split.count"), n != parts.count {
            throw LCError.format(path: url.path, message: "split.count is \(n) but \(parts.count) part(s) were found")
        }
        let hasOutput = allTensors.contains { $0.name == "output.weight" }
        let cfg = try ModelConfig.fromGGUF(md, hasOutputTensor: hasOutput,
                                           tokenCount: first.metadata["tokenizer.ggml.tokens"]?.strings?.count, path: url.path)
        let arch = cfg.architecture
        let tensors = allTensors.map { t -> TensorRecord in
            let canon = Architecture.canonicalName(fromGGUF: t.name, arch: arch)
            let cls: (layer: Int?, module: String?) = canon.map { Architecture.classify($0, arch: arch) } ?? (nil, nil)
            return TensorRecord(name: t.name, canonical: canon, dtype: t.dtype, shape: t.shape, bytes: t.bytes,
                                file: t.file, offset: t.offset, strides: t.strides, layer: cls.layer, module: cls.module)
        }
        var details = ["gguf_version": "\(first.version)", "alignment": "\(first.alignment)"]
        if let ft = md.int("general.file_type") { details["file_type"] = "\(ft)" }
        if let name = md.string("general.name") { details["name"] = name }
        var counts: [String: Int] = [:]
        for t in allTensors { counts[t.dtype, default: 0] += 1 }
        details["tensor_types"] = counts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        var tok: TokenizerRecord? = nil
        if let model = md.string("tokenizer.ggml.model") {
            tok = TokenizerRecord(source: "gguf-metadata", path: url.path, type: model == "gpt2" ? "bpe" : model)
            if let pre = md.string("tokenizer.ggml.pre") { details["tokenizer_pre"] = pre }
        }
        return Inspection(format: "gguf", config: cfg, architecture: arch, tensors: tensors, tokenizer: tok,
                          details: details, files: files)
    }

    static func inspectHF(_ c: Candidate, files: [(url: URL, role: String)]) throws -> Inspection {
        guard let cfgURL = files.first(where: { $0.role == "config" })?.url else {
            // Parse the lone weights file first so a malformed one fails as malformed.
            switch try FileSniffer.sniff(url: c.url) {
            case .safetensors: _ = try SafetensorsFile.read(url: c.url)
            case .zip, .torchLegacy: _ = try TorchCheckpoint.read(url: c.url)
            default: break
            }
            throw LCError.unsupported(path: c.url.path, message: "no config.json beside the weights, so the architecture and shapes are unknown; put the checkpoint in a Hugging Face folder with its config.json")
        }
        let data = try readSmall(cfgURL, limit: 16 << 20)
        let obj: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw LCError.format(path: cfgURL.path, message: "config.json is not a JSON object")
            }
            obj = o
        } catch let e as LCError { throw e } catch {
            throw LCError.format(path: cfgURL.path, message: "invalid JSON: \(error.localizedDescription)")
        }
        let cfg = try ModelConfig.fromHFConfig(obj, path: cfgURL.path)
        var raw: [TensorInfo] = []
        var format = "safetensors"
        if let idx = files.first(where: { $0.role == "index" })?.url {
            if idx.lastPathComponent.hasPrefix("pytorch_model") {
                format = "pytorch-sharded"
                for f in files where f.role == "weights" { raw += try TorchCheckpoint.read(url: f.url).tensors }
            } else {
                format = "safetensors-sharded"
                raw = try ShardedSafetensors.read(index: idx).tensors
            }
        } else if let w = files.first(where: { $0.role == "weights" })?.url {
            switch try FileSniffer.sniff(url: w) {
            case .safetensors: raw = try SafetensorsFile.read(url: w).tensors
            case .zip: format = "pytorch"; raw = try TorchCheckpoint.read(url: w).tensors
            case .torchLegacy: format = "pytorch"; raw = try TorchCheckpoint.read(url: w).tensors
            default: throw LCError.format(path: w.path, message: "weights file is neither safetensors nor a PyTorch zip")
            }
        } else {
            throw LCError.format(path: c.url.path, message: "no weights file (model.safetensors, shards or pytorch_model.bin)")
        }
        let arch = cfg.architecture
        var tensors: [TensorRecord] = []
        var canonSeen: [String: String] = [:]
        for t in raw {
            let canon = Architecture.canonicalHFName(t.name, arch: arch)
            if let canon {
                if let prev = canonSeen[canon] {
                    throw LCError.format(path: t.file, message: "tensors '\(prev)' and '\(t.name)' both map to '\(canon)'")
                }
                canonSeen[canon] = t.name
            }
            let cls: (layer: Int?, module: String?) = canon.map { Architecture.classify($0, arch: arch) } ?? (nil, nil)
            tensors.append(TensorRecord(name: t.name, canonical: canon, dtype: t.dtype, shape: t.shape, bytes: t.bytes,
                                        file: t.file, offset: t.offset, strides: t.strides, layer: cls.layer, module: cls.module))
        }
        let names = Set(files.map { $0.url.lastPathComponent })
        var tok: TokenizerRecord? = nil
        let dir = cfgURL.deletingLastPathComponent()
        if names.contains("tokenizer.json") {
            tok = TokenizerRecord(source: "tokenizer.json", path: dir.appendingPathComponent("tokenizer.json").path,
                                  type: arch == "bert" ? "wordpiece" : "bpe")
        } else if names.contains("vocab.txt") {
            tok = TokenizerRecord(source: "vocab.txt", path: dir.appendingPathComponent("vocab.txt").path, type: "wordpiece")
        } else {
            tok = TokenizerRecord(source: "none", path: nil, type: nil)
        }
        var details: [String: String] = [:]
        var counts: [String: Int] = [:]
        for t in raw { counts[t.dtype, default: 0] += 1 }
        details["tensor_types"] = counts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        if let mt = obj["model_type"] as? String { details["model_type"] = mt }
        return Inspection(format: format, config: cfg, architecture: arch, tensors: tensors, tokenizer: tok,
                          details: details, files: files)
    }
}
