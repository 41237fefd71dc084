// The paths a big (streamed) model takes through `profile`: the factored perturbation W ± εD applied as a
// low-rank term inside the block forward (against the dense perturbed weights, for every architecture family),
// the segmented cost measurement (every layer from per-stage timings of one step; numbers unchanged), and
// coupling on a prefix of each record (`--coupling-max-tokens`: causal prefixes keep their hidden states).
import Foundation
import LCCard
import LCCore
@testable import LCKernels
@testable import LCModel
@testable import LCPipeline
import XCTest

final class ProfileBigModelPathTests: XCTestCase {
    func tinyModel(_ arch: String, in ws: URL) throws -> TransformerModel {
        let src = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny/\(arch)")
        XCTAssertEqual(try runLayercard(["ingest", src.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("outputs").path).first)
        let store = try StoreWeights(workspace: Workspace(root: ws), model: id)
        return try TransformerModel(config: try XCTUnwrap(store.manifest.config), weights: store, memory: MemoryOptions())
    }

    func tempDir(_ tag: String) throws -> URL {
        let ws = FileManager.default.temporaryDirectory.appendingPathComponent("lc-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: ws, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: ws) }
        return ws
    }

    /// A block with `lowRank[role] = (Δ, Z, scale)` equals the block with W + scale·ΔᵀZ formed densely.
    func testLowRankTermEqualsDenseWeights() throws {
        for arch in ["qwen3", "gpt2", "bert"] {
            let model = try tinyModel(arch, in: try tempDir("lowrank-\(arch)"))
            let c = model.config
            var g = SplitMix64(seed: 11)
            func r(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(g.next() >> 11) * 0x1p-53 - 0.5) } }
            let batch = try model.makeBatch([(0..<7).map { _ in Int(g.next() % 90) + 2 }, (0..<4).map { _ in Int(g.next() % 90) + 2 }])
            let (inputs, _) = model.blockInputs(batch)
            let l = c.numLayers - 1
            let base = try model.layerWeights(l)
            var lowRank = base, dense = base
            var roles = 0
            for m in Architecture.modules(c.architecture) {
                guard let role = moduleWeightRole(arch: c.architecture, module: m), let w = base[role] else { continue }
                let dIn = role == "down" ? c.intermediateSize : (role == "o" ? c.numHeads * c.headDim : c.hiddenSize)
                let dOut = w.count / dIn, n = 3
                XCTAssertEqual(dOut * dIn, w.count, "\(arch) \(role)")
                let left = r(n * dOut), right = r(n * dIn), scale: Float = 0.37
                lowRank.lowRank[role] = LowRankTerm(left: left, right: right, n: n, scale: scale)
                let nb = FloatBuffer(count: w.count)
                for o in 0..<dOut {
                    for i in 0..<dIn {
                        var s = 0.0
                        for k in 0..<n { s += Double(left[k * dOut + o]) * Double(right[k * dIn + i]) }
                        nb.ptr[o * dIn + i] = w.ptr[o * dIn + i] + scale * Float(s)
                    }
                }
                dense.buffers[role] = nb
                roles += 1
            }
            XCTAssertEqual(roles, Architecture.modules(c.architecture).count, arch)
            var outs: [[Float]] = []
            for w in [lowRank, dense, base] {
                let a = BlockActivations(config: c, B: batch.B, T: batch.T)
                a.input.ptr.update(from: inputs[l].cptr, count: inputs[l].count)
                model.block(l, weights: w, acts: a, batch: batch)
                outs.append(Array(UnsafeBufferPointer(start: a.output.cptr, count: a.output.count)))
            }
            let scale = outs[1].reduce(Float(0)) { max($0, abs($1)) }
            var maxDiff: Float = 0, moved: Float = 0
            for i in outs[0].indices { maxDiff = max(maxDiff, abs(outs[0][i] - outs[1][i])); moved = max(moved, abs(outs[1][i] - outs[2][i])) }
            XCTAssertLessThan(maxDiff, 1e-4 * max(scale, 1), "\(arch): low-rank vs dense block output")
            XCTAssertGreaterThan(moved, 1e-3, "\(arch): the perturbation must change the output (test would be vacuous)")
        }
    }

    /// Segmented cost: every layer measured, truncated-step times non-increasing toward the output, the step's
    /// peak at layer 0, and the statistics identical to a run without timing; coupling on record prefixes.
    func testSegmentedCostAndCouplingPrefix() throws {
        let ws = try tempDir("segmented")
        let tiny = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny/qwen3")
        XCTAssertEqual(try runLayercard(["ingest", tiny.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("outputs").path).first)
        let ds = ws.appendingPathComponent("ids.jsonl")
        var g = SplitMix64(seed: 5)
        let lines = try (0..<5).map { i in
            String(decoding: try JSONSerialization.data(withJSONObject: ["input_ids": (0..<(9 + 4 * i)).map { _ in Int(g.next() % 96) }]), as: UTF8.self)
        }
        try lines.joined(separator: "\n").write(to: ds, atomically: true, encoding: .utf8)
        func card(_ extra: [String]) throws -> LayerCard {
            let (s, o) = try runLayercard(["profile", id, "--workspace", ws.path, "--dataset", ds.path, "--batch", "2", "--force"] + extra)
            XCTAssertEqual(s, 0, o)
            return try JSONDecoder().decode(LayerCard.self, from: Data(contentsOf: ws.appendingPathComponent("outputs/\(id)/card.json")))
        }
        let plain = try card(["--cost-depths", "0"])
        // The executable runs on the CPU's vector kernels even where OpenBLAS's own detection falls back to SSE3.
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.appendingPathComponent("manifests/\(id)/profile.json"))) as? [String: Any]
        let core = try XCTUnwrap(manifest?["blas_core"] as? String)
        if BLASRuntime.preferredCore(detected: "Prescott", cpuFlags: BLASRuntime.cpuFlags()) != nil {
            XCTAssertFalse(BLASRuntime.genericCores.contains(core.lowercased()), "profile ran on generic OpenBLAS kernels: \(core)")
        }
        // ... and with OpenBLAS's worker threads sleeping between calls instead of spinning.
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil && env["LAYERCARD_NO_BLAS_REEXEC"] == nil {
            XCTAssertEqual(manifest?["blas_thread_timeout"] as? Int, Int(BLASRuntime.threadTimeout))
        }
        let seg = try card(["--cost-method", "segmented"])
        let L = seg.layers.count
        XCTAssertEqual(seg.cost_model.measured_method, "segmented")
        XCTAssertEqual(seg.cost_model.measured_layers, Array(0..<L))
        let secs = seg.layers.map(\.measured_step_seconds)
        XCTAssertTrue(secs.allSatisfy { ($0 ?? 0) > 0 }, "\(secs)")
        for l in 1..<L { XCTAssertLessThanOrEqual(secs[l] ?? .nan, secs[l - 1] ?? .nan, "layer \(l)") }
        XCTAssertNil(plain.cost_model.measured_method)
        XCTAssertEqual(plain.loss, seg.loss)
        for (a, b) in zip(plain.modules, seg.modules) {
            XCTAssertEqual(a.grad_norm, b.grad_norm); XCTAssertEqual(a.resnorm, b.resnorm); XCTAssertEqual(a.act_energy, b.act_energy)
        }
        XCTAssertEqual(plain.coupling, seg.coupling)
        let rep = try card(["--cost-method", "repeated", "--cost-depths", "2", "--cost-repeats", "1", "--no-coupling"])
        XCTAssertEqual(rep.cost_model.measured_method, "repeated")
        XCTAssertEqual(rep.cost_model.measured_layers, [0, L - 1])

        // Coupling on prefixes: a cap at the longest record is the uncapped coupling bit for bit; a short cap
        // changes it, keeps it a unit-diagonal symmetric matrix, and is recorded.
        let capAll = try card(["--cost-depths", "0", "--coupling-max-tokens", "25"])
        XCTAssertEqual(capAll.coupling, plain.coupling)
        let cap = try card(["--cost-depths", "0", "--coupling-max-tokens", "6"])
        XCTAssertEqual(cap.parameters.coupling_max_tokens, 6)
        XCTAssertTrue(cap.parameters.coupling_method.contains("at most the first 6 positions"), cap.parameters.coupling_method)
        XCTAssertNotEqual(cap.coupling, plain.coupling)
        for a in 0..<L {
            XCTAssertEqual(cap.coupling[a][a], 1, accuracy: 1e-12)
            for b in 0..<L { XCTAssertEqual(cap.coupling[a][b], cap.coupling[b][a], accuracy: 1e-12) }
        }
        for a in zip(plain.modules, cap.modules) { XCTAssertEqual(a.0.resnorm, a.1.resnorm) }  // statistics see every position

        // What the prefix relies on: a causal model's hidden states on a prefix are those of the whole sequence.
        let store = try StoreWeights(workspace: Workspace(root: ws), model: id)
        let model = try TransformerModel(config: try XCTUnwrap(store.manifest.config), weights: store, memory: MemoryOptions())
        let ids = (0..<17).map { _ in Int(g.next() % 96) }
        let full = try model.makeBatch([ids]), pre = try model.makeBatch([Array(ids.prefix(6))])
        let hf = model.finalHidden(model.forwardFrom(layer: 0, input: model.embed(full), batch: full), batch: full)
        let hp = model.finalHidden(model.forwardFrom(layer: 0, input: model.embed(pre), batch: pre), batch: pre)
        for i in 0..<(6 * model.config.hiddenSize) { XCTAssertEqual(hp.ptr[i], hf.ptr[i], accuracy: 1e-5) }

        for bad in [["--cost-method", "fast"], ["--coupling-max-tokens", "-1"]] {
            XCTAssertEqual(try runLayercard(["profile", id, "--workspace", ws.path, "--dataset", ds.path] + bad).0, 2, "\(bad)")
        }
    }
}
