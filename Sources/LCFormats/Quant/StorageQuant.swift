// Storage encodings the load stage writes weights in: BF16 and F16 (bit conversions, ggml
// rounding), and per-output-channel symmetric Int8 with one Float32 scale per row, plus the
// relative Frobenius error used to report what a storage choice costs.
// Deliberately not GGML block quantization (that is read-only, see Dequantize).
import Foundation

/// bfloat16 ↔ Float32 exactly as ggml (`ggml_compute_fp32_to_bf16` / `_bf16_to_fp32`).
public enum BF16 {
    /// Rounds to nearest, ties to even; NaN stays NaN (sign and top payload bits kept) with the
    /// quiet bit forced, so a NaN never rounds into ±Inf.
    @inline(__always)
    public static func fromFloat(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if u & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: u >> 16) | 64
        }
        let lsb = (u >> 16) & 1
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ lsb) >> 16)
    }

    /// Exact widening: the 16 bits become the top half of a Float32.
    @inline(__always)
    public static func toFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }
}

/// IEEE binary16 ↔ Float32.
public enum F16 {
    /// Exact widening of an IEEE half bit pattern. NaN payloads are shifted across unchanged
    /// (no quieting), as numpy's `float16 → float32` does.
    @inline(__always)
    public static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32((h >> 10) & 0x1F)
        let man = UInt32(h & 0x03FF)
        if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }     // Inf / NaN
        if exp != 0 { return Float(bitPattern: sign | ((exp + 112) << 23) | (man << 13)) } // normal
        // zero or subnormal: man * 2^-24, exact in Float32
        let mag = Float(man) * Float(bitPattern: 0x3380_0000)
        return sign != 0 ? -mag : mag
    }

    /// All 65536 halves widened by `toFloat` (256 KiB, built once on first use): the fast path
    /// used by bulk F16 dequantization. Tests check it against `toFloat` for every pattern.
    public static let table: [Float] = (0...UInt16.max).map { toFloat($0) }

    /// Bulk widening through `table`; `dst` must hold at least `count` floats and `src` 2·count bytes.
    static func widen(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        table.withUnsafeBufferPointer { t in
            guard let tb = t.baseAddress else { return }
            for i in 0..<count {
                dst[i] = tb[Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))]
            }
        }
    }

    /// Rounds to the nearest half, ties to even (Swift `Float16` conversion); overflow → ±Inf.
    @inline(__always)
    public static func fromFloat(_ x: Float) -> UInt16 { Float16(x).bitPattern }
}

/// Per-output-channel (per-row) symmetric Int8: `scale[r] = max|row r| / 127`,
/// `q = round(x / scale)` (half away from zero) clamped to [-127, 127]; an all-zero row has scale 0.
/// Non-finite inputs cannot be represented: the scale comes from the finite values only,
/// NaN stores 0 and ±Inf saturate to ±127.
public struct Int8RowQuant: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    /// Row-major `rows × cols` quantized values.
    public let q: [Int8]
    /// One scale per row.
    public let scales: [Float]

    /// Quantizes a row-major `rows × cols` matrix (`x.count` must be `rows * cols`).
    public init(rows: Int, cols: Int, _ x: UnsafeBufferPointer<Float>) {
        let r = Int8RowQuant.quantize(rows: rows, cols: cols, x)
        self.rows = rows; self.cols = cols; self.q = r.q; self.scales = r.scales
    }

    /// The reconstruction `q * scale[row]`, row-major.
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: q.count)
        q.withUnsafeBufferPointer { qp in
            scales.withUnsafeBufferPointer { sp in
                out.withUnsafeMutableBufferPointer { Int8RowQuant.dequantize(rows: rows, cols: cols, q: qp, scales: sp, into: $0) }
            }
        }
        return out
    }

    /// Quantizes a row-major `rows × cols` matrix. Precondition: `x.count == rows * cols`.
    public static func quantize(rows: Int, cols: Int, _ x: UnsafeBufferPointer<Float>) -> (q: [Int8], scales: [Float]) {
        precondition(rows >= 0 && cols >= 0 && x.count == rows * cols, "Int8RowQuant: buffer does not hold rows×cols floats")
        var q = [Int8](repeating: 0, count: x.count)
        var scales = [Float](repeating: 0, count: rows)
        q.withUnsafeMutableBufferPointer { qp in
            for r in 0..<rows {
                let row = UnsafeBufferPointer(rebasing: x[(r * cols)..<((r + 1) * cols)])
                var maxAbs: Float = 0
                for v in row where v.isFinite { maxAbs = max(maxAbs, abs(v)) }
                let scale = maxAbs / 127
                scales[r] = scale
                guard scale > 0 else { continue }          // all-zero (or all non-finite) row: q stays 0
                for c in 0..<cols {
                    let v = row[c]
                    if v.isNaN { continue }
                    let t = (v / scale).rounded(.toNearestOrAwayFromZero)
                    qp[r * cols + c] = Int8(min(127, max(-127, t)))
                }
            }
        }
        return (q, scales)
    }

    /// Writes `q[r, c] * scales[r]` into `out` (row-major). Precondition: matching sizes.
    public static func dequantize(rows: Int, cols: Int, q: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>,
                                  into out: UnsafeMutableBufferPointer<Float>) {
        precondition(q.count == rows * cols && scales.count == rows && out.count >= rows * cols,
                     "Int8RowQuant.dequantize: buffer sizes do not match rows×cols")
        for r in 0..<rows {
            let s = scales[r]
            for c in 0..<cols { out[r * cols + c] = Float(q[r * cols + c]) * s }
        }
    }

    /// ‖original − roundTrip‖_F / ‖original‖_F with Float64 accumulation. 0 when both are zero,
    /// +Inf when only the original is zero. Precondition: equal counts.
    public static func relativeFrobeniusError(original: UnsafeBufferPointer<Float>, roundTrip: UnsafeBufferPointer<Float>) -> Double {
        precondition(original.count == roundTrip.count, "relativeFrobeniusError: counts differ")
        var num = 0.0, den = 0.0
        for i in 0..<original.count {
            let a = Double(original[i]), d = a - Double(roundTrip[i])
            num += d * d
            den += a * a
        }
        if den == 0 { return num == 0 ? 0 : .infinity }
        return (num / den).squareRoot()
    }

    /// Array convenience for `relativeFrobeniusError(original:roundTrip:)`.
    public static func relativeFrobeniusError(original: [Float], roundTrip: [Float]) -> Double {
        original.withUnsafeBufferPointer { a in
            roundTrip.withUnsafeBufferPointer { b in relativeFrobeniusError(original: a, roundTrip: b) }
        }
    }
}
