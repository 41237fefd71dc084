// Token cross-entropy from logits: per-row −log softmax(logits)[target], max-shifted in Float with the
// exponential sum in Float64; and its backward. Rows whose target is negative are ignored (loss 0, no gradient).
// Deliberately no mean here: the caller divides by its own count P (layer-card-spec §1).
import Foundation

/// losses[n] = logsumexp(logits[n]) − logits[n, targets[n]]; 0 where targets[n] < 0.
/// - Parameters: losses: (N); logits: (N,V); targets: (N), each < V or negative (= ignore).
/// - Returns: the sum of the losses in Float64.
@discardableResult
public func crossEntropy(losses: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                         targets: UnsafePointer<Int32>, N: Int, V: Int) -> Double {
    var total: Double = 0
    for n in 0..<N {
        let tg = Int(targets[n])
        guard tg >= 0 else { losses[n] = 0; continue }
        precondition(tg < V, "target out of range")
        let x = logits + n * V
        var m = -Float.infinity
        for v in 0..<V where x[v] > m { m = x[v] }
        var s: Double = 0
        for v in 0..<V { s += Double(expf(x[v] - m)) }
        let l = (Double(m) + log(s)) - Double(x[tg])
        losses[n] = Float(l)
        total += l
    }
    return total
}

/// Backward of `crossEntropy`: dlogits (N,V) OVERWRITTEN with dlosses[n]·(softmax(logits[n]) − onehot(target)),
/// zero rows where the target is negative. dlosses: (N), typically 1/P for every counted row.
public func crossEntropyBackward(dlogits: UnsafeMutablePointer<Float>, dlosses: UnsafePointer<Float>,
                                 logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int) {
    for n in 0..<N {
        let tg = Int(targets[n]), x = logits + n * V, d = dlogits + n * V
        guard tg >= 0 else { d.update(repeating: 0, count: V); continue }
        var m = -Float.infinity
        for v in 0..<V where x[v] > m { m = x[v] }
        var s: Double = 0
        for v in 0..<V { s += Double(expf(x[v] - m)) }
        let inv = 1 / s, g = dlosses[n]
        for v in 0..<V { d[v] = g * Float(Double(expf(x[v] - m)) * inv) }
        d[tg] -= g
    }
}

/// `crossEntropy` and `crossEntropyBackward` in one pass over each row with one exponential per logit (the separate
/// kernels take three `expf` calls): losses (N) and dlogits (N,V) OVERWRITTEN; `dlogits` may be the `logits` buffer
/// itself (the logits are not needed afterwards). Same max shift and Float64 sum as the separate kernels, which stay
/// as the reference (tests compare; `fastExp` differs from `expf` by ≤ 1.2e-7 relative).
/// - Returns: the sum of the losses in Float64.
@discardableResult
public func crossEntropyForwardBackward(losses: UnsafeMutablePointer<Float>, dlogits: UnsafeMutablePointer<Float>,
                                        dlosses: UnsafePointer<Float>, logits: UnsafePointer<Float>,
                                        targets: UnsafePointer<Int32>, N: Int, V: Int) -> Double {
    // Rows in parallel; the Float64 row losses are summed in row order afterwards (same total as serial).
    var rowLoss = [Double](repeating: 0, count: N)
    rowLoss.withUnsafeMutableBufferPointer { lb in
        let lp = lb.baseAddress
        Parallel.chunks(N, minChunk: max(1, 16384 / max(V, 1))) { rows in
            for n in rows {
                let tg = Int(targets[n]), x = logits + n * V, d = dlogits + n * V
                guard tg >= 0 else { losses[n] = 0; d.update(repeating: 0, count: V); continue }
                precondition(tg < V, "target out of range")
                let m = rowMax(x, V)
                let xt = x[tg]
                // Vectorized (no call per element). In place through one pointer: reading x and writing d when they
                // are the same memory sends LLVM's runtime alias check to its scalar loop (measured 3× slower).
                if UnsafePointer(d) == x {
                    for v in 0..<V { d[v] = fastExp(d[v] - m) }
                } else {
                    for v in 0..<V { d[v] = fastExp(x[v] - m) }
                }
                let s = sumAsDouble(UnsafePointer(d), V)
                let l = (Double(m) + log(s)) - Double(xt)
                losses[n] = Float(l)
                lp?[n] = l
                let g = dlosses[n], inv = 1 / s
                for v in 0..<V { d[v] = g * Float(Double(d[v]) * inv) }
                d[tg] -= g
            }
        }
    }
    return rowLoss.reduce(0, +)
}

/// max of x[0..<n] (−∞ when empty; NaN entries are skipped, as `for v in 0..<n where x[v] > m`), with eight independent
/// running maxima: one chain of compares waits ~4 cycles per element (measured: 36 → 11 ms over SmolLM2's 512 × 49152
/// logits on one core).
@inline(__always)
func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = -Float.infinity, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, i = 0
    while i + 8 <= n {
        if x[i] > a0 { a0 = x[i] }; if x[i + 1] > a1 { a1 = x[i + 1] }; if x[i + 2] > a2 { a2 = x[i + 2] }
        if x[i + 3] > a3 { a3 = x[i + 3] }; if x[i + 4] > a4 { a4 = x[i + 4] }; if x[i + 5] > a5 { a5 = x[i + 5] }
        if x[i + 6] > a6 { a6 = x[i + 6] }; if x[i + 7] > a7 { a7 = x[i + 7] }
        i += 8
    }
    while i < n { if x[i] > a0 { a0 = x[i] }; i += 1 }
    if a1 > a0 { a0 = a1 }; if a2 > a0 { a0 = a2 }; if a3 > a0 { a0 = a3 }; if a4 > a0 { a0 = a4 }
    if a5 > a0 { a0 = a5 }; if a6 > a0 { a0 = a6 }; if a7 > a0 { a0 = a7 }
    return a0
}

/// Σ p[0..<n] in Float64 with four independent accumulators (the additions overlap; the order differs from a plain
/// loop only in the last bits).
@inline(__always)
func sumAsDouble(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, i = 0
    while i + 4 <= n {
        a0 += Double(p[i]); a1 += Double(p[i + 1]); a2 += Double(p[i + 2]); a3 += Double(p[i + 3]); i += 4
    }
    while i < n { a0 += Double(p[i]); i += 1 }
    return (a0 + a1) + (a2 + a3)
}
