// The profiler's model additions on the tiny checkpoints: blockInputs/forwardFrom reproduce the full forward
// exactly; finalHidden feeds the head; the truncated backward (stopAtLayer) reports the same module gradients
// as the full one at layers ≥ l and nothing below, and those gradients match a central finite difference of
// the loss along G/||G|| taken with replacingLayerWeights (which must leave the original model untouched).
import Foundation
import LCKernels
import LCModel
import XCTest

final class PartialForwardTests: XCTestCase {
    let tokens = [[5, 17, 3, 44, 9, 2, 71], [8, 1, 60, 12]]

    func grads(_ m: TransformerModel, stopAt: Int) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        _ = try m.lossAndBackward(tokens: tokens, stopAtLayer: stopAt) { mg in
            let G = FloatBuffer(count: mg.dOut * mg.dIn)
            matmulBackward(dinp: nil, dweight: G.ptr, dbias: nil, dout: mg.outputGrad, inp: mg.input, weight: mg.input,
                           N: mg.N, C: mg.dIn, OC: mg.dOut)
            out["\(mg.layer).\(mg.module)"] = G.array
        }
        return out
    }

    func testForwardFromMatchesFullForward() throws {
        for arch in ["llama", "qwen3", "gpt2", "bert"] {
            let m = try TinyForwardTests.model(arch)
            let batch = try m.makeBatch(tokens)
            let (inputs, out) = m.blockInputs(batch)
            XCTAssertEqual(inputs.count, m.config.numLayers)
            let full = try m.forward(tokens: tokens, keepActivations: true)
            for l in 0..<m.config.numLayers {
                XCTAssertEqual(inputs[l].array, full.layers[l].input.array, "\(arch) input of layer \(l)")
                XCTAssertEqual(m.forwardFrom(layer: l, input: inputs[l], batch: batch).array, out.array, "\(arch) from layer \(l)")
            }
            if m.isCausal {
                let h = m.finalHidden(out, batch: batch)
                XCTAssertEqual(m.head(out, batch: batch).array, try XCTUnwrap(full.logits).array)
                XCTAssertEqual(h.count, out.count)
            }
        }
    }

    func testTruncatedBackwardMatchesFullAndFiniteDifference() throws {
        for arch in ["llama", "qwen3", "gpt2"] {
            let m = try TinyForwardTests.model(arch)
            let full = try grads(m, stopAt: 0)
            let part = try grads(m, stopAt: 1)
            XCTAssertEqual(full.count, 2 * TensorNames.modules(arch: arch).count)
            XCTAssertEqual(Set(part.keys), Set(full.keys.filter { $0.hasPrefix("1.") }), "\(arch): only layer 1 visited")
            for (k, g) in part { XCTAssertEqual(g, full[k], "\(arch) \(k)") }
            // Finite difference along u = G/||G|| for one module of layer 1: dL/dh = ||G||.
            let module = TensorNames.modules(arch: arch)[0]
            guard let role = moduleWeightRole(arch: arch, module: module), let W = m.weights.layers[1][role],
                  let G = part["1.\(module)"] else { return XCTFail("\(arch): no weights/gradient for \(module)") }
            let gnorm = G.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let before = W.array
            func loss(_ h: Double) throws -> Double {
                var lw = m.weights.layers[1]
                let nb = FloatBuffer(count: W.count)
                for i in 0..<W.count { nb.ptr[i] = W.ptr[i] + Float(h * Double(G[i]) / gnorm) }
                lw.buffers[role] = nb
                return try m.replacingLayerWeights(1, with: lw).loss(tokens: tokens).mean
            }
            let h = 1e-2
            let fd = (try loss(h) - loss(-h)) / (2 * h)
            XCTAssertEqual(fd, gnorm, accuracy: 2e-2 * gnorm, "\(arch) finite difference vs truncated-backward gradient")
            XCTAssertEqual(W.array, before, "replacingLayerWeights must not modify the original weights")
        }
    }

    func testReplacingLayerWeightsRejectsBadInput() throws {
        let m = try TinyForwardTests.model("llama")
        XCTAssertThrowsError(try m.replacingLayerWeights(5, with: m.weights.layers[0]))
        var lw = m.weights.layers[0]
        lw.buffers["q"] = FloatBuffer(count: 3)
        XCTAssertThrowsError(try m.replacingLayerWeights(0, with: lw))
    }
}
