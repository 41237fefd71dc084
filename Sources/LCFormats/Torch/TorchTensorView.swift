// Turns one `_rebuild_tensor_v2`-style description into a validated `TensorInfo` (storage record,
// offset, covered span, strides), and gathers a possibly strided view into contiguous bytes.
// Deliberately no dtype conversion: bytes stay in the storage's little-endian encoding.
import Foundation
import LCCore

extension TorchCheckpoint {
    /// Maximum tensor rank accepted.
    static let maxRank = 16

    static func tensorInfo(name: String, value: PickleValue, dir: ZipDirectory, prefix p: String, file: MappedFile) throws -> TensorInfo {
        let path = file.path
        func bad(_ m: String) -> LCError { .format(path: path, message: "tensor '\(name)': \(m)") }
        // Unwrap Parameter / subclass wrappers down to _rebuild_tensor_v2(args).
        var v = value
        var args: [PickleValue] = []
        for _ in 0..<4 {
            guard case let .reduce(f, a) = v, let g = f.globalName, let av = a.sequence else { throw bad("not a tensor description") }
            switch g {
            case "torch._utils._rebuild_tensor_v2": args = av
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
                guard let first = av.first else { throw bad("_rebuild_parameter without arguments") }
                v = first; continue
            case "torch._tensor._rebuild_from_type_v2":
                guard av.count >= 3 else { throw bad("_rebuild_from_type_v2 with \(av.count) arguments") }
                v = .reduce(callable: av[0], args: av[2]); continue
            default: throw bad("unexpected constructor '\(g)'")
            }
            break
        }
        guard args.count >= 4 else { throw bad("_rebuild_tensor_v2 needs at least 4 arguments, got \(args.count)") }

        // Storage: persistent id ('storage', torch.<T>Storage, key, location, numel).
        guard case let .persistentID(pid) = args[0], let s = pid.sequence, s.count >= 5,
              s[0].stringValue == "storage", case let .global(mod, cls) = s[1],
              let key = s[2].stringValue, let numel64 = s[4].intValue else {
            throw bad("storage is not a ('storage', class, key, location, numel) persistent id")
        }
        guard mod == "torch", let (dtype, elem) = storageDTypes[cls] else {
            throw LCError.unsupported(path: path, message: "tensor '\(name)': storage type '\(mod).\(cls)' is not supported (supported: \(storageDTypes.keys.sorted().joined(separator: ", ")))")
        }
        guard numel64 >= 0, numel64 < Int64(Int.max) else { throw bad("storage '\(key)' has invalid numel \(numel64)") }
        let storageNumel = Int(numel64)
        let recordName = "\(p)/data/\(key)"
        guard let rec = dir.entry(named: recordName) else { throw bad("storage record '\(recordName)' is missing") }
        guard rec.method == 0 else {
            throw bad("storage record '\(recordName)' is compressed (method \(rec.method)); re-save with torch.save (records must be STORED)")
        }
        let (storageBytes, o0) = storageNumel.multipliedReportingOverflow(by: elem)
        guard !o0, storageBytes <= rec.uncompressedSize else {
            throw bad("storage '\(key)' declares \(storageNumel) × \(elem) bytes but record '\(recordName)' holds \(rec.uncompressedSize)")
        }

        // Offset, size, stride (elements).
        guard let off64 = args[1].intValue, off64 >= 0, off64 <= Int64(storageNumel) else { throw bad("invalid storage_offset") }
        func ints(_ x: PickleValue, _ what: String) throws -> [Int] {
            var x = x
            if case let .reduce(f, a) = x, f.globalName == "torch.Size", let inner = a.sequence?.first { x = inner }
            guard let seq = x.sequence, seq.count <= maxRank else { throw bad("\(what) is not a tuple of at most \(maxRank) ints") }
            return try seq.map { e in
                guard let i = e.intValue, i >= 0, i < Int64(Int32.max) else { throw bad("\(what) has an invalid entry") }
                return Int(i)
            }
        }
        let shape = try ints(args[2], "size"), strides = try ints(args[3], "stride")
        guard shape.count == strides.count else { throw bad("size has \(shape.count) dims but stride has \(strides.count)") }
        let offset = Int(off64)

        var numel = 1, maxIndex = offset, overflow = false
        for (n, st) in zip(shape, strides) {
            let (a, o1) = numel.multipliedReportingOverflow(by: n); numel = a; overflow = overflow || o1
            if n > 0 {
                let (b, o2) = (n - 1).multipliedReportingOverflow(by: st)
                let (c, o3) = maxIndex.addingReportingOverflow(b); maxIndex = c
                overflow = overflow || o2 || o3
            }
        }
        guard !overflow else { throw bad("element count or extent overflows (size \(shape), stride \(strides))") }
        var span = 0
        if numel > 0 {
            guard maxIndex < storageNumel else {
                throw bad("view (offset \(offset), size \(shape), stride \(strides)) reaches element \(maxIndex), past its storage '\(key)' of \(storageNumel) elements")
            }
            span = (maxIndex - offset + 1) * elem
        }
        // Contiguous row-major (dims of size 1 may carry any stride, as in torch).
        var expected = 1, contiguous = true
        for (n, st) in zip(shape, strides).reversed() where n != 1 {
            if st != expected { contiguous = false }
            expected *= n
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, file: path, offset: rec.dataOffset + offset * elem,
                          bytes: contiguous ? numel * elem : span, strides: contiguous ? nil : strides)
    }

    /// The tensor's elements in row-major order as contiguous bytes (gathers strided views).
    /// - Throws: `LCError.format` if the tensor's declared range leaves `file`.
    public static func contiguousBytes(of t: TensorInfo, in file: MappedFile) throws -> [UInt8] {
        guard let elem = elementSize(dtype: t.dtype) else {
            throw LCError.format(path: file.path, message: "tensor '\(t.name)': unknown dtype \(t.dtype)")
        }
        let src = try file.slice(offset: t.offset, count: t.bytes, what: "tensor '\(t.name)'")
        func bad(_ m: String) -> LCError { .format(path: file.path, message: "tensor '\(t.name)': \(m)") }
        var n = 1
        for d in t.shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard d >= 0, !o else { throw bad("invalid shape \(t.shape)") }
            n = p
        }
        let (total, o) = n.multipliedReportingOverflow(by: elem)
        guard !o else { throw bad("invalid shape \(t.shape)") }
        guard let strides = t.strides else {
            guard total == src.count else { throw bad("\(t.bytes) bytes declared for \(n) contiguous \(t.dtype) elements") }
            return Array(src)
        }
        guard strides.count == t.shape.count, strides.allSatisfy({ $0 >= 0 && $0 <= src.count }) else {
            throw bad("strides \(strides) do not fit shape \(t.shape)")
        }
        var out = [UInt8](repeating: 0, count: total)
        var idx = [Int](repeating: 0, count: t.shape.count)
        for i in 0..<n {
            var e = 0  // bounded: idx[d] < shape[d] (≤ 2^31) and strides[d] ≤ src.count, checked below per element
            for d in 0..<idx.count { e &+= idx[d] &* strides[d] }
            let from = e &* elem
            guard from >= 0, from <= src.count - elem else {
                throw LCError.format(path: file.path, message: "tensor '\(t.name)': element \(i) lies outside its declared span")
            }
            for b in 0..<elem { out[i * elem + b] = src[from + b] }
            var d = idx.count - 1
            while d >= 0 { idx[d] += 1; if idx[d] < t.shape[d] { break }; idx[d] = 0; d -= 1 }
        }
        return out
    }
}
