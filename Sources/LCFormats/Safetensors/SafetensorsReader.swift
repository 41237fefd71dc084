// safetensors header reader validating exactly like the reference (`tensor.rs` read_metadata +
// validate): 100 MB header cap, checked arithmetic, UTF-8 JSON object without duplicate keys,
// known dtypes with bit sizes, offsets contiguous from 0 and exactly sized, and the buffer
// ending at the last byte of the file. The file is mapped; tensor data is never read here.
// Deliberately not here: sharded checkpoints (SafetensorsIndex.swift) and dtype decoding.
import Foundation
import LCCore

/// safetensors dtype strings and their sizes in bits (current reference enum).
public enum SafetensorsDType {
    public static let bits: [String: Int] = [
        "BOOL": 8, "U8": 8, "I8": 8,
        "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
        "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
        "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32,
        "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    ]
}

/// A parsed safetensors header; `tensors[i].offset` is absolute (8 + N + begin).
public struct SafetensorsFile: Sendable {
    public let path: String
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]
    /// Tensors in header order.
    public let tensors: [TensorInfo]
    /// N, the JSON header length in bytes.
    public let headerLength: Int

    /// The reference reader's cap on N.
    public static let maxHeaderLength = 100_000_000

    /// Reads and validates the safetensors file at `url`.
    /// - Throws: `LCError.io` if it cannot be opened, `LCError.format` (naming file and tensor) if malformed.
    public static func read(url: URL) throws -> SafetensorsFile {
        let file = try MappedFile(url: url)
        return try parse(file.bytes, path: url.path)
    }

    /// Validates a complete safetensors file image.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> SafetensorsFile {
        func fail(_ m: String) -> LCError { .format(path: path, message: m) }
        var c = ByteCursor(bytes, path: path)
        guard bytes.count >= 8 else { throw fail("header too small: file has \(bytes.count) bytes, need at least 8") }
        let n64 = try c.read(UInt64.self)
        guard n64 <= UInt64(maxHeaderLength) else {
            throw fail("header length \(n64) exceeds the \(maxHeaderLength)-byte limit")
        }
        let n = Int(n64)
        guard n <= bytes.count - 8 else {
            throw fail("header length \(n) runs past the end of the file (\(bytes.count) bytes)")
        }
        let header = try c.readBytes(n)
        guard header.first == UInt8(ascii: "{") else { throw fail("header does not start with '{'") }
        guard String(validating: header, as: UTF8.self) != nil else { throw fail("header is not valid UTF-8") }
        let json = try StrictJSON.parse(header, path: path)
        guard let members = json.object else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        struct Entry { let name: String; let dtype: String; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard let m = value.object else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v.string else { throw fail("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard value.object != nil else { throw fail("tensor '\(name)': entry is not an object") }
            guard let dtype = value["dtype"]?.string else { throw fail("tensor '\(name)': missing or non-string dtype") }
            guard SafetensorsDType.bits[dtype] != nil else { throw fail("tensor '\(name)': unknown dtype '\(dtype)'") }
            guard let shapeV = value["shape"]?.array else { throw fail("tensor '\(name)': missing shape") }
            var shape: [Int] = []
            for d in shapeV {
                guard case let .int(v) = d, v >= 0 else { throw fail("tensor '\(name)': shape \(shapeV) is not a list of non-negative integers") }
                shape.append(v)
            }
            guard let offs = value["data_offsets"]?.array, offs.count == 2,
                  case let .int(begin) = offs[0], case let .int(end) = offs[1], begin >= 0, end >= 0 else {
                throw fail("tensor '\(name)': data_offsets must be two non-negative integers")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // validate(): sorted by offsets, contiguous from 0, exactly sized.
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var start = 0
        for e in sorted {
            guard e.begin == start, e.end >= e.begin else {
                throw fail("tensor '\(e.name)': invalid data_offsets [\(e.begin), \(e.end)] (expected to begin at \(start))")
            }
            start = e.end
            var elements = 1
            for d in e.shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw fail("tensor '\(e.name)': element count of shape \(e.shape) overflows") }
                elements = p
            }
            let bits = SafetensorsDType.bits[e.dtype] ?? 8
            let (nbits, o) = elements.multipliedReportingOverflow(by: bits)
            guard !o else { throw fail("tensor '\(e.name)': bit size of shape \(e.shape) overflows") }
            guard nbits % 8 == 0 else { throw fail("tensor '\(e.name)': \(elements) x \(bits) bits is not a whole number of bytes") }
            guard e.end - e.begin == nbits / 8 else {
                throw fail("tensor '\(e.name)': data size \(e.end - e.begin) does not match \(e.dtype) \(e.shape) (\(nbits / 8) bytes)")
            }
        }
        let (bufferEnd, o) = start.addingReportingOverflow(8 + n)
        guard !o, bufferEnd == bytes.count else {
            throw fail("tensor data ends at byte \(o ? -1 : bufferEnd) but the file has \(bytes.count) bytes (incomplete or trailing data)")
        }
        let tensors = entries.map {
            TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape, file: path, offset: 8 + n + $0.begin, bytes: $0.end - $0.begin)
        }
        return SafetensorsFile(path: path, metadata: metadata, tensors: tensors, headerLength: n)
    }
}
