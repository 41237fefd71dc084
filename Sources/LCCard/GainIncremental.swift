// Incremental gain(S ∪ {l}) for greedy searches: keeps the solved NNLS of S (its passive set and
// Cholesky factor) and, when adding l, extends the factor by one row (O(p²)) and checks the KKT
// conditions; only if they fail does it fall back to the full active-set solve (`GainModel.gain`).
// The result is the same optimum either way (KKT is necessary and sufficient for this convex QP).
import Foundation

/// The solved problem for one layer set.
public struct GainState: Sendable {
    /// The layer set (sorted).
    public private(set) var S: [Int]
    /// Layers with c > 0, and their step sizes c (same order).
    var P: [Int]
    var cP: [Double]
    /// Row-major lower Cholesky factor of Q_PP = R_PP + ridge·I (p×p).
    var chol: [Double]
    /// gain(S).
    public private(set) var gain: Double
}

extension GainModel {
    /// The empty set's state.
    public var emptyState: GainState { GainState(S: [], P: [], cP: [], chol: [], gain: 0) }

    /// Full solve of S (active-set NNLS), packaged for incremental extension.
    public func state(_ S: [Int]) -> GainState {
        let set = Array(Set(S)).sorted()
        if set.isEmpty { return emptyState }
        let c = steps(set)
        let P = set.indices.filter { c[$0] > 0 }.map { set[$0] }
        let cP = set.indices.filter { c[$0] > 0 }.map { c[$0] }
        let Q = P.map { i in P.map { j in R[i][j] + (i == j ? GainModel.ridge : 0) } }
        let (Qs, bS) = subproblem(set)
        return GainState(S: set, P: P, cP: cP, chol: choleskyFactor(Q) ?? [], gain: objective(Qs, bS, c))
    }

    /// gain(S ∪ {l}) and its state. O(p²) when l joins the passive set without displacing anyone (the usual
    /// case in greedy selection) or cannot improve the objective; otherwise a full solve.
    public func extend(_ st: GainState, with l: Int) -> GainState {
        if st.S.contains(l) { return st }
        var S2 = st.S; S2.append(l); S2.sort()
        let p = st.P.count
        let scale = max(S2.map { abs(b[$0]) }.max() ?? 0, 1e-300)
        let tol = 1e-12 * scale * Double(S2.count)
        // Negative gradient at the current optimum for the new variable: no ascent direction → same optimum.
        var wl = b[l]
        for (k, i) in st.P.enumerated() { wl -= R[l][i] * st.cP[k] }
        if wl <= tol { return GainState(S: S2, P: st.P, cP: st.cP, chol: st.chol, gain: st.gain) }
        guard st.chol.count == p * p else { return state(S2) }
        // Extend the Cholesky factor of Q_PP by the row of l.
        var row = [Double](repeating: 0, count: p)
        for i in 0..<p {
            var s = R[st.P[i]][l]
            for k in 0..<i { s -= st.chol[i * p + k] * row[k] }
            row[i] = s / st.chol[i * p + i]
        }
        let d2 = R[l][l] + GainModel.ridge - row.reduce(0) { $0 + $1 * $1 }
        guard d2 > 0 else { return state(S2) }
        let n = p + 1
        var chol = [Double](repeating: 0, count: n * n)
        for i in 0..<p { for k in 0...i { chol[i * n + k] = st.chol[i * p + k] } }
        for k in 0..<p { chol[p * n + k] = row[k] }
        chol[p * n + p] = d2.squareRoot()
        let P2 = st.P + [l]
        // Solve Q z = b_P2 with the extended factor.
        var z = P2.map { b[$0] }
        for i in 0..<n { for k in 0..<i { z[i] -= chol[i * n + k] * z[k] }; z[i] /= chol[i * n + i] }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for k in (i + 1)..<n { z[i] -= chol[k * n + i] * z[k] }
            z[i] /= chol[i * n + i]
        }
        guard z.allSatisfy({ $0 > 0 }) else { return state(S2) }
        // KKT for the variables of S held at zero.
        for j in S2 where !P2.contains(j) {
            var w = b[j]
            for (k, i) in P2.enumerated() { w -= R[j][i] * z[k] }
            if w > tol { return state(S2) }
        }
        // At the optimum Q z = b, so b·z − ½ zᵀQz = ½ b·z.
        let g = 0.5 * zip(P2, z).reduce(0.0) { $0 + b[$1.0] * $1.1 }
        return GainState(S: S2, P: P2, cP: z, chol: chol, gain: g)
    }
}

/// Row-major lower Cholesky factor of a small SPD matrix; nil if not positive definite.
func choleskyFactor(_ A: [[Double]]) -> [Double]? {
    let n = A.count
    var L = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0...i {
            var s = A[i][j]
            for k in 0..<j { s -= L[i * n + k] * L[j * n + k] }
            if i == j {
                guard s > 0 else { return nil }
                L[i * n + i] = s.squareRoot()
            } else {
                L[i * n + j] = s / L[j * n + j]
            }
        }
    }
    return L
}
