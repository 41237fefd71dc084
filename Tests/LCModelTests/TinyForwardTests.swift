// Forward-pass parity against HF transformers on tiny random checkpoints (Tests/Fixtures/tiny, goldens from
// scripts/reference/forward_golden.py): all-position logits (batched, right-padded here vs. unpadded there),
// mean next-token loss with and without a prompt mask, BERT mean-pooled embeddings.
import Foundation
import LCModel
import XCTest

final class TinyForwardTests: XCTestCase {
    static let V = 96

    static func config(_ arch: String) -> ModelConfig {
        switch arch {
        case "llama":
            return ModelConfig(architecture: "llama", numLayers: 2, hiddenSize: 64, numHeads: 4, numKVHeads: 1, headDim: 16,
                               intermediateSize: 32, vocabSize: V, normEps: 1e-5,
                               rope: RopeConfig(theta: 10000, type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4,
                                                originalMaxPositions: 32),
                               tiedEmbeddings: false, maxPositions: 64, activation: "silu", attentionBias: false)
        case "qwen2":
            return ModelConfig(architecture: "qwen2", numLayers: 2, hiddenSize: 64, numHeads: 4, numKVHeads: 2, headDim: 16,
                               intermediateSize: 32, vocabSize: V, normEps: 1e-6, rope: RopeConfig(theta: 1_000_000),
                               tiedEmbeddings: true, maxPositions: 64, activation: "silu", attentionBias: true)
        case "qwen3":
            return ModelConfig(architecture: "qwen3", numLayers: 2, hiddenSize: 64, numHeads: 4, numKVHeads: 1, headDim: 24,
                               intermediateSize: 32, vocabSize: V, normEps: 1e-6, rope: RopeConfig(theta: 1_000_000),
                               tiedEmbeddings: true, maxPositions: 64, activation: "silu", attentionBias: false)
        case "gpt2":
            return ModelConfig(architecture: "gpt2", numLayers: 2, hiddenSize: 64, numHeads: 4, numKVHeads: 4, headDim: 16,
                               intermediateSize: 32, vocabSize: V, normEps: 1e-5, rope: nil, tiedEmbeddings: true,
                               maxPositions: 32, activation: "gelu_new", attentionBias: true)
        default:
            return ModelConfig(architecture: "bert", numLayers: 2, hiddenSize: 64, numHeads: 4, numKVHeads: 4, headDim: 16,
                               intermediateSize: 32, vocabSize: V, normEps: 1e-12, rope: nil, tiedEmbeddings: false,
                               maxPositions: 32, activation: "gelu", attentionBias: true, typeVocabSize: 2)
        }
    }

    static func model(_ arch: String, memory: MemoryOptions = MemoryOptions()) throws -> TransformerModel {
        try TransformerModel(config: config(arch), weights: source(arch), memory: memory)
    }

    /// The fixture's weights as a WeightSource (GPT-2 Conv1D weights transposed to [out,in]).
    static func source(_ arch: String) throws -> TestSafetensors {
        let dir = repoRoot().appendingPathComponent("Tests/Fixtures/tiny/\(arch)")
        var transpose: Set<String> = []
        if arch == "gpt2" {
            for l in 0..<2 { for r in ["qkv", "o", "up", "down"] { transpose.insert(TensorNames.layerTensors(arch: "gpt2", layer: l)[r] ?? "") } }
        }
        return try TestSafetensors(dir.appendingPathComponent("model.safetensors"), arch: arch, transpose: transpose)
    }

    func golden() throws -> [String: Any] {
        try loadJSON(repoRoot().appendingPathComponent("Tests/Fixtures/tiny/golden.json"))
    }

    func checkCausal(_ arch: String) throws {
        let g = try golden()
        let tokens = ((g["tokens"] as? [Any]) ?? []).map(ints)
        XCTAssertEqual(tokens.count, 3)
        let ref = try XCTUnwrap((g["archs"] as? [String: Any])?[arch] as? [String: Any])
        let m = try Self.model(arch)
        let r = try m.forward(tokens: tokens)
        let logits = try XCTUnwrap(r.logits)
        let refLogits = (ref["logits"] as? [Any]) ?? []
        var worst = 0.0
        for (b, s) in tokens.enumerated() {
            let rows = (refLogits[b] as? [Any]) ?? []
            XCTAssertEqual(rows.count, s.count)
            let mine = logits.slice(b * r.batch.T * Self.V, s.count * Self.V)
            let e = relError(mine, rows.flatMap(floats))
            worst = max(worst, e)
            XCTAssertLessThanOrEqual(e, 1e-4, "\(arch) seq \(b) logits")
        }
        let loss = try m.loss(tokens: tokens)
        let refLoss = try XCTUnwrap(ref["loss_mean"] as? Double)
        XCTAssertEqual(loss.count, ref["loss_count"] as? Int)
        XCTAssertEqual(loss.mean, refLoss, accuracy: 1e-4, "\(arch) loss")
        let prompt = try XCTUnwrap(g["prompt_len"] as? Int)
        let mask = tokens.map { s in s.indices.map { $0 >= prompt } }
        let ml = try m.loss(tokens: tokens, targetMask: mask)
        XCTAssertEqual(ml.count, ref["masked_loss_count"] as? Int)
        XCTAssertEqual(ml.mean, try XCTUnwrap(ref["masked_loss_mean"] as? Double), accuracy: 1e-4, "\(arch) masked loss")
        print("[\(arch)] logits max rel err \(worst), loss \(loss.mean) vs \(refLoss) (|Δ| \(abs(loss.mean - refLoss)))")
    }

    func testLlamaGQAWithLlama3Rope() throws { try checkCausal("llama") }
    func testQwen2Bias() throws { try checkCausal("qwen2") }
    func testQwen3QKNorm() throws { try checkCausal("qwen3") }
    func testGPT2() throws { try checkCausal("gpt2") }

    func testBertPooled() throws {
        let g = try golden()
        let tokens = ((g["tokens"] as? [Any]) ?? []).map(ints)
        let ref = try XCTUnwrap((g["archs"] as? [String: Any])?["bert"] as? [String: Any])
        let r = try Self.model("bert").forward(tokens: tokens)
        let pooled = try XCTUnwrap(r.pooled)
        let refPooled = ((ref["pooled"] as? [Any]) ?? []).map(floats)
        for b in tokens.indices {
            let e = relError(Array(pooled[(b * 64)..<((b + 1) * 64)]), refPooled[b])
            XCTAssertLessThanOrEqual(e, 1e-4, "bert seq \(b)")
            print("[bert] seq \(b) pooled max rel err \(e)")
        }
        XCTAssertThrowsError(try Self.model("bert").loss(tokens: tokens))
    }

    func testRejectsBadInput() throws {
        let m = try Self.model("gpt2")
        XCTAssertThrowsError(try m.forward(tokens: [[1, 2, Self.V]]))
        XCTAssertThrowsError(try m.forward(tokens: [[1, -1]]))
        XCTAssertThrowsError(try m.forward(tokens: []))
        XCTAssertThrowsError(try m.forward(tokens: [[]]))
        XCTAssertThrowsError(try m.forward(tokens: [Array(repeating: 1, count: 33)]))  // > n_positions
        XCTAssertThrowsError(try m.loss(tokens: [[1, 2]], targetMask: [[true]]))
        // A tensor with the wrong shape is a format error naming the tensor.
        var cfg = Self.config("llama"); cfg.intermediateSize = 33
        let w = try TestSafetensors(repoRoot().appendingPathComponent("Tests/Fixtures/tiny/llama/model.safetensors"), arch: "llama")
        XCTAssertThrowsError(try TransformerModel(config: cfg, weights: w)) { e in
            XCTAssertTrue("\(e)".contains("gate_proj"), "\(e)")
        }
        cfg = Self.config("llama"); cfg.hiddenSize = Int.max / 2
        XCTAssertThrowsError(try TransformerModel(config: cfg, weights: w))
        cfg = Self.config("llama"); cfg.numKVHeads = 3  // does not divide 4 heads
        XCTAssertThrowsError(try TransformerModel(config: cfg, weights: w))
        cfg = Self.config("llama"); cfg.rope?.type = "yarn"
        XCTAssertThrowsError(try TransformerModel(config: cfg, weights: w))
        cfg = Self.config("llama"); cfg.architecture = "mamba"
        XCTAssertThrowsError(try TransformerModel(config: cfg, weights: w))
    }

    func testKeptActivationsMatchOutput() throws {
        let m = try Self.model("qwen3")
        let r = try m.forward(tokens: [[1, 2, 3, 4]], keepActivations: true)
        XCTAssertEqual(r.layers.count, 2)
        // Block 1's input is block 0's output.
        XCTAssertEqual(r.layers[1].input.array, r.layers[0].output.array)
        let logits = m.head(r.layers[1].output, batch: r.batch)
        XCTAssertEqual(logits.array, r.logits?.array)
    }

    func testTensorNamesTables() {
        for arch in TensorNames.architectures {
            let mods = TensorNames.modules(arch: arch), roles = TensorNames.moduleRoles(arch: arch)
            let layer = TensorNames.layerTensors(arch: arch, layer: 3)
            XCTAssertFalse(mods.isEmpty)
            for m in mods {
                let role = roles[m]
                XCTAssertNotNil(role, "\(arch) \(m)")
                XCTAssertTrue(layer[role ?? ""]?.contains(".3.") ?? false, "\(arch) \(m)")
            }
            XCTAssertNotNil(TensorNames.globalTensors(arch: arch)["embed"])
        }
        XCTAssertEqual(TensorNames.canonicalize(arch: "gpt2", name: "h.0.ln_1.weight"), "transformer.h.0.ln_1.weight")
        XCTAssertEqual(TensorNames.canonicalize(arch: "bert", name: "bert.encoder.layer.0.output.LayerNorm.gamma"),
                       "encoder.layer.0.output.LayerNorm.weight")
    }
}
