// RMSNorm (llama/qwen, also qwen3's per-head q_norm/k_norm) and LayerNorm (gpt2/bert), forward and backward,
// llm.c style. Statistics accumulate in Float, as HF computes them in f32. These loops are their own naive
// reference (no fast path exists). Deliberately no fused residual add.
import Foundation

/// RMSNorm: out = w ⊙ x / sqrt(mean(x²) + eps), row-wise.
/// - Parameters: out, inp: (N, C); weight: (C); rstd: (N) or nil — cached 1/sqrt(mean(x²)+eps) for backward.
public func rmsNorm(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>,
                    weight: UnsafePointer<Float>, eps: Float, N: Int, C: Int) {
    Parallel.chunks(N, minChunk: max(1, 16384 / max(C, 1))) { rows in
        for n in rows {
            let x = inp + n * C, y = out + n * C
            var ss: Float = 0
            for c in 0..<C { ss += x[c] * x[c] }
            let r = 1 / (ss / Float(C) + eps).squareRoot()
            for c in 0..<C { y[c] = weight[c] * (x[c] * r) }
            rstd?[n] = r
        }
    }
}

/// Backward of `rmsNorm`. dinp: (N,C) ACCUMULATED (+=, it usually joins a residual stream);
/// dweight: (C) accumulated or nil; dout, inp: (N,C); rstd: (N) from the forward.
public func rmsNormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                            dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            rstd: UnsafePointer<Float>, N: Int, C: Int) {
    // Rows in parallel only without dweight (its sum over rows would cross chunks).
    Parallel.chunks(N, minChunk: dweight == nil ? max(1, 16384 / max(C, 1)) : Int.max) { rows in
        for n in rows {
            let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C, r = rstd[n]
            var dot: Float = 0  // sum_c w_c dy_c x_c
            for c in 0..<C { dot += weight[c] * dy[c] * x[c] }
            let k = dot * r * r * r / Float(C)
            for c in 0..<C {
                dx[c] += weight[c] * dy[c] * r - x[c] * k
                dweight?[c] += dy[c] * x[c] * r
            }
        }
    }
}

/// LayerNorm: out = (x − mean)/sqrt(var + eps) ⊙ w + b, row-wise, biased variance (as torch).
/// - Parameters: out, inp: (N,C); weight, bias: (C); mean, rstd: (N) or nil, cached for backward.
public func layerNorm(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
                      rstd: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>?, eps: Float, N: Int, C: Int) {
    for n in 0..<N {
        let x = inp + n * C, y = out + n * C
        var m: Float = 0
        for c in 0..<C { m += x[c] }
        m /= Float(C)
        var v: Float = 0
        for c in 0..<C { let d = x[c] - m; v += d * d }
        v /= Float(C)
        let r = 1 / (v + eps).squareRoot()
        for c in 0..<C { y[c] = (x[c] - m) * r * weight[c] + (bias?[c] ?? 0) }
        mean?[n] = m
        rstd?[n] = r
    }
}

/// Backward of `layerNorm`. dinp (N,C) ACCUMULATED; dweight, dbias (C) accumulated or nil;
/// mean, rstd: (N) from the forward.
public func layerNormBackward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                              dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                              inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                              rstd: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C, m = mean[n], r = rstd[n]
        var dnormMean: Float = 0, dnormNormMean: Float = 0
        for c in 0..<C {
            let norm = (x[c] - m) * r, dnorm = weight[c] * dy[c]
            dnormMean += dnorm; dnormNormMean += dnorm * norm
        }
        dnormMean /= Float(C); dnormNormMean /= Float(C)
        for c in 0..<C {
            let norm = (x[c] - m) * r, dnorm = weight[c] * dy[c]
            dbias?[c] += dy[c]
            dweight?[c] += norm * dy[c]
            dx[c] += (dnorm - dnormMean - norm * dnormNormMean) * r
        }
    }
}
