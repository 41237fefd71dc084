// Token (+ learned position, + token-type 0) embedding lookup and its backward (scatter-add).
// Token ids must already be validated against V by the caller (the model checks them and throws);
// kernels only `precondition`. Deliberately no tokenization here.

/// out[b,t,:] = wte[tokens[b,t],:] (+ wpe[t,:]) (+ typeRow[:]).
/// - Parameters: out: (B,T,C); tokens: (B,T) ids in 0..<V; wte: (V,C); wpe: (maxT,C) with maxT ≥ T, or nil;
///   typeRow: (C) (BERT token_type_embeddings row 0) or nil.
public func embedding(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>, wte: UnsafePointer<Float>,
                      wpe: UnsafePointer<Float>?, typeRow: UnsafePointer<Float>?, B: Int, T: Int, C: Int, V: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let id = Int(tokens[b * T + t])
            precondition(id >= 0 && id < V, "token id out of range")
            let y = out + (b * T + t) * C, e = wte + id * C
            for c in 0..<C { y[c] = e[c] }
            if let wpe { let p = wpe + t * C; for c in 0..<C { y[c] += p[c] } }
            if let typeRow { for c in 0..<C { y[c] += typeRow[c] } }
        }
    }
}

/// Backward of `embedding`: dwte (V,C), dwpe (maxT,C), dtypeRow (C) are accumulated; any may be nil.
public func embeddingBackward(dwte: UnsafeMutablePointer<Float>?, dwpe: UnsafeMutablePointer<Float>?,
                              dtypeRow: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
                              tokens: UnsafePointer<Int32>, B: Int, T: Int, C: Int) {
    for b in 0..<B {
        for t in 0..<T {
            let g = dout + (b * T + t) * C
            if let dwte { let e = dwte + Int(tokens[b * T + t]) * C; for c in 0..<C { e[c] += g[c] } }
            if let dwpe { let p = dwpe + t * C; for c in 0..<C { p[c] += g[c] } }
            if let dtypeRow { for c in 0..<C { dtypeRow[c] += g[c] } }
        }
    }
}

/// out[i] = a[i] + b[i] for i < n (out may alias a or b).
public func residual(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int) {
    Parallel.chunks(n) { r in for i in r { out[i] = a[i] + b[i] } }
}

/// Backward of `residual`: da += dout, db += dout.
public func residualBackward(da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
                             dout: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { da[i] += dout[i]; db[i] += dout[i] }
}
