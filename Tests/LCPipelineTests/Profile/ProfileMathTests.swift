// Card statistics against naive Float64 references on random data: the streaming accumulator (padding rows,
// per-batch scales, the shared-input C path) vs explicit sums; resnorm/resnorm_lora/step D via Cholesky vs an
// explicit Gauss–Jordan inverse; resnorm's invariance to rescaling the input; SplitMix64/A0 seeding; layer
// aggregates; coupling symmetric with unit diagonal; analytic cost consistency.
@testable import LCCard
import LCCore
import LCKernels
import XCTest

/// Explicit inverse of a (d,d) matrix by Gauss–Jordan with partial pivoting (test reference only).
func invertNaive(_ A: [Double], _ d: Int) -> [Double] {
    var a = A, inv = [Double](repeating: 0, count: d * d)
    for i in 0..<d { inv[i * d + i] = 1 }
    for c in 0..<d {
        var p = c
        for r in c..<d where abs(a[r * d + c]) > abs(a[p * d + c]) { p = r }
        for k in 0..<d { a.swapAt(c * d + k, p * d + k); inv.swapAt(c * d + k, p * d + k) }
        let piv = a[c * d + c]
        for k in 0..<d { a[c * d + k] /= piv; inv[c * d + k] /= piv }
        for r in 0..<d where r != c {
            let f = a[r * d + c]
            if f == 0 { continue }
            for k in 0..<d { a[r * d + k] -= f * a[c * d + k]; inv[r * d + k] -= f * inv[c * d + k] }
        }
    }
    return inv
}

/// tr(G M⁻¹ Gᵀ) and −G M⁻¹ with M = C + λI, λ = 1e-3 tr(C)/d — the naive spec formula.
func naiveResnorm(G: [Double], dOut: Int, C: [Double], d: Int) -> (Double, [Double]) {
    var tr = 0.0
    for i in 0..<d { tr += C[i * d + i] }
    var M = C
    for i in 0..<d { M[i * d + i] += 1e-3 * tr / Double(d) }
    let inv = invertNaive(M, d)
    var s = 0.0, D = [Double](repeating: 0, count: dOut * d)
    for o in 0..<dOut {
        for j in 0..<d {
            var x = 0.0
            for k in 0..<d { x += G[o * d + k] * inv[k * d + j] }
            D[o * d + j] = -x
            s += x * G[o * d + j]
        }
    }
    return (s, D)
}

final class ProfileMathTests: XCTestCase {
    func randF(_ n: Int, _ s: Float = 1) -> [Float] { (0..<n).map { _ in Float.random(in: -s...s) } }
    func rel(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }

    struct ModBatch { var a: [Float]; var deltas: [String: [Float]]; var rows: [Range<Int>]; var scale: Double }

    /// Two batches of a layer with modules q,k (shared input, d=6) and o (own input, d=5), padding rows in between.
    func makeBatches(offsetRows: Bool = true) -> (batches: [ModBatch], bO: [[Float]]) {
        var out: [ModBatch] = [], oIn: [[Float]] = []
        for (bi, rows) in [[0..<3, 4..<7], [0..<5]].enumerated() {
            let T = 8
            var d: [String: [Float]] = [:]
            d["q"] = randF(T * 4); d["k"] = randF(T * 3); d["o"] = randF(T * 6)
            out.append(ModBatch(a: randF(T * 6, bi == 0 ? 1 : 3), deltas: d, rows: rows, scale: bi == 0 ? 0.25 : 0.75))
            oIn.append(randF(T * 5))
        }
        return (out, oIn)
    }

    func feed(_ acc: ModuleAccumulator, _ bs: [ModBatch], _ oIn: [[Float]]) {
        for (bi, b) in bs.enumerated() {
            b.a.withUnsafeBufferPointer { ap in
                let a = ap.baseAddress.unsafelyUnwrapped
                for (m, dOut) in [("o", 6), ("q", 4), ("k", 3)] {
                    let input = m == "o" ? oIn[bi] : nil
                    b.deltas[m]!.withUnsafeBufferPointer { dp in
                        if let input {
                            input.withUnsafeBufferPointer { ip in
                                acc.add(module: m, input: ip.baseAddress.unsafelyUnwrapped, outputGrad: dp.baseAddress.unsafelyUnwrapped,
                                        dIn: 5, dOut: dOut, rows: b.rows, scale: b.scale, batch: bi)
                            }
                        } else {
                            acc.add(module: m, input: a, outputGrad: dp.baseAddress.unsafelyUnwrapped, dIn: 6, dOut: dOut,
                                    rows: b.rows, scale: b.scale, batch: bi)
                        }
                    }
                }
            }
        }
    }

    func testAccumulatorMatchesNaiveWithSharedC() throws {
        let (bs, oIn) = makeBatches()
        let acc = ModuleAccumulator(layer: 3)
        feed(acc, bs, oIn)
        XCTAssertEqual(acc.groups.count, 2, "q and k share one input moment, o has its own")
        XCTAssertEqual(acc.groupOf["q"], acc.groupOf["k"])
        XCTAssertNotEqual(acc.groupOf["q"], acc.groupOf["o"])
        XCTAssertEqual(acc.rowCount(module: "q"), 11)
        for (m, dOut, dIn) in [("q", 4, 6), ("k", 3, 6), ("o", 6, 5)] {
            let ref = accumulateNaive(batches: bs.enumerated().map { (i, b) in (m == "o" ? oIn[i] : b.a, b.deltas[m]!, b.rows, b.scale) },
                                      dIn: dIn, dOut: dOut)
            let G = try XCTUnwrap(acc.grads[m])
            for i in 0..<(dIn * dOut) { XCTAssertEqual(G.G[i], ref.G[i], accuracy: 1e-5 * max(1, abs(ref.G[i])), "\(m) G[\(i)]") }
            let grp = acc.groups[try XCTUnwrap(acc.groupOf[m])]
            XCTAssertEqual(grp.N, ref.N)
            for i in 0..<dIn { for j in i..<dIn { XCTAssertEqual(grp.S[i * dIn + j], ref.S[i * dIn + j], accuracy: 1e-9 * max(1, abs(ref.S[i * dIn + j]))) } }
        }
    }

    func testStatisticsMatchExplicitInverse() throws {
        let (bs, oIn) = makeBatches()
        let acc = ModuleAccumulator(layer: 2)
        feed(acc, bs, oIn)
        let order = ["q", "k", "v", "o"]
        let st = try acc.statistics(moduleOrder: order, loraRank: 3, loraSeed: 99, wantSteps: true)
        XCTAssertEqual(st.modules.map(\.module), ["q", "k", "o"])
        for s in st.modules {
            let (dIn, dOut) = (s.d_in, s.d_out)
            let ref = accumulateNaive(batches: bs.enumerated().map { (i, b) in (s.module == "o" ? oIn[i] : b.a, b.deltas[s.module]!, b.rows, b.scale) },
                                      dIn: dIn, dOut: dOut)
            let C = ref.S.map { $0 / Double(ref.N) }
            let energy = (0..<dIn).reduce(0.0) { $0 + C[$1 * dIn + $1] }
            XCTAssertLessThan(rel(s.act_energy, energy), 1e-10)
            XCTAssertLessThan(rel(s.grad_norm, ref.G.reduce(0) { $0 + $1 * $1 }.squareRoot()), 1e-6)
            let (r2, D) = naiveResnorm(G: ref.G, dOut: dOut, C: C, d: dIn)
            XCTAssertLessThan(rel(s.resnorm, r2.squareRoot()), 1e-6, "\(s.module) resnorm")
            let step = try XCTUnwrap(st.steps[s.module]).denseValues
            for i in D.indices { XCTAssertEqual(Double(step[i]), D[i], accuracy: 1e-5 * max(1, abs(D[i]))) }
            // resnorm_lora: G_B = G A0ᵀ, C' = A0 C A0ᵀ with this module's seeded A0.
            let r = 3, A0 = loraA0(seed: 99, layer: 2, moduleIndex: try XCTUnwrap(order.firstIndex(of: s.module)), r: r, dIn: dIn)
            var GB = [Double](repeating: 0, count: dOut * r), Cp = [Double](repeating: 0, count: r * r)
            for o in 0..<dOut { for i in 0..<r { GB[o * r + i] = (0..<dIn).reduce(0.0) { $0 + ref.G[o * dIn + $1] * A0[i * dIn + $1] } } }
            for i in 0..<r { for j in 0..<r {
                var x = 0.0
                for a in 0..<dIn { for b in 0..<dIn { x += A0[i * dIn + a] * C[a * dIn + b] * A0[j * dIn + b] } }
                Cp[i * r + j] = x
            } }
            let (rl2, _) = naiveResnorm(G: GB, dOut: dOut, C: Cp, d: r)
            XCTAssertLessThan(rel(s.resnorm_lora, rl2.squareRoot()), 1e-6, "\(s.module) resnorm_lora")
            // λ_max by power iteration vs the Rayleigh bound: λ_max ≥ every diagonal entry, ≤ trace.
            let lmax = try XCTUnwrap(s.lambda_max)
            XCTAssertLessThanOrEqual(lmax, energy * (1 + 1e-12))
            XCTAssertGreaterThanOrEqual(lmax, (0..<dIn).map { C[$0 * dIn + $0] }.max()! * (1 - 1e-9))
            XCTAssertEqual(try XCTUnwrap(s.effective_rank), energy / lmax, accuracy: 1e-12)
        }
    }

    func testResnormInvariantToInputScale() throws {
        var results: [[ModuleStats]] = []
        let (bs, oIn) = makeBatches()
        for s: Float in [1, 37] {
            let acc = ModuleAccumulator(layer: 0)
            let scaled = bs.map { b -> ModBatch in var c = b; c.a = b.a.map { $0 * s }; return c }
            feed(acc, scaled, oIn.map { $0.map { $0 * s } })
            results.append(try acc.statistics(moduleOrder: ["q", "k", "o"], loraRank: 2, loraSeed: 1, wantSteps: false).modules)
        }
        for (a, b) in zip(results[0], results[1]) {
            XCTAssertLessThan(rel(b.resnorm, a.resnorm), 1e-5, "\(a.module): resnorm must not change with input scale")
            XCTAssertLessThan(rel(b.resnorm_lora, a.resnorm_lora), 1e-5)
            XCTAssertLessThan(rel(b.grad_norm, 37 * a.grad_norm), 1e-5, "grad_norm scales with the input")
            XCTAssertLessThan(rel(b.act_energy, 37 * 37 * a.act_energy), 1e-5)
        }
    }

    func testDegenerateInputIsAnErrorNamingTheModule() {
        let acc = ModuleAccumulator(layer: 4)
        let a = [Float](repeating: 0, count: 12), d = randF(8)
        acc.add(module: "down_proj", input: a, outputGrad: d, dIn: 3, dOut: 2, rows: [0..<4], scale: 1, batch: 0)
        XCTAssertThrowsError(try acc.statistics(moduleOrder: ["down_proj"], loraRank: 2, loraSeed: 1, wantSteps: false)) { e in
            XCTAssertTrue("\(e)".contains("layer 4 module down_proj"), "\(e)")
        }
    }

    func testSplitMix64AndA0() {
        var g = SplitMix64(seed: 0)
        XCTAssertEqual(g.next(), 0xE220_A839_7B1D_CDAF)  // published first output of SplitMix64 from seed 0
        XCTAssertEqual(g.next(), 0x6E78_9E6A_A1B9_65F4)
        let a = loraA0(seed: 1234, layer: 3, moduleIndex: 2, r: 4, dIn: 16)
        var h = SplitMix64(seed: 1234 ^ (3 << 32) ^ 2)
        XCTAssertEqual(a[0], (2 * h.nextUnit() - 1) / 4)
        XCTAssertTrue(a.allSatisfy { abs($0) <= 0.25 })
        XCTAssertNotEqual(a, loraA0(seed: 1234, layer: 3, moduleIndex: 1, r: 4, dIn: 16))
    }

    func testAggregatesAndSingleLayerGain() {
        let mods = [ModuleStats(layer: 1, module: "a", d_in: 2, d_out: 2, grad_norm: 3, act_energy: 1, resnorm: 1, resnorm_lora: 0.5),
                    ModuleStats(layer: 1, module: "b", d_in: 2, d_out: 2, grad_norm: 4, act_energy: 3, resnorm: 2, resnorm_lora: 0.5)]
        let s = layerAggregate(layer: 1, modules: mods)
        XCTAssertEqual(s.grad_norm, 5, accuracy: 1e-12)
        XCTAssertEqual(s.resnorm, 5.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.predicted_gain, 2.5, accuracy: 1e-12)
        XCTAssertEqual(s.act_energy_mean, 2, accuracy: 1e-12)
    }

    func testCouplingGramSymmetricUnitDiagonal() {
        let L = 4, n = 50
        let g = CouplingGram(layers: L)
        for _ in 0..<3 { g.add(randF(L * n), n: n) }
        let c = g.coupling()
        for i in 0..<L {
            XCTAssertEqual(c[i][i], 1)
            for j in 0..<L { XCTAssertEqual(c[i][j], c[j][i]); XCTAssertLessThanOrEqual(abs(c[i][j]), 1) }
        }
        // A zero direction gives 0 off the diagonal, not NaN.
        let z = CouplingGram(layers: 2)
        z.add([1, 2, 0, 0], n: 2)
        XCTAssertEqual(z.coupling(), [[1, 0], [0, 1]])
    }
}
