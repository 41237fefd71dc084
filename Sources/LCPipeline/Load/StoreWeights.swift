// Reads the canonical weight store written by the load stage (outputs/<id>/loaded/model.safetensors)
// as a `WeightSource`: mmap, then decode one tensor on request (F32, BF16, or I8 × per-row scale),
// resolving aliases such as a tied lm_head. Nothing is resident beyond the tensor asked for.
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

    public func tensor(_ name: String) throws -> Tensor? {
        let resolved = manifest.aliases[name] ?? name
        guard let t = byName[resolved] else { return nil }
        switch t.dtype {
        case "F32", "BF16", "F16":
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
            return Tensor(shape: t.shape, data: out)
        default:
            throw LCError.format(path: file.path, message: "store tensor '\(resolved)' has unexpected dtype \(t.dtype)")
        }
    }
}
