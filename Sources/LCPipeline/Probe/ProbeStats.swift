// The probe's small statistics and index sets: Spearman rank correlation with average ranks for ties and its
// two-sided p-value from the t-approximation (t = ρ·sqrt((n−2)/(1−ρ²)), Student t with n−2 dof, via the
// regularized incomplete beta function), the spec §6 baseline layer sets, the budget subsample and the seeded
// train/eval split. Deliberately no exact permutation p-values (n = 30 layers makes the t-approximation adequate).
import Foundation
import LCModel

public enum ProbeStats {
    /// Ranks 1…n with ties given their average rank.
    public static func averageRanks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for p in i...j { r[order[p]] = avg }
            i = j + 1
        }
        return r
    }

    /// Pearson correlation (nil when either side is constant or n < 2).
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = Double(x.count)
        guard x.count == y.count, x.count >= 2 else { return nil }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Sample standard deviation (n − 1 in the denominator); nil for fewer than 2 values.
    public static func sampleStd(_ x: [Double]) -> Double? {
        guard x.count >= 2 else { return nil }
        let m = x.reduce(0, +) / Double(x.count)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    /// Spearman ρ = Pearson correlation of the average ranks.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count == y.count else { return nil }
        return pearson(averageRanks(x), averageRanks(y))
    }

    /// Two-sided p-value of ρ under H0 (no association) by the t-approximation with n−2 degrees of freedom
    /// (what scipy.stats.spearmanr reports). nil for n < 3.
    public static func spearmanPValue(rho: Double, n: Int) -> Double? {
        guard n >= 3, rho.isFinite else { return nil }
        let df = Double(n - 2)
        if abs(rho) >= 1 { return 0 }
        let t = rho * (df / ((1 - rho) * (1 + rho))).squareRoot()
        return studentTTwoSided(t: t, df: df)
    }

    /// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom = I_{df/(df+t²)}(df/2, 1/2).
    public static func studentTTwoSided(t: Double, df: Double) -> Double {
        guard df > 0, t.isFinite else { return t.isFinite ? .nan : 0 }
        return regularizedIncompleteBeta(x: df / (df + t * t), a: df / 2, b: 0.5)
    }

    /// I_x(a, b) by the continued fraction (modified Lentz), using the symmetry for x > (a+1)/(a+b+2).
    public static func regularizedIncompleteBeta(x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lbeta = lgamma(a + b) - lgamma(a) - lgamma(b)
        let front = exp(lbeta + a * log(x) + b * log(1 - x))
        if x < (a + 1) / (a + b + 2) { return front * betaContinuedFraction(x: x, a: a, b: b) / a }
        return 1 - front * betaContinuedFraction(x: 1 - x, a: b, b: a) / b
    }

    private static func betaContinuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let del = d * c
            h *= del
            if abs(del - 1) < 1e-15 { break }
        }
        return h
    }

    // MARK: layer sets (spec §6)

    public static func bottom(k: Int, L: Int) -> [Int] { Array(0..<min(k, L)) }
    public static func top(k: Int, L: Int) -> [Int] { Array(max(0, L - k)..<L) }
    /// k contiguous layers centred on the middle: start = floor((L − k) / 2).
    public static func mid(k: Int, L: Int) -> [Int] { let s = max(0, (L - k) / 2); return Array(s..<min(L, s + k)) }

    /// round(linspace(0, L−1, k)) with numpy's arithmetic (i·step, last = L−1) and half-to-even rounding; duplicates
    /// (k > L) dropped.
    public static func uniform(k: Int, L: Int) -> [Int] {
        guard L > 0 else { return [] }
        if k <= 1 { return [0] }
        let step = Double(L - 1) / Double(k - 1)
        var v = (0..<k).map { Double($0) * step }
        v[k - 1] = Double(L - 1)
        var seen = Set<Int>(), out: [Int] = []
        for x in v { let i = Int(x.rounded(.toNearestOrEven)); if seen.insert(i).inserted { out.append(i) } }
        return out
    }

    /// random-k draw for `seed` (SplitMix64 partial Fisher–Yates, the same draw the rank stage uses for that seed).
    public static func random(k: Int, L: Int, seed: UInt64) -> [Int] {
        var g = ProbeRNG(seed: seed)
        return g.sample(k, of: L)
    }

    /// The layers a budget allows: `n` evenly spaced (uniform) layers, always the first and the last.
    public static func subsample(n: Int, L: Int) -> [Int] {
        if n >= L { return Array(0..<L) }
        if L <= 1 { return Array(0..<L) }
        return uniform(k: max(2, n), L: L)
    }

    /// Seeded split of `count` record indices: a SplitMix64 Fisher–Yates shuffle, the first round(count·evalFraction)
    /// (at least 1, at most count−1) are the eval set; both returned sorted.
    public static func split(count: Int, evalFraction: Double, seed: UInt64) -> (train: [Int], eval: [Int]) {
        guard count >= 2 else { return (Array(0..<count), []) }
        var g = ProbeRNG(seed: seed)
        var a = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { a.swapAt(i, Int(g.next(below: UInt64(i + 1)))) }
        let nEval = min(count - 1, max(1, Int((Double(count) * evalFraction).rounded())))
        return (Array(a[nEval...]).sorted(), Array(a[..<nEval]).sorted())
    }

    /// Median (mean of the two middle values for an even count); nil when empty.
    public static func median(_ x: [Double]) -> Double? {
        guard !x.isEmpty else { return nil }
        let s = x.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}
