// Cross-entropy through a linear LM head computed one vocabulary block at a time, so (N,V) logits are never
// held: pass 1 keeps an online log-sum-exp per row (running max, rescaled Float64 sum), pass 2 re-forms each
// block's logits, turns them into dL/dlogits (softmax from the final max and sum, rounded as crossEntropyBackward) and accumulates dL/dh = dlogits·W_block. The weight blocks come
// from a callback (a memory-mapped store, or slices of a resident matrix). Reference: crossEntropy +
// crossEntropyBackward + matmulBackward on full logits (tests compare). Deliberately no bias and no label smoothing.
import Foundation

/// Loss (and optionally dL/dh) of logits = h·Wᵀ for W (V,C) supplied in row blocks.
/// - Parameters:
///   - losses: (N) per-row −log softmax[target] (0 where target < 0), or nil.
///   - h: (N,C) head input; targets: (N) ids in 0..<V or negative (ignored).
///   - dlosses: (N) upstream gradient per row (e.g. 1/P); with `dh`, enables pass 2.
///   - dh: (N,C) OVERWRITTEN with dL/dh when non-nil.
///   - blockRows: vocabulary rows per block (≥ 1).
///   - weightRows: returns W rows `range` as (range.count, C) row-major; called once per block per pass.
/// - Returns: the sum of the losses in Float64.
@discardableResult
public func blockwiseHeadCrossEntropy(losses: UnsafeMutablePointer<Float>?, h: UnsafePointer<Float>,
                                      targets: UnsafePointer<Int32>, dlosses: UnsafePointer<Float>?,
                                      dh: UnsafeMutablePointer<Float>?, N: Int, C: Int, V: Int, blockRows: Int,
                                      weightRows: (Range<Int>) throws -> FloatBuffer) rethrows -> Double {
    guard N > 0, V > 0 else { return 0 }
    let R = max(1, min(blockRows, V))
    let logits = FloatBuffer(count: N * R)
    var m = [Float](repeating: -.infinity, count: N), s = [Double](repeating: 0, count: N)
    var xt = [Float](repeating: 0, count: N)
    var v0 = 0
    while v0 < V {  // pass 1: online log-sum-exp
        let v1 = min(V, v0 + R), nb = v1 - v0
        let w = try weightRows(v0..<v1)
        precondition(w.count == nb * C, "weight block size")
        matmul(out: logits.ptr, inp: h, weight: w.cptr, bias: nil, N: N, C: C, OC: nb)
        for n in 0..<N where targets[n] >= 0 {
            let x = logits.ptr + n * nb
            var bm = -Float.infinity
            for j in 0..<nb where x[j] > bm { bm = x[j] }
            let nm = max(m[n], bm)
            var acc: Double = m[n] == -.infinity ? 0 : s[n] * exp(Double(m[n]) - Double(nm))
            for j in 0..<nb { acc += Double(expf(x[j] - nm)) }
            m[n] = nm; s[n] = acc
            let t = Int(targets[n])
            if t >= v0 && t < v1 { xt[n] = x[t - v0] }
        }
        v0 = v1
    }
    var total: Double = 0
    for n in 0..<N {
        let t = Int(targets[n])
        guard t >= 0 else { losses?[n] = 0; continue }
        precondition(t < V, "target out of range")
        let l = (Double(m[n]) + log(s[n])) - Double(xt[n])
        losses?[n] = Float(l); total += l
    }
    guard let dh, let dlosses else { return total }
    dh.update(repeating: 0, count: N * C)
    let tmp = FloatBuffer(count: N * C)
    v0 = 0
    while v0 < V {  // pass 2: dlogits block → dh
        let v1 = min(V, v0 + R), nb = v1 - v0
        let w = try weightRows(v0..<v1)
        matmul(out: logits.ptr, inp: h, weight: w.cptr, bias: nil, N: N, C: C, OC: nb)
        for n in 0..<N {
            let x = logits.ptr + n * nb, t = Int(targets[n])
            guard t >= 0 else { x.update(repeating: 0, count: nb); continue }
            let g = dlosses[n], mx = m[n], inv = 1 / s[n]  // same rounding as crossEntropyBackward
            for j in 0..<nb { x[j] = g * Float(Double(expf(x[j] - mx)) * inv) }
            if t >= v0 && t < v1 { x[t - v0] -= g }
        }
        matmulBackward(dinp: tmp.ptr, dweight: nil, dbias: nil, dout: logits.cptr, inp: h, weight: w.cptr, N: N, C: C, OC: nb)
        residual(out: dh, a: dh, b: tmp.cptr, n: N * C)
        v0 = v1
    }
    return total
}
