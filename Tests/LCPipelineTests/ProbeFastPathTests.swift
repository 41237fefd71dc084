// The probe's fast path (cached block inputs of the frozen base model, forward and eval from the lowest adapted
// layer) gives exactly the numbers of the plain path (whole forward every step and every eval chunk): train losses,
// eval loss and gain bit for bit, for single layers, sets, every seed; and the seeds really differ (A and order).
import Foundation
import LCCore
import LCKernels
import LCModel
import XCTest
@testable import LCPipeline

final class ProbeFastPathTests: XCTestCase {
    /// A random 6-layer llama (C 64) in memory and prompt/response-like sequences of varied lengths (padding inside
    /// batches).
    static func setup() throws -> (TransformerModel, [ReferenceSequence], [ReferenceSequence]) {
        let C = 64, I = 96, V = 128, H = 4, KV = 2, HS = 16, layers = 6
        let cfg = ModelConfig(architecture: "llama", numLayers: layers, hiddenSize: C, numHeads: H, numKVHeads: KV, headDim: HS,
                              intermediateSize: I, vocabSize: V, normEps: 1e-5, rope: RopeConfig(theta: 10000), tiedEmbeddings: true,
                              maxPositions: 128, activation: "silu", attentionBias: false)
        var g = ProbeRNG(seed: 7)
        func t(_ shape: [Int], _ s: Float) -> Tensor { Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(2 * g.nextUnit() - 1) * s }) }
        var ts: [String: Tensor] = ["model.embed_tokens.weight": t([V, C], 0.1), "model.norm.weight": Tensor(shape: [C], data: .init(repeating: 1, count: C))]
        for l in 0..<layers {
            let n = TensorNames.layerTensors(arch: "llama", layer: l)
            for (r, s) in [("q", [H * HS, C]), ("k", [KV * HS, C]), ("v", [KV * HS, C]), ("o", [C, H * HS]), ("gate", [I, C]), ("up", [I, C]),
                           ("down", [C, I])] { ts[n[r] ?? r] = t(s, 0.1) }
            ts[n["attn_norm"] ?? ""] = Tensor(shape: [C], data: .init(repeating: 1, count: C))
            ts[n["ffn_norm"] ?? ""] = Tensor(shape: [C], data: .init(repeating: 1, count: C))
        }
        let model = try TransformerModel(config: cfg, weights: DictionaryWeights(ts))
        func seqs(_ n: Int) -> [ReferenceSequence] {
            (0..<n).map { _ in
                let len = 8 + Int(g.next(below: 17)), p = 2 + Int(g.next(below: 5))
                let ids = (0..<len).map { _ in Int(g.next(below: UInt64(V))) }
                return ReferenceSequence(ids: ids, lossMask: ids.indices.map { $0 >= p }, target: nil)
            }
        }
        return (model, seqs(14), seqs(7))
    }

    func testCachedRunsEqualPlainRunsBitForBit() throws {
        let (model, train, eval) = try Self.setup()
        let settings = ProbeSettings(steps: 4, batch: 3, lora: LoRAOptions(rank: 4, alpha: 8, lr: 2e-2))
        let runner = try ProbeRunner(model: model, train: train, eval: eval, settings: settings)
        XCTAssertTrue(runner.usesInputCache)
        let before = try runner.evalLoss(model)
        for layers in [[0], [2], [5], [1, 4], [3, 4, 5], Array(0..<6)] {
            for seed in [0, 2] {
                let fast = try runner.run(layers: layers, before: before, seed: seed)
                let plain = try runner.run(layers: layers, before: before, seed: seed, plain: true)
                XCTAssertEqual(fast.train_losses, plain.train_losses, "\(layers) seed \(seed)")
                XCTAssertEqual(fast.eval_loss_after, plain.eval_loss_after, "\(layers) seed \(seed)")
                XCTAssertEqual(fast.gain, plain.gain, "\(layers) seed \(seed)")
                XCTAssertNotNil(fast.step_seconds_cached)
                XCTAssertNotEqual(fast.gain, 0, "the adapters moved the eval loss (random tokens: either sign): \(layers)")
            }
        }
        // The compact head changes no number either: a runner without cache and without it gives the same bits.
        let reference = try ProbeRunner(model: model, train: train, eval: eval, settings: settings, cacheBudgetBytes: 0, compactHead: false)
        XCTAssertEqual(try reference.evalLoss(model), before)
        for layers in [[1], [0, 5]] {
            let fast = try runner.run(layers: layers, before: before, seed: 1)
            let ref = try reference.run(layers: layers, before: before, seed: 1)
            XCTAssertEqual(fast.train_losses, ref.train_losses, "\(layers)")
            XCTAssertEqual(fast.gain, ref.gain, "\(layers)")
            XCTAssertNil(ref.step_seconds_cached)
        }
        // The cached eval of the base model (from any layer) equals the plain one.
        let cache = try XCTUnwrap(runner.cache)
        for l in [0, 3, 5] { XCTAssertEqual(try runner.evalLoss(model, from: l, cache: cache), before) }
    }

    func testSeedsChangeInitAndOrderAndSeedZeroIsTheDefault() throws {
        let (model, train, eval) = try Self.setup()
        let settings = ProbeSettings(steps: 3, batch: 3, lora: LoRAOptions(rank: 4, alpha: 8, lr: 2e-2))
        let runner = try ProbeRunner(model: model, train: train, eval: eval, settings: settings, cacheBudgetBytes: 0)
        XCTAssertFalse(runner.usesInputCache, "budget 0 turns the cache off")
        XCTAssertEqual(runner.loraOptions(seed: 0), settings.lora)
        XCTAssertNotEqual(runner.loraOptions(seed: 1).seed, settings.lora.seed)
        XCTAssertEqual((0..<5).map { runner.trainBatch($0, seed: 0) }, (0..<5).map { runner.trainBatch($0) })
        XCTAssertNotEqual((0..<5).map { runner.trainBatch($0, seed: 1) }, (0..<5).map { runner.trainBatch($0) })
        // A seed's order is a permutation of the train set.
        XCTAssertEqual(ProbeRunner.order(count: 14, seed: 3).sorted(), Array(0..<14))
        let before = try runner.evalLoss(model)
        let a = try runner.run(layers: [2], before: before, seed: 0), b = try runner.run(layers: [2], before: before, seed: 1)
        XCTAssertNotEqual(a.gain, b.gain)
        XCTAssertNil(a.seed); XCTAssertEqual(b.seed, 1)
        XCTAssertEqual(try runner.run(layers: [2], before: before, seed: 1).gain, b.gain, "a seed is deterministic")
    }
}
