// Dequantizers for the plain element types (F32/F16/BF16/F64/I8..I64) and the 32-element
// "legacy" quants Q4_0, Q4_1, Q5_0, Q5_1, Q8_0. Scalar, one loop per formula: these ARE the
// reference (ggml `dequantize_row_*`, gguf-py `dequantize_blocks`), in the same float32 order.
// Callers (Dequantize.run) have checked that `nBlocks` whole blocks are readable/writable.
import Foundation

// MARK: - plain element types (block = 1 element)

func dequantF32(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = Float(bitPattern: u32(s, 4 * i)) }
}

/// Table lookup (`F16.table`); the reference is `F16.toFloat`, compared on all 65536 patterns in tests.
func dequantF16(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    F16.widen(s, y, count: n)
}

func dequantBF16(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = BF16.toFloat(u16(s, 2 * i)) }
}

/// F64 → F32 rounds to nearest even (numpy `astype(float32)`).
func dequantF64(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n {
        let bits = UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
        y[i] = Float(Double(bitPattern: bits))
    }
}

func dequantI8(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = Float(i8(s, i)) }
}

func dequantI16(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = Float(Int16(bitPattern: u16(s, 2 * i))) }
}

/// I32/I64 → F32 round to nearest even when |v| > 2^24 (as numpy does).
func dequantI32(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] = Float(Int32(bitPattern: u32(s, 4 * i))) }
}

func dequantI64(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n {
        y[i] = Float(Int64(littleEndian: s.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
    }
}

// MARK: - Q4_0: 32 elements, 18 bytes
// struct block_q4_0 { f16 d; u8 qs[16]; }
// y[j] = (lo(qs[j]) - 8) * d, y[j+16] = (hi(qs[j]) - 8) * d   (low nibbles = first half)

func dequantQ4_0(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 18, out = y + b * 32
        let d = f16(x, 0)
        for j in 0..<16 {
            let q = u8(x, 2 + j)
            out[j] = d * Float(Int32(q & 0x0F) - 8)
            out[j + 16] = d * Float(Int32(q >> 4) - 8)
        }
    }
}

// MARK: - Q4_1: 32 elements, 20 bytes
// struct block_q4_1 { f16 d; f16 m; u8 qs[16]; }
// y = (d * q) + m

func dequantQ4_1(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 20, out = y + b * 32
        let d = f16(x, 0), m = f16(x, 2)
        for j in 0..<16 {
            let q = u8(x, 4 + j)
            out[j] = d * Float(q & 0x0F) + m
            out[j + 16] = d * Float(q >> 4) + m
        }
    }
}

// MARK: - Q5_0: 32 elements, 22 bytes
// struct block_q5_0 { f16 d; u8 qh[4]; u8 qs[16]; }
// 5th bit of element i is bit i of the LE u32 qh; y = (q5 - 16) * d

func dequantQ5_0(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 22, out = y + b * 32
        let d = f16(x, 0)
        let qh = u32(x, 2)
        for j in 0..<16 {
            let q = u8(x, 6 + j)
            let h0 = Int32((qh >> UInt32(j)) & 1) << 4
            let h1 = Int32((qh >> UInt32(j + 16)) & 1) << 4
            out[j] = d * Float((Int32(q & 0x0F) | h0) - 16)
            out[j + 16] = d * Float((Int32(q >> 4) | h1) - 16)
        }
    }
}

// MARK: - Q5_1: 32 elements, 24 bytes
// struct block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16]; }
// y = (d * q5) + m

func dequantQ5_1(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 24, out = y + b * 32
        let d = f16(x, 0), m = f16(x, 2)
        let qh = u32(x, 4)
        for j in 0..<16 {
            let q = u8(x, 8 + j)
            let h0 = UInt32((qh >> UInt32(j)) & 1) << 4
            let h1 = UInt32((qh >> UInt32(j + 16)) & 1) << 4
            out[j] = d * Float(UInt32(q & 0x0F) | h0) + m
            out[j + 16] = d * Float(UInt32(q >> 4) | h1) + m
        }
    }
}

// MARK: - Q8_0: 32 elements, 34 bytes
// struct block_q8_0 { f16 d; i8 qs[32]; }
// y = qs * d

func dequantQ8_0(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 34, out = y + b * 32
        let d = f16(x, 0)
        for j in 0..<32 { out[j] = Float(i8(x, 2 + j)) * d }
    }
}
