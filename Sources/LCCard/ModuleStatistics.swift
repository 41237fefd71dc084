// Per-module statistics of layer-card-spec §2 from a finished ModuleAccumulator, all in Float64:
//   grad_norm = ||G||_F, act_energy = tr(C), resnorm² = ||G L⁻ᵀ||²_F with C + λI = L Lᵀ (Cholesky),
//   resnorm_lora from G_B = G A0ᵀ, C' = A0 C A0ᵀ with the seeded A0 (LoRAInit.swift), λ_max of C by power
//   iteration, and the whitened step D = −G (C + λI)⁻¹ for coupling (§3). Explicit-inverse references live
//   in the tests. Deliberately no I/O and no model code.
import Foundation
import LCCore
import LCKernels

/// The whitened step D = −G (C+λI)⁻¹ of one module (d_out × d_in), dense or in the factored form of Gram mode.
public enum StepDirection: Sendable {
    /// D itself, Float32 (d_out, d_in) row-major.
    case dense([Float])
    /// D = −Δᵀ Z with Δ (n, d_out) the scaled output-gradient rows and Z = (AAᵀ/N + λI)⁻¹ A (n, d_in).
    case lowRank(delta: [Float], z: [Float], n: Int)

    /// Number of entries of D (d_out · d_in).
    public var count: Int {
        switch self {
        case .dense(let d): return d.count
        case .lowRank(let delta, let z, let n): return n > 0 ? (delta.count / n) * (z.count / n) : 0
        }
    }

    /// ||D||²_F in Float64 (low rank: Σ (ΔΔᵀ) ∘ (ZZᵀ), never forming D).
    public func frobeniusNormSquared() -> Double {
        switch self {
        case .dense(let d): return d.reduce(0.0) { $0 + Double($1) * Double($1) }
        case .lowRank(let delta, let z, let n):
            guard n > 0 else { return 0 }
            let E = rowGram64(delta, n: n, k: delta.count / n), Z = rowGram64(z, n: n, k: z.count / n)
            var s = 0.0
            for i in 0..<(n * n) { s += E[i] * Z[i] }
            return s
        }
    }

    /// out = w + s·D over `count` entries, row-major (d_out, d_in) Float32 (`out` may not alias `w`).
    public func addScaled(_ s: Float, to w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        switch self {
        case .dense(let d):
            for i in 0..<d.count { out[i] = w[i] + s * d[i] }
        case .lowRank(let delta, let z, let n):
            guard n > 0 else { return }
            let dOut = delta.count / n, dIn = z.count / n
            out.update(from: w, count: dOut * dIn)
            delta.withUnsafeBufferPointer { db in
                z.withUnsafeBufferPointer { zb in
                    sgemm(transA: true, transB: false, M: dOut, N: dIn, K: n, alpha: -s, A: db.baseAddress.unsafelyUnwrapped, lda: dOut,
                          B: zb.baseAddress.unsafelyUnwrapped, ldb: dIn, beta: 1, C: out, ldc: dIn)
                }
            }
        }
    }

    /// D as a dense Float32 array (tests, small layers).
    public var denseValues: [Float] {
        if case .dense(let d) = self { return d }
        let zero = [Float](repeating: 0, count: count)
        var out = zero
        zero.withUnsafeBufferPointer { zb in
            out.withUnsafeMutableBufferPointer { addScaled(1, to: zb.baseAddress.unsafelyUnwrapped, out: $0.baseAddress.unsafelyUnwrapped) }
        }
        return out
    }
}

/// X Xᵀ (n, n) in Float64 of a Float32 (n, k) row-major matrix.
func rowGram64(_ x: [Float], n: Int, k: Int) -> [Double] { rowGram64(x.map(Double.init), n: n, k: k) }

/// X Xᵀ (n, n) of a Float64 (n, k) row-major matrix.
func rowGram64(_ x64: [Double], n: Int, k: Int) -> [Double] {
    var S = [Double](repeating: 0, count: n * n)
    x64.withUnsafeBufferPointer { xb in
        S.withUnsafeMutableBufferPointer { rowGramAccumulateUpper($0.baseAddress.unsafelyUnwrapped, xb.baseAddress.unsafelyUnwrapped, M: n, K: k) }
    }
    S.withUnsafeMutableBufferPointer { symmetrizeFromUpper($0.baseAddress.unsafelyUnwrapped, d: n) }
    return S
}

/// Statistics of one layer: the card rows plus (optionally) each module's step direction.
public struct LayerStatistics: Sendable {
    public var modules: [ModuleStats]
    /// Module name → D = −G (C+λI)⁻¹ (d_out, d_in), when requested.
    public var steps: [String: StepDirection]
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
        trimRows()
        var out: [ModuleStats] = [], steps: [String: StepDirection] = [:]
        var byName: [String: ModuleStats] = [:]
        for grp in groups {
            let d = grp.d
            func fail(_ m: String, _ msg: String) -> LCError { .format(path: "layer \(layer) module \(m)", message: msg) }
            guard grp.N > 0 else { throw fail(grp.modules.joined(separator: ","), "saw no token positions") }
            if grp.gram {
                try gramStatistics(grp, moduleOrder: moduleOrder, loraRank: r, loraSeed: loraSeed, wantSteps: wantSteps,
                                   byName: &byName, steps: &steps)
                continue
            }
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
                if let step { steps[m] = .dense(step.map { Float($0) }) }
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
    return try resnormLoRA(GB: GB, dOut: dOut, Cp: Cp, r: r, what: what)
}

/// The tail of `resnormLoRA` from G_B (dOut, r) and the unregularized C' (r, r).
func resnormLoRA(GB: [Double], dOut: Int, Cp inCp: [Double], r: Int, what: String) throws -> Double {
    var Cp = inCp
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

extension ModuleAccumulator {
    /// Gram-mode statistics of one input group (N rows < d_in), exact in Float64 through N × N matrices:
    /// with K = AAᵀ, E = ΔΔᵀ (A the input rows, Δ the scaled output-gradient rows, G = ΔᵀA) and
    /// M = K/N + λI (C + λI restricted to A's row space has the same nonzero spectrum):
    ///   act_energy = tr(K)/N, grad_norm² = Σ K∘E, resnorm² = Σ (M⁻¹K)∘E, λ_max(C) = λ_max(K/N),
    ///   D = −G (C+λI)⁻¹ = −Δᵀ (M⁻¹A), G_B = Δᵀ(A A0ᵀ), C' = (A A0ᵀ)ᵀ(A A0ᵀ)/N.
    /// (From the thin SVD A = UΣVᵀ: G (C+λI)⁻¹ Gᵀ = Δᵀ U Σ²(Σ²/N + λ)⁻¹ Uᵀ Δ; no 1/λ cancellation.)
    func gramStatistics(_ grp: InputMoment, moduleOrder: [String], loraRank r: Int, loraSeed: UInt64, wantSteps: Bool,
                        byName: inout [String: ModuleStats], steps: inout [String: StepDirection]) throws {
        let d = grp.d, N = grp.N
        func fail(_ msg: String) -> LCError { .format(path: "layer \(layer) module \(grp.modules.joined(separator: ","))", message: msg) }
        let A = grp.rows.map(Double.init)
        guard A.count == N * d else { throw fail("internal: \(A.count) input values for \(N) rows of \(d)") }
        let K = rowGram64(A, n: N, k: d)
        var trK = 0.0
        for i in 0..<N { trK += K[i * N + i] }
        let tr = trK / Double(N)
        let lambda = resnormLambdaRel * tr / Double(d)
        var M = K.map { $0 / Double(N) }
        let lmax = M.withUnsafeBufferPointer { largestEigenvalue($0.baseAddress.unsafelyUnwrapped, d: N) }
        for i in 0..<N { M[i * N + i] += lambda }
        let info = M.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress.unsafelyUnwrapped, n: N) }
        guard tr > 0, tr.isFinite, info == 0 else {
            throw fail("C + λI is not positive definite (tr(C) = \(tr), Cholesky of the \(N)-row Gram form failed at column \(info)); the module's input is degenerate")
        }
        // X = K M⁻¹ (= M⁻¹K: K and M commute), symmetric.
        var X = K
        M.withUnsafeBufferPointer { mb in
            X.withUnsafeMutableBufferPointer { xb in
                solveRightLower(xb.baseAddress.unsafelyUnwrapped, m: N, n: N, L: mb.baseAddress.unsafelyUnwrapped, transposeL: true)
                solveRightLower(xb.baseAddress.unsafelyUnwrapped, m: N, n: N, L: mb.baseAddress.unsafelyUnwrapped, transposeL: false)
            }
        }
        // Z = M⁻¹ A (N, d) via Zᵀ = Aᵀ M⁻¹ (right solves on Aᵀ).
        var Z: [Float] = []
        if wantSteps {
            var At = [Double](repeating: 0, count: d * N)
            for n in 0..<N { for i in 0..<d { At[i * N + n] = A[n * d + i] } }
            M.withUnsafeBufferPointer { mb in
                At.withUnsafeMutableBufferPointer { ab in
                    solveRightLower(ab.baseAddress.unsafelyUnwrapped, m: d, n: N, L: mb.baseAddress.unsafelyUnwrapped, transposeL: true)
                    solveRightLower(ab.baseAddress.unsafelyUnwrapped, m: d, n: N, L: mb.baseAddress.unsafelyUnwrapped, transposeL: false)
                }
            }
            Z = [Float](repeating: 0, count: N * d)
            for n in 0..<N { for i in 0..<d { Z[n * d + i] = Float(At[i * N + n]) } }
        }
        for m in grp.modules {
            guard let gs = grads[m] else { continue }
            let dOut = gs.dOut
            guard gs.deltaRows.count == N * dOut else { throw fail("internal: module \(m) has \(gs.deltaRows.count / max(dOut, 1)) gradient rows, its input \(N)") }
            let D64 = gs.deltaRows.map(Double.init)
            let E = rowGram64(D64, n: N, k: dOut)
            var g2 = 0.0, res2 = 0.0
            for i in 0..<(N * N) { g2 += K[i] * E[i]; res2 += X[i] * E[i] }
            // resnorm_lora through P = A A0ᵀ (N, r).
            let j = moduleOrder.firstIndex(of: m) ?? moduleOrder.count
            let A0 = loraA0(seed: loraSeed, layer: layer, moduleIndex: j, r: r, dIn: d)
            var P = [Double](repeating: 0, count: N * r), GB = [Double](repeating: 0, count: dOut * r), Cp = [Double](repeating: 0, count: r * r)
            A.withUnsafeBufferPointer { ab in
                A0.withUnsafeBufferPointer { a0 in
                    P.withUnsafeMutableBufferPointer {
                        dgemm(transA: false, transB: true, M: N, N: r, K: d, alpha: 1, A: ab.baseAddress.unsafelyUnwrapped, lda: d,
                              B: a0.baseAddress.unsafelyUnwrapped, ldb: d, beta: 0, C: $0.baseAddress.unsafelyUnwrapped, ldc: r)
                    }
                }
            }
            P.withUnsafeBufferPointer { pb in
                let p = pb.baseAddress.unsafelyUnwrapped
                D64.withUnsafeBufferPointer { db in
                    GB.withUnsafeMutableBufferPointer {
                        dgemm(transA: true, transB: false, M: dOut, N: r, K: N, alpha: 1, A: db.baseAddress.unsafelyUnwrapped, lda: dOut,
                              B: p, ldb: r, beta: 0, C: $0.baseAddress.unsafelyUnwrapped, ldc: r)
                    }
                }
                Cp.withUnsafeMutableBufferPointer {
                    dgemm(transA: true, transB: false, M: r, N: r, K: N, alpha: 1 / Double(N), A: p, lda: r, B: p, ldb: r, beta: 0,
                          C: $0.baseAddress.unsafelyUnwrapped, ldc: r)
                }
            }
            let lora = try resnormLoRA(GB: GB, dOut: dOut, Cp: Cp, r: r, what: "layer \(layer) module \(m)")
            if wantSteps { steps[m] = .lowRank(delta: gs.deltaRows, z: Z, n: N) }
            byName[m] = ModuleStats(layer: layer, module: m, d_in: d, d_out: dOut, grad_norm: max(g2, 0).squareRoot(), act_energy: tr,
                                    resnorm: max(res2, 0).squareRoot(), resnorm_lora: lora, lambda_max: lmax,
                                    effective_rank: lmax > 0 ? tr / lmax : nil)
        }
    }
}
