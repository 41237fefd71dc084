// Dequantizers for ggml's codebook i-quants: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M.
// Each group of 4 or 8 values is an index into a fixed grid (IQGrids.swift) times a sub-block
// scale, with separate sign bits. Scalar references following gguf-py `dequantize_blocks`
// (same float32 order: db = d*(0.5+s)*0.25, then db*grid*sign). Not here: quantization.
import Foundation

/// Decodes a gguf-py-style packed hex grid into `entries*width` floats.
func decodeGrid(hex: String, map: [Float], entries: Int, width: Int) -> [Float] {
    let bits = map.count <= 4 ? 2 : 3                 // ceil(log2(map.count)) for 3- and 8-value maps
    let perByte = 8 / bits, step = 8 / perByte, mask = UInt8((1 << bits) - 1)
    var out: [Float] = []
    out.reserveCapacity(entries * width)
    var hi: UInt8? = nil
    for c in hex.utf8 {
        let v: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
        default: continue                              // line breaks of the literal
        }
        guard let h = hi else { hi = v; continue }
        hi = nil
        let byte = (h << 4) | v
        for k in 0..<perByte { out.append(map[Int((byte >> UInt8(k * step)) & mask)]) }
    }
    precondition(out.count == entries * width, "corrupt built-in i-quant grid")
    return out
}

/// ggml `ksigns_iq2xs`: 7 sign bits plus an 8th parity bit making the popcount even.
let ksignsIQ2XS: [UInt8] = (0..<128).map { i in UInt8(i) | (UInt8(i.nonzeroBitCount & 1) << 7) }

@inline(__always) func signed(_ v: Float, _ signBits: UInt8, _ j: Int) -> Float {
    (signBits >> UInt8(j)) & 1 == 1 ? v * -1 : v * 1
}

// MARK: - IQ2_XXS: 256 elements, 66 bytes
// struct block_iq2_xxs { f16 d /*0*/; u16 qs[32] /*2*/; }  per 32 elements ib: u32 aux0 (4 grid
// indices, one per byte), u32 aux1 (4×7-bit sign indices | 4-bit scale << 28).
// y[32ib + 8l + j] = d*(0.5+scale)*0.25 * grid[aux0.byte l][j] * ±1

func dequantIQ2_XXS(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq2xxs, ks = ksignsIQ2XS
    for b in 0..<nBlocks {
        let x = s + b * 66, out = y + b * 256
        let d = f16(x, 0)
        for ib in 0..<8 {
            let aux1 = u32(x, 2 + 8 * ib + 4)
            let db = d * (0.5 + Float(aux1 >> 28)) * 0.25
            for l in 0..<4 {
                let g = Int(u8(x, 2 + 8 * ib + l)) * 8
                let signs = ks[Int((aux1 >> UInt32(7 * l)) & 127)]
                for j in 0..<8 { out[32 * ib + 8 * l + j] = signed(db * grid[g + j], signs, j) }
            }
        }
    }
}

// MARK: - IQ2_XS: 256 elements, 74 bytes
// struct block_iq2_xs { f16 d /*0*/; u16 qs[32] /*2*/; u8 scales[8] /*66*/; }
// qs[i]: 9-bit grid index | 7-bit sign index << 9; 16 groups of 16 use scale nibble g.

func dequantIQ2_XS(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq2xs, ks = ksignsIQ2XS
    for b in 0..<nBlocks {
        let x = s + b * 74, out = y + b * 256
        let d = f16(x, 0)
        for g in 0..<16 {
            let sc = (u8(x, 66 + g / 2) >> UInt8(4 * (g % 2))) & 0x0F
            let db = d * (0.5 + Float(sc)) * 0.25
            for k in 0..<2 {
                let q = u16(x, 2 + 2 * (2 * g + k))
                let gi = Int(q & 511) * 8, signs = ks[Int(q >> 9)]
                for j in 0..<8 { out[16 * g + 8 * k + j] = signed(db * grid[gi + j], signs, j) }
            }
        }
    }
}

// MARK: - IQ2_S: 256 elements, 82 bytes
// struct block_iq2_s { f16 d /*0*/; u8 qs[32] /*2*/; u8 signs[32] /*34*/; u8 qh[8] /*66*/; u8 scales[8] /*74*/; }
// index i (8 values) = qs[i] | ((qh[i/4] >> 2(i%4)) & 3) << 8; sign of element e = bit e%8 of signs[e/8].

func dequantIQ2_S(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq2s
    for b in 0..<nBlocks {
        let x = s + b * 82, out = y + b * 256
        let d = f16(x, 0)
        for i in 0..<32 {
            let g = i / 2                                  // 16-element scale group
            let sc = (u8(x, 74 + g / 2) >> UInt8(4 * (g % 2))) & 0x0F
            let db = d * (0.5 + Float(sc)) * 0.25
            let idx = Int(u8(x, 2 + i)) | Int((u8(x, 66 + i / 4) >> UInt8(2 * (i % 4))) & 3) << 8
            let signs = u8(x, 34 + i)
            for j in 0..<8 { out[8 * i + j] = signed(db * grid[idx * 8 + j], signs, j) }
        }
    }
}

// MARK: - IQ3_XXS: 256 elements, 98 bytes
// struct block_iq3_xxs { f16 d /*0*/; u8 qs[64] /*2*/; u32 scales_and_signs[8] /*66*/; }
// qs[i] indexes a 4-value grid entry (elements 4i..<4i+4); per 32 elements ib: aux = u32,
// db = d*(0.5 + aux>>28)*0.5, signs of 8-element group l = ksigns[(aux >> 7l) & 127].

func dequantIQ3_XXS(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq3xxs, ks = ksignsIQ2XS
    for b in 0..<nBlocks {
        let x = s + b * 98, out = y + b * 256
        let d = f16(x, 0)
        for ib in 0..<8 {
            let aux = u32(x, 66 + 4 * ib)
            let db = d * (0.5 + Float(aux >> 28)) * 0.5
            for l in 0..<4 {
                let signs = ks[Int((aux >> UInt32(7 * l)) & 127)]
                for j in 0..<8 {
                    let e = 32 * ib + 8 * l + j
                    out[e] = signed(db * grid[Int(u8(x, 2 + e / 4)) * 4 + e % 4], signs, j)
                }
            }
        }
    }
}

// MARK: - IQ3_S: 256 elements, 110 bytes
// struct block_iq3_s { f16 d /*0*/; u8 qs[64] /*2*/; u8 qh[8] /*66*/; u8 signs[32] /*74*/; u8 scales[4] /*106*/; }
// index i (4 values) = qs[i] | bit (i%8) of qh[i/8] << 8; per 32 elements db = d*(1 + 2*scale nibble).

func dequantIQ3_S(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq3s
    for b in 0..<nBlocks {
        let x = s + b * 110, out = y + b * 256
        let d = f16(x, 0)
        for e in 0..<256 {
            let ib = e / 32, i = e / 4
            let sc = (u8(x, 106 + ib / 2) >> UInt8(4 * (ib % 2))) & 0x0F
            let db = d * Float(1 + 2 * Int32(sc))
            let idx = Int(u8(x, 2 + i)) | Int((u8(x, 66 + i / 8) >> UInt8(i % 8)) & 1) << 8
            out[e] = signed(db * grid[idx * 4 + e % 4], u8(x, 74 + e / 8), e % 8)
        }
    }
}

// MARK: - IQ1_S: 256 elements, 50 bytes
// struct block_iq1_s { f16 d /*0*/; u8 qs[32] /*2*/; u16 qh[8] /*34*/; }
// per 32 elements ib: dl = d*(2*((qh>>12)&7)+1), delta = ±0.125 (qh bit 15);
// 8-element group l: index = qs[4ib+l] | ((qh >> 3l) & 7) << 8; y = dl*(grid + delta)

func dequantIQ1_S(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq1s
    for b in 0..<nBlocks {
        let x = s + b * 50, out = y + b * 256
        let d = f16(x, 0)
        for ib in 0..<8 {
            let qh = u16(x, 34 + 2 * ib)
            let dl = d * Float(2 * Int32((qh >> 12) & 7) + 1)
            let delta: Float = qh & 0x8000 == 0 ? 0.125 : -0.125
            for l in 0..<4 {
                let idx = Int(u8(x, 2 + 4 * ib + l)) | Int((qh >> UInt16(3 * l)) & 7) << 8
                for j in 0..<8 { out[32 * ib + 8 * l + j] = dl * (grid[idx * 8 + j] + delta) }
            }
        }
    }
}

// MARK: - IQ1_M: 256 elements, 56 bytes
// struct block_iq1_m { u8 qs[32] /*0*/; u8 qh[16] /*32*/; u16 scales[4] /*48*/; }
// f16 d = top nibbles of scales[0..3] (scales[0] lowest); 3-bit sub-scale k of scales[w] at bits 3k
// (16 of them, one per 16 elements): dl = d*(2s+1). 8-element group i: nibble i%2 of qh[i/2]
// gives index bits 8-10 (low 3) and the delta sign (bit 3); index = qs[i] | those << 8.

func dequantIQ1_M(_ s: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ nBlocks: Int) {
    let grid = IQGrids.iq1s
    for b in 0..<nBlocks {
        let x = s + b * 56, out = y + b * 256
        let sc0 = u16(x, 48), sc1 = u16(x, 50), sc2 = u16(x, 52), sc3 = u16(x, 54)
        let dBits = (sc0 >> 12) | ((sc1 & 0xF000) >> 8) | ((sc2 & 0xF000) >> 4) | (sc3 & 0xF000)
        let d = F16.toFloat(dBits)
        for g in 0..<16 {                                   // 16-element scale groups
            let w = u16(x, 48 + 2 * (g / 4))
            let sub = Int32((w >> UInt16(3 * (g % 4))) & 7)
            let dl = d * Float(2 * sub + 1)
            for k in 0..<2 {
                let i = 2 * g + k
                let nib = (u8(x, 32 + i / 2) >> UInt8(4 * (i % 2))) & 0x0F
                let idx = Int(u8(x, i)) | Int(nib & 7) << 8
                let delta: Float = nib & 8 == 0 ? 0.125 : -0.125
                for j in 0..<8 { out[8 * i + j] = dl * (grid[idx * 8 + j] + delta) }
            }
        }
    }
}
