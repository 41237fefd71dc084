// The cross-entropy's eight-chain row maximum against the plain one-chain loop it replaced: every length 0…40
// (all tail cases), with NaN entries (skipped), −∞ rows, and the maximum in every lane.
@testable import LCKernels
import XCTest

final class RowMaxTests: XCTestCase {
    func plainMax(_ x: [Float]) -> Float {
        var m = -Float.infinity
        for v in x where v > m { m = v }
        return m
    }

    func testRowMaxEqualsPlainLoop() {
        var rng = LCG(s: 7)
        for n in 0...40 {
            var x = rng.array(n)
            if n > 3 { x[n / 2] = .nan; x[1] = -.infinity }
            XCTAssertEqual(x.withUnsafeBufferPointer { rowMax($0.baseAddress!, n) }, plainMax(x), "n \(n)")
            for lane in 0..<n {  // the maximum in each position (each chain and the tail)
                var y = x; y[lane] = 100
                XCTAssertEqual(y.withUnsafeBufferPointer { rowMax($0.baseAddress!, n) }, 100, "n \(n) lane \(lane)")
            }
        }
        let allNaN = [Float](repeating: .nan, count: 19), allNegInf = [Float](repeating: -.infinity, count: 19)
        XCTAssertEqual(allNaN.withUnsafeBufferPointer { rowMax($0.baseAddress!, 19) }, -.infinity)
        XCTAssertEqual(allNegInf.withUnsafeBufferPointer { rowMax($0.baseAddress!, 19) }, -.infinity)
    }
}
