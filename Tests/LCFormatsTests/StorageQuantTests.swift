// Storage encodings: BF16 over all 65536 patterns and ggml rounding edge cases, F16 against
// Swift Float16, per-row Int8 quantization error bounds and the relative Frobenius error.
import Foundation
import LCCore
import LCFormats
import XCTest

final class StorageQuantTests: XCTestCase {
    /// bf16 → f32 → bf16 is the identity for every non-NaN pattern; NaNs stay NaN with the same
    /// sign and come back quiet (bit 6 of the bf16 set), as ggml does.
    func testBF16RoundTripsAll65536Patterns() {
        var nans = 0
        for b in 0...UInt16.max {
            let f = BF16.toFloat(b)
            let back = BF16.fromFloat(f)
            if f.isNaN {
                nans += 1
                XCTAssertTrue(BF16.toFloat(back).isNaN, "NaN \(b) lost")
                XCTAssertEqual(back & 0x8000, b & 0x8000, "NaN sign \(b)")
                XCTAssertEqual(back, b | 0x0040, "NaN \(b) should come back quiet with its payload")
            } else {
                XCTAssertEqual(back, b, "pattern \(String(b, radix: 16))")
            }
        }
        XCTAssertEqual(nans, 2 * 127)
    }

    /// ggml rounding: nearest, ties to even, overflow to Inf, NaN forced quiet.
    func testBF16FromFloatEdgeCases() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_8000, 0x3F80),   // tie, even below
            (0x3F81_8000, 0x3F82),   // tie, even above
            (0x3F80_8001, 0x3F81),   // just above the tie
            (0x3F80_7FFF, 0x3F80),   // just below the tie
            (0x7F7F_FFFF, 0x7F80),   // max finite float rounds to +Inf
            (0x7F7F_7FFF, 0x7F7F),
            (0x7F80_0000, 0x7F80),   // +Inf
            (0xFF80_0000, 0xFF80),   // -Inf
            (0x7F80_0001, 0x7FC0),   // signalling NaN → quiet, not Inf
            (0xFF80_0001, 0xFFC0),
            (0x7FC0_0000, 0x7FC0),
            (0x0000_8000, 0x0000),   // subnormal tie to even (0)
            (0x0001_8000, 0x0002),   // subnormal tie to even (2)
            (0x8000_0000, 0x8000),   // -0
        ]
        for (bits, want) in cases {
            XCTAssertEqual(BF16.fromFloat(Float(bitPattern: bits)), want, "0x\(String(bits, radix: 16))")
        }
    }

    /// fromFloat agrees with a naive nearest-value search (Double arithmetic) on random finite floats.
    func testBF16MatchesNaiveNearest() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200_000 {
            let bits = UInt32.random(in: 0...UInt32.max, using: &rng)
            let x = Float(bitPattern: bits)
            guard x.isFinite, abs(x) < Float(bitPattern: 0x7F7F_0000) else { continue }
            let lo = UInt16(bits >> 16), hi = lo &+ 1
            let dl = abs(Double(x) - Double(BF16.toFloat(lo))), dh = abs(Double(x) - Double(BF16.toFloat(hi)))
            let want = dl < dh ? lo : (dh < dl ? hi : (lo & 1 == 0 ? lo : hi))
            XCTAssertEqual(BF16.fromFloat(x), want, "0x\(String(bits, radix: 16))")
        }
    }

    /// F16.toFloat (bit manipulation) equals Swift's Float16 widening on all 65536 patterns;
    /// fromFloat inverts it on every non-NaN half.
    func testF16AllPatterns() {
        for h in 0...UInt16.max {
            let mine = F16.toFloat(h)
            let swift = Float(Float16(bitPattern: h))
            if swift.isNaN {
                XCTAssertTrue(mine.isNaN); XCTAssertEqual(mine.sign, swift.sign)
            } else {
                XCTAssertEqual(mine.bitPattern, swift.bitPattern, "half 0x\(String(h, radix: 16))")
                XCTAssertEqual(F16.fromFloat(mine), h)
            }
        }
        // fast path (lookup table used by F16 dequantization) == reference, NaN payloads included
        XCTAssertEqual(F16.table.count, 65536)
        XCTAssertEqual(F16.table.map(\.bitPattern), (0...UInt16.max).map { F16.toFloat($0).bitPattern })
        let all = (0...UInt16.max).map { $0 }
        var viaDequant = [Float](repeating: 0, count: 65536)
        XCTAssertNoThrow(try all.withUnsafeBytes { s in
            try viaDequant.withUnsafeMutableBufferPointer { try Dequantize.row(typeID: 1, s, into: $0, count: 65536) }
        })
        XCTAssertEqual(viaDequant.map(\.bitPattern), F16.table.map(\.bitPattern))
        XCTAssertEqual(F16.fromFloat(65520), 0x7C00)          // rounds to +Inf
        XCTAssertEqual(F16.fromFloat(1 + 0x1p-11), 0x3C00)    // tie → even
        XCTAssertEqual(F16.fromFloat(1 + 0x1p-10 + 0x1p-11), 0x3C02)
    }

    /// Int8 per-row quantization: per-element error ≤ scale/2, max |x| maps to ±127,
    /// zero rows stay zero with scale 0, and the relative error on Gaussian data is small.
    func testInt8RowQuantError() {
        let rows = 48, cols = 384
        var g = SplitMix(seed: 7)
        var x = (0..<(rows * cols)).map { i in g.gaussian() * Float(1 + i / cols) }  // row-dependent scale
        for c in 0..<cols { x[5 * cols + c] = 0 }                                     // an all-zero row
        let qz = x.withUnsafeBufferPointer { Int8RowQuant(rows: rows, cols: cols, $0) }
        let y = qz.dequantized()
        XCTAssertEqual(qz.scales[5], 0)
        XCTAssertTrue(qz.q[(5 * cols)..<(6 * cols)].allSatisfy { $0 == 0 })
        for r in 0..<rows where r != 5 {
            let row = x[(r * cols)..<((r + 1) * cols)]
            let maxAbs = row.map(abs).max() ?? 0
            XCTAssertEqual(qz.scales[r], maxAbs / 127)
            XCTAssertEqual(qz.q[(r * cols)..<((r + 1) * cols)].map { abs(Int($0)) }.max(), 127)
            for c in 0..<cols {
                let i = r * cols + c
                XCTAssertLessThanOrEqual(abs(x[i] - y[i]), qz.scales[r] * 0.5 * (1 + 1e-5), "r\(r) c\(c)")
            }
        }
        let err = Int8RowQuant.relativeFrobeniusError(original: x, roundTrip: y)
        XCTAssertGreaterThan(err, 0.002)
        XCTAssertLessThan(err, 0.015)   // uniform rounding error ≈ scale/√12 against N(0,1) rows with max ≈ 3.5σ
    }

    /// Non-finite inputs do not trap: NaN stores 0, ±Inf saturate, the scale comes from finite values.
    func testInt8NonFinite() {
        let x: [Float] = [1, -2, .nan, .infinity, -.infinity, 0.5, 0, 0]
        let qz = x.withUnsafeBufferPointer { Int8RowQuant(rows: 2, cols: 4, $0) }
        XCTAssertEqual(qz.scales[0], 2 / 127)
        XCTAssertEqual(Array(qz.q[0..<4]), [64, -127, 0, 127])
        XCTAssertEqual(qz.scales[1], 0.5 / 127)
        XCTAssertEqual(Array(qz.q[4..<8]), [-127, 127, 0, 0])
    }

    func testRelativeFrobeniusError() {
        XCTAssertEqual(Int8RowQuant.relativeFrobeniusError(original: [3, 4], roundTrip: [3, 4]), 0)
        XCTAssertEqual(Int8RowQuant.relativeFrobeniusError(original: [3, 4], roundTrip: [0, 0]), 1)
        XCTAssertEqual(Int8RowQuant.relativeFrobeniusError(original: [3, 4], roundTrip: [3, 3]), 0.2, accuracy: 1e-15)
        XCTAssertEqual(Int8RowQuant.relativeFrobeniusError(original: [0, 0], roundTrip: [0, 0]), 0)
        XCTAssertEqual(Int8RowQuant.relativeFrobeniusError(original: [0, 0], roundTrip: [1, 0]), .infinity)
    }
}

/// Deterministic generator for test data (SplitMix64 + Box–Muller).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func gaussian() -> Float {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
