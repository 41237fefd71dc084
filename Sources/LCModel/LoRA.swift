// LoRA fine-tuning on a frozen causal LM (the probe stage, issue 7): adapters W + (alpha/r)·B·A on chosen
// modules of chosen layers, A Kaiming-uniform as PEFT (bound 1/sqrt(d_in), SplitMix64 seeded as docs/decisions.md),
// B = 0, forward through merged weights W_eff = W + s·B·A, backward truncated at the lowest adapted layer, adapter
// gradients dL/dB = s·G·Aᵀ, dL/dA = s·Bᵀ·G from the module visitor (G = Σ δᵀa, never formed on the fast path), Adam.
// Deliberately no dropout, no bias adapters, no encoders, no gradient for anything but A and B.
import Foundation
import LCCore
import LCKernels

/// The probe's generator is the project's SplitMix64 (LCCore).
public typealias ProbeRNG = SplitMix64

/// LoRA hyper-parameters (PEFT names where they exist) and the Adam settings of a probe run.
public struct LoRAOptions: Sendable, Codable, Equatable {
    public var rank: Int = 8
    public var alpha: Double = 16
    /// Seed of A's initialization (module j of layer l: seed ^ (l << 32) ^ j, as docs/decisions.md).
    public var seed: UInt64 = 1234
    public var lr: Double = 1e-3
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var eps: Double = 1e-8
    /// PEFT module names to adapt; nil = every LoRA-targetable module of the architecture.
    public var modules: [String]?
    public init(rank: Int = 8, alpha: Double = 16, seed: UInt64 = 1234, lr: Double = 1e-3, modules: [String]? = nil) {
        self.rank = rank; self.alpha = alpha; self.seed = seed; self.lr = lr; self.modules = modules
    }
    /// s = alpha / r.
    public var scale: Double { alpha / Double(rank) }
}

/// One module's adapter: A (r × dIn) and B (dOut × r), row-major Float32, with Adam moments.
public struct LoRAAdapter: Sendable {
    public let layer: Int
    public let module: String
    /// Weight role in LayerWeights ("q", "down", ...).
    public let role: String
    public let dIn: Int, dOut: Int, rank: Int
    public var a: [Float]
    public var b: [Float]
    /// Adam moments (Float64, so the update matches PyTorch's formula without Float32 constant rounding).
    var mA: [Double], vA: [Double], mB: [Double], vB: [Double]

    /// A seeded Kaiming-uniform (PEFT), B = 0.
    init(layer: Int, moduleIndex: Int, module: String, role: String, dIn: Int, dOut: Int, rank: Int, seed: UInt64) {
        self.layer = layer; self.module = module; self.role = role; self.dIn = dIn; self.dOut = dOut; self.rank = rank
        var g = ProbeRNG(seed: seed ^ (UInt64(truncatingIfNeeded: layer) << 32) ^ UInt64(truncatingIfNeeded: moduleIndex))
        let bound = 1 / Double(dIn).squareRoot()
        a = (0..<(rank * dIn)).map { _ in Float((2 * g.nextUnit() - 1) * bound) }
        b = [Float](repeating: 0, count: dOut * rank)
        mA = [Double](repeating: 0, count: a.count); vA = mA
        mB = [Double](repeating: 0, count: b.count); vB = mB
    }
}

/// Adapter gradients of one step, in adapter order.
public struct LoRAGradients: Sendable {
    public var loss: LossResult
    public var a: [[Float]]
    public var b: [[Float]]
}

/// LoRA training state over a frozen base model.
public final class LoRATrainer: @unchecked Sendable {
    public let base: TransformerModel
    public let options: LoRAOptions
    public private(set) var adapters: [LoRAAdapter]
    /// Adapted layers, ascending.
    public let layers: [Int]
    /// Adam steps taken.
    public private(set) var steps = 0
    /// The base model with every adapted weight replaced by W + s·B·A (other buffers shared).
    public private(set) var merged: TransformerModel
    private let index: [String: Int]  // "layer.module" → adapter index

    /// - Throws: `LCError.usage` for an encoder, an empty or out-of-range layer list, rank < 1, or unknown modules.
    public init(model: TransformerModel, layers: [Int], options: LoRAOptions) throws {
        let c = model.config
        guard model.isCausal else { throw LCError.usage("LoRA probe: \(c.architecture) is not a causal LM") }
        let ls = Array(Set(layers)).sorted()
        guard let lo = ls.first, let hi = ls.last, lo >= 0, hi < c.numLayers else {
            throw LCError.usage("LoRA probe: layers \(layers) not within 0..<\(c.numLayers)")
        }
        guard options.rank >= 1, options.rank <= 4096 else { throw LCError.usage("LoRA rank must be in 1...4096") }
        let all = Architecture.modules(c.architecture), roles = TensorNames.moduleRoles(arch: c.architecture)
        let chosen = options.modules ?? all
        for m in chosen where !all.contains(m) {
            throw LCError.usage("LoRA probe: module '\(m)' is not one of \(all.joined(separator: ","))")
        }
        guard !chosen.isEmpty else { throw LCError.usage("LoRA probe: no modules") }
        var ads: [LoRAAdapter] = [], idx: [String: Int] = [:]
        for l in ls {
            for (j, m) in all.enumerated() where chosen.contains(m) {
                guard let role = roles[m], let (dOut, dIn) = Self.dims(c, role: role) else {
                    throw LCError.usage("LoRA probe: no weight for module '\(m)'")
                }
                idx["\(l).\(m)"] = ads.count
                ads.append(LoRAAdapter(layer: l, moduleIndex: j, module: m, role: role, dIn: dIn, dOut: dOut,
                                       rank: options.rank, seed: options.seed))
            }
        }
        base = model; self.options = options; adapters = ads; self.layers = ls; index = idx
        merged = model
        merged = try merge()
    }

    /// (dOut, dIn) of a linear role.
    static func dims(_ c: ModelConfig, role: String) -> (Int, Int)? {
        let C = c.hiddenSize, I = c.intermediateSize, q = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim
        switch role {
        case "q": return (q, C)
        case "k", "v": return (kv, C)
        case "o": return (C, q)
        case "gate", "up": return (I, C)
        case "down": return (C, I)
        case "qkv": return (3 * C, C)
        default: return nil
        }
    }

    /// Adam hyper-parameters are in `options`; the adapter parameters can be set directly (tests, restarts).
    public func setParameters(_ i: Int, a: [Float]? = nil, b: [Float]? = nil) throws {
        guard adapters.indices.contains(i) else { throw LCError.usage("adapter \(i) out of range") }
        if let a { guard a.count == adapters[i].a.count else { throw LCError.usage("A size") }; adapters[i].a = a }
        if let b { guard b.count == adapters[i].b.count else { throw LCError.usage("B size") }; adapters[i].b = b }
        merged = try merge()
    }

    /// W_eff = W + s·B·A for every adapted module (new buffers; W itself is never written).
    private func merge() throws -> TransformerModel {
        var byLayer: [Int: LayerWeights] = [:]
        let s = Float(options.scale)
        for ad in adapters {
            let baseLayer = try base.layerWeights(ad.layer)
            var lw = byLayer[ad.layer] ?? baseLayer
            guard let w = baseLayer[ad.role], w.count == ad.dOut * ad.dIn else {
                throw LCError.usage("LoRA probe: weight \(ad.role) of layer \(ad.layer) missing or misshapen")
            }
            let out = FloatBuffer(count: w.count)
            ad.b.withUnsafeBufferPointer { bp in
                ad.a.withUnsafeBufferPointer { ap in
                    sgemmPlain(c: out.ptr, a: bp.baseAddress.unsafelyUnwrapped, b: ap.baseAddress.unsafelyUnwrapped,
                               M: ad.dOut, N: ad.dIn, K: ad.rank)
                }
            }
            for i in 0..<w.count { out.ptr[i] = w.ptr[i] + s * out.ptr[i] }
            lw.buffers[ad.role] = out
            byLayer[ad.layer] = lw
        }
        var m = base
        for (l, lw) in byLayer.sorted(by: { $0.key < $1.key }) { m = try m.replacingLayerWeights(l, with: lw) }
        return m
    }

    /// Mean next-token loss of the merged model (no gradient).
    public func loss(tokens: [[Int]], targetMask: [[Bool]]?) throws -> LossResult {
        try merged.loss(tokens: tokens, targetMask: targetMask)
    }

    /// Loss and adapter gradients on one batch. `truncate`: stop the backward at the lowest adapted layer
    /// (false runs it to layer 0 — same gradients, used by tests). `naive`: form G = Σ δᵀa explicitly in Float64.
    /// `from = (l, x)` with l = the lowest adapted layer: the forward starts at block l from its cached input x
    /// (the frozen blocks below l are the base model's, so x is the same for every adapter set above; bit-identical).
    public func gradients(tokens: [[Int]], targetMask: [[Bool]]?, truncate: Bool = true, naive: Bool = false,
                          from: FloatBuffer? = nil, compactHead: Bool = false, timer: StepTimer? = nil) throws -> LoRAGradients {
        var gA = adapters.map { [Float](repeating: 0, count: $0.a.count) }
        var gB = adapters.map { [Float](repeating: 0, count: $0.b.count) }
        let s = Float(options.scale)
        let stop = truncate ? (layers.first ?? 0) : 0
        let start = from.map { (layer: layers.first ?? 0, input: $0) }
        let loss = try merged.lossAndBackward(tokens: tokens, targetMask: targetMask, from: start, stopAtLayer: stop,
                                              compactHead: compactHead, timer: timer) { mg in
            guard let i = index["\(mg.layer).\(mg.module)"] else { return }
            let ad = adapters[i]
            guard mg.dIn == ad.dIn, mg.dOut == ad.dOut else { return }
            if naive {
                let (da, db) = Self.naiveGradients(ad, mg, scale: Double(options.scale))
                gA[i] = da; gB[i] = db
            } else {
                Self.fastGradients(ad, mg, scale: s, gA: &gA[i], gB: &gB[i])
            }
        }
        return LoRAGradients(loss: loss, a: gA, b: gB)
    }

    /// dB = s·δᵀ(a·Aᵀ), dA = s·(δ·B)ᵀ·a through BLAS; O(N·r·(dIn+dOut)).
    static func fastGradients(_ ad: LoRAAdapter, _ mg: ModuleGradient, scale s: Float, gA: inout [Float], gB: inout [Float]) {
        let N = mg.N, r = ad.rank
        let aA = FloatBuffer(count: N * r), dB = FloatBuffer(count: N * r)
        ad.a.withUnsafeBufferPointer { ap in
            let A = ap.baseAddress.unsafelyUnwrapped
            matmul(out: aA.ptr, inp: mg.input, weight: A, bias: nil, N: N, C: ad.dIn, OC: r)  // a·Aᵀ (N,r)
        }
        ad.b.withUnsafeBufferPointer { bp in
            let B = bp.baseAddress.unsafelyUnwrapped
            matmulBackward(dinp: dB.ptr, dweight: nil, dbias: nil, dout: mg.outputGrad, inp: mg.input, weight: B,
                           N: N, C: r, OC: ad.dOut)  // δ·B (N,r)
        }
        gB.withUnsafeMutableBufferPointer { gp in  // gB (dOut,r) += δᵀ·aA
            matmulBackward(dinp: nil, dweight: gp.baseAddress.unsafelyUnwrapped, dbias: nil, dout: mg.outputGrad, inp: aA.cptr,
                           weight: aA.cptr, N: N, C: r, OC: ad.dOut)
        }
        gA.withUnsafeMutableBufferPointer { gp in  // gA (r,dIn) += (δB)ᵀ·a
            matmulBackward(dinp: nil, dweight: gp.baseAddress.unsafelyUnwrapped, dbias: nil, dout: dB.cptr, inp: mg.input,
                           weight: mg.input, N: N, C: ad.dIn, OC: r)
        }
        for i in gA.indices { gA[i] *= s }
        for i in gB.indices { gB[i] *= s }
    }

    /// Reference: G = Σ_t δ_tᵀ a_t in Float64, dB = s·G·Aᵀ, dA = s·Bᵀ·G.
    static func naiveGradients(_ ad: LoRAAdapter, _ mg: ModuleGradient, scale s: Double) -> ([Float], [Float]) {
        let N = mg.N, dIn = ad.dIn, dOut = ad.dOut, r = ad.rank
        var G = [Double](repeating: 0, count: dOut * dIn)
        for t in 0..<N {
            for o in 0..<dOut {
                let d = Double(mg.outputGrad[t * dOut + o])
                if d == 0 { continue }
                for i in 0..<dIn { G[o * dIn + i] += d * Double(mg.input[t * dIn + i]) }
            }
        }
        var dB = [Float](repeating: 0, count: dOut * r), dA = [Float](repeating: 0, count: r * dIn)
        for o in 0..<dOut {
            for k in 0..<r {
                var acc = 0.0
                for i in 0..<dIn { acc += G[o * dIn + i] * Double(ad.a[k * dIn + i]) }
                dB[o * r + k] = Float(s * acc)
            }
        }
        for k in 0..<r {
            for i in 0..<dIn {
                var acc = 0.0
                for o in 0..<dOut { acc += Double(ad.b[o * r + k]) * G[o * dIn + i] }
                dA[k * dIn + i] = Float(s * acc)
            }
        }
        return (dA, dB)
    }

    /// One Adam step (PyTorch semantics: bias-corrected moments, weight decay 0) on one batch; returns the
    /// batch loss before the update.
    @discardableResult
    public func step(tokens: [[Int]], targetMask: [[Bool]]?, from: FloatBuffer? = nil, compactHead: Bool = false,
                     timer: StepTimer? = nil) throws -> LossResult {
        let g = try gradients(tokens: tokens, targetMask: targetMask, from: from, compactHead: compactHead, timer: timer)
        steps += 1
        let o = options, t = Double(steps)
        let c1 = 1 - Foundation.pow(o.beta1, t), c2 = 1 - Foundation.pow(o.beta2, t)
        func adam(_ p: inout [Float], _ m: inout [Double], _ v: inout [Double], _ grad: [Float]) {
            for i in p.indices {
                let g = Double(grad[i])
                m[i] = o.beta1 * m[i] + (1 - o.beta1) * g
                v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g
                p[i] = Float(Double(p[i]) - o.lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + o.eps))
            }
        }
        for i in adapters.indices {
            var ad = adapters[i]
            adam(&ad.a, &ad.mA, &ad.vA, g.a[i])
            adam(&ad.b, &ad.mB, &ad.vB, g.b[i])
            adapters[i] = ad
        }
        merged = try merge()
        return g.loss
    }

    /// Trainable parameter count (Σ r·(dIn + dOut)).
    public var parameterCount: Int { adapters.reduce(0) { $0 + $1.a.count + $1.b.count } }
}
