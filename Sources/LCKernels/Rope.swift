// Rotary position embedding, Hugging Face `rotate_half` (NEOX) pairing: dimension i pairs with i + R/2 inside the
// first R (rotary) dims of each head; dims ≥ R pass through (partial rotary). GGUF llama Q/K rows must be
// un-permuted by the load stage before they get here (formats.md §1b.5). Includes llama3 inv_freq scaling.
// Deliberately no adjacent-pair (GGML "NORM") variant.
import Foundation

/// inv_freq[i] = theta^(−2i/R), i < R/2, computed in Float like HF's float32 tensor, then optionally rescaled.
/// - Parameters:
///   - rotaryDim: R (even).
///   - theta: rope_theta.
///   - llama3: (factor, lowFreqFactor, highFreqFactor, originalMaxPositions) for rope_type "llama3", else nil.
///   - linearFactor: for rope_type "linear": inv_freq / factor; nil otherwise.
public func ropeInvFreq(rotaryDim R: Int, theta: Double,
                        llama3: (factor: Double, low: Double, high: Double, originalMax: Int)? = nil,
                        linearFactor: Double? = nil) -> [Float] {
    var inv = [Float](repeating: 0, count: R / 2)
    for i in 0..<(R / 2) {
        let e = Float(2 * i) / Float(R)
        inv[i] = 1 / Float(pow(Double(Float(theta)), Double(e)))
    }
    if let f = linearFactor { inv = inv.map { $0 / Float(f) } }
    if let l = llama3 {
        let lowWavelen = Double(l.originalMax) / l.low, highWavelen = Double(l.originalMax) / l.high
        inv = inv.map { f in
            let wavelen = 2 * Double.pi / Double(f)
            if wavelen < highWavelen { return f }
            if wavelen > lowWavelen { return Float(Double(f) / l.factor) }
            let smooth = (Double(l.originalMax) / wavelen - l.low) / (l.high - l.low)
            return Float((1 - smooth) * Double(f) / l.factor + smooth * Double(f))
        }
    }
    return inv
}

/// cos/sin tables, each (T, R/2): angle = Float(t)·inv_freq[i] (Float product as in HF), cos/sin in Double.
public func ropeTables(invFreq: [Float], T: Int) -> (cos: [Float], sin: [Float]) {
    let H = invFreq.count
    var c = [Float](repeating: 0, count: T * H), s = c
    for t in 0..<T {
        for i in 0..<H {
            let a = Double(Float(t) * invFreq[i])
            c[t * H + i] = Float(Foundation.cos(a)); s[t * H + i] = Float(Foundation.sin(a))
        }
    }
    return (c, s)
}

/// In-place RoPE on x: (B,T,NH,HS) using position t for row t. cos, sin: (T, R/2), R ≤ HS, R even.
/// y[i] = x[i]·cos − x[i+R/2]·sin; y[i+R/2] = x[i+R/2]·cos + x[i]·sin.
public func rope(x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                 B: Int, T: Int, NH: Int, HS: Int, R: Int) {
    rotatePairs(x, cos: cos, sin: sin, sinSign: 1, B: B, T: T, NH: NH, HS: HS, R: R)
}

/// Backward of `rope`, in place on dx (B,T,NH,HS): applies the transposed (inverse) rotation, i.e. the angle −θ.
public func ropeBackward(dx: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                         B: Int, T: Int, NH: Int, HS: Int, R: Int) {
    rotatePairs(dx, cos: cos, sin: sin, sinSign: -1, B: B, T: T, NH: NH, HS: HS, R: R)
}

/// Rotates each pair (x[i], x[i+R/2]) of every head by the angle whose sine is sinSign·sin (exact: negating a
/// product does not round), rows (b,t) in parallel.
private func rotatePairs(_ x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, sinSign: Float,
                         B: Int, T: Int, NH: Int, HS: Int, R: Int) {
    let h2 = R / 2
    Parallel.chunks(B * T, minChunk: max(1, 16384 / max(NH * HS, 1))) { rows in
        for bt in rows {
            let t = bt % T
            let cs = cos + t * h2, sn = sin + t * h2
            for h in 0..<NH {
                let p = x + (bt * NH + h) * HS
                for i in 0..<h2 {
                    let x1 = p[i], x2 = p[i + h2], s = sinSign * sn[i]
                    p[i] = x1 * cs[i] - x2 * s
                    p[i + h2] = x2 * cs[i] + x1 * s
                }
            }
        }
    }
}
