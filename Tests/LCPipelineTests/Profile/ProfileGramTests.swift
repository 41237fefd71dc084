// The Gram (row) form of the per-module statistics against the primal d × d form on the same random batches,
// for inputs narrower and wider than the number of rows (N > d and N < d), forced and automatic; the factored
// step direction D = −Δᵀ Z against its dense value; and the one-sweep coupling against the per-layer reference
// (perturbed model copies, one partial forward per layer and sign) on the tiny qwen3 with chunked stacking.
import Foundation
@testable import LCCard
import LCCore
import LCKernels
@testable import LCModel
@testable import LCPipeline
import XCTest

final class ProfileGramTests: XCTestCase {
    struct Fed { var acc: ModuleAccumulator }

    /// Two batches (T = 8, real rows 3+3 and 5, so N = 11) of modules q,k (shared input of width dA) and o (width dO).
    func batches(dA: Int, dO: Int, seed: UInt64) -> [(a: [Float], o: [Float], deltas: [String: [Float]], rows: [Range<Int>], scale: Double)] {
        var g = SplitMix64(seed: seed)
        func r(_ n: Int, _ s: Float = 1) -> [Float] { (0..<n).map { _ in s * Float(Double(g.next() >> 11) * 0x1p-53 * 2 - 1) } }
        return [[0..<3, 4..<7], [0..<5]].enumerated().map { bi, rows in
            let T = 8
            return (r(T * dA, bi == 0 ? 1 : 3), r(T * dO), ["q": r(T * 4), "k": r(T * 3), "o": r(T * 6)], rows, bi == 0 ? 0.25 : 0.75)
        }
    }

    func feed(_ acc: ModuleAccumulator, _ bs: [(a: [Float], o: [Float], deltas: [String: [Float]], rows: [Range<Int>], scale: Double)], dA: Int, dO: Int) {
        for (bi, b) in bs.enumerated() {
            for (m, dOut) in [("q", 4), ("o", 6), ("k", 3)] {
                let input = m == "o" ? b.o : b.a
                input.withUnsafeBufferPointer { ip in
                    b.deltas[m]!.withUnsafeBufferPointer { dp in
                        acc.add(module: m, input: ip.baseAddress!, outputGrad: dp.baseAddress!, dIn: m == "o" ? dO : dA, dOut: dOut,
                                rows: b.rows, scale: b.scale, batch: bi)
                    }
                }
            }
        }
    }

    func rel(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }

    /// Both forms against the Float64 naive reference (explicit sums, explicit inverse). When N < d, C is rank
    /// deficient and the primal D = −G (C+λI)⁻¹ amplifies the Float32 rounding of G outside A's row space by up to
    /// ~1e3·d/N (λ = 1e-3·tr(C)/d), so the primal step is only checked to 1e-3 there; the Gram form has no such
    /// component (its D lies in the row space by construction) and is checked tightly everywhere.
    func testGramFormEqualsPrimalForm() throws {
        for (dA, dO) in [(6, 5), (20, 16), (9, 40)] {
            let bs = batches(dA: dA, dO: dO, seed: UInt64(dA * 100 + dO))
            for gramRows: Int? in [nil, 0, 11] {
                let acc = ModuleAccumulator(layer: 1, gramRows: gramRows)
                feed(acc, bs, dA: dA, dO: dO)
                if gramRows == 0 { XCTAssertTrue(acc.groups.allSatisfy(\.gram)) }
                if gramRows == 11 { for g in acc.groups { XCTAssertEqual(g.gram, g.d > 11, "auto: Gram exactly when d > N") } }
                if gramRows == nil { XCTAssertTrue(acc.groups.allSatisfy { !$0.gram }) }
                let grams = Dictionary(uniqueKeysWithValues: acc.groups.flatMap { g in g.modules.map { ($0, g.gram) } })
                let st = try acc.statistics(moduleOrder: ["q", "k", "o"], loraRank: 3, loraSeed: 5, wantSteps: true)
                XCTAssertEqual(st.modules.map(\.module), ["q", "k", "o"])
                for s in st.modules {
                    let what = "d=(\(dA),\(dO)) gramRows \(gramRows.map(String.init) ?? "nil") \(s.module)"
                    let dIn = s.d_in, dOut = s.d_out
                    let ref = accumulateNaive(batches: bs.map { b in (s.module == "o" ? b.o : b.a, b.deltas[s.module]!, b.rows, b.scale) },
                                              dIn: dIn, dOut: dOut)
                    let C = ref.S.map { $0 / Double(ref.N) }
                    let (r2, D) = naiveResnorm(G: ref.G, dOut: dOut, C: C, d: dIn)
                    XCTAssertLessThan(rel(s.grad_norm, ref.G.reduce(0) { $0 + $1 * $1 }.squareRoot()), 1e-6, what)
                    XCTAssertLessThan(rel(s.act_energy, (0..<dIn).reduce(0.0) { $0 + C[$1 * dIn + $1] }), 1e-12, what)
                    XCTAssertLessThan(rel(s.resnorm, r2.squareRoot()), 1e-6, what)
                    let step = try XCTUnwrap(st.steps[s.module]).denseValues
                    let scale = D.reduce(0) { max($0, abs($1)) }
                    let tol = (grams[s.module] ?? false) || ref.N >= dIn ? 1e-5 : 1e-3
                    for i in D.indices { XCTAssertEqual(Double(step[i]), D[i], accuracy: tol * scale, "\(what) D[\(i)]") }
                }
                // resnorm_lora and λ_max: the Gram form equals the primal form.
                if gramRows != nil {
                    let p = ModuleAccumulator(layer: 1)
                    feed(p, bs, dA: dA, dO: dO)
                    let ps = try p.statistics(moduleOrder: ["q", "k", "o"], loraRank: 3, loraSeed: 5, wantSteps: false)
                    for (a, b) in zip(st.modules, ps.modules) {
                        XCTAssertLessThan(rel(a.resnorm_lora, b.resnorm_lora), 1e-6, "resnorm_lora \(a.module)")
                        XCTAssertLessThan(rel(try XCTUnwrap(a.lambda_max), try XCTUnwrap(b.lambda_max)), 1e-4, "λ_max \(a.module)")
                    }
                }
            }
        }
    }

    /// One batch that brings every expected row (the single-batch profile's one-pass row copy, split rows and a
    /// scale ≠ 1 included) gives the primal form's statistics; so does scale 1 (where Δ is not rescaled).
    func testSingleBatchGramRowsEqualPrimal() throws {
        for scale in [0.25, 1.0] {
            var bs = Array(batches(dA: 20, dO: 16, seed: 77).prefix(1)); bs[0].scale = scale
            let gram = ModuleAccumulator(layer: 0, gramRows: 6), primal = ModuleAccumulator(layer: 0)
            feed(gram, bs, dA: 20, dO: 16); feed(primal, bs, dA: 20, dO: 16)
            XCTAssertTrue(gram.groups.allSatisfy(\.gram))
            let a = try gram.statistics(moduleOrder: ["q", "k", "o"], loraRank: 3, loraSeed: 5, wantSteps: false)
            let b = try primal.statistics(moduleOrder: ["q", "k", "o"], loraRank: 3, loraSeed: 5, wantSteps: false)
            for (x, y) in zip(a.modules, b.modules) {
                XCTAssertLessThan(rel(x.grad_norm, y.grad_norm), 1e-6, "grad_norm \(x.module) scale \(scale)")
                XCTAssertLessThan(rel(x.act_energy, y.act_energy), 1e-6, "act_energy \(x.module) scale \(scale)")
                XCTAssertLessThan(rel(x.resnorm, y.resnorm), 1e-5, "resnorm \(x.module) scale \(scale)")
            }
        }
    }

    func testLowRankStepMatchesDense() {
        var g = SplitMix64(seed: 11)
        func r(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(g.next() >> 11) * 0x1p-53 - 0.5) } }
        let n = 5, dOut = 7, dIn = 9
        let delta = r(n * dOut), z = r(n * dIn), w = r(dOut * dIn)
        let step = StepDirection.lowRank(delta: delta, z: z, n: n)
        XCTAssertEqual(step.count, dOut * dIn)
        var D = [Double](repeating: 0, count: dOut * dIn)
        for o in 0..<dOut { for i in 0..<dIn { for k in 0..<n { D[o * dIn + i] -= Double(delta[k * dOut + o]) * Double(z[k * dIn + i]) } } }
        let dense = step.denseValues
        for i in D.indices { XCTAssertEqual(Double(dense[i]), D[i], accuracy: 1e-6) }
        XCTAssertEqual(step.frobeniusNormSquared(), D.reduce(0) { $0 + $1 * $1 }, accuracy: 1e-9 * D.reduce(0) { $0 + $1 * $1 })
        var out = [Float](repeating: 0, count: dOut * dIn)
        w.withUnsafeBufferPointer { wb in out.withUnsafeMutableBufferPointer { step.addScaled(0.5, to: wb.baseAddress!, out: $0.baseAddress!) } }
        for i in D.indices { XCTAssertEqual(Double(out[i]), Double(w[i]) + 0.5 * D[i], accuracy: 1e-6) }
        XCTAssertEqual(StepDirection.dense(dense).frobeniusNormSquared(), step.frobeniusNormSquared(), accuracy: 1e-6)
    }

    /// The sweep (all streams through each layer together, chunked) vs the per-layer reference.
    func testCouplingSweepEqualsPerLayerReference() throws {
        let ws = FileManager.default.temporaryDirectory.appendingPathComponent("lc-coupling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: ws, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: ws) }
        let tiny = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny/qwen3")
        XCTAssertEqual(try runLayercard(["ingest", tiny.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("outputs").path).first)
        let store = try StoreWeights(workspace: Workspace(root: ws), model: id)
        let config = try XCTUnwrap(store.manifest.config)
        let model = try TransformerModel(config: config, weights: store, memory: MemoryOptions())
        let L = config.numLayers, C = config.hiddenSize, arch = config.architecture
        var g = SplitMix64(seed: 3)
        let batches: [[[Int]]] = [[(0..<9).map { _ in Int(g.next() % 96) }, (0..<5).map { _ in Int(g.next() % 96) }],
                                  [(0..<7).map { _ in Int(g.next() % 96) }]]
        let order = Architecture.modules(arch)
        var steps: [[String: StepDirection]] = []
        for l in 0..<L {
            var s: [String: StepDirection] = [:]
            for m in order {
                guard let role = moduleWeightRole(arch: arch, module: m), let w = try model.layerWeights(l)[role] else { continue }
                // Alternate dense and low-rank directions (n = 3 rows).
                if (l + s.count) % 2 == 0 {
                    s[m] = .dense((0..<w.count).map { _ in Float(Double(g.next() >> 11) * 0x1p-53 - 0.5) })
                } else {
                    let din = m == "down_proj" ? config.intermediateSize : (m == "o_proj" ? config.numHeads * config.headDim : C)
                    let dout = w.count / din
                    s[m] = .lowRank(delta: (0..<(3 * dout)).map { _ in Float(Double(g.next() >> 11) * 0x1p-53 - 0.5) },
                                    z: (0..<(3 * din)).map { _ in Float(Double(g.next() >> 11) * 0x1p-53 - 0.5) }, n: 3)
                }
            }
            steps.append(s)
        }
        // Reference: per layer, two perturbed model copies and partial forwards from the cached block input.
        var eps = [Double](repeating: 0, count: L)
        for l in 0..<L {
            var w2 = 0.0, d2 = 0.0
            for m in order {
                guard let role = moduleWeightRole(arch: arch, module: m), let w = try model.layerWeights(l)[role], let d = steps[l][m] else { continue }
                for i in 0..<w.count { w2 += Double(w.ptr[i]) * Double(w.ptr[i]) }
                d2 += d.denseValues.reduce(0.0) { $0 + Double($1) * Double($1) }
            }
            eps[l] = ProfileCoupling.relativeStep * w2.squareRoot() / d2.squareRoot()
        }
        var gram = [Double](repeating: 0, count: L * L)
        for ids in batches {
            let batch = try model.makeBatch(ids)
            let rows = realRows(batch.lengths)
            let (inputs, _) = model.blockInputs(batch)
            var U: [[Double]] = []
            for l in 0..<L {
                var h: [FloatBuffer] = []
                for sign in [1.0, -1.0] {
                    var lw = try model.layerWeights(l)
                    for m in order {
                        guard let role = moduleWeightRole(arch: arch, module: m), let w = lw[role], let d = steps[l][m] else { continue }
                        let dv = d.denseValues, nb = FloatBuffer(count: w.count)
                        for i in 0..<w.count { nb.ptr[i] = w.ptr[i] + Float(sign * eps[l]) * dv[i] }
                        lw.buffers[role] = nb
                    }
                    let pm = try model.replacingLayerWeights(l, with: lw)
                    h.append(pm.finalHidden(pm.forwardFrom(layer: l, input: inputs[l], batch: batch), batch: batch))
                }
                var u: [Double] = []
                for r in rows { for i in (r.lowerBound * C)..<(r.upperBound * C) { u.append(Double(h[0].ptr[i] - h[1].ptr[i]) / (2 * eps[l])) } }
                U.append(u)
            }
            for a in 0..<L { for b in 0..<L { gram[a * L + b] += zip(U[a], U[b]).reduce(0) { $0 + $1.0 * $1.1 } } }
        }
        for work in [1, 3 * 4 * BlockActivations.floatCount(config: config, B: 2, T: 9), 1 << 30] {
            var owned = steps
            let cpl = try ProfileCoupling.compute(model: model, batches: batches, steps: &owned, order: order, workBytes: work) { _ in }
            XCTAssertTrue(owned.allSatisfy(\.isEmpty), "directions are released after the last batch")
            for a in 0..<L {
                XCTAssertEqual(cpl[a][a], 1)
                for b in 0..<L {
                    let ref = gram[a * L + b] / (gram[a * L + a] * gram[b * L + b]).squareRoot()
                    XCTAssertEqual(cpl[a][b], ref, accuracy: 2e-3, "coupling[\(a)][\(b)] with workBytes \(work)")
                    XCTAssertEqual(cpl[a][b], cpl[b][a])
                }
            }
        }
    }
}
