// GGUF tensor bytes → Float32: the public entry points, size checks and the per-row
// parallel driver. The per-type kernels live in DequantLegacy / DequantKQuants / DequantIQ / DequantOther.
// Bit-exact with gguf-py `gguf.quants.dequantize` (and so ggml): same float32 operation order.
// Deliberately not here: quantization to GGML types, dot products, anything model-specific.
import Foundation
import LCCore

public enum Dequantize {
    /// Elements per block and bytes per block of a GGML type id, or nil when the id cannot be
    /// dequantized by LayerCard (unknown, removed, or an unsupported type such as Q8_1 or Q1_0).
    public static func bytesPerBlock(typeID: UInt32) -> (block: Int, bytes: Int)? {
        QuantKind(rawValue: typeID)?.geometry
    }

    /// True when `row(typeID:...)` supports `typeID`.
    public static func isSupported(typeID: UInt32) -> Bool { QuantKind(rawValue: typeID) != nil }

    /// The ggml name of a type id ("Q4_1", "IQ2_XXS", or "type id 77" when unknown).
    public static func typeName(_ typeID: UInt32) -> String { ggmlTypeName(typeID) }

    /// Converts `count` elements stored as GGML type `typeID` in `src` to Float32 in `dst[0..<count]`.
    ///
    /// - Parameters:
    ///   - src: exactly `count / block * bytesPerBlock` raw bytes (whole blocks, little-endian).
    ///   - dst: at least `count` floats.
    ///   - count: number of elements, a multiple of the type's block size.
    ///   - context: names the file or tensor in error messages (used as the error's `path`).
    /// - Throws: `LCError.unsupported` for types LayerCard cannot dequantize (the message names the
    ///   type); `LCError.format` when `count` is not a whole number of blocks or the byte count is wrong.
    public static func row(typeID: UInt32, _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableBufferPointer<Float>,
                           count: Int, context: String = "tensor data") throws {
        let kind = try kind(typeID, context: context)
        let nBlocks = try checkSizes(kind, srcBytes: src.count, dstCount: dst.count, count: count, context: context)
        guard nBlocks > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        run(kind, s, d, nBlocks)
    }

    /// Dequantizes a 2-D tensor of `rows` rows of `rowLength` elements (GGUF `ne0 = rowLength`),
    /// splitting rows across cores with `DispatchQueue.concurrentPerform` when the tensor is large.
    /// Byte and element counts are checked with overflow detection before anything is read.
    public static func tensor(typeID: UInt32, src: UnsafeRawBufferPointer, rows: Int, rowLength: Int,
                              into dst: UnsafeMutableBufferPointer<Float>, context: String = "tensor data") throws {
        let kind = try kind(typeID, context: context)
        let (block, bytes) = kind.geometry
        guard rows >= 0, rowLength >= 0 else {
            throw LCError.format(path: context, message: "negative tensor shape \(rows)×\(rowLength)")
        }
        let (total, o1) = rows.multipliedReportingOverflow(by: rowLength)
        guard !o1 else { throw LCError.format(path: context, message: "tensor shape \(rows)×\(rowLength) overflows") }
        guard rowLength % block == 0 else {
            throw LCError.format(path: context, message: "row length \(rowLength) is not a multiple of the \(kind.name) block size \(block)")
        }
        _ = try checkSizes(kind, srcBytes: src.count, dstCount: dst.count, count: total, context: context)
        guard total > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        let rowBlocks = rowLength / block
        let rowBytes = rowBlocks * bytes          // ≤ src.count, checked above
        // Chunks of ≥ 256K elements so thread start-up stays negligible; one chunk for small tensors.
        let rowsPerChunk = max(1, (1 << 18) / max(rowLength, 1))
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        if chunks <= 1 {
            run(kind, s, d, rows * rowBlocks)
            return
        }
        // Chunks write disjoint output ranges and only read `src`, so sharing the pointers is safe.
        nonisolated(unsafe) let sp = s, dp = d
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let r0 = c * rowsPerChunk
            let r1 = min(rows, r0 + rowsPerChunk)
            run(kind, sp + r0 * rowBytes, dp + r0 * rowLength, (r1 - r0) * rowBlocks)
        }
    }

    // MARK: - checks and dispatch

    static func kind(_ typeID: UInt32, context: String) throws -> QuantKind {
        guard let k = QuantKind(rawValue: typeID) else {
            throw LCError.unsupported(path: context,
                                      message: "dequantization of \(ggmlTypeName(typeID)) is not implemented (\(unsupportedReason(typeID)))")
        }
        return k
    }

    /// Returns the block count after checking `count`, the source byte count and the destination size.
    static func checkSizes(_ kind: QuantKind, srcBytes: Int, dstCount: Int, count: Int, context: String) throws -> Int {
        let (block, bytes) = kind.geometry
        guard count >= 0, count % block == 0 else {
            throw LCError.format(path: context, message: "\(count) elements is not a whole number of \(kind.name) blocks of \(block)")
        }
        let nBlocks = count / block
        let (need, o) = nBlocks.multipliedReportingOverflow(by: bytes)
        guard !o, srcBytes == need else {
            throw LCError.format(path: context, message: "\(count) \(kind.name) elements need \(o ? "more than Int.max" : String(need)) bytes, got \(srcBytes)")
        }
        guard dstCount >= count else {
            throw LCError.format(path: context, message: "output buffer holds \(dstCount) floats, need \(count)")
        }
        return nBlocks
    }

    /// Runs the kernel for `kind` over `nBlocks` whole blocks (sizes already checked).
    static func run(_ kind: QuantKind, _ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
        switch kind {
        case .f32: dequantF32(s, y, nBlocks)
        case .f16: dequantF16(s, y, nBlocks)
        case .bf16: dequantBF16(s, y, nBlocks)
        case .f64: dequantF64(s, y, nBlocks)
        case .i8: dequantI8(s, y, nBlocks)
        case .i16: dequantI16(s, y, nBlocks)
        case .i32: dequantI32(s, y, nBlocks)
        case .i64: dequantI64(s, y, nBlocks)
        case .q4_0: dequantQ4_0(s, y, nBlocks)
        case .q4_1: dequantQ4_1(s, y, nBlocks)
        case .q5_0: dequantQ5_0(s, y, nBlocks)
        case .q5_1: dequantQ5_1(s, y, nBlocks)
        case .q8_0: dequantQ8_0(s, y, nBlocks)
        case .q2_K: dequantQ2_K(s, y, nBlocks)
        case .q3_K: dequantQ3_K(s, y, nBlocks)
        case .q4_K: dequantQ4_K(s, y, nBlocks)
        case .q5_K: dequantQ5_K(s, y, nBlocks)
        case .q6_K: dequantQ6_K(s, y, nBlocks)
        case .q8_K: dequantQ8_K(s, y, nBlocks)
        case .iq4_NL: dequantIQ4_NL(s, y, nBlocks)
        case .iq2_XXS: dequantIQ2_XXS(s, y, nBlocks)
        case .iq2_XS: dequantIQ2_XS(s, y, nBlocks)
        case .iq2_S: dequantIQ2_S(s, y, nBlocks)
        case .iq3_XXS: dequantIQ3_XXS(s, y, nBlocks)
        case .iq3_S: dequantIQ3_S(s, y, nBlocks)
        case .iq1_S: dequantIQ1_S(s, y, nBlocks)
        case .iq1_M: dequantIQ1_M(s, y, nBlocks)
        case .iq4_XS: dequantIQ4_XS(s, y, nBlocks)
        case .tq1_0: dequantTQ1_0(s, y, nBlocks)
        case .tq2_0: dequantTQ2_0(s, y, nBlocks)
        case .mxfp4: dequantMXFP4(s, y, nBlocks)
        case .nvfp4: dequantNVFP4(s, y, nBlocks)
        }
    }
}

// MARK: - little-endian field readers shared by the kernels (unaligned loads)

@inline(__always) func u8(_ p: UnsafeRawPointer, _ off: Int) -> UInt8 { p.load(fromByteOffset: off, as: UInt8.self) }
@inline(__always) func i8(_ p: UnsafeRawPointer, _ off: Int) -> Int8 { Int8(bitPattern: u8(p, off)) }
@inline(__always) func u16(_ p: UnsafeRawPointer, _ off: Int) -> UInt16 {
    UInt16(littleEndian: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
}
@inline(__always) func u32(_ p: UnsafeRawPointer, _ off: Int) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(fromByteOffset: off, as: UInt32.self))
}
/// An IEEE half at byte `off`, widened to Float32 exactly.
@inline(__always) func f16(_ p: UnsafeRawPointer, _ off: Int) -> Float { F16.toFloat(u16(p, off)) }
