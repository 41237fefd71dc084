// Per-module statistics of layer-card-spec §2 from a finished ModuleAccumulator, all in Float64:
//   grad_norm = ||G||_F, act_energy = tr(C), resnorm² = ||G L⁻ᵀ||²_F with C + λI = L Lᵀ (Cholesky),
//   resnorm_lora from G_B = G A0ᵀ, C' = A0 C A0ᵀ with the seeded A0 (LoRAInit.swift), λ_max of C by power
//   iteration, and the whitened step D = −G (C + λI)⁻¹ for coupling (§3). Explicit-inverse references live
//   in the tests. Deliberately no I/O and no model code.
import Foundation
import LCCore
import LCKernels

/// Statistics of one layer: the card rows plus (optionally) each module's step direction.
public struct LayerStatistics: Sendable {
    public var modules: [ModuleStats]
    /// Module name → D = −G (C+λI)⁻¹ as Float32 (d_out, d_in), when requested.
    public var steps: [String: [Float]]
}

/// Relative ridge of spec §2: λ = 1e-3 · tr(C)/d.
public let resnormLambdaRel = 1e-3

/// tr(G M⁻¹ Gᵀ) and optionally −G M⁻¹, for M = C + λI given by its Cholesky factor L (d, d).
/// G is (dOut, d) row-major. Returns (resnorm², step?).
func whitenedNorm(G: UnsafePointer<Double>, dOut: Int, d: Int, L: UnsafePointer<Double>, wantStep: Bool) -> (Double, [Double]?) {
    var X = Array(UnsafeBufferPointer(start: G, count: dOut * d))
    var sq = 0.0
    X.withUnsafeMutableBufferPointer { xb in
        guard let x = xb.baseAddress else { return }
        solveRightLower(x, m: dOut, n: d, L: L, transposeL: true)       // X = G L⁻ᵀ
        for i in 0..<(dOut * d) { sq += x[i] * x[i] }
        if wantStep {
            solveRightLower(x, m: dOut, n: d, L: L, transposeL: false)  // X = G L⁻ᵀ L⁻¹ = G M⁻¹
            for i in 0..<(dOut * d) { x[i] = -x[i] }
        }
    }
    return (sq, wantStep ? X : nil)
}

/// Largest eigenvalue of a symmetric PSD (d, d) matrix by power iteration (at most `iterations` steps, stops
/// when the Rayleigh quotient changes by < `tolerance` relative). A lower bound that converges to λ_max.
public func largestEigenvalue(_ C: UnsafePointer<Double>, d: Int, iterations: Int = 100, tolerance: Double = 1e-6) -> Double {
    guard d > 0 else { return 0 }
    var v = (0..<d).map { 1 + 0.01 * Double($0 % 7) }, w = [Double](repeating: 0, count: d)
    var norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    for i in 0..<d { v[i] /= norm }
    var lam = 0.0
    for _ in 0..<iterations {
        v.withUnsafeBufferPointer { vb in
            w.withUnsafeMutableBufferPointer { wb in
                dgemm(transA: false, transB: false, M: d, N: 1, K: d, alpha: 1, A: C, lda: d, B: vb.baseAddress.unsafelyUnwrapped,
                      ldb: 1, beta: 0, C: wb.baseAddress.unsafelyUnwrapped, ldc: 1)
            }
        }
        let rq = zip(v, w).reduce(0) { $0 + $1.0 * $1.1 }
        norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return 0 }
        for i in 0..<d { v[i] = w[i] / norm }
        let done = abs(rq - lam) <= tolerance * abs(rq)
        lam = rq
        if done { break }
    }
    return lam
}

extension ModuleAccumulator {
    /// Computes the card rows of this layer's modules, in `moduleOrder` (the architecture's module list; a
    /// module's index there seeds its A0). Frees nothing; drop the accumulator afterwards.
    /// - Throws: `LCError.format(path: "layer L module M", …)` when C + λI (or C' + λ'I) is not positive
    ///   definite (e.g. an all-zero input) or a module saw no rows.
    public func statistics(moduleOrder: [String], loraRank r: Int, loraSeed: UInt64, wantSteps: Bool) throws -> LayerStatistics {
        var out: [ModuleStats] = [], steps: [String: [Float]] = [:]
        var byName: [String: ModuleStats] = [:]
        for grp in groups {
            let d = grp.d
            func fail(_ m: String, _ msg: String) -> LCError { .format(path: "layer \(layer) module \(m)", message: msg) }
            guard grp.N > 0 else { throw fail(grp.modules.joined(separator: ","), "saw no token positions") }
            var C = [Double](repeating: 0, count: d * d)
            symmetrizeFromUpper(grp.S, d: d)
            var tr = 0.0
            for i in 0..<(d * d) { C[i] = grp.S[i] / Double(grp.N) }
            for i in 0..<d { tr += C[i * d + i] }
            let lambda = resnormLambdaRel * tr / Double(d)
            var M = C
            for i in 0..<d { M[i * d + i] += lambda }
            let info = M.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress.unsafelyUnwrapped, n: d) }
            guard tr > 0, tr.isFinite, info == 0 else {
                throw fail(grp.modules.joined(separator: ","),
                           "C + λI is not positive definite (tr(C) = \(tr), Cholesky failed at column \(info)); the module's input is degenerate")
            }
            let lmax = C.withUnsafeBufferPointer { largestEigenvalue($0.baseAddress.unsafelyUnwrapped, d: d) }
            for m in grp.modules {
                guard let gs = grads[m] else { continue }
                let dOut = gs.dOut
                var g2 = 0.0
                for i in 0..<(dOut * d) { g2 += gs.G[i] * gs.G[i] }
                let (res2, step) = M.withUnsafeBufferPointer {
                    whitenedNorm(G: gs.G, dOut: dOut, d: d, L: $0.baseAddress.unsafelyUnwrapped, wantStep: wantSteps)
                }
                if let step { steps[m] = step.map { Float($0) } }
                let j = moduleOrder.firstIndex(of: m) ?? moduleOrder.count
                let lora = try resnormLoRA(G: gs.G, dOut: dOut, C: C, d: d, r: r,
                                           A0: loraA0(seed: loraSeed, layer: layer, moduleIndex: j, r: r, dIn: d),
                                           what: "layer \(layer) module \(m)")
                byName[m] = ModuleStats(layer: layer, module: m, d_in: d, d_out: dOut, grad_norm: g2.squareRoot(), act_energy: tr,
                                        resnorm: res2.squareRoot(), resnorm_lora: lora, lambda_max: lmax,
                                        effective_rank: lmax > 0 ? tr / lmax : nil)
            }
        }
        for m in moduleOrder { if let s = byName[m] { out.append(s) } }
        for (m, s) in byName.sorted(by: { $0.key < $1.key }) where !moduleOrder.contains(m) { out.append(s) }
        return LayerStatistics(modules: out, steps: steps)
    }
}

/// resnorm_lora = ||G_B (C' + λ'I)^(-1/2)||_F, G_B = G A0ᵀ (dOut, r), C' = A0 C A0ᵀ (r, r), λ' = 1e-3 tr(C')/r.
/// - Parameters: G (dOut, d), C (d, d), A0 (r, d), all row-major Float64.
public func resnormLoRA(G: UnsafePointer<Double>, dOut: Int, C: [Double], d: Int, r: Int, A0: [Double], what: String) throws -> Double {
    var GB = [Double](repeating: 0, count: dOut * r), T = [Double](repeating: 0, count: r * d), Cp = [Double](repeating: 0, count: r * r)
    A0.withUnsafeBufferPointer { ab in
        let a = ab.baseAddress.unsafelyUnwrapped
        GB.withUnsafeMutableBufferPointer {
            dgemm(transA: false, transB: true, M: dOut, N: r, K: d, alpha: 1, A: G, lda: d, B: a, ldb: d, beta: 0,
                  C: $0.baseAddress.unsafelyUnwrapped, ldc: r)
        }
        C.withUnsafeBufferPointer { cb in
            T.withUnsafeMutableBufferPointer {
                dgemm(transA: false, transB: false, M: r, N: d, K: d, alpha: 1, A: a, lda: d, B: cb.baseAddress.unsafelyUnwrapped,
                      ldb: d, beta: 0, C: $0.baseAddress.unsafelyUnwrapped, ldc: d)
            }
        }
        T.withUnsafeBufferPointer { tb in
            Cp.withUnsafeMutableBufferPointer {
                dgemm(transA: false, transB: true, M: r, N: r, K: d, alpha: 1, A: tb.baseAddress.unsafelyUnwrapped, lda: d, B: a,
                      ldb: d, beta: 0, C: $0.baseAddress.unsafelyUnwrapped, ldc: r)
            }
        }
    }
    var tr = 0.0
    for i in 0..<r { tr += Cp[i * r + i] }
    let lam = resnormLambdaRel * tr / Double(r)
    for i in 0..<r { Cp[i * r + i] += lam }
    let info = Cp.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress.unsafelyUnwrapped, n: r) }
    guard tr > 0, tr.isFinite, info == 0 else {
        throw LCError.format(path: what, message: "C' + λ'I (rank \(r)) is not positive definite (tr(C') = \(tr))")
    }
    let (sq, _) = GB.withUnsafeBufferPointer { gb in
        Cp.withUnsafeBufferPointer {
            whitenedNorm(G: gb.baseAddress.unsafelyUnwrapped, dOut: dOut, d: r, L: $0.baseAddress.unsafelyUnwrapped, wantStep: false)
        }
    }
    return sq.squareRoot()
}
