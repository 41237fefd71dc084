// LoRA trainer checks on the tiny llama fixture (2 layers): A's seeded init, fast vs naive (Float64 G) adapter
// gradients, adapter gradients vs central finite differences of the loss, truncated backward == full backward,
// one Adam step against its closed form, determinism for a seed; and, on a generated 8-layer llama, that the
// step time falls when the adapted layer moves toward the output (truncated backward).
import Foundation
import LCCore
import LCKernels
import LCModel
import XCTest

final class LoRATests: XCTestCase {
    func tiny() throws -> (TransformerModel, [[Int]], [[Bool]]) {
        let g = try loadJSON(repoRoot().appendingPathComponent("Tests/Fixtures/tiny/golden.json"))
        let tokens = ((g["tokens"] as? [Any]) ?? []).map(ints)
        XCTAssertGreaterThanOrEqual(tokens.count, 2)
        // Prompt/response-like mask: the first third of each sequence is context only.
        let mask = tokens.map { s in s.indices.map { $0 > 0 && $0 >= s.count / 3 } }
        return (try TinyForwardTests.model("llama"), tokens, mask)
    }

    /// Deterministic pseudo-random values in [-scale, scale].
    func noise(_ n: Int, seed: UInt64, scale: Float) -> [Float] {
        var g = ProbeRNG(seed: seed)
        return (0..<n).map { _ in Float(2 * g.nextUnit() - 1) * scale }
    }

    func withRandomB(_ t: LoRATrainer, scale: Float = 0.05) throws {
        for i in t.adapters.indices { try t.setParameters(i, b: noise(t.adapters[i].b.count, seed: UInt64(100 + i), scale: scale)) }
    }

    func testAInitFollowsDecisionsScheme() throws {
        let (m, _, _) = try tiny()
        let t = try LoRATrainer(model: m, layers: [1], options: LoRAOptions(rank: 4, seed: 77))
        XCTAssertEqual(t.adapters.map(\.module), Architecture.modules("llama"))
        for (j, ad) in t.adapters.enumerated() {
            // Independent SplitMix64 (docs/decisions.md) for module j of layer 1.
            var state: UInt64 = 77 ^ (1 << 32) ^ UInt64(j)
            func next() -> UInt64 {
                state = state &+ 0x9E3779B97F4A7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
                return z ^ (z >> 31)
            }
            let bound = 1 / Double(ad.dIn).squareRoot()
            let want = (0..<(4 * ad.dIn)).map { _ in Float((2 * (Double(next() >> 11) * 0x1p-53) - 1) * bound) }
            XCTAssertEqual(ad.a, want, ad.module)
            XCTAssertTrue(ad.b.allSatisfy { $0 == 0 })
            XCTAssertLessThanOrEqual(ad.a.map { abs(Double($0)) }.max() ?? 1, bound)
        }
        // B = 0: the merged model computes exactly the base loss.
        let (_, tokens, mask) = try tiny()
        XCTAssertEqual(try t.loss(tokens: tokens, targetMask: mask).sum, try m.loss(tokens: tokens, targetMask: mask).sum)
    }

    func testFastGradientsMatchNaive() throws {
        let (m, tokens, mask) = try tiny()
        let t = try LoRATrainer(model: m, layers: [0, 1], options: LoRAOptions(rank: 3))
        try withRandomB(t)
        let fast = try t.gradients(tokens: tokens, targetMask: mask)
        let naive = try t.gradients(tokens: tokens, targetMask: mask, naive: true)
        for i in t.adapters.indices {
            let scale = Float(max(1e-3, Double(naive.a[i].map { abs($0) }.max() ?? 0)))
            for (x, y) in zip(fast.a[i], naive.a[i]) { XCTAssertEqual(x, y, accuracy: 1e-4 * scale) }
            let sb = Float(max(1e-3, Double(naive.b[i].map { abs($0) }.max() ?? 0)))
            for (x, y) in zip(fast.b[i], naive.b[i]) { XCTAssertEqual(x, y, accuracy: 1e-4 * sb) }
            XCTAssertGreaterThan(naive.a[i].map { abs($0) }.max() ?? 0, 0, "dA must be nonzero once B ≠ 0")
        }
    }

    /// Directional central differences: (L(θ+εv) − L(θ−εv)) / 2ε vs ∇L·v, for the gradient direction and two random ones.
    func testAdapterGradientsMatchFiniteDifferences() throws {
        let (m, tokens, mask) = try tiny()
        let t = try LoRATrainer(model: m, layers: [0, 1], options: LoRAOptions(rank: 4, alpha: 8))
        try withRandomB(t, scale: 0.2)
        let a0 = t.adapters.map(\.a), b0 = t.adapters.map(\.b)
        let g = try t.gradients(tokens: tokens, targetMask: mask)
        let flat = (g.a + g.b).flatMap { $0 }.map(Double.init)
        let gnorm = flat.reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertGreaterThan(gnorm, 1e-4)
        var dirs: [[Double]] = [flat.map { $0 / gnorm }]
        for s in [1, 2] as [UInt64] {
            let v = noise(flat.count, seed: 900 + s, scale: 1).map(Double.init)
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            dirs.append(v.map { $0 / n })
        }
        func lossAt(_ v: [Double], _ eps: Double) throws -> Double {
            var off = 0
            for i in t.adapters.indices {
                let na = a0[i].count, nb = b0[i].count
                let a = (0..<na).map { a0[i][$0] + Float(eps * v[off + $0]) }; off += na
                try t.setParameters(i, a: a)
            }
            for i in t.adapters.indices {
                let nb = b0[i].count
                let b = (0..<nb).map { b0[i][$0] + Float(eps * v[off + $0]) }; off += nb
                try t.setParameters(i, b: b)
            }
            return try t.loss(tokens: tokens, targetMask: mask).mean
        }
        for (d, v) in dirs.enumerated() {
            let analytic = zip(flat, v).reduce(0) { $0 + $1.0 * $1.1 }
            let eps = 1e-2
            let fd = (try lossAt(v, eps) - lossAt(v, -eps)) / (2 * eps)
            XCTAssertEqual(fd, analytic, accuracy: 2e-2 * max(abs(analytic), 0.05 * gnorm), "direction \(d): fd \(fd) vs \(analytic)")
        }
    }

    func testTruncatedBackwardGivesSameAdapterGradients() throws {
        let (m, tokens, mask) = try tiny()
        let t = try LoRATrainer(model: m, layers: [1], options: LoRAOptions(rank: 4))
        try withRandomB(t)
        let tr = try t.gradients(tokens: tokens, targetMask: mask, truncate: true)
        let full = try t.gradients(tokens: tokens, targetMask: mask, truncate: false)
        XCTAssertEqual(tr.a, full.a); XCTAssertEqual(tr.b, full.b)
        XCTAssertEqual(tr.loss.sum, full.loss.sum)
        // The truncated backward does not visit layer 0.
        var visited = Set<Int>()
        _ = try m.lossAndBackward(tokens: tokens, targetMask: mask, stopAtLayer: 1) { visited.insert($0.layer) }
        XCTAssertEqual(visited, [1])
    }

    func testFirstAdamStepClosedForm() throws {
        let (m, tokens, mask) = try tiny()
        let t = try LoRATrainer(model: m, layers: [1], options: LoRAOptions(rank: 2, lr: 1e-3))
        let g = try t.gradients(tokens: tokens, targetMask: mask)
        let a0 = t.adapters.map(\.a), b0 = t.adapters.map(\.b)
        try t.step(tokens: tokens, targetMask: mask)
        for i in t.adapters.indices {
            XCTAssertEqual(t.adapters[i].a, a0[i], "B = 0 ⇒ dA = 0 ⇒ A unchanged by the first step")
            for (j, gb) in g.b[i].enumerated() {  // Adam step 1: Δ = −lr·g/(|g| + eps)
                let want = Double(b0[i][j]) - 1e-3 * Double(gb) / (abs(Double(gb)) + 1e-8)
                XCTAssertEqual(Double(t.adapters[i].b[j]), want, accuracy: 1e-10)
            }
        }
        XCTAssertEqual(t.steps, 1)
    }

    func testDeterministicForSeed() throws {
        let (m, tokens, mask) = try tiny()
        func train(_ seed: UInt64) throws -> ([[Float]], [Double]) {
            let t = try LoRATrainer(model: m, layers: [0, 1], options: LoRAOptions(rank: 4, seed: seed, lr: 5e-3))
            var losses: [Double] = []
            for _ in 0..<3 { losses.append(try t.step(tokens: tokens, targetMask: mask).mean) }
            losses.append(try t.loss(tokens: tokens, targetMask: mask).mean)
            return (t.adapters.map(\.a) + t.adapters.map(\.b), losses)
        }
        let x = try train(5), y = try train(5), z = try train(6)
        XCTAssertEqual(x.0, y.0); XCTAssertEqual(x.1, y.1)
        XCTAssertNotEqual(x.0, z.0)
        XCTAssertLessThan(x.1[3], x.1[0], "three Adam steps on the same batch lower its loss")
    }

    /// A random 8-layer llama (C 192, I 512) in memory.
    static func generatedLlama(layers: Int = 8) throws -> TransformerModel {
        let C = 192, I = 512, V = 512, H = 6, KV = 2, HS = 32
        let cfg = ModelConfig(architecture: "llama", numLayers: layers, hiddenSize: C, numHeads: H, numKVHeads: KV, headDim: HS,
                              intermediateSize: I, vocabSize: V, normEps: 1e-5, rope: RopeConfig(theta: 10000), tiedEmbeddings: true,
                              maxPositions: 256, activation: "silu", attentionBias: false)
        var g = ProbeRNG(seed: 42)
        func t(_ shape: [Int], _ s: Float) -> Tensor { Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(2 * g.nextUnit() - 1) * s }) }
        var ts: [String: Tensor] = ["model.embed_tokens.weight": t([V, C], 0.05), "model.norm.weight": Tensor(shape: [C], data: .init(repeating: 1, count: C))]
        for l in 0..<layers {
            let n = TensorNames.layerTensors(arch: "llama", layer: l)
            for (r, s) in [("q", [H * HS, C]), ("k", [KV * HS, C]), ("v", [KV * HS, C]), ("o", [C, H * HS]), ("gate", [I, C]), ("up", [I, C]),
                           ("down", [C, I])] { ts[n[r] ?? r] = t(s, 0.05) }
            ts[n["attn_norm"] ?? ""] = Tensor(shape: [C], data: .init(repeating: 1, count: C))
            ts[n["ffn_norm"] ?? ""] = Tensor(shape: [C], data: .init(repeating: 1, count: C))
        }
        return try TransformerModel(config: cfg, weights: DictionaryWeights(ts))
    }

    /// Why the probe's step time falls toward the output: a step adapting only layer l runs the backward through
    /// blocks l…L-1 only. Asserted on the work done (blocks visited by the backward), which is deterministic; the
    /// wall times are printed as figures, never asserted (machines here are shared and noisy).
    func testStepWorkFallsTowardTheOutput() throws {
        let m = try Self.generatedLlama()
        var g = ProbeRNG(seed: 3)
        let tokens = (0..<4).map { _ in (0..<96).map { _ in Int(g.next(below: 512)) } }
        let L = m.config.numLayers
        var visitedLayers: [Int] = []
        for l in 0..<L {
            var layers = Set<Int>()
            _ = try m.lossAndBackward(tokens: tokens, targetMask: nil, stopAtLayer: l) { layers.insert($0.layer) }
            XCTAssertEqual(layers, Set(l..<L), "adapting layer \(l) back-propagates through layers \(l)…\(L - 1) only")
            visitedLayers.append(layers.count)
        }
        XCTAssertEqual(visitedLayers, Array((1...L).reversed()), "backward work falls linearly toward the output")
        func median(_ layer: Int) throws -> Double {
            let t = try LoRATrainer(model: m, layers: [layer], options: LoRAOptions(rank: 8))
            var times: [Double] = []
            for _ in 0..<3 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try t.step(tokens: tokens, targetMask: nil)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0))
            }
            return times.sorted()[1]
        }
        print("[figure] LoRA step time, layer 0: \(try median(0) / 1e6) ms, layer \(L - 1): \(try median(L - 1) / 1e6) ms")
    }
}
