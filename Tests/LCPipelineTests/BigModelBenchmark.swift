// LAYERCARD_BENCH=1 benchmark (not a regular test): a forward + loss + backward over 256 tokens through the
// memory-bounded streaming path on the store of LAYERCARD_BENCH_MODEL (default "qwen3-8b-shapes") in the
// workspace LAYERCARD_BENCH_WORKSPACE, with a budget of LAYERCARD_BENCH_BUDGET bytes (default 5.5e9).
// Prints per-phase seconds, module visits and peak RSS. scripts/bench/big_model.sh sets everything up.
import Foundation
import LCCore
import LCModel
import LCPipeline
import XCTest

final class BigModelBenchmark: XCTestCase {
    func testBenchmarkStreamedBackward() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["LAYERCARD_BENCH"] == "1", let wsPath = env["LAYERCARD_BENCH_WORKSPACE"] else {
            throw XCTSkip("set LAYERCARD_BENCH=1 and LAYERCARD_BENCH_WORKSPACE (scripts/bench/big_model.sh)")
        }
        let id = env["LAYERCARD_BENCH_MODEL"] ?? "qwen3-8b-shapes"
        let budget = Int(env["LAYERCARD_BENCH_BUDGET"] ?? "") ?? 5_500_000_000
        let tokensN = Int(env["LAYERCARD_BENCH_TOKENS"] ?? "") ?? 256
        let t0 = Date()
        let store = try StoreWeights(workspace: Workspace(root: URL(fileURLWithPath: wsPath)), model: id)
        let config = try XCTUnwrap(store.manifest.config)
        let model = try TransformerModel(config: config, weights: store, memory: MemoryOptions(budget: budget))
        let tOpen = Date().timeIntervalSince(t0)
        let plan = model.memoryPlan
        say(String(format: "[bench-big] %@: %d layers, %.2f GB f32 weights, budget %.2f GB, streamed %@, checkpointed %@, est. peak %.2f GB",
                     id, config.numLayers, Double(plan.weightBytes) / 1e9, Double(budget) / 1e9, "\(plan.streamWeights)",
                     "\(plan.checkpoints(B: 1, T: tokensN))", Double(plan.estimatedPeakBytes(B: 1, T: tokensN)) / 1e9))
        XCTAssertTrue(model.streamsWeights)
        var rng = SplitMix(seed: 7)
        let tokens = [(0..<tokensN).map { _ in Int(rng.next() % UInt64(config.vocabSize)) }]
        var visits = 0, sumSq = 0.0, layerTimes: [Int: Date] = [:]
        let t1 = Date()
        let r = try model.lossAndBackward(tokens: tokens) { mg in
            if layerTimes[mg.layer] == nil {
                layerTimes[mg.layer] = Date()
                say(String(format: "[bench-big] backward reached layer %d at %.1f s, RSS %.2f GB", mg.layer,
                             Date().timeIntervalSince(t1), Double(ProcessStats.currentRSSBytes()) / 1e9))
            }
            visits += 1
            for i in 0..<min(mg.N * mg.dOut, 4096) { sumSq += Double(mg.outputGrad[i]) * Double(mg.outputGrad[i]) }
        }
        let tBwd = Date().timeIntervalSince(t1)
        let peak = ProcessStats.peakRSSBytes()
        say(String(format: "[bench-big] open+plan %.1f s; forward+loss+backward over %d tokens: %.1f s; loss %.4f; %d module visits; peak RSS %.2f GB",
                     tOpen, tokensN, tBwd, r.mean, visits, Double(peak) / 1e9))
        XCTAssertEqual(visits, config.numLayers * TensorNames.modules(arch: config.architecture).count)
        XCTAssertTrue(r.mean.isFinite && sumSq.isFinite)
    }
}

/// Unbuffered progress line (stdout is block-buffered when piped).
func say(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Deterministic token ids for the benchmark.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
