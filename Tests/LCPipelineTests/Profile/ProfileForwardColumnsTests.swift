// The forward-only layer columns (block_influence, act_norm) of the profile against a plain Float64 reference
// written here: `blockInputs` over the same padded batches, cosines and norms by naive loops over the real
// positions only. On the tiny qwen3 / gpt2 / bert fixtures, in every memory path the profile can take (activations
// kept, checkpointed, weights streamed). Padding is exercised (records of different lengths in each batch) and the
// test checks that counting the padded rows would have given different numbers. Also: old cards without the
// columns still decode, rank (with a clear error for the missing signal), report and diff; rank by the new columns.
import Foundation
@testable import LCCard
import LCCore
import LCKernels
@testable import LCModel
@testable import LCPipeline
import Logging
import XCTest

final class ProfileForwardColumnsTests: XCTestCase {
    func tempDir(_ tag: String) throws -> URL {
        let ws = FileManager.default.temporaryDirectory.appendingPathComponent("lc-fwdcols-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: ws, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: ws) }
        return ws
    }

    /// The tiny fixture `arch` ingested and loaded into a temp workspace: its store and config.
    func tinyStore(_ arch: String) throws -> StoreWeights {
        let ws = try tempDir(arch)
        let src = profileRepoRoot().appendingPathComponent("Tests/Fixtures/tiny/\(arch)")
        XCTAssertEqual(try runLayercard(["ingest", src.path, "--workspace", ws.path]).0, 0)
        XCTAssertEqual(try runLayercard(["load", "--all", "--workspace", ws.path]).0, 0)
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent("outputs").path).first)
        return try StoreWeights(workspace: Workspace(root: ws), model: id)
    }

    /// Records of lengths 9, 4, 13, 6, 11 (batch 2 → every batch padded), random ids; bert gets target vectors.
    func sequences(config c: ModelConfig) -> [ReferenceSequence] {
        var g = SplitMix64(seed: 21)
        return [9, 4, 13, 6, 11].map { n in
            let ids = (0..<n).map { _ in Int(g.next() % UInt64(min(c.vocabSize, 90))) + 2 }
            let target: [Float]? = c.architecture == "bert" ? (0..<c.hiddenSize).map { _ in Float(Double(g.next() >> 11) * 0x1p-53 - 0.5) } : nil
            return ReferenceSequence(ids: ids, lossMask: (0..<n).map { $0 > 0 }, target: target)
        }
    }

    struct Reference { var blockInfluence: [Double]; var actNorm: [Double]; var withPaddingBI: [Double]; var withPaddingNorm: [Double] }

    /// Plain reference: for each batch, the residual stream at every block boundary from `blockInputs`; per position
    /// cos and norm by naive Float64 loops; means over real positions (and, to show padding matters, over all rows).
    func reference(model: TransformerModel, sequences: [ReferenceSequence], batch: Int) throws -> Reference {
        let L = model.config.numLayers, C = model.config.hiddenSize
        var cosSum = [Double](repeating: 0, count: L), normSum = cosSum, n = 0
        var cosAll = cosSum, normAll = cosSum, nAll = 0
        for start in stride(from: 0, to: sequences.count, by: batch) {
            let b = try model.makeBatch(sequences[start..<min(start + batch, sequences.count)].map(\.ids))
            let (inputs, last) = model.blockInputs(b)
            for l in 0..<L {
                let x = inputs[l], y = l + 1 < L ? inputs[l + 1] : last
                for s in 0..<b.B {
                    for t in 0..<b.T {
                        let row = s * b.T + t
                        var xy = 0.0, xx = 0.0, yy = 0.0
                        for ch in 0..<C {
                            let u = Double(x.ptr[row * C + ch]), v = Double(y.ptr[row * C + ch])
                            xy += u * v; xx += u * u; yy += v * v
                        }
                        let cos = xy / (xx.squareRoot() * yy.squareRoot())
                        cosAll[l] += cos; normAll[l] += yy.squareRoot()
                        if t < b.lengths[s] { cosSum[l] += cos; normSum[l] += yy.squareRoot() }
                    }
                }
            }
            n += b.lengths.reduce(0, +); nAll += b.B * b.T
        }
        return Reference(blockInfluence: cosSum.map { 1 - $0 / Double(n) }, actNorm: normSum.map { $0 / Double(n) },
                         withPaddingBI: cosAll.map { 1 - $0 / Double(nAll) }, withPaddingNorm: normAll.map { $0 / Double(nAll) })
    }

    func options() -> ProfileOptions {
        var o = ProfileOptions()
        o.batch = 2; o.coupling = false; o.costDepths = 0
        return o
    }

    func testColumnsMatchReferenceInEveryMemoryPath() throws {
        for arch in ["qwen3", "gpt2", "bert"] {
            let store = try tinyStore(arch)
            let config = try XCTUnwrap(store.manifest.config)
            let seqs = sequences(config: config)
            let resident = try TransformerModel(config: config, weights: store, memory: MemoryOptions(streamWeights: false, checkpointActivations: false))
            let ref = try reference(model: resident, sequences: seqs, batch: 2)
            let L = config.numLayers
            XCTAssertGreaterThan(L, 0)
            // The padded rows must matter, or the test could not tell their exclusion.
            for l in 0..<L {
                XCTAssertGreaterThan(abs(ref.withPaddingBI[l] - ref.blockInfluence[l]) + abs(ref.withPaddingNorm[l] - ref.actNorm[l]),
                                     1e-6 * ref.actNorm[l], "\(arch) layer \(l): padding rows would not change the columns")
            }
            var modulesByPath: [[ModuleStats]] = []
            let paths: [(String, MemoryOptions)] = [
                ("kept", MemoryOptions(streamWeights: false, checkpointActivations: false)),
                ("checkpointed", MemoryOptions(streamWeights: false, checkpointActivations: true)),
                ("streamed", MemoryOptions(streamWeights: true, checkpointActivations: true)),
            ]
            for (name, mem) in paths {
                let model = try TransformerModel(config: config, weights: store, memory: mem)
                XCTAssertEqual(model.streamsWeights, name == "streamed")
                let r = try Profiler.run(model: model, sequences: seqs, options: options())
                XCTAssertEqual(r.layers.count, L)
                for l in 0..<L {
                    let bi = try XCTUnwrap(r.layers[l].block_influence, "\(arch) \(name) layer \(l)")
                    let an = try XCTUnwrap(r.layers[l].act_norm, "\(arch) \(name) layer \(l)")
                    // Same kernels on the same batches: only the Float64 summation order differs.
                    XCTAssertEqual(bi, ref.blockInfluence[l], accuracy: 1e-9 * max(ref.blockInfluence[l], 1e-3), "\(arch) \(name) layer \(l) block_influence")
                    XCTAssertEqual(an, ref.actNorm[l], accuracy: 1e-9 * ref.actNorm[l], "\(arch) \(name) layer \(l) act_norm")
                    XCTAssertTrue(bi > 0 && bi <= 2, "\(arch) layer \(l): \(bi)")
                }
                XCTAssertNotNil(r.timings["forward_columns"])
                modulesByPath.append(r.modules)
            }
            // The observer changes no gradient statistic (kept vs checkpointed are bit-identical paths).
            XCTAssertEqual(modulesByPath[0], modulesByPath[1], arch)
        }
    }

    /// Batches of one record (no padding) give the same columns up to float32 kernel noise: the exclusion of the
    /// padded rows is what makes the batched numbers independent of how records are batched.
    func testColumnsDoNotDependOnBatching() throws {
        for arch in ["qwen3", "bert"] {
            let store = try tinyStore(arch)
            let config = try XCTUnwrap(store.manifest.config)
            let model = try TransformerModel(config: config, weights: store, memory: MemoryOptions(streamWeights: false))
            let seqs = sequences(config: config)
            var o = options()
            let padded = try Profiler.run(model: model, sequences: seqs, options: o)
            o.batch = 1
            let single = try Profiler.run(model: model, sequences: seqs, options: o)
            for (a, b) in zip(padded.layers, single.layers) {
                XCTAssertEqual(a.block_influence ?? .nan, b.block_influence ?? .nan, accuracy: 1e-4 * (b.block_influence ?? 1), "\(arch) layer \(a.layer)")
                XCTAssertEqual(a.act_norm ?? .nan, b.act_norm ?? .nan, accuracy: 1e-5 * (b.act_norm ?? 1), "\(arch) layer \(a.layer)")
            }
        }
    }

    func testAccumulatorEdgeCases() {
        let acc = ForwardColumnsAccumulator(layers: 2, width: 2)
        XCTAssertNil(acc.blockInfluence(0)); XCTAssertNil(acc.actNorm(0))
        // Rows: (1,0)→(1,0) cos 1; (1,0)→(0,2) cos 0; padding (5,5)→(−5,−5) cos −1 ignored; (0,0)→(0,0) counts as 1.
        let x: [Float] = [1, 0, 1, 0, 5, 5, 0, 0], y: [Float] = [1, 0, 0, 2, -5, -5, 0, 0]
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                acc.add(layer: 1, input: xp.baseAddress!, output: yp.baseAddress!, rows: [0..<2, 3..<4])
            }
        }
        XCTAssertEqual(acc.positions(1), 3)
        XCTAssertEqual(acc.blockInfluence(1) ?? .nan, 1 - 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(acc.actNorm(1) ?? .nan, 3.0 / 3, accuracy: 1e-15)
        XCTAssertNil(acc.blockInfluence(0))
        // One zero vector: orthogonal (cos 0).
        let (c0, n0) = [Float(0), 0].withUnsafeBufferPointer { a in [Float(3), 4].withUnsafeBufferPointer { b in
            ForwardColumnsAccumulator.cosineAndNorm(a.baseAddress!, b.baseAddress!, count: 2) } }
        XCTAssertEqual(c0, 0); XCTAssertEqual(n0, 5)
    }

    // MARK: cards without the columns

    func testOldCardsStillDecodeRankReportAndDiff() throws {
        let ws = try CardFixtures.tempDir(self)
        let old = CardFixtures.card(L: 6, modelID: "old")
        let json = try old.encodedJSON()
        XCTAssertNil(String(decoding: json, as: UTF8.self).range(of: "block_influence"), "absent fields are not written")
        let decoded = try LayerCard.decode(json, path: "old.json")
        XCTAssertTrue(decoded.layers.allSatisfy { $0.block_influence == nil && $0.act_norm == nil })
        // rank: default and gradient signals work; the forward-only signals are a clear usage error.
        XCTAssertEqual(try Decide.decide(decoded, options: DecisionOptions()).signal, .grad_norm)
        for s in [Signal.block_influence, .act_norm] {
            XCTAssertThrowsError(try Decide.decide(decoded, options: DecisionOptions(signal: s))) { e in
                XCTAssertTrue("\(e)".contains(s.rawValue) && "\(e)".contains("re-run profile"), "\(e)")
            }
        }
        // report: the table has no forward columns, card.csv leaves them empty.
        try CardFixtures.write(old, workspace: ws)
        let logger = Logger(label: "test")
        XCTAssertEqual(try ReportStage.run(ReportRequest(workspace: Workspace(root: ws), models: ["old"]), logger: logger).map(\.status), [.ok])
        let csv = try String(contentsOf: ws.appendingPathComponent("outputs/old/card.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(csv[0].hasSuffix("layer_measured_gain,layer_block_influence,layer_act_norm"), String(csv[0]))
        XCTAssertTrue(csv[1].hasSuffix(",,,"), String(csv[1]))
        let md = try String(contentsOf: ws.appendingPathComponent("outputs/old/report.md"), encoding: .utf8)
        XCTAssertFalse(md.contains("block_influence"))
        // diff old → new: the columns the old card lacks are shown but flag nothing.
        var new = old
        new.model_id = "new"
        for l in new.layers.indices { new.layers[l].block_influence = 0.1 * Double(l + 1); new.layers[l].act_norm = 10 + Double(l) }
        try CardFixtures.write(new, workspace: ws)
        let r = try DiffStage.run(DiffRequest(workspace: Workspace(root: ws), a: "old", b: "new"), logger: logger)
        XCTAssertEqual(r.diff.changed_layers, [])
        XCTAssertEqual(r.diff.layers[2].columns["block_influence"]?.b ?? .nan, 0.3, accuracy: 1e-15)
        XCTAssertNil(r.diff.layers[2].columns["block_influence"]?.a ?? nil)
        // The new card: report shows and correlates the columns, card.csv fills them, rank accepts them as --signal.
        XCTAssertEqual(try ReportStage.run(ReportRequest(workspace: Workspace(root: ws), models: ["new"]), logger: logger).map(\.status), [.ok])
        let csvNew = try String(contentsOf: ws.appendingPathComponent("outputs/new/card.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(csvNew[1].hasSuffix(",0.1,10"), String(csvNew[1]))
        let mdNew = try String(contentsOf: ws.appendingPathComponent("outputs/new/report.md"), encoding: .utf8)
        XCTAssertTrue(mdNew.contains("| block_influence | act_norm |"), mdNew)
        let d = try Decide.decide(new, options: DecisionOptions(k: 2, signal: .block_influence))
        XCTAssertEqual(d.selector.gain.b, new.layers.map { $0.block_influence ?? .nan })
        XCTAssertEqual(d.selections.first { $0.objective == .performance }?.chosen.layers, [4, 5])
        XCTAssertTrue(d.signalSource.contains("forward-only"), d.signalSource)
        let dn = try Decide.decide(new, options: DecisionOptions(modules: ["q_proj"], signal: .act_norm))
        XCTAssertEqual(dn.selector.gain.b, new.layers.map { $0.act_norm ?? .nan }, "--modules does not touch a per-block column")
    }
}
