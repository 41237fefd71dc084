// Memory-bounded execution against the all-in-memory reference: streamed weights + activation checkpointing
// (forced by a 1-byte budget) and resident + checkpointing must give the resident results — forward logits /
// pooled embeddings, loss, every module's (a, delta) from the backward visitor — on the tiny llama, qwen2, qwen3,
// gpt2, bert fixtures and on SmolLM2; the blockwise LM-head cross-entropy against the full one; and a
// finite-difference check of dL/dW = Σ deltaᵀa on the streamed, checkpointed backward.
import Foundation
import LCKernels
import LCModel
import XCTest

final class StreamingTests: XCTestCase {
    struct Pair { var a: [Float]; var d: [Float] }

    /// Loss (mean; encoder: squared loss) and every module's (a, delta), keyed "layer.module".
    static func backward(_ m: TransformerModel, _ tokens: [[Int]], targets: [[Float]]? = nil) throws -> (Double, [String: Pair]) {
        var pairs: [String: Pair] = [:]
        let visit: (ModuleGradient) -> Void = { mg in
            pairs["\(mg.layer).\(mg.module)"] = Pair(a: Array(UnsafeBufferPointer(start: mg.input, count: mg.N * mg.dIn)),
                                                     d: Array(UnsafeBufferPointer(start: mg.outputGrad, count: mg.N * mg.dOut)))
        }
        if m.isCausal { return (try m.lossAndBackward(tokens: tokens, visit: visit).mean, pairs) }
        return (try m.embeddingLossAndBackward(tokens: tokens, targets: targets ?? [], visit: visit), pairs)
    }

    func tinyTokens() throws -> [[Int]] {
        let g = try loadJSON(repoRoot().appendingPathComponent("Tests/Fixtures/tiny/golden.json"))
        return ((g["tokens"] as? [Any]) ?? []).map(ints)
    }

    /// `other` equals `ref`: exactly when `exact`, else within `tol` (max abs diff / max abs).
    func same(_ other: [Float], _ ref: [Float], exact: Bool, tol: Double, _ what: String) {
        XCTAssertEqual(other.count, ref.count, what)
        guard other.count == ref.count else { return }
        if exact { XCTAssertTrue(other == ref, "\(what): not bit-identical (rel err \(relError(other, ref)))") }
        else { XCTAssertLessThanOrEqual(relError(other, ref), tol, what) }
    }

    func compare(_ arch: String) throws {
        let tokens = try tinyTokens()
        let resident = try TinyForwardTests.model(arch)
        XCTAssertFalse(resident.streamsWeights)
        let streamed = try TinyForwardTests.model(arch, memory: MemoryOptions(budget: 1))
        XCTAssertTrue(streamed.streamsWeights)
        XCTAssertTrue(streamed.memoryPlan.checkpoints(B: tokens.count, T: 8))
        XCTAssertTrue(streamed.weights.layers.isEmpty && streamed.weights.global["embed"] == nil)
        let ckpt = try TinyForwardTests.model(arch, memory: MemoryOptions(streamWeights: false, checkpointActivations: true))
        XCTAssertFalse(ckpt.streamsWeights)

        let fr = try resident.forward(tokens: tokens), fs = try streamed.forward(tokens: tokens)
        if resident.isCausal {
            same(try XCTUnwrap(fs.logits).array, try XCTUnwrap(fr.logits).array, exact: false, tol: 1e-6, "\(arch) logits")
            let lr = try resident.loss(tokens: tokens), ls = try streamed.loss(tokens: tokens)
            XCTAssertEqual(ls.count, lr.count)
            XCTAssertEqual(ls.mean, lr.mean, accuracy: 1e-6 * max(1, abs(lr.mean)), "\(arch) loss")
            let mask = tokens.map { s in s.indices.map { $0 >= 2 } }
            let mr = try resident.loss(tokens: tokens, targetMask: mask), ms = try streamed.loss(tokens: tokens, targetMask: mask)
            XCTAssertEqual(ms.count, mr.count)
            XCTAssertEqual(ms.mean, mr.mean, accuracy: 1e-6 * max(1, abs(mr.mean)), "\(arch) masked loss")
        } else {
            same(try XCTUnwrap(fs.pooled), try XCTUnwrap(fr.pooled), exact: true, tol: 0, "\(arch) pooled")
        }
        var targets: [[Float]]?
        if !resident.isCausal {
            let C = resident.config.hiddenSize
            targets = (0..<tokens.count).map { b in (0..<C).map { Float(sin(Double(b * C + $0))) * 0.1 } }
        }
        let (Lr, pr) = try Self.backward(resident, tokens, targets: targets)
        let (Ls, ps) = try Self.backward(streamed, tokens, targets: targets)
        let (Lc, pc) = try Self.backward(ckpt, tokens, targets: targets)
        XCTAssertEqual(pr.count, resident.config.numLayers * TensorNames.modules(arch: arch).count)
        XCTAssertEqual(Set(ps.keys), Set(pr.keys)); XCTAssertEqual(Set(pc.keys), Set(pr.keys))
        XCTAssertEqual(Lc, Lr, "\(arch): checkpointed loss differs")
        XCTAssertEqual(Ls, Lr, accuracy: 1e-6 * max(1, abs(Lr)), "\(arch) streamed loss")
        var worst = 0.0
        for (k, r) in pr {
            guard let s = ps[k], let c = pc[k] else { continue }
            same(c.a, r.a, exact: true, tol: 0, "\(arch) \(k) a (checkpointed)")
            same(c.d, r.d, exact: true, tol: 0, "\(arch) \(k) delta (checkpointed)")
            same(s.a, r.a, exact: true, tol: 0, "\(arch) \(k) a (streamed)")
            // The blockwise head rounds the softmax differently from the full one (Float64 log-sum-exp).
            same(s.d, r.d, exact: !resident.isCausal, tol: 1e-6, "\(arch) \(k) delta (streamed)")
            worst = max(worst, relError(s.d, r.d))
        }
        print("[\(arch) streaming] \(pr.count) modules; streamed delta worst rel err \(worst); loss \(Lr) vs \(Ls)")
    }

    func testLlamaStreamedEqualsResident() throws { try compare("llama") }
    func testQwen2StreamedEqualsResident() throws { try compare("qwen2") }
    func testQwen3StreamedEqualsResident() throws { try compare("qwen3") }
    func testGPT2StreamedEqualsResident() throws { try compare("gpt2") }
    func testBertStreamedEqualsResident() throws { try compare("bert") }

    func testMemoryPlanChoosesFromBudget() throws {
        let big = try TinyForwardTests.model("llama", memory: MemoryOptions(budget: 1 << 40))
        XCTAssertFalse(big.streamsWeights); XCTAssertFalse(big.memoryPlan.checkpoints(B: 4, T: 64))
        let w = big.memoryPlan.weightBytes
        // Weights fit (≤ 60% of the budget): resident; a long batch's activations do not fit → checkpointed,
        // a 2-token batch's do → kept.
        let mid = try TinyForwardTests.model("llama", memory: MemoryOptions(budget: 2 * w))
        XCTAssertFalse(mid.streamsWeights)
        XCTAssertGreaterThan(mid.memoryPlan.activationBytes(B: 4, T: 64) * 2, 2 * w)
        XCTAssertTrue(mid.memoryPlan.checkpoints(B: 4, T: 64))
        XCTAssertFalse(mid.memoryPlan.checkpoints(B: 1, T: 2))
        let tiny = try TinyForwardTests.model("llama", memory: MemoryOptions(budget: w / 2))
        XCTAssertTrue(tiny.streamsWeights)
        XCTAssertNotNil(MemoryPlan.availableMemoryBytes())
        XCTAssertGreaterThan(MemoryPlan.defaultBudget(), 0)
        XCTAssertThrowsError(try tiny.layerWeights(2))
        XCTAssertEqual(try tiny.layerWeights(1).bytes, try big.layerWeights(1).bytes)
    }

    /// A streamed model whose source loses a tensor after construction: the stage API reports, never traps.
    func testStreamedReadErrorIsThrown() throws {
        let src = try TinyForwardTests.source("llama")
        var dict: [String: Tensor] = [:]
        for name in src.entries.keys { dict[name] = try src.tensor(name) }
        let flaky = FlakySource(inner: DictionaryWeights(dict), failing: "model.layers.1.mlp.down_proj.weight")
        let m = try TransformerModel(config: TinyForwardTests.config("llama"), weights: flaky, memory: MemoryOptions(budget: 1))
        flaky.broken.withLock { $0 = true }
        XCTAssertThrowsError(try m.forward(tokens: [[1, 2, 3]]))
        XCTAssertThrowsError(try m.lossAndBackward(tokens: [[1, 2, 3]]) { _ in })
        let b = try m.makeBatch([[1, 2, 3]])
        let acts = BlockActivations(config: m.config, B: 1, T: 3)
        m.block(1, acts: acts, batch: b)
        XCTAssertTrue(acts.output.array.allSatisfy(\.isNaN))
        XCTAssertThrowsError(try m.throwIfWeightReadFailed())
        XCTAssertNoThrow(try m.throwIfWeightReadFailed())  // reported once
    }

    // MARK: blockwise head

    func testBlockwiseHeadCrossEntropyMatchesFull() {
        let N = 6, C = 10, V = 37
        var seed: UInt64 = 99
        func rnd() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2000 - 1000) / 1000 }
        for scale: Float in [1, 40] {  // 40: large logits exercise the online max rescaling
            let h = FloatBuffer((0..<(N * C)).map { _ in rnd() * scale }), W = FloatBuffer((0..<(V * C)).map { _ in rnd() })
            let targets: [Int32] = [3, -1, 36, 0, 17, 17]
            let P = targets.filter { $0 >= 0 }.count
            let dl = FloatBuffer(targets.map { $0 >= 0 ? 1 / Float(P) : 0 })
            let logits = FloatBuffer(count: N * V), refLoss = FloatBuffer(count: N), dlog = FloatBuffer(count: N * V)
            let refDh = FloatBuffer(count: N * C)
            matmulNaive(out: logits.ptr, inp: h.cptr, weight: W.cptr, bias: nil, N: N, C: C, OC: V)
            let refSum = targets.withUnsafeBufferPointer { tp -> Double in
                let t = tp.baseAddress!
                let s = crossEntropy(losses: refLoss.ptr, logits: logits.cptr, targets: t, N: N, V: V)
                crossEntropyBackward(dlogits: dlog.ptr, dlosses: dl.cptr, logits: logits.cptr, targets: t, N: N, V: V)
                return s
            }
            matmulBackwardNaive(dinp: refDh.ptr, dweight: nil, dbias: nil, dout: dlog.cptr, inp: h.cptr, weight: W.cptr, N: N, C: C, OC: V)
            for R in [1, 7, 36, 37, 100] {
                let losses = FloatBuffer(count: N), dh = FloatBuffer(count: N * C)
                var calls = 0
                let sum = targets.withUnsafeBufferPointer { tp in
                    blockwiseHeadCrossEntropy(losses: losses.ptr, h: h.cptr, targets: tp.baseAddress!, dlosses: dl.cptr, dh: dh.ptr,
                                              N: N, C: C, V: V, blockRows: R) { r in
                        calls += 1
                        return FloatBuffer(Array(UnsafeBufferPointer(start: W.cptr + r.lowerBound * C, count: r.count * C)))
                    }
                }
                XCTAssertEqual(calls, 2 * ((V + min(R, V) - 1) / min(R, V)), "two passes over the blocks")
                XCTAssertEqual(sum, refSum, accuracy: 1e-6 * abs(refSum), "scale \(scale) R \(R) loss sum")
                XCTAssertLessThanOrEqual(relError(losses.array, refLoss.array), 1e-6, "scale \(scale) R \(R) losses")
                XCTAssertEqual(losses.ptr[1], 0)
                XCTAssertLessThanOrEqual(relError(dh.array, refDh.array), 1e-5, "scale \(scale) R \(R) dh")
            }
        }
    }

    // MARK: finite differences on the streamed, checkpointed backward

    func fdCheck(_ arch: String, role: String, layer: Int) throws {
        let tokens = try tinyTokens()
        let src = try TinyForwardTests.source(arch)
        var dict: [String: Tensor] = [:]
        for name in src.entries.keys { dict[name] = try src.tensor(name) }
        let opts = MemoryOptions(budget: 1)
        let cfg = TinyForwardTests.config(arch)
        let m = try TransformerModel(config: cfg, weights: DictionaryWeights(dict), memory: opts)
        XCTAssertTrue(m.streamsWeights && m.memoryPlan.checkpoints(B: 3, T: 8))
        let module = try XCTUnwrap(TensorNames.moduleRoles(arch: arch).first { $0.value == role }?.key)
        let name = try XCTUnwrap(TensorNames.layerTensors(arch: arch, layer: layer)[role])
        let W = try XCTUnwrap(dict[name])
        var G: [Float] = []
        _ = try m.lossAndBackward(tokens: tokens) { mg in
            guard mg.layer == layer, mg.module == module else { return }
            let g = FloatBuffer(count: mg.dOut * mg.dIn)
            matmulBackward(dinp: nil, dweight: g.ptr, dbias: nil, dout: mg.outputGrad, inp: mg.input, weight: mg.input,
                           N: mg.N, C: mg.dIn, OC: mg.dOut)
            G = g.array
        }
        XCTAssertEqual(G.count, W.data.count)
        var seed: UInt64 = 7
        let D = W.data.indices.map { _ -> Float in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
        let analytic = zip(G, D).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let eps: Float = 2e-3
        func lossAt(_ e: Float) throws -> Double {
            var d = dict
            d[name] = Tensor(shape: W.shape, data: zip(W.data, D).map { $0 + e * $1 })
            return try TransformerModel(config: cfg, weights: DictionaryWeights(d), memory: opts).loss(tokens: tokens).mean
        }
        let fd = (try lossAt(eps) - lossAt(-eps)) / (2 * Double(eps))
        print("[fd \(arch) \(layer).\(module)] analytic \(analytic) finite difference \(fd)")
        XCTAssertEqual(fd, analytic, accuracy: 1e-2 * abs(analytic) + 1e-4)
    }

    func testFiniteDifferenceLlamaQ() throws { try fdCheck("llama", role: "q", layer: 0) }
    func testFiniteDifferenceLlamaDown() throws { try fdCheck("llama", role: "down", layer: 1) }
    func testFiniteDifferenceQwen3K() throws { try fdCheck("qwen3", role: "k", layer: 0) }
    func testFiniteDifferenceGPT2Attn() throws { try fdCheck("gpt2", role: "qkv", layer: 1) }

    // MARK: SmolLM2

    func testSmolLM2StreamedEqualsResident() throws {
        let file = cacheDir().appendingPathComponent("derived/smollm2-f32.safetensors")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw XCTSkip("\(file.path) missing: run scripts/reference/forward_golden.py smollm2 (needs torch)")
        }
        let cfg = RealModelForwardTests.smolConfig()
        let src = try TestSafetensors(file, arch: "llama")
        let resident = try TransformerModel(config: cfg, weights: src)
        let streamed = try TransformerModel(config: cfg, weights: src, memory: MemoryOptions(budget: 1))
        XCTAssertTrue(streamed.streamsWeights)
        let tokens = [Array(1...24).map { $0 * 997 % cfg.vocabSize }, Array(1...17).map { $0 * 131 % cfg.vocabSize }]
        let (Lr, pr) = try Self.backward(resident, tokens)
        let (Ls, ps) = try Self.backward(streamed, tokens)
        XCTAssertEqual(pr.count, 30 * 7); XCTAssertEqual(Set(ps.keys), Set(pr.keys))
        XCTAssertEqual(Ls, Lr, accuracy: 1e-6 * Lr)
        var worstA = 0.0, worstD = 0.0
        for (k, r) in pr {
            guard let s = ps[k] else { continue }
            worstA = max(worstA, relError(s.a, r.a)); worstD = max(worstD, relError(s.d, r.d))
        }
        print("[smollm2 streaming] loss \(Lr) vs \(Ls); worst rel err a \(worstA), delta \(worstD)")
        XCTAssertEqual(worstA, 0, "activations are recomputed from identical weights")
        XCTAssertLessThanOrEqual(worstD, 1e-5)
    }
}

/// A WeightSource that starts failing on one tensor when `broken` is set (read errors after construction).
final class FlakySource: WeightSource, @unchecked Sendable {
    let inner: DictionaryWeights, failing: String
    let broken = Mutex(false)
    init(inner: DictionaryWeights, failing: String) { self.inner = inner; self.failing = failing }
    var sourceName: String { "flaky" }
    func tensor(_ name: String) throws -> Tensor? {
        if name == failing, broken.withLock({ $0 }) { throw CocoaError(.fileReadCorruptFile) }
        return try inner.tensor(name)
    }
    func shape(of name: String) throws -> [Int]? { try inner.shape(of: name) }
}

/// Minimal lock box for the test source.
final class Mutex<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
