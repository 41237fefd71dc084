// Linear layers Y = X·Wᵀ + b through OpenBLAS cblas_sgemm (row-major, W stored [out,in] like torch.nn.Linear),
// their backward, a naive triple-loop reference for both, and the OpenBLAS thread-count switch.
// Shape letters used across LCKernels: B batch, T time, C channels in, OC channels out, NH heads, KVH kv heads,
// HS head size, V vocab. Deliberately no allocation and no file access: callers own every buffer.
import COpenBLAS

/// OpenBLAS thread control.
public enum Threads {
    /// Sets the number of OpenBLAS worker threads (`openblas_set_num_threads`). Values < 1 are clamped to 1.
    public static func set(_ n: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, n)))
        Parallel.workers = max(1, n)
    }
    /// The current OpenBLAS thread count.
    public static var current: Int { Int(openblas_get_num_threads()) }

    /// Runs tasks 0..<n split over the worker threads, each thread getting one contiguous range of tasks (so it can
    /// set up one workspace for them) and each task's BLAS calls single-threaded: for many small independent
    /// products (attention's per-head GEMMs), where a threaded call per product spends more time handing work to
    /// the BLAS threads than computing. OpenBLAS is switched to one thread for the duration (from this thread, while
    /// no other BLAS call runs) and back. Tasks must write disjoint memory.
    public static func splitBLASChunks(_ n: Int, _ body: (Range<Int>) -> Void) {
        let w = Parallel.workers
        guard w > 1, n > 1 else { if n > 0 { body(0..<n) }; return }
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        Parallel.chunks(n, minChunk: 1, body)
    }
}

/// Y = X·Wᵀ + b via `cblas_sgemm`.
/// - Parameters:
///   - out: (N, OC), overwritten.
///   - inp: (N, C).
///   - weight: (OC, C) — torch Linear layout.
///   - bias: (OC) or nil.
public func matmul(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                   bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int) {
    guard N > 0, OC > 0 else { return }
    if let bias {
        for n in 0..<N { (out + n * OC).update(from: bias, count: OC) }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(N), Int32(OC), Int32(C),
                1, inp, Int32(C), weight, Int32(C), bias == nil ? 0 : 1, out, Int32(OC))
}

/// Naive reference for `matmul` (same buffers and shapes), accumulating each dot product in Float.
public func matmulNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int) {
    for n in 0..<N {
        for o in 0..<OC {
            var s: Float = bias?[o] ?? 0
            for c in 0..<C { s += inp[n * C + c] * weight[o * C + c] }
            out[n * OC + o] = s
        }
    }
}

/// Backward of `matmul`.
/// - Parameters:
///   - dinp: (N, C) or nil; OVERWRITTEN with dout·W, or with `accumulateInput` ADDED to (one sgemm with β = 1: a
///     block input read by several projections sums their gradients without a scratch buffer and an extra pass).
///   - dweight: (OC, C) or nil; ACCUMULATED (+= doutᵀ·inp) so gradients over micro-batches add up.
///   - dbias: (OC) or nil; accumulated (+= column sums of dout).
///   - dout: (N, OC); inp: (N, C); weight: (OC, C).
public func matmulBackward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                           dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                           weight: UnsafePointer<Float>, N: Int, C: Int, OC: Int, accumulateInput: Bool = false) {
    guard N > 0, C > 0, OC > 0 else { return }
    if let dinp {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(C), Int32(OC),
                    1, dout, Int32(OC), weight, Int32(C), accumulateInput ? 1 : 0, dinp, Int32(C))
    }
    if let dweight {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(C), Int32(N),
                    1, dout, Int32(OC), inp, Int32(C), 1, dweight, Int32(C))
    }
    if let dbias {
        for n in 0..<N { for o in 0..<OC { dbias[o] += dout[n * OC + o] } }
    }
}

/// Naive reference for `matmulBackward` (same contract: dinp overwritten, dweight/dbias accumulated).
public func matmulBackwardNaive(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                                dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, N: Int, C: Int, OC: Int) {
    for n in 0..<N {
        if let dinp {
            for c in 0..<C {
                var s: Float = 0
                for o in 0..<OC { s += dout[n * OC + o] * weight[o * C + c] }
                dinp[n * C + c] = s
            }
        }
        for o in 0..<OC {
            let g = dout[n * OC + o]
            if let dweight { for c in 0..<C { dweight[o * C + c] += g * inp[n * C + c] } }
            if let dbias { dbias[o] += g }
        }
    }
}

/// Plain single GEMM C(M,N) = A(M,K)·B(K,N), row-major, for benchmarking against the model's matmuls.
public func sgemmPlain(c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                       M: Int, N: Int, K: Int) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(M), Int32(N), Int32(K),
                1, a, Int32(K), b, Int32(N), 0, c, Int32(N))
}

/// C(M,N) = alpha · op(A) · op(B) + beta · C in Float32 via `cblas_sgemm`, row-major; op(A) is (M,K), op(B) is (K,N).
public func sgemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>, lda: Int,
                  B: UnsafePointer<Float>, ldb: Int, beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int) {
    guard M > 0, N > 0 else { return }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// Naive reference for `sgemm` (same contract, Float64 sums).
public func sgemmNaive(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>, lda: Int,
                       B: UnsafePointer<Float>, ldb: Int, beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<M {
        for j in 0..<N {
            var s = 0.0
            for k in 0..<K { s += Double(transA ? A[k * lda + i] : A[i * lda + k]) * Double(transB ? B[j * ldb + k] : B[k * ldb + j]) }
            C[i * ldc + j] = alpha * Float(s) + (beta == 0 ? 0 : beta * C[i * ldc + j])
        }
    }
}
