// Analytic cost of one LoRA training step per token (layer-card-spec §4), "adapters only at layer l":
//   forward of the whole model + backward (activation gradients) through layers ≥ l and the head
//   + adapter forward/backward/weight gradients (6·r·(d_in+d_out) per module),
// counting matmul FLOPs (2 per multiply-add) and attention score/value products; norms, activations and
// softmax (O(C) per token) are left out. Activation memory counts the buffers our backward reads per
// token (BlockActivations) for layers ≥ l plus the head's logits. Deliberately no timing (see the profiler).
import Foundation
import LCModel

/// Per-layer analytic cost and the card's CostModel.
public struct AnalyticCost: Sendable, Equatable {
    /// FLOPs per token of a step with adapters only at layer l.
    public var layerCost: [Double]
    /// Activation bytes per token retained for layers ≥ l (plus the head).
    public var activationBytes: [Double]
    public var model: CostModel

    /// - Parameters:
    ///   - modules: per layer, the (d_in, d_out) of each target module.
    ///   - rank: LoRA rank r.
    ///   - context: mean number of keys each query attends to (causal: mean of t+1 over positions).
    ///   - sequenceLength: mean padded length T (for the stored attention probabilities).
    public init(config c: ModelConfig, modules: [[(dIn: Int, dOut: Int)]], rank r: Int, context: Double, sequenceLength: Double) {
        let causal = c.architecture != "bert"
        let attnWidth = Double(c.numHeads * c.headDim)
        let headFwd = causal ? 2 * Double(c.vocabSize) * Double(c.hiddenSize) : 0
        let headBwd = headFwd
        var fwd: [Double] = [], bwd: [Double] = [], adapter: [Double] = [], params: [Int] = [], bytes: [Double] = []
        let C = Double(c.hiddenSize), I = Double(c.intermediateSize)
        let qD = attnWidth, kD = Double(c.numKVHeads * c.headDim)
        let swiglu = c.activation == "silu"
        for mods in modules {
            let lin = mods.reduce(0.0) { $0 + Double($1.dIn) * Double($1.dOut) }
            fwd.append(2 * lin + 4 * attnWidth * context)
            bwd.append(2 * lin + 8 * attnWidth * context)
            adapter.append(mods.reduce(0.0) { $0 + 6 * Double(r) * Double($1.dIn + $1.dOut) })
            params.append(mods.reduce(0) { $0 + r * ($1.dIn + $1.dOut) })
            // What an eager fine-tuning backward keeps (not LayerCard's profiler, which recomputes some): input, attnIn,
            // resid1, ffnIn (C each); q, attnOut (qD); k, v (kD); probabilities; gate?/up/act (I).
            let floats = 4 * C + 2 * qD + 2 * kD + Double(c.numHeads) * sequenceLength + (swiglu ? 3 : 2) * I
            bytes.append(4 * floats)
        }
        let L = modules.count
        let forward = fwd.reduce(0, +) + headFwd
        let adapterMean = adapter.isEmpty ? 0 : adapter.reduce(0, +) / Double(L)
        let headBytes = causal ? 4 * (Double(c.vocabSize) + C) : 4 * C
        var cost = [Double](repeating: 0, count: L), act = [Double](repeating: 0, count: L)
        var tailB = 0.0, tailA = 0.0
        for l in stride(from: L - 1, through: 0, by: -1) {
            tailB += bwd[l]; tailA += bytes[l]
            cost[l] = forward + headBwd + tailB + adapter[l]
            act[l] = tailA + headBytes
        }
        layerCost = cost; activationBytes = act
        let all = (cost.first ?? 0) + Double(max(0, L - 1)) * adapterMean
        let p = params.max() ?? 0
        model = CostModel(forward_flops_per_token: forward, adapter_flops_per_token: adapterMean, adapter_params_per_layer: p,
                          optimizer_bytes_per_layer: 3 * p * 4, all_layers_cost: all, measured_layers: [])
    }
}
