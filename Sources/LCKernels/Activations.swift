// Elementwise activations: SwiGLU (silu(gate)·up), GELU exact (erf) and GELU tanh ("gelu_new"), plus
// row softmax; forward and backward. Loops are their own reference. Deliberately elementwise only.
import Foundation

@inline(__always) private func sigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

/// out = silu(gate) ⊙ up. All (n).
public func swiglu(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, n: Int) {
    Parallel.chunks(n) { r in for i in r { let g = gate[i]; out[i] = g * sigmoid(g) * up[i] } }
}

/// Backward of `swiglu`: dgate, dup (n) OVERWRITTEN.
public func swigluBackward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                           dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, n: Int) {
    Parallel.chunks(n) { r in
        for i in r {
            let g = gate[i], s = sigmoid(g), silu = g * s
            dup[i] = dout[i] * silu
            dgate[i] = dout[i] * up[i] * (s * (1 + g * (1 - s)))
        }
    }
}

/// GELU, exact: 0.5·x·(1 + erf(x/√2)) (HF "gelu", BERT). out, inp: (n); out may alias inp.
public func gelu(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
    Parallel.chunks(n) { r in for i in r { let x = inp[i]; out[i] = 0.5 * x * (1 + erff(x * Float(0.5.squareRoot()))) } }
}

/// Backward of `gelu`: dinp (n) OVERWRITTEN.
public func geluBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
    let invSqrt2 = Float(0.5.squareRoot()), invSqrt2Pi = Float(1 / (2 * Double.pi).squareRoot())
    Parallel.chunks(n) { r in
        for i in r {
            let x = inp[i]
            let cdf = 0.5 * (1 + erff(x * invSqrt2)), pdf = invSqrt2Pi * expf(-0.5 * x * x)
            dinp[i] = dout[i] * (cdf + x * pdf)
        }
    }
}

private let geluK = Float((2 / Double.pi).squareRoot())

/// GELU, tanh approximation ("gelu_new", GPT-2): 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). out may alias inp.
public func geluTanh(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
    Parallel.chunks(n) { r in
        for i in r {
            let x = inp[i]
            out[i] = 0.5 * x * (1 + tanhf(geluK * (x + 0.044715 * x * x * x)))
        }
    }
}

/// Backward of `geluTanh`: dinp (n) OVERWRITTEN.
public func geluTanhBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, n: Int) {
    Parallel.chunks(n) { r in
        for i in r {
            let x = inp[i], u = geluK * (x + 0.044715 * x * x * x), th = tanhf(u)
            let sech2 = 1 - th * th
            let du = geluK * (1 + 3 * 0.044715 * x * x)
            dinp[i] = dout[i] * (0.5 * (1 + th) + 0.5 * x * sech2 * du)
        }
    }
}

/// Row softmax, max-shifted, sum in Float64. probs, logits: (N, V); probs may alias logits.
public func softmax(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, N: Int, V: Int) {
    for n in 0..<N {
        let x = logits + n * V, p = probs + n * V
        var m = -Float.infinity
        for v in 0..<V where x[v] > m { m = x[v] }
        var s: Double = 0
        for v in 0..<V { let e = expf(x[v] - m); p[v] = e; s += Double(e) }
        let inv = Float(1 / s)
        for v in 0..<V { p[v] *= inv }
    }
}

/// Backward of `softmax`: dlogits (N,V) OVERWRITTEN with p ⊙ (dprobs − Σ dprobs·p).
public func softmaxBackward(dlogits: UnsafeMutablePointer<Float>, dprobs: UnsafePointer<Float>,
                            probs: UnsafePointer<Float>, N: Int, V: Int) {
    for n in 0..<N {
        let p = probs + n * V, dp = dprobs + n * V, dx = dlogits + n * V
        var dot: Double = 0
        for v in 0..<V { dot += Double(dp[v] * p[v]) }
        let d = Float(dot)
        for v in 0..<V { dx[v] = p[v] * (dp[v] - d) }
    }
}
