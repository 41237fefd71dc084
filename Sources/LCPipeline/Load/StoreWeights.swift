// Reads the canonical weight store written by the load stage (outputs/<id>/loaded/model.safetensors)
// as a `WeightSource`: mmap, then decode one tensor on request (F32, BF16, or I8 × per-row scale),
// resolving aliases such as a tied lm_head; or just some rows (embedding lookups, a streamed LM head). The
// mapped pages of what was decoded are released (madvise DONTNEED) so streaming a model does not grow RSS.
// Nothing is resident beyond the tensor asked for.
import Foundation
import LCCore
import LCFormats
import LCModel

public final class StoreWeights: WeightSource, @unchecked Sendable {
    public let manifest: LoadManifest
    let file: MappedFile
    let byName: [String: TensorInfo]
    public var sourceName: String { file.path }

    /// Opens the store a load manifest points at, verifying its size (and header) first.
    public init(manifest: LoadManifest) throws {
        guard manifest.status == .ok, let path = manifest.store_path else {
            throw LCError.stage(model: manifest.model_id, message: "load status is \(manifest.status.rawValue); run 'layercard load' first")
        }
        self.manifest = manifest
        let url = URL(fileURLWithPath: path)
        file = try MappedFile(url: url)
        if let want = manifest.store_bytes, file.size != want {
            throw LCError.format(path: path, message: "store is \(file.size) bytes but load.json recorded \(want); re-run 'layercard load --force'")
        }
        let st = try SafetensorsFile.parse(file.bytes, path: path)
        var map: [String: TensorInfo] = [:]
        for t in st.tensors { map[t.name] = t }
        byName = map
    }

    /// Opens the store of `model` in `workspace`.
    public convenience init(workspace: Workspace, model: String) throws {
        let url = workspace.manifestURL(model: model, stage: "load")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw LCError.stage(model: model, message: "no load manifest (\(url.path)); run 'layercard load \(model)' first")
        }
        try self.init(manifest: try JSON.decode(LoadManifest.self, from: url))
    }

    public var tensorNames: [String] { byName.keys.filter { !$0.hasSuffix("_scale") || byName[String($0.dropLast(6))] == nil }.sorted() }

    public func shape(of name: String) throws -> [Int]? { byName[manifest.aliases[name] ?? name]?.shape }

    public func release(_ name: String) {
        let resolved = manifest.aliases[name] ?? name
        for n in [resolved, resolved + "_scale"] { if let t = byName[n] { file.dontNeed(offset: t.offset, count: t.bytes) } }
    }

    public func rows(_ name: String, _ range: Range<Int>) throws -> Tensor? {
        let resolved = manifest.aliases[name] ?? name
        guard let t = byName[resolved] else { return nil }
        guard let n = t.shape.first, range.lowerBound >= 0, range.upperBound <= n else {
            throw LCError.format(path: file.path, message: "tensor '\(resolved)': rows \(range) outside shape \(t.shape)")
        }
        let width = t.shape.dropFirst().reduce(1, *)
        let shape = [range.count] + t.shape.dropFirst()
        let out: [Float]
        switch t.dtype {
        case "F32", "BF16", "F16":
            guard let es = TensorDecoder.plainElementSize(t.dtype), t.bytes == n * width * es else {
                throw LCError.format(path: file.path, message: "tensor '\(resolved)': \(t.bytes) bytes for shape \(t.shape)")
            }
            let part = TensorInfo(name: t.name, dtype: t.dtype, shape: shape, file: t.file,
                                  offset: t.offset + range.lowerBound * width * es, bytes: range.count * width * es, strides: nil)
            out = try TensorDecoder.decode(part, from: file)
            file.dontNeed(offset: part.offset, count: part.bytes)
        case "I8":
            out = try int8Rows(resolved, t, range)
        default:
            throw LCError.format(path: file.path, message: "store tensor '\(resolved)' has unexpected dtype \(t.dtype)")
        }
        return Tensor(shape: shape, data: out)
    }

    public func gatherRows(_ name: String, _ indices: [Int]) throws -> Tensor? {
        guard let shape = try shape(of: name), let n = shape.first else { return nil }
        let width = shape.dropFirst().reduce(1, *)
        var data = [Float](); data.reserveCapacity(indices.count * width)
        for i in indices {
            guard i >= 0, i < n, let r = try rows(name, i..<(i + 1)) else {
                throw LCError.format(path: file.path, message: "tensor '\(name)': row \(i) outside shape \(shape)")
            }
            data.append(contentsOf: r.data)
        }
        return Tensor(shape: [indices.count] + shape.dropFirst(), data: data)
    }

    public func tensor(_ name: String) throws -> Tensor? {
        let resolved = manifest.aliases[name] ?? name
        guard let t = byName[resolved] else { return nil }
        switch t.dtype {
        case "F32", "BF16", "F16":
            defer { file.dontNeed(offset: t.offset, count: t.bytes) }
            return Tensor(shape: t.shape, data: try TensorDecoder.decode(t, from: file))
        case "I8":
            guard t.shape.count == 2, let s = byName[resolved + "_scale"], s.shape == [t.shape[0]], s.dtype == "F32" else {
                throw LCError.format(path: file.path, message: "int8 tensor '\(resolved)' has no matching '\(resolved)_scale'")
            }
            let scales = try TensorDecoder.decode(s, from: file)
            let q = try file.slice(offset: t.offset, count: t.bytes, what: "tensor '\(resolved)'")
            let rows = t.shape[0], cols = t.shape[1]
            guard t.bytes == rows * cols else { throw LCError.format(path: file.path, message: "int8 tensor '\(resolved)' size mismatch") }
            var out = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                let sc = scales[r]
                for c in 0..<cols { out[r * cols + c] = Float(Int8(bitPattern: q[r * cols + c])) * sc }
            }
            file.dontNeed(offset: t.offset, count: t.bytes)
            return Tensor(shape: t.shape, data: out)
        default:
            throw LCError.format(path: file.path, message: "store tensor '\(resolved)' has unexpected dtype \(t.dtype)")
        }
    }

    /// Rows of an int8 × per-row-scale tensor.
    func int8Rows(_ resolved: String, _ t: TensorInfo, _ range: Range<Int>) throws -> [Float] {
        guard t.shape.count == 2, let s = byName[resolved + "_scale"], s.shape == [t.shape[0]], s.dtype == "F32" else {
            throw LCError.format(path: file.path, message: "int8 tensor '\(resolved)' has no matching '\(resolved)_scale'")
        }
        let rows = t.shape[0], cols = t.shape[1]
        guard t.bytes == rows * cols, s.bytes == 4 * rows else {
            throw LCError.format(path: file.path, message: "int8 tensor '\(resolved)' size mismatch")
        }
        let q = try file.slice(offset: t.offset + range.lowerBound * cols, count: range.count * cols, what: "tensor '\(resolved)'")
        let sc = try file.slice(offset: s.offset + 4 * range.lowerBound, count: 4 * range.count, what: "tensor '\(resolved)_scale'")
        var out = [Float](repeating: 0, count: range.count * cols)
        for r in 0..<range.count {
            let scale = Float(bitPattern: UInt32(littleEndian: sc.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self)))
            for c in 0..<cols { out[r * cols + c] = Float(Int8(bitPattern: q[r * cols + c])) * scale }
        }
        file.dontNeed(offset: t.offset + range.lowerBound * cols, count: range.count * cols)
        return out
    }
}
