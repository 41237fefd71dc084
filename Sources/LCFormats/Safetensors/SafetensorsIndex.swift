// Sharded safetensors checkpoints: parses `model.safetensors.index.json` (`weight_map`),
// confines shard names to the index's folder, reads each shard once and cross-checks that
// the map and the shards agree exactly (no missing, unmapped or doubly-stored tensors).
// Deliberately not here: `pytorch_model.bin.index.json` (same shape, handled by the .bin reader).
// Errors name the index or the shard at fault and the tensor involved.
import Foundation
import LCCore

/// A validated sharded safetensors checkpoint.
public struct ShardedSafetensors: Sendable {
    public let index: URL
    /// Shards in first-mention order of the weight map.
    public let shards: [SafetensorsFile]
    /// `weight_map` entries in file order (tensor name, shard file name).
    public let weightMap: [(String, String)]
    /// Union of all shards' tensors, in shard then header order.
    public var tensors: [TensorInfo] { shards.flatMap(\.tensors) }

    /// Reads the index at `index` and every shard it names.
    /// - Throws: `LCError.format` naming the index or shard and the offending tensor/file.
    public static func read(index: URL) throws -> ShardedSafetensors {
        let path = index.path
        func fail(_ m: String) -> LCError { .format(path: path, message: m) }
        let data: Data
        do { data = try Data(contentsOf: index) } catch {
            throw LCError.io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        let json = try StrictJSON.parse(data, path: path)
        guard json.object != nil else { throw fail("index is not a JSON object") }
        guard let map = json["weight_map"]?.object else { throw fail("missing or non-object 'weight_map'") }
        guard !map.isEmpty else { throw fail("'weight_map' is empty") }

        var order: [String] = []
        var byShard: [String: Set<String>] = [:]
        var pairs: [(String, String)] = []
        for (tensor, v) in map {
            guard let shard = v.string else { throw fail("weight_map['\(tensor)'] is not a string") }
            guard !shard.isEmpty, !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != "..",
                  !shard.contains("\0") else {
                throw fail("weight_map['\(tensor)'] = '\(shard)' is not a plain file name inside the model folder")
            }
            if byShard[shard] == nil { order.append(shard); byShard[shard] = [] }
            byShard[shard]?.insert(tensor)
            pairs.append((tensor, shard))
        }

        let dir = index.deletingLastPathComponent()
        var shards: [SafetensorsFile] = []
        var owner: [String: String] = [:]
        for name in order {
            let url = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw fail("shard '\(name)' named in weight_map does not exist")
            }
            let file = try SafetensorsFile.read(url: url)
            let expected = byShard[name] ?? []
            var present = Set<String>()
            for t in file.tensors {
                if let other = owner.updateValue(name, forKey: t.name) {
                    throw LCError.format(path: url.path, message: "tensor '\(t.name)' is stored in both '\(other)' and '\(name)'")
                }
                guard expected.contains(t.name) else {
                    throw LCError.format(path: url.path, message: "tensor '\(t.name)' is in shard '\(name)' but weight_map maps it elsewhere or not at all")
                }
                present.insert(t.name)
            }
            if let missing = expected.subtracting(present).sorted().first {
                throw fail("tensor '\(missing)' is mapped to shard '\(name)' but that shard does not contain it")
            }
            shards.append(file)
        }
        return ShardedSafetensors(index: index, shards: shards, weightMap: pairs)
    }
}
