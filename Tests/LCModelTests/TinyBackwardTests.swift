// Model backward parity against PyTorch autograd on the tiny checkpoints: for every module of every layer,
// G = Σ_t delta_tᵀ a_t formed from the visitor's (a, delta) must match HF's dL/dW (Frobenius norm and the
// top-left 3×3 block) for the spec §1 losses (causal mean next-token loss; bert squared loss on pooled
// embeddings with targets from the golden script). Tolerance: 1e-4 relative (achieved ~1e-6).
import Foundation
import LCKernels
import LCModel
import XCTest

final class TinyBackwardTests: XCTestCase {
    func check(_ arch: String) throws {
        let g = try loadJSON(repoRoot().appendingPathComponent("Tests/Fixtures/tiny/golden.json"))
        let tokens = ((g["tokens"] as? [Any]) ?? []).map(ints)
        let ref = try XCTUnwrap(((g["archs"] as? [String: Any])?[arch] as? [String: Any])?["grads"] as? [String: Any])
        let m = try TinyForwardTests.model(arch)
        var seen = 0, worst = 0.0
        let visit: (ModuleGradient) -> Void = { mg in
            let G = FloatBuffer(count: mg.dOut * mg.dIn)
            matmulBackward(dinp: nil, dweight: G.ptr, dbias: nil, dout: mg.outputGrad, inp: mg.input, weight: mg.input,
                           N: mg.N, C: mg.dIn, OC: mg.dOut)
            guard let r = ref["\(mg.layer).\(mg.module)"] as? [String: Any], let refNorm = r["norm"] as? Double else {
                return XCTFail("\(arch): no reference for \(mg.layer).\(mg.module)")
            }
            let norm = G.array.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let block = ((r["block"] as? [Any]) ?? []).flatMap(floats)
            let mine = (0..<3).flatMap { i in (0..<3).map { j in G.ptr[i * mg.dIn + j] } }
            let eNorm = abs(norm - refNorm) / refNorm
            let eBlock = zip(mine, block).map { Double(abs($0 - $1)) }.max() ?? 1
            worst = max(worst, eNorm, eBlock / refNorm)
            XCTAssertLessThanOrEqual(eNorm, 1e-4, "\(arch) \(mg.layer).\(mg.module) norm \(norm) vs \(refNorm)")
            XCTAssertLessThanOrEqual(eBlock, 1e-4 * refNorm, "\(arch) \(mg.layer).\(mg.module) block")
            seen += 1
        }
        if arch == "bert" {
            let C = m.config.hiddenSize
            // Same targets as the golden script's bert_targets(3, 64) (numpy default_rng(5) normals) — stored there.
            let ys = try XCTUnwrap(g["bert_targets"] as? [Any]).map(floats)
            XCTAssertEqual(ys.first?.count, C)
            let L = try m.embeddingLossAndBackward(tokens: tokens, targets: ys, visit: visit)
            XCTAssertEqual(L, try XCTUnwrap(ref["loss"] as? Double), accuracy: 1e-4 * max(1, L))
        } else {
            let r = try m.lossAndBackward(tokens: tokens, visit: visit)
            XCTAssertEqual(r.mean, try XCTUnwrap(ref["loss"] as? Double), accuracy: 1e-4)
        }
        XCTAssertEqual(seen, m.config.numLayers * TensorNames.modules(arch: arch).count)
        print("[\(arch) backward] \(seen) modules, worst rel err \(worst)")
    }

    func testLlamaBackward() throws { try check("llama") }
    func testQwen2Backward() throws { try check("qwen2") }
    func testQwen3Backward() throws { try check("qwen3") }
    func testGPT2Backward() throws { try check("gpt2") }
    func testBertBackward() throws { try check("bert") }
}
