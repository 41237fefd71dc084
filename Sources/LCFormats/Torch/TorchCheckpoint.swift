// PyTorch `torch.save` zip checkpoints (`.bin`/`.pt`) → a table of `TensorInfo` pointing into the
// file (zero-copy; records must be STORED). Reads `<prefix>/data.pkl` with the non-executing
// `Pickle` reader and interprets `_rebuild_tensor_v2` / `_rebuild_parameter` descriptions.
// Deliberately not supported: TorchScript archives, the legacy (torch < 1.6) format, big-endian
// files, compressed records. Those are rejected with messages saying what to do instead.
import Foundation
import LCCore

public struct TorchCheckpoint: Sendable {
    /// Path of the checkpoint file.
    public let path: String
    /// Tensors in pickle order; nested dicts are flattened with "." (e.g. `state_dict.encoder.weight`).
    public let tensors: [TensorInfo]

    /// Storage class name → (dtype string, element size in bytes).
    static let storageDTypes: [String: (String, Int)] = [
        "FloatStorage": ("F32", 4), "HalfStorage": ("F16", 2), "BFloat16Storage": ("BF16", 2),
        "DoubleStorage": ("F64", 8), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4),
        "ShortStorage": ("I16", 2), "CharStorage": ("I8", 1), "ByteStorage": ("U8", 1), "BoolStorage": ("BOOL", 1),
    ]
    /// Element size of a dtype this reader produces.
    public static func elementSize(dtype: String) -> Int? { storageDTypes.values.first { $0.0 == dtype }?.1 }

    /// Pickled magic number that opens a legacy (torch < 1.6) file: LONG1 of 0x1950a86a20f9469cfc6c.
    static let legacyMagic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// True if `url` is a zip whose first entry's folder holds `data.pkl` (a torch.save archive;
    /// TorchScript archives also answer true and are rejected by `read`).
    /// - Throws: `LCError.io` if unreadable; `LCError.format` if it starts like a zip but its
    ///   directory is damaged (a truncated checkpoint should say so, not be routed elsewhere).
    public static func isTorchZip(url: URL) throws -> Bool {
        let file = try MappedFile(url: url)
        guard file.size >= 4, file.bytes.loadUnaligned(as: UInt32.self).littleEndian == ZipDirectory.localSig else { return false }
        let dir = try ZipDirectory.read(file)
        guard let prefix = prefix(of: dir) else { return false }
        return dir.entry(named: "\(prefix)/data.pkl") != nil
    }

    static func prefix(of dir: ZipDirectory) -> String? {
        guard let first = dir.entries.first, let slash = first.name.firstIndex(of: "/") else { return nil }
        let p = String(first.name[..<slash])
        return p.isEmpty ? nil : p
    }

    /// Reads the tensor table of a torch.save checkpoint.
    /// - Throws: `LCError.unsupported` for TorchScript, legacy and big-endian files;
    ///   `LCError.format` for anything malformed or hostile (naming the tensor where relevant).
    public static func read(url: URL) throws -> TorchCheckpoint {
        let file = try MappedFile(url: url)
        let path = file.path
        func bad(_ m: String) -> LCError { .format(path: path, message: m) }
        let head = Array(file.bytes.prefix(16))
        if head.count >= 2 + legacyMagic.count, head[0] == 0x80, Array(head[2..<(2 + legacyMagic.count)]) == legacyMagic {
            throw LCError.unsupported(path: path, message: "legacy torch<1.6 serialization; re-save with a current torch (torch.save(torch.load(f)))")
        }
        guard file.size >= 4, file.bytes.loadUnaligned(as: UInt32.self).littleEndian == ZipDirectory.localSig else {
            throw bad("not a PyTorch zip checkpoint (no 'PK\\x03\\x04' signature)")
        }
        let dir = try ZipDirectory.read(file)
        guard let p = prefix(of: dir) else { throw bad("zip has no top-level folder; not a torch.save archive") }
        if dir.entries.contains(where: { $0.name == "\(p)/constants.pkl" || $0.name.hasPrefix("\(p)/code/") }) {
            throw LCError.unsupported(path: path, message: "TorchScript archive; export a state_dict with torch.save(model.state_dict())")
        }
        if let bo = dir.entry(named: "\(p)/byteorder") {
            let raw = try ZipDirectory.storedBytes(bo, in: file)
            let s = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if s == "big" { throw LCError.unsupported(path: path, message: "big-endian checkpoint (byteorder 'big'); re-save on a little-endian machine") }
            guard s == "little" else { throw bad("'\(p)/byteorder' is '\(s.prefix(32))', expected 'little'") }
        }
        guard let pklEntry = dir.entry(named: "\(p)/data.pkl") else { throw bad("no '\(p)/data.pkl' record") }
        let root = try Pickle.read(try ZipDirectory.storedBytes(pklEntry, in: file), path: path)

        var named: [(String, PickleValue)] = []
        try flatten(root, prefix: "", into: &named, path: path)
        var seen = Set<String>()
        var tensors: [TensorInfo] = []
        for (name, v) in named {
            guard seen.insert(name).inserted else { throw bad("tensor name '\(name)' occurs twice after flattening") }
            tensors.append(try tensorInfo(name: name, value: v, dir: dir, prefix: p, file: file))
        }
        return TorchCheckpoint(path: path, tensors: tensors)
    }

    /// Strips `build`/dict wrappers: an OrderedDict's BUILD state (`_metadata`) is ignored.
    static func asDict(_ v: PickleValue) -> [PickleValue.Pair]? {
        switch v {
        case let .dict(p): return p
        case let .build(object, _): return asDict(object)
        default: return nil
        }
    }

    /// Tensor-producing call name, if `v` describes a tensor.
    static func tensorCall(_ v: PickleValue) -> String? {
        guard case let .reduce(f, _) = v, let g = f.globalName,
              ["torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
               "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2"].contains(g) else { return nil }
        return g
    }

    /// Collects (dotted name, tensor description) from nested dicts; non-tensor leaves (epoch
    /// counters, strings) are skipped, `_metadata` is ignored.
    static func flatten(_ v: PickleValue, prefix: String, into out: inout [(String, PickleValue)], path: String) throws {
        if prefix.isEmpty, tensorCall(v) != nil {
            throw LCError.format(path: path, message: "the pickle holds a single tensor, not a state dict")
        }
        guard let pairs = asDict(v) else {
            if prefix.isEmpty { throw LCError.format(path: path, message: "the pickle's root is not a dict (state_dict expected)") }
            return
        }
        for pair in pairs {
            let key: String
            switch pair.key {
            case let .string(s): key = s
            case let .int(i): key = String(i)
            default: throw LCError.format(path: path, message: "dict under '\(prefix)' has a key that is neither string nor int")
            }
            if key == "_metadata" { continue }
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if tensorCall(pair.value) != nil { out.append((name, pair.value)) }
            else if asDict(pair.value) != nil { try flatten(pair.value, prefix: name, into: &out, path: path) }
        }
    }
}
