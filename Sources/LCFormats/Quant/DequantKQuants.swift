// Dequantizers for the 256-element "K-quant" super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
// Scalar reference loops following ggml `dequantize_row_q*_K`; per-sub-block factors are
// computed in float32 first (`dl = d*sc`, `ml = dmin*m`) and then `dl*q - ml`, exactly as ggml
// and gguf-py do, so outputs are bit-identical. Byte offsets in comments are within one block.
import Foundation

/// Unpacks the 6-bit (scale, min) pair `j` (0..<8) of Q4_K/Q5_K from the 12 packed bytes at `q`.
/// ggml `get_scale_min_k4`: bytes 0-3 hold scales 0-3 (+ top bits of 4-7), 4-7 hold mins 0-3
/// (+ top bits of mins 4-7), 8-11 hold the low nibbles of scales/mins 4-7.
@inline(__always) func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (sc: UInt8, m: UInt8) {
    if j < 4 {
        return (u8(q, j) & 63, u8(q, j + 4) & 63)
    }
    let sc = (u8(q, j + 4) & 0x0F) | ((u8(q, j - 4) >> 6) << 4)
    let m = (u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4)
    return (sc, m)
}

// MARK: - Q2_K: 256 elements, 84 bytes
// struct block_q2_K { u8 scales[16] /*0*/; u8 qs[64] /*16*/; f16 d /*80*/; f16 dmin /*82*/; }
// 16 sub-blocks of 16: scales[i] = scale (low nibble) | min (high nibble).
// element e = 128n + 32j + 16h + l: q = (qs[32n+16h+l] >> 2j) & 3, sub-block e/16,
// y = (d*sc)*q - (dmin*m)

func dequantQ2_K(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 84, out = y + b * 256
        let d = f16(x, 80), dmin = f16(x, 82)
        for n in 0..<2 {
            for j in 0..<4 {
                for h in 0..<2 {
                    let sub = 8 * n + 2 * j + h
                    let sc = u8(x, sub)
                    let dl = d * Float(sc & 0x0F)
                    let ml = dmin * Float(sc >> 4)
                    let o = out + 16 * sub
                    for l in 0..<16 {
                        let q = (u8(x, 16 + 32 * n + 16 * h + l) >> UInt8(2 * j)) & 3
                        o[l] = dl * Float(q) - ml
                    }
                }
            }
        }
    }
}

// MARK: - Q3_K: 256 elements, 110 bytes
// struct block_q3_K { u8 hmask[32] /*0*/; u8 qs[64] /*32*/; u8 scales[12] /*96*/; f16 d /*108*/; }
// 16 sub-blocks of 16 with 6-bit scales (stored +32): low 4 bits from scales[0..7] nibbles,
// high 2 bits from scales[8..11]. element e = 128n + 32j + l (l < 32):
// q = ((qs[32n+l] >> 2j) & 3) - (hmask[l] bit (4n+j) set ? 0 : 4); y = (d*(sc-32)) * q

@inline(__always) func q3KScale(_ i: Int, _ sc: UnsafeRawPointer) -> Int32 {
    let low = i < 8 ? u8(sc, i) & 0x0F : u8(sc, i - 8) >> 4
    let high = (u8(sc, 8 + i % 4) >> UInt8(2 * (i / 4))) & 3
    return Int32(low | (high << 4)) - 32
}

func dequantQ3_K(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 110, out = y + b * 256
        let d = f16(x, 108)
        for n in 0..<2 {
            for j in 0..<4 {
                let shift = UInt8(2 * j), hbit = UInt8(4 * n + j)
                for h in 0..<2 {
                    let sub = 8 * n + 2 * j + h
                    let dl = d * Float(q3KScale(sub, x + 96))
                    let o = out + 16 * sub
                    for l in 0..<16 {
                        let ll = 16 * h + l
                        let q = Int32((u8(x, 32 + 32 * n + ll) >> shift) & 3)
                        let hi: Int32 = (u8(x, ll) >> hbit) & 1 == 1 ? 0 : 4
                        o[l] = dl * Float(q - hi)
                    }
                }
            }
        }
    }
}

// MARK: - Q4_K: 256 elements, 144 bytes
// struct block_q4_K { f16 d /*0*/; f16 dmin /*2*/; u8 scales[12] /*4*/; u8 qs[128] /*16*/; }
// 8 sub-blocks of 32; chunk c (64 elements) uses qs[32c..<32c+32]: low nibbles → sub-block 2c,
// high nibbles → 2c+1. y = (d*sc)*q - (dmin*m)

func dequantQ4_K(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 144, out = y + b * 256
        let d = f16(x, 0), dmin = f16(x, 2)
        for c in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * c, x + 4)
            let (s2, m2) = scaleMinK4(2 * c + 1, x + 4)
            let d1 = d * Float(s1), mm1 = dmin * Float(m1)
            let d2 = d * Float(s2), mm2 = dmin * Float(m2)
            let o = out + 64 * c
            for l in 0..<32 {
                let q = u8(x, 16 + 32 * c + l)
                o[l] = d1 * Float(q & 0x0F) - mm1
                o[l + 32] = d2 * Float(q >> 4) - mm2
            }
        }
    }
}

// MARK: - Q5_K: 256 elements, 176 bytes
// struct block_q5_K { f16 d /*0*/; f16 dmin /*2*/; u8 scales[12] /*4*/; u8 qh[32] /*16*/; u8 qs[128] /*48*/; }
// as Q4_K plus a 5th bit: element 64c + 32t + l takes bit (2c+t) of qh[l].

func dequantQ5_K(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 176, out = y + b * 256
        let d = f16(x, 0), dmin = f16(x, 2)
        for c in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * c, x + 4)
            let (s2, m2) = scaleMinK4(2 * c + 1, x + 4)
            let d1 = d * Float(s1), mm1 = dmin * Float(m1)
            let d2 = d * Float(s2), mm2 = dmin * Float(m2)
            let u1 = UInt8(1) << UInt8(2 * c), u2 = UInt8(2) << UInt8(2 * c)
            let o = out + 64 * c
            for l in 0..<32 {
                let q = u8(x, 48 + 32 * c + l), qh = u8(x, 16 + l)
                let q1 = (q & 0x0F) | (qh & u1 != 0 ? 16 : 0)
                let q2 = (q >> 4) | (qh & u2 != 0 ? 16 : 0)
                o[l] = d1 * Float(q1) - mm1
                o[l + 32] = d2 * Float(q2) - mm2
            }
        }
    }
}

// MARK: - Q6_K: 256 elements, 210 bytes
// struct block_q6_K { u8 ql[128] /*0*/; u8 qh[64] /*128*/; i8 scales[16] /*192*/; f16 d /*208*/; }
// half n (128 elements) uses ql[64n..], qh[32n..], scales[8n..]; for l < 32, is = l/16:
// q1..q4 = 4 low bits from ql[l] / ql[l+32] nibbles | 2 high bits from qh[l] >> 0,2,4,6; minus 32
// y[128n + l + 32k] = (d*scales[is+2k]) * q_{k+1}

func dequantQ6_K(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 210, out = y + b * 256
        let d = f16(x, 208)
        for n in 0..<2 {
            let ql = x + 64 * n, qh = x + 128 + 32 * n, sc = x + 192 + 8 * n
            let o = out + 128 * n
            for l in 0..<32 {
                let iss = l / 16
                let a = u8(ql, l), c = u8(ql, l + 32), h = u8(qh, l)
                let q1 = Int32((a & 0x0F) | ((h & 3) << 4)) - 32
                let q2 = Int32((c & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int32((a >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int32((c >> 4) | (((h >> 6) & 3) << 4)) - 32
                o[l] = d * Float(i8(sc, iss)) * Float(q1)
                o[l + 32] = d * Float(i8(sc, iss + 2)) * Float(q2)
                o[l + 64] = d * Float(i8(sc, iss + 4)) * Float(q3)
                o[l + 96] = d * Float(i8(sc, iss + 6)) * Float(q4)
            }
        }
    }
}

// MARK: - Q8_K: 256 elements, 292 bytes
// struct block_q8_K { f32 d /*0*/; i8 qs[256] /*4*/; i16 bsums[16] /*260*/; }
// y = d * qs (bsums are sums of 16 qs for dot products; not needed here)

func dequantQ8_K(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    for b in 0..<nBlocks {
        let x = s + b * 292, out = y + b * 256
        let d = Float(bitPattern: u32(x, 0))
        for j in 0..<256 { out[j] = d * Float(i8(x, 4 + j)) }
    }
}
