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
