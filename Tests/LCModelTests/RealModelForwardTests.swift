// Forward parity on the real checkpoints against HF transformers goldens (scripts/reference/forward_golden.py):
// all-MiniLM-L6-v2 pooled embeddings (needs $LAYERCARD_CACHE/models, from scripts/setup.sh) and SmolLM2-135M
// last-position logits + mean loss (weights decoded from the real GGUF by GGUFWeights
// written by the golden script; skipped when absent until the load stage replaces it). Also the opt-in benchmark.
import Foundation
import LCFormats
import LCKernels
import LCModel
import XCTest

final class RealModelForwardTests: XCTestCase {
    func testMiniLMPooledEmbeddings() throws {
        let dir = cacheDir().appendingPathComponent("models/all-MiniLM-L6-v2")
        let file = dir.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: file.path) else {
            return XCTFail("\(file.path) missing: run scripts/setup.sh")
        }
        let cfg = ModelConfig(architecture: "bert", numLayers: 6, hiddenSize: 384, numHeads: 12, numKVHeads: 12, headDim: 32,
                              intermediateSize: 1536, vocabSize: 30522, normEps: 1e-12, rope: nil, tiedEmbeddings: false,
                              maxPositions: 512, activation: "gelu", attentionBias: true, typeVocabSize: 2)
        let m = try TransformerModel(config: cfg, weights: TestSafetensors(file, arch: "bert"))
        let g = try loadJSON(repoRoot().appendingPathComponent("Tests/Fixtures/forward/minilm_golden.json"))
        let tokens = ((g["tokens"] as? [Any]) ?? []).map(ints)
        let ref = ((g["pooled"] as? [Any]) ?? []).map(floats)
        XCTAssertEqual(tokens.count, 4)
        let pooled = try XCTUnwrap(m.forward(tokens: tokens).pooled)  // padded batch vs. unpadded reference runs
        for b in tokens.indices {
            let e = relError(Array(pooled[(b * 384)..<((b + 1) * 384)]), ref[b])
            print("[minilm] seq \(b) (\(tokens[b].count) tokens) pooled max rel err \(e)")
            XCTAssertLessThanOrEqual(e, 1e-4)
        }
    }

    static func smolConfig() -> ModelConfig {
        ModelConfig(architecture: "llama", numLayers: 30, hiddenSize: 576, numHeads: 9, numKVHeads: 3, headDim: 64,
                    intermediateSize: 1536, vocabSize: 49152, normEps: Double(Float(1e-5)), rope: RopeConfig(theta: 100_000),
                    tiedEmbeddings: true, maxPositions: 8192, activation: "silu", attentionBias: false)
    }

    /// SmolLM2 straight from the real GGUF: dequantized, Q/K un-permuted and canonically named by the
    /// same LCFormats/LCModel code the load stage uses (no derived files, no torch at test time).
    static func smolModel() throws -> TransformerModel {
        let file = cacheDir().appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: file.path) else {
            XCTFail("\(file.path) missing: run scripts/setup.sh"); throw CocoaError(.fileNoSuchFile)
        }
        return try TransformerModel(config: smolConfig(), weights: GGUFWeights(url: file, config: smolConfig()))
    }

    func testSmolLM2LastLogitsAndLoss() throws {
        let fdir = repoRoot().appendingPathComponent("Tests/Fixtures/forward")
        let g = try loadJSON(fdir.appendingPathComponent("smollm2_golden.json"))
        // The hand-built config must agree with what the reference read from the GGUF metadata.
        let rc = try XCTUnwrap(g["config"] as? [String: Any]), c = Self.smolConfig()
        XCTAssertEqual(rc["hidden_size"] as? Int, c.hiddenSize); XCTAssertEqual(rc["num_hidden_layers"] as? Int, c.numLayers)
        XCTAssertEqual(rc["num_key_value_heads"] as? Int, c.numKVHeads); XCTAssertEqual(rc["vocab_size"] as? Int, c.vocabSize)
        XCTAssertEqual(rc["intermediate_size"] as? Int, c.intermediateSize)
        XCTAssertEqual(rc["rope_theta"] as? Double, c.rope?.theta); XCTAssertEqual(rc["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(try XCTUnwrap(rc["rms_norm_eps"] as? Double), c.normEps, accuracy: 1e-9)
        let m = try Self.smolModel()
        let tokens = ((g["tokens"] as? [Any]) ?? []).map(ints)
        let r = try m.forward(tokens: tokens)
        let logits = try XCTUnwrap(r.logits), V = c.vocabSize
        for (b, s) in tokens.enumerated() {
            let data = try Data(contentsOf: fdir.appendingPathComponent("smollm2_lastlogits_\(b).f32"))
            let ref = data.withUnsafeBytes { raw in (0..<V).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
            let mine = logits.slice((b * r.batch.T + s.count - 1) * V, V)
            let e = relError(mine, ref)
            print("[smollm2] seq \(b) (\(s.count) tokens) last logits max rel err \(e)")
            XCTAssertLessThanOrEqual(e, 1e-4)
        }
        let loss = try m.loss(tokens: tokens)
        let refLoss = try XCTUnwrap(g["loss_mean"] as? Double)
        print("[smollm2] loss \(loss.mean) vs \(refLoss) |Δ| \(abs(loss.mean - refLoss))")
        XCTAssertEqual(loss.count, g["loss_count"] as? Int)
        XCTAssertEqual(loss.mean, refLoss, accuracy: 1e-4)
    }

    /// LAYERCARD_BENCH=1: SmolLM2 forward on 4×128 tokens vs. one plain sgemm of equal FLOPs.
    func testBenchmarkForward() throws {
        guard ProcessInfo.processInfo.environment["LAYERCARD_BENCH"] == "1" else { throw XCTSkip("set LAYERCARD_BENCH=1") }
        let m = try Self.smolModel(), c = m.config
        let B = 4, T = 128, N = B * T
        var rng = SystemRandomNumberGenerator()
        let tokens = (0..<B).map { _ in (0..<T).map { _ in Int.random(in: 0..<c.vocabSize, using: &rng) } }
        _ = try m.forward(tokens: [Array(tokens[0].prefix(8))])  // warm-up
        let t0 = Date()
        _ = try m.forward(tokens: tokens)
        let secs = Date().timeIntervalSince(t0)
        // Matmul FLOPs: 2·N·(params of all linear maps incl. head) + attention 2·2·B·NH·T²·HS per layer.
        let C = c.hiddenSize, HS = c.headDim, qD = c.numHeads * HS, kD = c.numKVHeads * HS, I = c.intermediateSize
        let perLayer = C * qD + 2 * C * kD + qD * C + 3 * C * I
        let flops = 2.0 * Double(N) * Double(c.numLayers * perLayer + c.vocabSize * C)
            + Double(c.numLayers) * 4.0 * Double(B * c.numHeads * T * T * HS)
        // Plain sgemms of the same total FLOPs: (N×C)·(C×cols) with cols = I, repeated.
        let cols = I, reps = max(1, Int((flops / (2.0 * Double(N * C * cols))).rounded()))
        let a = FloatBuffer(count: N * C), bm = FloatBuffer(count: C * cols), out = FloatBuffer(count: N * cols)
        for i in 0..<a.count { a.ptr[i] = Float(i % 7) * 0.01 }
        for i in 0..<bm.count { bm.ptr[i] = Float(i % 5) * 0.01 }
        sgemmPlain(c: out.ptr, a: a.cptr, b: bm.cptr, M: N, N: cols, K: C)  // warm-up
        let t1 = Date()
        for _ in 0..<reps { sgemmPlain(c: out.ptr, a: a.cptr, b: bm.cptr, M: N, N: cols, K: C) }
        let gemmSecs = Date().timeIntervalSince(t1), gemmFlops = 2.0 * Double(N * C * cols * reps)
        let t2 = Date()
        var visited = 0
        _ = try m.lossAndBackward(tokens: tokens) { _ in visited += 1 }
        let bwdSecs = Date().timeIntervalSince(t2)
        print(String(format: "[bench] SmolLM2 forward+loss+backward to layer 0 (%d module visits), B=%d T=%d: %.3f s",
                     visited, B, T, bwdSecs))
        print(String(format: "[bench] SmolLM2 forward B=%d T=%d threads=%d: %.3f s, %.1f GFLOP, %.2f GFLOP/s", B, T,
                     Threads.current, secs, flops / 1e9, flops / 1e9 / secs))
        print(String(format: "[bench] plain sgemm %dx%dx%d ×%d (%.1f GFLOP): %.3f s, %.2f GFLOP/s; forward/sgemm GFLOP/s ratio %.2f",
                     N, cols, C, reps, gemmFlops / 1e9, gemmSecs, gemmFlops / 1e9 / gemmSecs,
                     (flops / secs) / (gemmFlops / gemmSecs)))
    }
}

/// A WeightSource over a GGUF file: GGUF names → canonical HF names, decode + canonical layout per tensor.
struct GGUFWeights: WeightSource {
    let file: MappedFile
    let config: ModelConfig
    let byCanonical: [String: TensorInfo]
    var sourceName: String { file.path }

    init(url: URL, config: ModelConfig) throws {
        let g = try GGUFFile.read(url: url)
        file = try MappedFile(url: url)
        self.config = config
        var m: [String: TensorInfo] = [:]
        for t in g.tensors { if let c = Architecture.canonicalName(fromGGUF: t.name, arch: config.architecture) { m[c] = t } }
        if m["lm_head.weight"] == nil { m["lm_head.weight"] = m["model.embed_tokens.weight"] }
        byCanonical = m
    }

    func tensor(_ name: String) throws -> Tensor? {
        guard let t = byCanonical[name] else { return nil }
        let raw = try TensorDecoder.decode(t, from: file)
        let (data, shape) = CanonicalLayout.canonicalize(raw, shape: t.shape, canonical: name, config: config, sourceFormat: "gguf")
        return Tensor(shape: shape, data: data)
    }
}
