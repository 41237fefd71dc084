// Float64 linear algebra (Linalg64.swift) against its naive references on random data: Gram accumulation
// (both orientations), dgemm with transposes, Cholesky (incl. a non-positive-definite rejection) and the two
// triangular solves (checked by multiplying back).
import LCKernels
import XCTest

final class Linalg64Tests: XCTestCase {
    var rng = SystemRandomNumberGenerator()
    func rand(_ n: Int) -> [Double] { (0..<n).map { _ in Double.random(in: -1...1, using: &rng) } }
    func maxDiff(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    func spd(_ d: Int) -> [Double] {
        let X = rand(3 * d * d)
        var S = [Double](repeating: 0, count: d * d)
        gramAccumulateUpperNaive(&S, X, N: 3 * d, d: d)
        symmetrizeFromUpper(&S, d: d)
        for i in 0..<d { S[i * d + i] += 0.1 }
        return S
    }

    func testGram() {
        let N = 37, d = 13, X = rand(N * d)
        var a = [Double](repeating: 0, count: d * d), b = a
        gramAccumulateUpper(&a, X, N: N, d: d, alpha: 0.5)
        gramAccumulateUpperNaive(&b, X, N: N, d: d, alpha: 0.5)
        symmetrizeFromUpper(&a, d: d); symmetrizeFromUpper(&b, d: d)
        XCTAssertLessThan(maxDiff(a, b), 1e-12)
        // Row Gram of Xᵀ-shaped data: X (M,K) → X Xᵀ.
        var r = [Double](repeating: 0, count: N * N)
        rowGramAccumulateUpper(&r, X, M: N, K: d)
        for i in 0..<N { for j in i..<N {
            let ref = (0..<d).reduce(0.0) { $0 + X[i * d + $1] * X[j * d + $1] }
            XCTAssertEqual(r[i * N + j], ref, accuracy: 1e-12)
        } }
    }

    func testDgemm() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let M = 7, N = 5, K = 9
            let A = rand(M * K), B = rand(K * N)
            var c1 = rand(M * N), c2 = c1
            dgemm(transA: ta, transB: tb, M: M, N: N, K: K, alpha: 1.5, A: A, lda: ta ? M : K, B: B, ldb: tb ? K : N, beta: 0.5, C: &c1, ldc: N)
            dgemmNaive(transA: ta, transB: tb, M: M, N: N, K: K, alpha: 1.5, A: A, lda: ta ? M : K, B: B, ldb: tb ? K : N, beta: 0.5, C: &c2, ldc: N)
            XCTAssertLessThan(maxDiff(c1, c2), 1e-12, "transA \(ta) transB \(tb)")
        }
    }

    func testCholeskyAndSolves() {
        let d = 17, S = spd(d)
        var L1 = S, L2 = S
        XCTAssertEqual(choleskyLower(&L1, n: d), 0)
        XCTAssertEqual(choleskyLowerNaive(&L2, n: d), 0)
        XCTAssertLessThan(maxDiff(L1, L2), 1e-10)
        // L Lᵀ == S
        var back = [Double](repeating: 0, count: d * d)
        dgemmNaive(transA: false, transB: true, M: d, N: d, K: d, alpha: 1, A: L1, lda: d, B: L1, ldb: d, beta: 0, C: &back, ldc: d)
        XCTAssertLessThan(maxDiff(back, S), 1e-10)
        for t in [true, false] {
            let m = 6, G = rand(m * d)
            var x1 = G, x2 = G
            solveRightLower(&x1, m: m, n: d, L: L1, transposeL: t)
            solveRightLowerNaive(&x2, m: m, n: d, L: L1, transposeL: t)
            XCTAssertLessThan(maxDiff(x1, x2), 1e-10)
            // x · op(L) == G
            var y = [Double](repeating: 0, count: m * d)
            dgemmNaive(transA: false, transB: t, M: m, N: d, K: d, alpha: 1, A: x1, lda: d, B: L1, ldb: d, beta: 0, C: &y, ldc: d)
            XCTAssertLessThan(maxDiff(y, G), 1e-10)
        }
        // Not positive definite: a negative diagonal entry.
        var bad = S
        bad[5 * d + 5] = -1
        XCTAssertGreaterThan(choleskyLower(&bad, n: d), 0)
        var bad2 = S
        bad2[5 * d + 5] = -1
        XCTAssertGreaterThan(choleskyLowerNaive(&bad2, n: d), 0)
    }
}
