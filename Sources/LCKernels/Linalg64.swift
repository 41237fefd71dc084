// Float64 dense linear algebra for the Layer Card statistics (layer-card-spec §2–§3): Gram accumulation
// (cblas_dsyrk), general products (cblas_dgemm), Cholesky factorization (LAPACK dpotrf_ from libopenblas)
// and triangular solves (cblas_dtrsm), each with a naive reference beside it. Row-major throughout.
// Deliberately no allocation: callers own every buffer.
import COpenBLAS

/// S += alpha · Xᵀ X, X (N, d) row-major, S (d, d). Only the UPPER triangle of S is updated
/// (call `symmetrizeFromUpper` once accumulation is done).
public func gramAccumulateUpper(_ S: UnsafeMutablePointer<Double>, _ X: UnsafePointer<Double>, N: Int, d: Int, alpha: Double = 1) {
    guard N > 0, d > 0 else { return }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(N), alpha, X, Int32(d), 1, S, Int32(d))
}

/// Naive reference for `gramAccumulateUpper` (updates the upper triangle only, same contract).
public func gramAccumulateUpperNaive(_ S: UnsafeMutablePointer<Double>, _ X: UnsafePointer<Double>, N: Int, d: Int, alpha: Double = 1) {
    for i in 0..<d {
        for j in i..<d {
            var s = 0.0
            for n in 0..<N { s += X[n * d + i] * X[n * d + j] }
            S[i * d + j] += alpha * s
        }
    }
}

/// S += alpha · X Xᵀ for X (M, K) row-major, S (M, M): the Gram matrix of X's rows. Upper triangle only.
public func rowGramAccumulateUpper(_ S: UnsafeMutablePointer<Double>, _ X: UnsafePointer<Double>, M: Int, K: Int, alpha: Double = 1) {
    guard M > 0, K > 0 else { return }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(M), Int32(K), alpha, X, Int32(K), 1, S, Int32(M))
}

/// Copies the upper triangle of the (d, d) matrix into the lower one.
public func symmetrizeFromUpper(_ S: UnsafeMutablePointer<Double>, d: Int) {
    for i in 0..<d { for j in 0..<i { S[i * d + j] = S[j * d + i] } }
}

/// C(M,N) = alpha · op(A) · op(B) + beta · C, row-major; op(A) is (M,K), op(B) is (K,N).
public func dgemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Double, A: UnsafePointer<Double>, lda: Int,
                  B: UnsafePointer<Double>, ldb: Int, beta: Double, C: UnsafeMutablePointer<Double>, ldc: Int) {
    guard M > 0, N > 0 else { return }
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// Naive reference for `dgemm` (same contract).
public func dgemmNaive(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Double, A: UnsafePointer<Double>, lda: Int,
                       B: UnsafePointer<Double>, ldb: Int, beta: Double, C: UnsafeMutablePointer<Double>, ldc: Int) {
    for i in 0..<M {
        for j in 0..<N {
            var s = 0.0
            for k in 0..<K { s += (transA ? A[k * lda + i] : A[i * lda + k]) * (transB ? B[j * ldb + k] : B[k * ldb + j]) }
            C[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j])
        }
    }
}

/// In-place Cholesky factorization A = L Lᵀ of a symmetric positive definite (n, n) row-major matrix.
/// On return the lower triangle holds L and the strict upper triangle is zeroed.
/// - Returns: 0 on success; k > 0 when the leading minor of order k is not positive definite (LAPACK's info).
public func choleskyLower(_ A: UnsafeMutablePointer<Double>, n: Int) -> Int {
    guard n > 0 else { return 0 }
    // Row-major A is column-major Aᵀ = A; LAPACK's column-major upper factor U (A = UᵀU) is, read row-major,
    // the lower factor L = Uᵀ.
    var uplo = CChar(UInt8(ascii: "U")), nn = Int32(n), lda = Int32(n), info: Int32 = 0
    _ = dpotrf_(&uplo, &nn, A, &lda, &info)
    if info != 0 { return info < 0 ? n + 1 : Int(info) }
    for i in 0..<n { for j in (i + 1)..<n { A[i * n + j] = 0 } }
    return 0
}

/// Naive reference for `choleskyLower` (Cholesky–Banachiewicz, same contract).
public func choleskyLowerNaive(_ A: UnsafeMutablePointer<Double>, n: Int) -> Int {
    for i in 0..<n {
        for j in 0...i {
            var s = A[i * n + j]
            for k in 0..<j { s -= A[i * n + k] * A[j * n + k] }
            if i == j {
                guard s > 0, s.isFinite else { return i + 1 }
                A[i * n + i] = s.squareRoot()
            } else {
                A[i * n + j] = s / A[j * n + j]
            }
        }
        for j in (i + 1)..<n { A[i * n + j] = 0 }
    }
    return 0
}

/// X ← X · L⁻ᵀ (transposeL) or X ← X · L⁻¹, X (m, n) row-major, L (n, n) lower triangular (from `choleskyLower`).
public func solveRightLower(_ X: UnsafeMutablePointer<Double>, m: Int, n: Int, L: UnsafePointer<Double>, transposeL: Bool) {
    guard m > 0, n > 0 else { return }
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, transposeL ? CblasTrans : CblasNoTrans, CblasNonUnit,
                Int32(m), Int32(n), 1, L, Int32(n), X, Int32(n))
}

/// Naive reference for `solveRightLower` (row-by-row substitution, same contract).
public func solveRightLowerNaive(_ X: UnsafeMutablePointer<Double>, m: Int, n: Int, L: UnsafePointer<Double>, transposeL: Bool) {
    for r in 0..<m {
        let x = X + r * n
        if transposeL {  // y Lᵀ = x  ⇔  L yᵀ = xᵀ: forward substitution
            for i in 0..<n {
                var s = x[i]
                for k in 0..<i { s -= L[i * n + k] * x[k] }
                x[i] = s / L[i * n + i]
            }
        } else {  // y L = x  ⇔  Lᵀ yᵀ = xᵀ: back substitution
            for i in stride(from: n - 1, through: 0, by: -1) {
                var s = x[i]
                for k in (i + 1)..<n { s -= L[k * n + i] * x[k] }
                x[i] = s / L[i * n + i]
            }
        }
    }
}
