// Joint gain of a layer set under the quadratic model (spec §3):
//   gain(S) = max over c >= 0 of ( b_S·c − ½ cᵀ (R_SS + 1e-6 I) c ),
// solved exactly by an active-set NNLS (Lawson–Hanson on the quadratic), with a brute-force
// reference over passive sets beside it. Pure math on arrays; reading cards is elsewhere.
import Foundation
import LCCore

/// A per-layer selection signal: one column of the card (spec §6). block_influence and act_norm are the
/// forward-only columns (docs/decisions.md "Profile (card numbers)"), norm-like (b = x), for comparison with the
/// gradient signals; cards profiled before they existed lack them (selection then asks for another signal).
public enum Signal: String, CaseIterable, Codable, Sendable {
    case grad_norm, resnorm, resnorm_lora, predicted_gain, measured_gain, block_influence, act_norm

    /// Norm columns give b = x; gain columns give b = sqrt(2x) (spec §3).
    public var isGainColumn: Bool { self == .predicted_gain || self == .measured_gain }

    /// The column value of one layer, nil when the card does not carry it.
    public func value(_ s: LayerStats) -> Double? {
        switch self {
        case .grad_norm: return s.grad_norm
        case .resnorm: return s.resnorm
        case .resnorm_lora: return s.resnorm_lora
        case .predicted_gain: return s.predicted_gain
        case .measured_gain: return s.measured_gain
        case .block_influence: return s.block_influence
        case .act_norm: return s.act_norm
        }
    }

    /// Spec §6 default: measured_gain when every layer has it, else grad_norm.
    public static func defaultSignal(for card: LayerCard) -> Signal { defaultChoice(for: card).signal }

    /// The spec §6 default and why, in words (written into selection files, logs and reports). A probe that
    /// measured only some layers (--budget-minutes, --layers) keeps grad_norm: every objective needs the signal at
    /// every layer, and filling the unprobed layers (interpolation, or 0) would rank guesses as if they were
    /// measurements.
    public static func defaultChoice(for card: LayerCard) -> (signal: Signal, reason: String) {
        let L = card.layers.count
        let probed = card.layers.filter { $0.measured_gain != nil }.map(\.layer)
        if L > 0, probed.count == L {
            return (.measured_gain, "default: the probe measured every layer (\(L) of \(L)), so the measured single-layer LoRA gain ranks the layers (spec section 6)")
        }
        if probed.isEmpty {
            return (.grad_norm, "default: no probe on this card (no measured_gain), so grad_norm (spec section 6 default without a probe)")
        }
        return (.grad_norm, "default: the probe measured only \(probed.count) of \(L) layers \(probed); selection needs the signal at every "
                + "layer and filling the others would rank guesses as measurements, so grad_norm (on every layer) is used; "
                + "probe all layers to rank by measured_gain")
    }

    /// b_l from the signal value. A gain column value ≤ 0 (a probe that hurt) contributes b = 0.
    public func b(_ x: Double) -> Double { isGainColumn ? (2 * max(x, 0)).squareRoot() : max(x, 0) }
}

/// gain(S) for one card and signal. Build once, query many sets.
public struct GainModel: Sendable {
    /// Ridge added to R_SS (spec §3).
    public static let ridge = 1e-6
    public let b: [Double]
    /// L×L coupling used by the solver (the card's, with negative eigenvalues clipped if any).
    public let R: [[Double]]
    /// The smallest eigenvalue of the card's coupling when it is not positive definite (it was then clipped
    /// to PSD before use); nil when the coupling is positive definite (Cholesky succeeded, nothing changed).
    public let couplingMinEigenvalue: Double?
    public var count: Int { b.count }

    /// - Parameters: b: per-layer linear terms (≥ 0); coupling: L×L symmetric, unit diagonal.
    /// A coupling that is not positive semidefinite (possible from rounding in a Float32 profile) is
    /// projected onto the PSD cone by clipping its negative eigenvalues to 0; otherwise the QP could be
    /// unbounded. `couplingMinEigenvalue` records how far off it was.
    public init(b: [Double], coupling: [[Double]]) {
        precondition(coupling.count == b.count && coupling.allSatisfy { $0.count == b.count }, "coupling must be L×L")
        self.b = b
        if choleskySolve(coupling, Array(repeating: 1, count: b.count)) != nil {
            R = coupling; couplingMinEigenvalue = nil
            return
        }
        let (vals, vecs) = symmetricEigen(coupling)
        let minEig = vals.min() ?? 0
        couplingMinEigenvalue = minEig
        if minEig >= 0 {
            R = coupling
        } else {
            let n = b.count
            var r = Array(repeating: Array(repeating: 0.0, count: n), count: n)
            for k in 0..<n where vals[k] > 0 {
                for i in 0..<n { for j in 0..<n { r[i][j] += vals[k] * vecs[i][k] * vecs[j][k] } }
            }
            R = r
        }
    }

    /// Model for a card and signal. - Throws: if a layer lacks the signal column.
    public init(card: LayerCard, signal: Signal) throws {
        var b: [Double] = []
        for s in card.layers {
            guard let x = signal.value(s) else {
                let why = signal == .block_influence || signal == .act_norm
                    ? " (the card was profiled before this forward-only column existed: re-run profile)" : ""
                throw LCError.usage("card \(card.model_id) has no '\(signal.rawValue)' at layer \(s.layer)\(why); choose another --signal")
            }
            b.append(signal.b(x))
        }
        self.init(b: b, coupling: card.coupling)
    }

    /// Q = R_SS + ridge·I and b_S for a set of layer indices.
    func subproblem(_ S: [Int]) -> (Q: [[Double]], bS: [Double]) {
        let Q = S.map { i in S.map { j in R[i][j] + (i == j ? GainModel.ridge : 0) } }
        return (Q, S.map { b[$0] })
    }

    /// gain(S) by active-set NNLS. Empty S gives 0. Duplicates in S are ignored.
    public func gain(_ S: [Int]) -> Double {
        let set = Array(Set(S)).sorted()
        if set.isEmpty { return 0 }
        let (Q, bS) = subproblem(set)
        return objective(Q, bS, nnlsQuadratic(Q: Q, b: bS))
    }

    /// The optimal step sizes c ≥ 0 for S (same order as `S.sorted()` without duplicates).
    public func steps(_ S: [Int]) -> [Double] {
        let set = Array(Set(S)).sorted()
        let (Q, bS) = subproblem(set)
        return nnlsQuadratic(Q: Q, b: bS)
    }

    /// Reference: enumerate every passive set P ⊆ S, solve Q_PP z = b_P, keep feasible z ≥ 0 with the
    /// best objective. Exponential; for tests with |S| ≤ ~12.
    public func gainBruteForce(_ S: [Int]) -> Double {
        let set = Array(Set(S)).sorted()
        let n = set.count
        if n == 0 { return 0 }
        let (Q, bS) = subproblem(set)
        var best = 0.0
        for mask in 1..<(1 << n) {
            let P = (0..<n).filter { mask & (1 << $0) != 0 }
            guard let z = choleskySolve(P.map { i in P.map { Q[i][$0] } }, P.map { bS[$0] }), z.allSatisfy({ $0 >= 0 }) else { continue }
            var c = Array(repeating: 0.0, count: n)
            for (k, i) in P.enumerated() { c[i] = z[k] }
            best = max(best, objective(Q, bS, c))
        }
        return best
    }
}

/// b·c − ½ cᵀQc.
func objective(_ Q: [[Double]], _ b: [Double], _ c: [Double]) -> Double {
    var lin = 0.0, quad = 0.0
    for i in 0..<c.count where c[i] != 0 {
        lin += b[i] * c[i]
        for j in 0..<c.count where c[j] != 0 { quad += c[i] * Q[i][j] * c[j] }
    }
    return lin - 0.5 * quad
}

/// Lawson–Hanson active-set method for min ½cᵀQc − bᵀc subject to c ≥ 0, Q symmetric positive definite.
/// The unconstrained sub-solves on the passive set use Cholesky. Terminates in finitely many steps in exact
/// arithmetic; an iteration cap (30·n) guards against cycling from rounding and returns the current feasible c.
public func nnlsQuadratic(Q: [[Double]], b: [Double]) -> [Double] {
    let n = b.count
    var c = Array(repeating: 0.0, count: n)
    var passive = Array(repeating: false, count: n)
    let scale = max(b.map { abs($0) }.max() ?? 0, 1e-300)
    let tol = 1e-12 * scale * Double(max(n, 1))
    func gradient() -> [Double] { (0..<n).map { i in b[i] - (0..<n).reduce(0.0) { $0 + Q[i][$1] * c[$1] } } }
    var iterations = 0
    outer: while iterations < 30 * max(n, 1) {
        let w = gradient()
        var j = -1, wmax = tol
        for i in 0..<n where !passive[i] && w[i] > wmax { wmax = w[i]; j = i }
        if j < 0 { break }
        passive[j] = true
        while true {
            iterations += 1
            let P = (0..<n).filter { passive[$0] }
            guard let zP = choleskySolve(P.map { i in P.map { Q[i][$0] } }, P.map { b[$0] }) else { break outer }
            var z = Array(repeating: 0.0, count: n)
            for (k, i) in P.enumerated() { z[i] = zP[k] }
            if P.allSatisfy({ z[$0] > 0 }) { c = z; break }
            var alpha = 1.0
            for i in P where z[i] <= 0 { alpha = min(alpha, c[i] / (c[i] - z[i])) }
            for i in 0..<n { c[i] += alpha * (z[i] - c[i]) }
            for i in P where c[i] <= 1e-15 * scale { c[i] = 0; passive[i] = false }
            if iterations >= 30 * max(n, 1) { break outer }
        }
    }
    return c.map { max($0, 0) }
}

/// Solves A x = y for symmetric positive definite A by Cholesky; nil if A is not positive definite.
public func choleskySolve(_ A: [[Double]], _ y: [Double]) -> [Double]? {
    let n = y.count
    var Lm = Array(repeating: Array(repeating: 0.0, count: n), count: n)
    for i in 0..<n {
        for j in 0...i {
            var s = A[i][j]
            for k in 0..<j { s -= Lm[i][k] * Lm[j][k] }
            if i == j {
                guard s > 0 else { return nil }
                Lm[i][i] = s.squareRoot()
            } else {
                Lm[i][j] = s / Lm[j][j]
            }
        }
    }
    var z = y
    for i in 0..<n { for k in 0..<i { z[i] -= Lm[i][k] * z[k] }; z[i] /= Lm[i][i] }
    for i in stride(from: n - 1, through: 0, by: -1) {
        for k in (i + 1)..<max(i + 1, n) { z[i] -= Lm[k][i] * z[k] }
        z[i] /= Lm[i][i]
    }
    return z
}

/// Cyclic Jacobi eigen-decomposition of a small symmetric matrix: (eigenvalues, eigenvectors as columns).
public func symmetricEigen(_ M: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
    let n = M.count
    var a = M
    var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    for _ in 0..<100 {
        var off = 0.0
        for i in 0..<n { for j in 0..<n where i != j { off += a[i][j] * a[i][j] } }
        if off < 1e-30 { break }
        for p in 0..<n {
            for q in (p + 1)..<max(p + 1, n) where a[p][q] != 0 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k][p], akq = a[k][q]
                    a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p][k], aqk = a[q][k]
                    a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk
                }
                for k in 0..<n {
                    let vkp = v[k][p], vkq = v[k][q]
                    v[k][p] = c * vkp - s * vkq; v[k][q] = s * vkp + c * vkq
                }
            }
        }
    }
    return ((0..<n).map { a[$0][$0] }, v)
}
