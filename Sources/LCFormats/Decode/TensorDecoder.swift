// Turns a tensor's stored bytes (any GGML type, safetensors float dtype, strided PyTorch view)
// into contiguous row-major Float32 in PyTorch shape order. Never trusts the table: every
// byte range is checked against the file. Integer dtypes are refused for weights.
import Foundation
import LCCore

public enum TensorDecoder {
    /// Element size in bytes of a plain (non-block) dtype, nil for block-quantized or unknown types.
    public static func plainElementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F16", "BF16": return 2
        case "F64": return 8
        default: return nil
        }
    }

    /// Decodes `t` from `file` to Float32 (row-major, `t.shape`).
    /// - Throws: `LCError.format` naming the tensor for out-of-file ranges or size mismatches,
    ///   `LCError.unsupported` for dtypes that are not floating point weights.
    public static func decode(_ t: TensorInfo, from file: MappedFile) throws -> [Float] {
        let n = t.elementCount
        guard n >= 0 else { throw LCError.format(path: file.path, message: "tensor '\(t.name)': negative element count") }
        var out = [Float](repeating: 0, count: n)
        if n == 0 { return out }
        if let es = plainElementSize(t.dtype) {
            if let strides = t.strides { return try decodeStrided(t, strides: strides, elementSize: es, file: file) }
            let (need, o) = n.multipliedReportingOverflow(by: es)
            guard !o, need == t.bytes else {
                throw LCError.format(path: file.path, message: "tensor '\(t.name)': \(t.bytes) bytes for \(n) \(t.dtype) elements")
            }
            let src = try file.slice(offset: t.offset, count: need, what: "tensor '\(t.name)'")
            out.withUnsafeMutableBufferPointer { dst in convert(src, dtype: t.dtype, into: dst, count: n, srcIndex: { $0 }) }
            return out
        }
        if let g = GGMLType(name: t.dtype) {
            let src = try file.slice(offset: t.offset, count: t.bytes, what: "tensor '\(t.name)'")
            do {
                try out.withUnsafeMutableBufferPointer { dst in try Dequantize.row(typeID: g.rawValue, src, into: dst, count: n) }
            } catch let LCError.format(_, message) {
                throw LCError.format(path: file.path, message: "tensor '\(t.name)': \(message)")
            } catch let LCError.unsupported(_, message) {
                throw LCError.unsupported(path: file.path, message: "tensor '\(t.name)': \(message)")
            }
            return out
        }
        throw LCError.unsupported(path: file.path, message: "tensor '\(t.name)': dtype \(t.dtype) is not a floating-point weight type LayerCard can read")
    }

    static func convert(_ src: UnsafeRawBufferPointer, dtype: String, into dst: UnsafeMutableBufferPointer<Float>, count: Int, srcIndex: (Int) -> Int) {
        switch dtype {
        case "F32": for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * srcIndex(i), as: UInt32.self))) }
        case "F16": for i in 0..<count { dst[i] = Float(Float16(bitPattern: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * srcIndex(i), as: UInt16.self)))) }
        case "BF16": for i in 0..<count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * srcIndex(i), as: UInt16.self))) << 16) }
        case "F64": for i in 0..<count { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * srcIndex(i), as: UInt64.self)))) }
        default: break
        }
    }

    /// A strided view (PyTorch): element i of the row-major result sits at sum(idx_k * stride_k) in the span.
    static func decodeStrided(_ t: TensorInfo, strides: [Int], elementSize es: Int, file: MappedFile) throws -> [Float] {
        guard strides.count == t.shape.count, strides.allSatisfy({ $0 >= 0 }) else {
            throw LCError.format(path: file.path, message: "tensor '\(t.name)': strides \(strides) do not fit shape \(t.shape)")
        }
        var maxIndex = 0
        for (d, s) in zip(t.shape, strides) where d > 0 {
            let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = maxIndex.addingReportingOverflow(m)
            guard !o1, !o2 else { throw LCError.format(path: file.path, message: "tensor '\(t.name)': stride overflow") }
            maxIndex = sum
        }
        let (span, o) = (maxIndex + 1).multipliedReportingOverflow(by: es)
        guard !o, span <= t.bytes else {
            throw LCError.format(path: file.path, message: "tensor '\(t.name)': view reaches element \(maxIndex) beyond its \(t.bytes)-byte span")
        }
        let src = try file.slice(offset: t.offset, count: span, what: "tensor '\(t.name)'")
        let n = t.elementCount
        var out = [Float](repeating: 0, count: n)
        let shape = t.shape
        out.withUnsafeMutableBufferPointer { dst in
            convert(src, dtype: t.dtype, into: dst, count: n) { i in
                var rem = i, off = 0
                for k in stride(from: shape.count - 1, through: 0, by: -1) {
                    off += (rem % shape[k]) * strides[k]; rem /= shape[k]
                }
                return off
            }
        }
        return out
    }
}
