// Dequantizers for the table-free newer types: IQ4_NL, IQ4_XS (non-linear 4-bit codebook of 16
// values), TQ1_0/TQ2_0 (ternary), MXFP4 (e2m1 with an e8m0 block exponent) and NVFP4 (e2m1
// with unsigned e4m3 scales per 16). Scalar references following gguf-py `dequantize_blocks`.
// The grid-based i-quants are in DequantIQ.swift.
import Foundation

/// ggml `kvalues_iq4nl`: the 16 non-linear levels of IQ4_NL / IQ4_XS.
let kvaluesIQ4NL: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// ggml `kvalues_mxfp4`: e2m1 values doubled (the e8m0 scale is halved to compensate).
let kvaluesMXFP4: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

// MARK: - IQ4_NL: 32 elements, 18 bytes
// struct block_iq4_nl { f16 d; u8 qs[16]; }   y[j] = d * kv[lo(qs[j])], y[j+16] = d * kv[hi(qs[j])]

func dequantIQ4_NL(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    kvaluesIQ4NL.withUnsafeBufferPointer { kv in
        for b in 0..<nBlocks {
            let x = s + b * 18, out = y + b * 32
            let d = f16(x, 0)
            for j in 0..<16 {
                let q = u8(x, 2 + j)
                out[j] = d * Float(kv[Int(q & 0x0F)])
                out[j + 16] = d * Float(kv[Int(q >> 4)])
            }
        }
    }
}

// MARK: - IQ4_XS: 256 elements, 136 bytes
// struct block_iq4_xs { f16 d /*0*/; u16 scales_h /*2*/; u8 scales_l[4] /*4*/; u8 qs[128] /*8*/; }
// sub-block i (32 elements): ls = (nibble i of scales_l | ((scales_h >> 2i) & 3) << 4) - 32,
// dl = d*ls; element 32i + 16t + j = dl * kv[(qs[16i+j] >> 4t) & 15]

func dequantIQ4_XS(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    kvaluesIQ4NL.withUnsafeBufferPointer { kv in
        for b in 0..<nBlocks {
            let x = s + b * 136, out = y + b * 256
            let d = f16(x, 0)
            let sh = u16(x, 2)
            for i in 0..<8 {
                let lo = (u8(x, 4 + i / 2) >> UInt8(4 * (i % 2))) & 0x0F
                let hi = UInt8(truncatingIfNeeded: sh >> UInt16(2 * i)) & 3
                let dl = d * Float(Int32(lo | (hi << 4)) - 32)
                let o = out + 32 * i
                for j in 0..<16 {
                    let q = u8(x, 8 + 16 * i + j)
                    o[j] = dl * Float(kv[Int(q & 0x0F)])
                    o[j + 16] = dl * Float(kv[Int(q >> 4)])
                }
            }
        }
    }
}

// MARK: - TQ1_0: 256 elements, 54 bytes
// struct block_tq1_0 { u8 qs[48] /*0*/; u8 qh[4] /*48*/; f16 d /*52*/; }
// Each byte packs base-3 digits as a fixed-point fraction: digit k of byte v is
// ((u8)(v * 3^k) * 3) >> 8. qs[0..<32] → elements 32k+l (k<5), qs[32..<48] → 160+16k+l (k<5),
// qh[0..<4] → 240+4k+l (k<4). y = d * (digit - 1)

/// Base-3 digit selected by `mul` = 3^k of packed byte `v`, as a ternary value -1, 0 or 1.
@inline(__always) func ternaryDigit(_ v: UInt8, _ mul: UInt8) -> Int32 {
    let shifted = v &* mul
    return Int32((UInt16(shifted) * 3) >> 8) - 1
}

/// 3^k for k in 0..<5 (fits in a byte).
@inline(__always) func pow3u8(_ k: Int) -> UInt8 {
    switch k { case 0: return 1; case 1: return 3; case 2: return 9; case 3: return 27; default: return 81 }
}

func dequantTQ1_0(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 54, out = y + b * 256
        let d = f16(x, 52)
        for k in 0..<5 {
            for l in 0..<32 { out[32 * k + l] = d * Float(ternaryDigit(u8(x, l), pow3u8(k))) }
        }
        for k in 0..<5 {
            for l in 0..<16 { out[160 + 16 * k + l] = d * Float(ternaryDigit(u8(x, 32 + l), pow3u8(k))) }
        }
        for k in 0..<4 {
            for l in 0..<4 { out[240 + 4 * k + l] = d * Float(ternaryDigit(u8(x, 48 + l), pow3u8(k))) }
        }
    }
}

// MARK: - TQ2_0: 256 elements, 66 bytes
// struct block_tq2_0 { u8 qs[64] /*0*/; f16 d /*64*/; }
// element 128n + 32j + l = d * (((qs[32n+l] >> 2j) & 3) - 1)

func dequantTQ2_0(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 66, out = y + b * 256
        let d = f16(x, 64)
        for n in 0..<2 {
            for j in 0..<4 {
                for l in 0..<32 {
                    let q = Int32((u8(x, 32 * n + l) >> UInt8(2 * j)) & 3) - 1
                    out[128 * n + 32 * j + l] = d * Float(q)
                }
            }
        }
    }
}

// MARK: - MXFP4: 32 elements, 17 bytes
// struct block_mxfp4 { u8 e /*0*/; u8 qs[16] /*1*/; }
// d = 2^(e-127) / 2 as float32 (ggml `ggml_e8m0_to_fp32_half`); y[j] = d * kv[lo], y[j+16] = d * kv[hi]

@inline(__always) func e8m0ToFloatHalf(_ e: UInt8) -> Float {
    let bits: UInt32 = e < 2 ? UInt32(0x0020_0000) << UInt32(e) : (UInt32(e) - 1) << 23
    return Float(bitPattern: bits)
}

func dequantMXFP4(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    kvaluesMXFP4.withUnsafeBufferPointer { kv in
        for b in 0..<nBlocks {
            let x = s + b * 17, out = y + b * 32
            let d = e8m0ToFloatHalf(u8(x, 0))
            for j in 0..<16 {
                let q = u8(x, 1 + j)
                out[j] = d * Float(kv[Int(q & 0x0F)])
                out[j + 16] = d * Float(kv[Int(q >> 4)])
            }
        }
    }
}

// MARK: - NVFP4: 64 elements, 36 bytes
// struct block_nvfp4 { u8 d[4] /*0*/; u8 qs[32] /*4*/; }  four sub-blocks of 16 elements, each with
// an unsigned e4m3 scale (bias 7; 0 and 0x7F read as 0; bit 7 ignored), halved like MXFP4's.
// sub-block s: y[16s + j] = d_s * kv[lo(qs[8s+j])], y[16s + 8 + j] = d_s * kv[hi(qs[8s+j])]

/// gguf-py `NVFP4.ue4m3_to_fp32`: the scale times 0.5 (all results exact in float32).
@inline(__always) func ue4m3ToFloatHalf(_ x: UInt8) -> Float {
    if x == 0 || x == 0x7F { return 0 }
    let exp = Int((x >> 3) & 0x0F), man = Float(x & 7)
    let raw = exp == 0 ? man * 0x1p-9 : (1 + man / 8) * Float(sign: .plus, exponent: exp - 7, significand: 1)
    return raw * 0.5
}

func dequantNVFP4(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    kvaluesMXFP4.withUnsafeBufferPointer { kv in
        for b in 0..<nBlocks {
            let x = s + b * 36, out = y + b * 64
            for sb in 0..<4 {
                let d = ue4m3ToFloatHalf(u8(x, sb))
                for j in 0..<8 {
                    let q = u8(x, 4 + 8 * sb + j)
                    out[16 * sb + j] = d * Float(kv[Int(q & 0x0F)])
                    out[16 * sb + 8 + j] = d * Float(kv[Int(q >> 4)])
                }
            }
        }
    }
}
