// Scaled dot-product multi-head attention with grouped-query heads (KVH divides NH; head h uses kv head
// h / (NH/KVH)), causal or bidirectional, optional key padding mask; forward, backward, and a naive reference.
// Scores and the value product run through cblas_sgemm per (batch, head) on strided views.
// Deliberately no KV cache, dropout, sliding window or ALiBi.
import COpenBLAS
import Foundation

/// Attention forward.
/// - Parameters:
///   - out: (B,T,NH,HS), overwritten.
///   - att: (B,NH,T,T), overwritten with the softmax probabilities (masked entries 0), or nil: the probabilities of
///     each (batch, head) then live in a (T,T) workspace per thread only (the backward recomputes them).
///   - q: (B,T,NH,HS); k, v: (B,T,KVH,HS).
///   - keyMask: (B,T), 1 = real token, 0 = padding (never attended to), or nil.
///   - causal: query t attends to keys ≤ t only.
/// Scale is 1/sqrt(HS). A query row with no visible key gets zero output.
public func attention(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>?, q: UnsafePointer<Float>,
                      k: UnsafePointer<Float>, v: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?, causal: Bool,
                      B: Int, T: Int, NH: Int, KVH: Int, HS: Int) {
    precondition(KVH > 0 && NH % KVH == 0, "NH must be a multiple of KVH")
    let group = NH / KVH, qs = Int32(NH * HS), ks = Int32(KVH * HS)
    // One task per (batch, head): each writes its own probabilities and output columns; one (T,T) workspace per
    // chunk of tasks when the probabilities are not kept.
    Threads.splitBLASChunks(B * NH) { tasks in
        let own = att == nil ? UnsafeMutablePointer<Float>.allocate(capacity: T * T) : nil
        defer { own?.deallocate() }
        for task in tasks {
            let b = task / NH, h = task % NH, kvh = h / group
            let vh = v + b * T * KVH * HS + kvh * HS, oh = out + b * T * NH * HS + h * HS
            let a = own ?? att.unsafelyUnwrapped + (b * NH + h) * T * T
            attentionProbabilities(a, q: q, k: k, keyMask: keyMask, causal: causal, b: b, h: h, T: T, NH: NH, KVH: KVH, HS: HS)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(HS), Int32(T),
                        1, a, Int32(T), vh, ks, 0, oh, qs)
        }
    }
}

/// The (T,T) softmax probabilities of batch `b`, head `h` into `a`: scores by one single-task sgemm, then the masked
/// softmax per row. The forward and the backward's recomputation both call this, so they agree bit for bit.
@inline(__always)
private func attentionProbabilities(_ a: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                    keyMask: UnsafePointer<Float>?, causal: Bool, b: Int, h: Int, T: Int, NH: Int,
                                    KVH: Int, HS: Int) {
    let kvh = h / (NH / KVH), scale = 1 / Float(HS).squareRoot()
    let qh = q + b * T * NH * HS + h * HS, kh = k + b * T * KVH * HS + kvh * HS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(HS),
                scale, qh, Int32(NH * HS), kh, Int32(KVH * HS), 0, a, Int32(T))
    for t in 0..<T { maskedSoftmaxRow(a + t * T, t: t, T: T, causal: causal, mask: keyMask.map { $0 + b * T }) }
}

/// Softmax over row `t` of the scores in place, with masked keys set to probability 0. Loops without branches
/// (selects) so they vectorize; `fastExp` for the exponentials.
@inline(__always)
private func maskedSoftmaxRow(_ row: UnsafeMutablePointer<Float>, t: Int, T: Int, causal: Bool,
                              mask: UnsafePointer<Float>?) {
    // Visible keys: j ≤ t when causal (a prefix), and mask[j] ≠ 0 when masked.
    let end = causal ? min(T, t + 1) : T
    var m = -Float.infinity
    if let mask {
        for j in 0..<end where mask[j] != 0 && row[j] > m { m = row[j] }
    } else {
        m = rowMax(row, end)
    }
    if m == -Float.infinity { for j in 0..<T { row[j] = 0 }; return }
    if let mask {
        for j in 0..<end { row[j] = mask[j] != 0 ? fastExp(row[j] - m) : 0 }
    } else {
        for j in 0..<end { row[j] = fastExp(row[j] - m) }
    }
    var s: Float = 0
    for j in 0..<end { s += row[j] }
    let inv = 1 / s
    for j in 0..<end { row[j] *= inv }
    for j in end..<T { row[j] = 0 }
}

/// Naive reference for `attention` (same buffers), plain loops.
public func attentionNaive(out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                           k: UnsafePointer<Float>, v: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?,
                           causal: Bool, B: Int, T: Int, NH: Int, KVH: Int, HS: Int) {
    let group = NH / KVH, scale = 1 / Float(HS).squareRoot()
    for b in 0..<B {
        for h in 0..<NH {
            let kvh = h / group, a = att + (b * NH + h) * T * T
            for t in 0..<T {
                let qt = q + ((b * T + t) * NH + h) * HS
                for j in 0..<T {
                    let kj = k + ((b * T + j) * KVH + kvh) * HS
                    var s: Float = 0
                    for i in 0..<HS { s += qt[i] * kj[i] }
                    a[t * T + j] = s * scale
                }
                maskedSoftmaxRow(a + t * T, t: t, T: T, causal: causal, mask: keyMask.map { $0 + b * T })
                let ot = out + ((b * T + t) * NH + h) * HS
                for i in 0..<HS {
                    var s: Float = 0
                    for j in 0..<T { s += a[t * T + j] * v[((b * T + j) * KVH + kvh) * HS + i] }
                    ot[i] = s
                }
            }
        }
    }
}

/// Attention backward.
/// - Parameters:
///   - dq: (B,T,NH,HS), dk, dv: (B,T,KVH,HS): all OVERWRITTEN.
///   - dout: (B,T,NH,HS); q, k, v, keyMask, causal as in the forward.
///   - att: the forward's probabilities (B,NH,T,T), or nil to recompute them per (batch, head) from q and k (the same
///     code as the forward: bit-identical) — one (T,T) workspace per thread instead of B·NH·T² floats per layer.
public func attentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                              dv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, q: UnsafePointer<Float>,
                              k: UnsafePointer<Float>, v: UnsafePointer<Float>, att: UnsafePointer<Float>?,
                              keyMask: UnsafePointer<Float>?, causal: Bool, B: Int, T: Int, NH: Int, KVH: Int, HS: Int) {
    precondition(KVH > 0 && NH % KVH == 0, "NH must be a multiple of KVH")
    let group = NH / KVH, scale = 1 / Float(HS).squareRoot()
    let qs = Int32(NH * HS), ks = Int32(KVH * HS), t32 = Int32(T)
    // One task per (batch, kv head): dK and dV of a kv head sum over its query heads, so those stay in one task.
    // Per chunk of tasks: a (T,T) workspace for dP/dS, and one for P when it is recomputed.
    Threads.splitBLASChunks(B * KVH) { tasks in
        let sc = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
        let own = att == nil ? UnsafeMutablePointer<Float>.allocate(capacity: T * T) : nil
        defer { sc.deallocate(); own?.deallocate() }
        for task in tasks {
            let b = task / KVH, kvh = task % KVH
            let kh = k + b * T * KVH * HS + kvh * HS, vh = v + b * T * KVH * HS + kvh * HS
            let dkh = dk + b * T * KVH * HS + kvh * HS, dvh = dv + b * T * KVH * HS + kvh * HS
            for t in 0..<T { (dkh + t * Int(ks)).update(repeating: 0, count: HS); (dvh + t * Int(ks)).update(repeating: 0, count: HS) }
            for h in (kvh * group)..<((kvh + 1) * group) {
                let qh = q + b * T * NH * HS + h * HS, doh = dout + b * T * NH * HS + h * HS
                let dqh = dq + b * T * NH * HS + h * HS
                let p: UnsafePointer<Float>
                if let own {
                    attentionProbabilities(own, q: q, k: k, keyMask: keyMask, causal: causal, b: b, h: h, T: T, NH: NH, KVH: KVH, HS: HS)
                    p = UnsafePointer(own)
                } else {
                    p = att.unsafelyUnwrapped + (b * NH + h) * T * T
                }
                // dV += Pᵀ·dO ; dP = dO·Vᵀ
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t32, Int32(HS), t32, 1, p, t32, doh, qs, 1, dvh, ks)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t32, t32, Int32(HS), 1, doh, qs, vh, ks, 0, sc, t32)
                // dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale
                for t in 0..<T {
                    let pr = p + t * T, dr = sc + t * T
                    var dot: Float = 0
                    for j in 0..<T { dot += pr[j] * dr[j] }
                    for j in 0..<T { dr[j] = pr[j] * (dr[j] - dot) * scale }
                }
                // dQ = dS·K ; dK += dSᵀ·Q
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t32, Int32(HS), t32, 1, sc, t32, kh, ks, 0, dqh, qs)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t32, Int32(HS), t32, 1, sc, t32, qh, qs, 1, dkh, ks)
            }
        }
    }
}
