// GGUF v2/v3 header reader: magic, version, metadata key/values, tensor infos and the data
// offset, all validated against the file size before anything is trusted (hostile input never
// traps). The file is memory-mapped; only the header pages are touched, never tensor data.
// Deliberately not here: dequantization, tensor-name mapping to HF, v1 and big-endian files
// (both rejected with a clear message). Split sets live in GGUFSplit.swift.
import Foundation
import LCCore

/// A parsed GGUF header. Tensor data is not loaded; `tensors[i].offset` is absolute in the file.
public struct GGUFFile: Sendable {
    public let path: String
    /// Format version (2 or 3).
    public let version: Int
    /// Data alignment (`general.alignment`, default 32).
    public let alignment: Int
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensors in file order: dtype = `GGMLType.name`, shape in PyTorch order, absolute offsets.
    public let tensors: [TensorInfo]
    /// GGML type by tensor name.
    public let ggmlTypes: [String: GGMLType]
    /// Absolute offset of the tensor data section.
    public let dataStart: Int
    public let fileSize: Int

    /// `general.architecture`, if present and a string.
    public var architecture: String? { metadata[GGUFKeys.General.architecture]?.string }

    /// GGUF magic "GGUF" as a little-endian u32.
    public static let magic: UInt32 = 0x4655_4747
    /// ggml's GGML_MAX_NAME: names must be strictly shorter (gguf.cpp rejects length >= 64).
    public static let maxNameBytes = 64
    public static let defaultAlignment = 32
    /// Cap on metadata array length. Real vocabularies are < 1M entries; a hostile file could
    /// otherwise turn 1 GB of u8 into 1G boxed values (~40x memory amplification).
    public static let maxArrayCount = 1 << 24

    /// Reads and validates the header of the GGUF file at `url`.
    /// - Throws: `LCError.io` if the file cannot be opened; `LCError.format` naming the file and
    ///   the field/tensor at fault for anything malformed.
    public static func read(url: URL) throws -> GGUFFile {
        let file = try MappedFile(url: url)
        return try parse(file.bytes, path: url.path)
    }

    /// Parses a whole GGUF file image (`bytes` must be the complete file).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> GGUFFile {
        func fail(_ m: String) -> LCError { .format(path: path, message: m) }
        var c = ByteCursor(bytes, path: path)
        let size = bytes.count
        guard size >= 4 else { throw fail("not a GGUF file: only \(size) bytes (no magic)") }
        let magic = try c.read(UInt32.self)
        guard magic == GGUFFile.magic else {
            throw fail(String(format: "bad magic 0x%08x: not a GGUF file (expected 'GGUF')", magic))
        }
        let rawVersion = try c.read(UInt32.self)
        if rawVersion == 1 { throw fail("GGUF version 1 is not supported (only versions 2 and 3)") }
        if rawVersion & 0xFFFF == 0, [2, 3].contains(rawVersion.byteSwapped) {
            throw fail("big-endian GGUF (version \(rawVersion.byteSwapped)) is not supported")
        }
        guard rawVersion == 2 || rawVersion == 3 else {
            throw fail("unsupported GGUF version \(rawVersion) (only versions 2 and 3)")
        }
        let tensorCount64 = try c.read(UInt64.self)
        let kvCount64 = try c.read(UInt64.self)
        // Every KV needs >= 13 bytes (key length, type, 1-byte value); every tensor info >= 32.
        guard tensorCount64 <= UInt64(c.remaining / 32) else {
            throw fail("tensor count \(tensorCount64) is impossible for a file of \(size) bytes")
        }
        guard kvCount64 <= UInt64(c.remaining / 13) else {
            throw fail("metadata key/value count \(kvCount64) is impossible for a file of \(size) bytes")
        }
        let tensorCount = Int(tensorCount64), kvCount = Int(kvCount64)

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try readString(&c, what: "metadata key #\(i)")
            guard metadata[key] == nil else { throw fail("duplicate metadata key '\(key)'") }
            let typeID = try c.read(UInt32.self)
            guard let type = GGUFValueType(rawValue: typeID) else {
                throw fail("metadata key '\(key)': unknown value type \(typeID)")
            }
            metadata[key] = try readValue(&c, type: type, key: key, allowArray: true)
            keys.append(key)
        }

        var alignment = GGUFFile.defaultAlignment
        if let a = metadata[GGUFKeys.General.alignment] {
            guard let v = a.int else { throw fail("general.alignment is not an integer: \(a)") }
            guard v > 0, v & (v - 1) == 0, v <= 1 << 30 else {
                throw fail("general.alignment \(v) is not a power of two")
            }
            alignment = v
        }

        struct Raw { let name: String; let type: GGMLType; let shape: [Int]; let offset: Int; let bytes: Int }
        var raws: [Raw] = []
        raws.reserveCapacity(tensorCount)
        var seen = Set<String>()
        for i in 0..<tensorCount {
            let name = try readString(&c, what: "tensor name #\(i)")
            guard name.utf8.count < GGUFFile.maxNameBytes else {
                throw fail("tensor #\(i) name '\(name.prefix(80))' is \(name.utf8.count) bytes (limit \(GGUFFile.maxNameBytes - 1))")
            }
            guard seen.insert(name).inserted else { throw fail("duplicate tensor name '\(name)'") }
            let nDims = try c.read(UInt32.self)
            guard (1...4).contains(nDims) else {
                throw fail("tensor '\(name)': n_dims \(nDims) outside 1...4")
            }
            var ne: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let v = try c.read(UInt64.self)
                guard v <= UInt64(Int64.max) else { throw fail("tensor '\(name)': ne[\(d)] = \(v) is negative or too large") }
                let (p, o) = elements.multipliedReportingOverflow(by: Int(v))
                guard !o else { throw fail("tensor '\(name)': element count overflows (ne = \(ne + [Int(v)]))") }
                elements = p
                ne.append(Int(v))
            }
            let typeID = try c.read(UInt32.self)
            guard let type = GGMLType(rawValue: typeID) else {
                throw fail("tensor '\(name)': unknown or removed ggml type id \(typeID)")
            }
            let offset64 = try c.read(UInt64.self)
            guard offset64 <= UInt64(Int.max) else { throw fail("tensor '\(name)': offset \(offset64) too large") }
            let offset = Int(offset64)
            guard offset % alignment == 0 else {
                throw fail("tensor '\(name)': offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            let shape = Array(ne.reversed())
            let bytes = try type.byteCount(shape: shape, path: path, tensor: name)
            raws.append(Raw(name: name, type: type, shape: shape, offset: offset, bytes: bytes))
        }

        let (padded, o1) = c.position.addingReportingOverflow(alignment - 1)
        guard !o1 else { throw fail("data offset overflows") }
        let dataStart = padded / alignment * alignment

        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(raws.count)
        var types: [String: GGMLType] = [:]
        for r in raws {
            let (abs, o2) = dataStart.addingReportingOverflow(r.offset)
            let (end, o3) = abs.addingReportingOverflow(r.bytes)
            guard !o2, !o3, end <= size else {
                throw fail("tensor '\(r.name)': data [\(o2 ? -1 : abs), +\(r.bytes)) extends past end of file (\(size) bytes)")
            }
            tensors.append(TensorInfo(name: r.name, dtype: r.type.name, shape: r.shape, file: path, offset: abs, bytes: r.bytes))
            types[r.name] = r.type
        }
        let nonEmpty = tensors.filter { $0.bytes > 0 }.sorted { $0.offset < $1.offset }
        for (a, b) in zip(nonEmpty, nonEmpty.dropFirst()) where a.offset + a.bytes > b.offset {
            throw fail("tensor '\(a.name)' data [\(a.offset), \(a.offset + a.bytes)) overlaps tensor '\(b.name)' at \(b.offset)")
        }
        return GGUFFile(path: path, version: Int(rawVersion), alignment: alignment, metadata: metadata,
                        metadataKeys: keys, tensors: tensors, ggmlTypes: types, dataStart: dataStart, fileSize: size)
    }

    // MARK: - value decoding

    static func readString(_ c: inout ByteCursor, what: String) throws -> String {
        let n = try c.read(UInt64.self)
        guard n <= UInt64(c.remaining) else {
            throw LCError.format(path: c.path, message: "\(what): string length \(n) exceeds the \(c.remaining) bytes left in the file")
        }
        return try c.readUTF8(Int(n), what: what)
    }

    static func readValue(_ c: inout ByteCursor, type: GGUFValueType, key: String, allowArray: Bool) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint(UInt64(try c.read(UInt8.self)))
        case .int8: return .int(Int64(try c.read(Int8.self)))
        case .uint16: return .uint(UInt64(try c.read(UInt16.self)))
        case .int16: return .int(Int64(try c.read(Int16.self)))
        case .uint32: return .uint(UInt64(try c.read(UInt32.self)))
        case .int32: return .int(Int64(try c.read(Int32.self)))
        case .uint64: return .uint(try c.read(UInt64.self))
        case .int64: return .int(try c.read(Int64.self))
        case .float32: return .float(Double(try c.readFloat()))
        case .float64: return .float(try c.readDouble())
        case .bool:
            let b = try c.read(UInt8.self)
            guard b <= 1 else { throw LCError.format(path: c.path, message: "metadata key '\(key)': bool byte \(b) is not 0 or 1") }
            return .bool(b == 1)
        case .string: return .string(try readString(&c, what: "metadata key '\(key)' value"))
        case .array:
            guard allowArray else {
                throw LCError.format(path: c.path, message: "metadata key '\(key)': nested arrays are not supported")
            }
            let elemID = try c.read(UInt32.self)
            guard let elem = GGUFValueType(rawValue: elemID) else {
                throw LCError.format(path: c.path, message: "metadata key '\(key)': unknown array element type \(elemID)")
            }
            guard elem != .array else {
                throw LCError.format(path: c.path, message: "metadata key '\(key)': nested arrays are not supported")
            }
            let count = try c.read(UInt64.self)
            let minSize = elem.scalarSize ?? 8
            guard count <= UInt64(c.remaining / minSize) else {
                throw LCError.format(path: c.path, message: "metadata key '\(key)': array count \(count) exceeds the \(c.remaining) bytes left in the file")
            }
            guard count <= UInt64(GGUFFile.maxArrayCount) else {
                throw LCError.format(path: c.path, message: "metadata key '\(key)': array count \(count) exceeds the limit of \(GGUFFile.maxArrayCount) elements")
            }
            var out: [GGUFValue] = []
            out.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { out.append(try readValue(&c, type: elem, key: key, allowArray: false)) }
            return .array(out)
        }
    }
}
