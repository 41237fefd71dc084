// Float64 reference implementations of every kernel's forward (straight from the formulas), a seeded RNG,
// and the central-difference gradient checker used by the backward tests.
// Tolerance policy: forward Float kernels vs. these references ≤ 1e-5 relative (max|Δ|/max|ref|);
// backward Float kernels vs. central differences of the Float64 forward (h = 1e-4, truncation O(h²) ≈ 1e-8)
// ≤ 1e-3 relative — the budget is Float32 rounding in the analytic gradient, not the difference quotient.
import Foundation
import LCKernels
import XCTest

struct LCG {
    var s: UInt64
    mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Double(s >> 11) / Double(1 << 53)) * 2 - 1
    }
    mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
}

func d(_ a: [Float]) -> [Double] { a.map(Double.init) }

func relErr(_ a: [Float], _ b: [Double]) -> Double {
    var md = 0.0, mr = 0.0
    for i in a.indices { md = max(md, abs(Double(a[i]) - b[i])); mr = max(mr, abs(b[i])) }
    return md / max(mr, 1e-300)
}

/// Central differences of the scalar L at x, compared with the analytic gradient.
func fdCheck(_ name: String, _ x: [Float], _ analytic: [Float], tol: Double = 1e-3, h: Double = 1e-4,
             file: StaticString = #filePath, line: UInt = #line, _ L: ([Double]) -> Double) {
    var xs = d(x), fd = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        let v = xs[i]
        xs[i] = v + h; let lp = L(xs)
        xs[i] = v - h; let lm = L(xs)
        xs[i] = v
        fd[i] = (lp - lm) / (2 * h)
    }
    let e = relErr(analytic, fd)
    XCTAssertLessThanOrEqual(e, tol, "\(name): gradient max rel err \(e)", file: file, line: line)
}

func dot(_ a: [Double], _ r: [Float]) -> Double { zip(a, r).reduce(0) { $0 + $1.0 * Double($1.1) } }

enum R64 {
    static func matmul(_ x: [Double], _ w: [Double], _ b: [Double]?, N: Int, C: Int, OC: Int) -> [Double] {
        var y = [Double](repeating: 0, count: N * OC)
        for n in 0..<N { for o in 0..<OC {
            var s = b?[o] ?? 0
            for c in 0..<C { s += x[n * C + c] * w[o * C + c] }
            y[n * OC + o] = s
        } }
        return y
    }
    static func rmsNorm(_ x: [Double], _ w: [Double], eps: Double, N: Int, C: Int) -> [Double] {
        var y = x
        for n in 0..<N {
            let ms = (0..<C).reduce(0.0) { $0 + x[n * C + $1] * x[n * C + $1] } / Double(C)
            let r = 1 / (ms + eps).squareRoot()
            for c in 0..<C { y[n * C + c] = w[c] * x[n * C + c] * r }
        }
        return y
    }
    static func layerNorm(_ x: [Double], _ w: [Double], _ b: [Double], eps: Double, N: Int, C: Int) -> [Double] {
        var y = x
        for n in 0..<N {
            let row = (0..<C).map { x[n * C + $0] }
            let m = row.reduce(0, +) / Double(C)
            let v = row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(C)
            for c in 0..<C { y[n * C + c] = (row[c] - m) / (v + eps).squareRoot() * w[c] + b[c] }
        }
        return y
    }
    static func rope(_ x: [Double], cos: [Float], sin: [Float], B: Int, T: Int, NH: Int, HS: Int, R: Int) -> [Double] {
        var y = x
        let h2 = R / 2
        for b in 0..<B { for t in 0..<T { for h in 0..<NH {
            let o = ((b * T + t) * NH + h) * HS
            for i in 0..<h2 {
                let c = Double(cos[t * h2 + i]), s = Double(sin[t * h2 + i])
                y[o + i] = x[o + i] * c - x[o + i + h2] * s
                y[o + i + h2] = x[o + i + h2] * c + x[o + i] * s
            }
        } } }
        return y
    }
    static func attention(_ q: [Double], _ k: [Double], _ v: [Double], mask: [Float]?, causal: Bool,
                          B: Int, T: Int, NH: Int, KVH: Int, HS: Int) -> [Double] {
        var out = [Double](repeating: 0, count: B * T * NH * HS)
        let g = NH / KVH, scale = 1 / Double(HS).squareRoot()
        for b in 0..<B { for h in 0..<NH { for t in 0..<T {
            let kh = h / g
            var s = [Double](repeating: -.infinity, count: T)
            for j in 0..<T where (!causal || j <= t) && (mask?[b * T + j] ?? 1) != 0 {
                var acc = 0.0
                for i in 0..<HS { acc += q[((b * T + t) * NH + h) * HS + i] * k[((b * T + j) * KVH + kh) * HS + i] }
                s[j] = acc * scale
            }
            let m = s.max() ?? 0
            guard m > -.infinity else { continue }
            let e = s.map { exp($0 - m) }, z = e.reduce(0, +)
            for i in 0..<HS {
                var acc = 0.0
                for j in 0..<T { acc += e[j] / z * v[((b * T + j) * KVH + kh) * HS + i] }
                out[((b * T + t) * NH + h) * HS + i] = acc
            }
        } } }
        return out
    }
    static func silu(_ x: Double) -> Double { x / (1 + exp(-x)) }
    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
    static func geluTanh(_ x: Double) -> Double { 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }
    static func softmax(_ x: [Double], N: Int, V: Int) -> [Double] {
        var y = x
        for n in 0..<N {
            let row = x[(n * V)..<((n + 1) * V)], m = row.max() ?? 0
            let z = row.reduce(0) { $0 + exp($1 - m) }
            for v in 0..<V { y[n * V + v] = exp(x[n * V + v] - m) / z }
        }
        return y
    }
    static func crossEntropy(_ x: [Double], _ targets: [Int32], N: Int, V: Int) -> [Double] {
        (0..<N).map { n in
            guard targets[n] >= 0 else { return 0 }
            let row = x[(n * V)..<((n + 1) * V)], m = row.max() ?? 0
            return m + log(row.reduce(0) { $0 + exp($1 - m) }) - x[n * V + Int(targets[n])]
        }
    }
}
