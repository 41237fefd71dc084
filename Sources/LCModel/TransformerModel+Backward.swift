// Backward pass through the whole model down to the first block's input, reporting for every LoRA-targetable
// module its input activation `a` (N,dIn) and output gradient `delta` = dL/dz (N,dOut) (layer-card-spec §2) to
// a visitor, in reverse layer order. Losses: causal mean next-token loss (§1) or the encoder squared loss on
// mean-pooled embeddings. Memory (MemoryPlan): every block's activations kept from the forward, or only the
// layer-boundary inputs with each block recomputed just before its backward (checkpointing); weights resident
// or streamed; a streamed LM head goes through the blockwise cross-entropy. Deliberately no weight-gradient
// storage (the visitor forms G = Σ deltaᵀ a if it wants) and no gradient for norms/embeddings.
import Dispatch
import LCCore
import LCKernels

/// One module's activation and output gradient for N = B·T positions (padded positions included; their
/// delta is 0 for causal LMs since they have no target and no later real position reads them).
public struct ModuleGradient {
    public let layer: Int
    /// PEFT spelling (TensorNames.modules).
    public let module: String
    /// a: (N, dIn).
    public let input: UnsafePointer<Float>
    /// delta: (N, dOut).
    public let outputGrad: UnsafePointer<Float>
    public let N: Int, dIn: Int, dOut: Int
}

/// Block `layer`'s input and output residual streams, (B·T, C) each (padded positions included), as the forward
/// pass of a loss + backward has just computed them: `input` is what the block read (BERT: the block input, i.e.
/// the embedding LayerNorm's output for block 0), `output` what it wrote (the last block's: before the final norm).
/// Valid only during the observer call.
public struct BlockBoundary {
    public let layer: Int
    public let input: UnsafePointer<Float>
    public let output: UnsafePointer<Float>
    public let batch: Batch
}

/// Wall-clock seconds of one loss + backward by stage (the segmented cost measurement, docs/decisions.md):
/// `forward` (embedding and every block, with weight fetches), `head` (final norm, LM head or pooled loss and
/// their backward), and per layer the block backward with its weight fetch and recompute, minus the time spent in
/// the caller's `visit` and `observe` (statistics are not part of a training step). Layers not reached stay 0.
public final class StepTimer: @unchecked Sendable {
    public private(set) var forward = 0.0, head = 0.0
    public private(set) var backward: [Double]
    public init(layers: Int) { backward = Array(repeating: 0, count: layers) }
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
    func setForward(_ s: Double) { forward = s }
    func setHead(_ s: Double) { head = s }
    func setBackward(_ l: Int, _ s: Double) { backward[l] = s }
    /// forward + head + Σ_{j ≥ l} backward_j: the step truncated at layer l.
    public func truncatedStep(at l: Int) -> Double { forward + head + backward[max(0, l)...].reduce(0, +) }
}

/// What the forward kept for the backward: every block's activations, or (checkpointing) each block's input.
/// A class so the backward can drop each block's activations as soon as its gradient is through (`release`):
/// the memory then serves the statistics' rows of the layers below instead of new pages.
final class SavedForward {
    let batch: Batch
    /// Last block output (B,T,C) (the embedding output when there are no layers).
    let output: FloatBuffer
    private(set) var acts: [BlockActivations?]
    /// Checkpointed block inputs, from `start` up (inputs[l − start] is block l's input).
    private let inputs: [FloatBuffer]
    /// First block the forward ran (blocks below were not run: their output was given, see `forwardForBackward`).
    let start: Int
    /// Seconds the forward spent in the caller's block observer (excluded from the timed forward).
    let observeSeconds: Double
    init(batch: Batch, output: FloatBuffer, acts: [BlockActivations], inputs: [FloatBuffer], start: Int = 0,
         observeSeconds: Double = 0) {
        self.batch = batch; self.output = output; self.acts = acts; self.inputs = inputs; self.start = start
        self.observeSeconds = observeSeconds
    }
    var keepsActivations: Bool { !acts.isEmpty }
    /// Block `l`'s kept activations (until released).
    func activations(_ l: Int) -> BlockActivations {
        guard l >= start, let a = acts[l - start] else { preconditionFailure("activations of layer \(l) already released or not run") }
        return a
    }
    /// Block `l`'s checkpointed input.
    func input(_ l: Int) -> FloatBuffer { inputs[l - start] }
    /// Drops block `l`'s activations (its input stays alive while block l−1's are kept: they share it).
    func release(_ l: Int) { if l >= start, l - start < acts.count { acts[l - start] = nil } }
}

extension TransformerModel {
    /// Causal LM: forward, mean next-token loss (as `loss`), and backward; calls `visit` for every module.
    /// - Parameter stopAtLayer: truncate the backward after block `stopAtLayer` (layers below it get no
    ///   gradient and are not visited); 0 = the full backward.
    /// - Parameter observe: called in the forward, once per block run in layer order, with the block's input and
    ///   output (`BlockBoundary`); the default does nothing. Its time is not part of `timer`'s forward.
    /// - Throws: as `loss`, and weight read errors when streaming.
    public func lossAndBackward(tokens: [[Int]], targetMask: [[Bool]]? = nil, stopAtLayer: Int = 0, timer: StepTimer? = nil,
                                observe: (BlockBoundary) -> Void = { _ in },
                                visit: (ModuleGradient) -> Void) throws -> LossResult {
        try lossAndBackward(tokens: tokens, targetMask: targetMask, from: nil, stopAtLayer: stopAtLayer, timer: timer,
                                   observe: observe, visit: visit)
    }

    /// As `lossAndBackward(tokens:targetMask:stopAtLayer:…)`, but when `from = (l, x)` the forward starts at block
    /// `l` from `x` (block l's input for this batch, (B,T,C), e.g. cached from a forward of a model whose blocks
    /// below `l` are these blocks; not modified) and the backward stops at `l` (`stopAtLayer` is then ignored).
    /// Bit-identical to the full call with `stopAtLayer: l` when `x` is what this model's blocks below `l` give.
    /// - Throws: as `lossAndBackward`; `LCError.usage` when `x` has the wrong size or `l` is out of range.
    ///
    /// `compactHead`: the LM head and its backward run only on the positions that have a target (prompt tokens and
    /// padding get no logits): same loss and gradients (rows without a target contribute 0 to both), far less work
    /// for prompt/response data. Resident weights only (a streamed head always runs blockwise over every row).
    public func lossAndBackward(tokens: [[Int]], targetMask: [[Bool]]?, from: (layer: Int, input: FloatBuffer)?,
                                stopAtLayer: Int = 0, compactHead: Bool = false, timer: StepTimer? = nil,
                                observe: (BlockBoundary) -> Void = { _ in },
                                visit: (ModuleGradient) -> Void) throws -> LossResult {
        guard isCausal else { throw LCError.usage("lossAndBackward: \(config.architecture) is not a causal LM") }
        if let m = targetMask {
            guard m.count == tokens.count, zip(m, tokens).allSatisfy({ $0.count == $1.count }) else {
                throw LCError.usage("lossAndBackward: targetMask must have the same shape as tokens")
            }
        }
        var t = StepTimer.now()
        let b = try makeBatch(tokens)
        let saved = try forwardForBackward(b, from: from, observe: observe)
        timer?.setForward(StepTimer.now() - t - saved.observeSeconds); t = StepTimer.now()
        let (targets, count) = nextTokenTargets(tokens, targetMask: targetMask, T: b.T)
        let (sum, dx) = try headLossBackward(x: saved.output, targets: targets, count: count, N: b.B * b.T, compact: compactHead)
        timer?.setHead(StepTimer.now() - t)
        try backwardBlocks(saved, dOutput: dx, stopAtLayer: from?.layer ?? stopAtLayer, timer: timer, visit: visit)
        return LossResult(sum: sum, count: count)
    }

    /// Loss sum and dL/dx (x = last block output) through final norm + LM head, with dL/dloss_n = 1/count.
    func headLossBackward(x: FloatBuffer, targets: [Int32], count: Int, N: Int, compact: Bool = false) throws -> (Double, FloatBuffer) {
        let V = config.vocabSize, C = config.hiddenSize
        let dl = FloatBuffer(count: N)
        for i in 0..<N where targets[i] >= 0 { dl.ptr[i] = 1 / Float(max(count, 1)) }
        let h = FloatBuffer(count: N * C), mean = FloatBuffer(count: N), rstd = FloatBuffer(count: N)
        let dh = FloatBuffer(count: N * C), dx = FloatBuffer(count: N * C)
        finalNorm(out: h, mean: mean, rstd: rstd, x: x, N: N)
        let sum: Double
        if stream != nil {
            sum = try targets.withUnsafeBufferPointer { tp in
                try blockwiseHeadCrossEntropy(losses: nil, h: h.cptr, targets: tp.baseAddress.unsafelyUnwrapped, dlosses: dl.cptr,
                                              dh: dh.ptr, N: N, C: C, V: V, blockRows: memoryPlan.headBlockRows,
                                              weightRows: { try headRows($0) })
            }
        } else if compact, count < N {
            let w = weights.global["lm_head"]?.cptr ?? g("embed")
            let rows = (0..<N).filter { targets[$0] >= 0 }, M = rows.count
            if M == 0 {
                sum = 0
            } else {
                let hc = FloatBuffer(count: M * C), dlc = FloatBuffer(count: M)
                gatherRows(from: h.cptr, rows: rows, C: C, into: hc.ptr)
                var tc = rows.map { targets[$0] }
                for (i, r) in rows.enumerated() { dlc.ptr[i] = dl.ptr[r] }
                let logits = FloatBuffer(count: M * V), losses = FloatBuffer(count: M), dhc = FloatBuffer(count: M * C)
                matmul(out: logits.ptr, inp: hc.cptr, weight: w, bias: nil, N: M, C: C, OC: V)
                sum = tc.withUnsafeMutableBufferPointer { tp in
                    crossEntropyForwardBackward(losses: losses.ptr, dlogits: logits.ptr, dlosses: dlc.cptr, logits: logits.cptr,
                                                targets: tp.baseAddress.unsafelyUnwrapped, N: M, V: V)
                }
                matmulBackward(dinp: dhc.ptr, dweight: nil, dbias: nil, dout: logits.cptr, inp: hc.cptr, weight: w, N: M, C: C, OC: V)
                for (i, r) in rows.enumerated() { (dh.ptr + r * C).update(from: dhc.cptr + i * C, count: C) }
            }
        } else {
            let logits = FloatBuffer(count: N * V)
            let w = weights.global["lm_head"]?.cptr ?? g("embed")
            matmul(out: logits.ptr, inp: h.cptr, weight: w, bias: nil, N: N, C: C, OC: V)
            // Loss and dlogits in one pass, written over the logits (one N×V buffer, one expf per logit).
            let losses = FloatBuffer(count: N)
            sum = targets.withUnsafeBufferPointer { tp in
                crossEntropyForwardBackward(losses: losses.ptr, dlogits: logits.ptr, dlosses: dl.cptr, logits: logits.cptr,
                                            targets: tp.baseAddress.unsafelyUnwrapped, N: N, V: V)
            }
            matmulBackward(dinp: dh.ptr, dweight: nil, dbias: nil, dout: logits.cptr, inp: h.cptr, weight: w, N: N, C: C, OC: V)
        }
        if config.architecture == "gpt2" {
            layerNormBackward(dinp: dx.ptr, dweight: nil, dbias: nil, dout: dh.cptr, inp: x.cptr, weight: g("final_norm"),
                              mean: mean.cptr, rstd: rstd.cptr, N: N, C: C)
        } else {
            rmsNormBackward(dinp: dx.ptr, dweight: nil, dout: dh.cptr, inp: x.cptr, weight: g("final_norm"), rstd: rstd.cptr, N: N, C: C)
        }
        return (sum, dx)
    }

    /// Encoder squared loss (spec §1): L = (1/2n) Σ_b ||e(x_b) − y_b||² over mean-pooled embeddings; forward,
    /// backward, `visit` per module. Returns L. targets: n vectors of hiddenSize. `stopAtLayer` and `observe` as in
    /// `lossAndBackward`.
    /// - Throws: `LCError.usage` for a causal model or mismatched targets; weight read errors when streaming.
    public func embeddingLossAndBackward(tokens: [[Int]], targets: [[Float]], stopAtLayer: Int = 0, timer: StepTimer? = nil,
                                         observe: (BlockBoundary) -> Void = { _ in },
                                         visit: (ModuleGradient) -> Void) throws -> Double {
        guard !isCausal else { throw LCError.usage("embeddingLossAndBackward: \(config.architecture) is causal") }
        let C = config.hiddenSize
        guard targets.count == tokens.count, targets.allSatisfy({ $0.count == C }) else {
            throw LCError.usage("embeddingLossAndBackward: need one target of \(C) values per sequence")
        }
        var t = StepTimer.now()
        let saved = try forwardForBackward(try makeBatch(tokens), observe: observe)
        timer?.setForward(StepTimer.now() - t - saved.observeSeconds); t = StepTimer.now()
        let b = saved.batch, n = Double(b.B)
        let pooled = meanPool(saved.output, batch: b)
        var L = 0.0
        let dx = FloatBuffer(count: b.B * b.T * C)
        for s in 0..<b.B {
            let len = b.lengths[s]
            for c in 0..<C {
                let diff = Double(pooled[s * C + c]) - Double(targets[s][c])
                L += diff * diff / (2 * n)
                let g = Float(diff / n / Double(len))
                for t in 0..<len { dx.ptr[(s * b.T + t) * C + c] = g }
            }
        }
        timer?.setHead(StepTimer.now() - t)
        try backwardBlocks(saved, dOutput: dx, stopAtLayer: stopAtLayer, timer: timer, visit: visit)
        return L
    }

    /// Forward over `b` keeping what the backward needs: all activations, or block inputs when the plan checkpoints.
    /// `from = (l, x)`: start at block l with input x (copied; blocks below l are not run and get no backward).
    /// `observe` sees every block it runs, input and output, right after the block ran (resident or streamed).
    func forwardForBackward(_ b: Batch, from: (layer: Int, input: FloatBuffer)? = nil,
                            observe: (BlockBoundary) -> Void = { _ in }) throws -> SavedForward {
        let ckpt = memoryPlan.checkpoints(B: b.B, T: b.T)
        let start = from?.layer ?? 0
        var x: FloatBuffer
        if let from {
            guard (0..<config.numLayers).contains(from.layer) else {
                throw LCError.usage("forward from layer \(from.layer): out of range 0..<\(config.numLayers)")
            }
            guard from.input.count == b.B * b.T * config.hiddenSize else {
                throw LCError.usage("forward from layer \(from.layer): input has \(from.input.count) values, "
                                    + "expected \(b.B * b.T * config.hiddenSize)")
            }
            x = FloatBuffer(count: from.input.count)
            x.ptr.update(from: from.input.cptr, count: from.input.count)
        } else {
            x = embed(b)
        }
        var acts: [BlockActivations] = [], inputs: [FloatBuffer] = []
        var observeSeconds = 0.0
        let scratch = ckpt ? BlockActivations(config: config, B: b.B, T: b.T) : nil
        for l in start..<config.numLayers {
            // Kept blocks read the previous block's output in place and share the transient buffers.
            let a = scratch ?? BlockActivations(config: config, B: b.B, T: b.T, input: x, transient: acts.last)
            if ckpt {
                let keep = FloatBuffer(count: x.count); keep.ptr.update(from: x.cptr, count: x.count); inputs.append(keep)
                a.input.ptr.update(from: x.cptr, count: x.count)
            }
            block(l, acts: a, batch: b)
            try throwIfWeightReadFailed()
            let o0 = StepTimer.now()
            observe(BlockBoundary(layer: l, input: a.input.cptr, output: a.output.cptr, batch: b))
            observeSeconds += StepTimer.now() - o0
            if ckpt { x = FloatBuffer(count: x.count); x.ptr.update(from: a.output.cptr, count: x.count) } else { acts.append(a); x = a.output }
        }
        try throwIfWeightReadFailed()
        return SavedForward(batch: b, output: x, acts: acts, inputs: inputs, start: start, observeSeconds: observeSeconds)
    }

    /// Backward from dL/d(last block output) (B,T,C) through all blocks in reverse; with checkpointed inputs,
    /// each block is first recomputed from its saved input (bit-identical to the kept activations).
    func backwardBlocks(_ r: SavedForward, dOutput: FloatBuffer, stopAtLayer: Int = 0, timer: StepTimer? = nil,
                        visit: (ModuleGradient) -> Void) throws {
        let sc = BlockGradScratch(config: config, B: r.batch.B, T: r.batch.T)
        let recompute = !r.keepsActivations && config.numLayers > 0 ? BlockActivations(config: config, B: r.batch.B, T: r.batch.T) : nil
        var d = dOutput, other = FloatBuffer(count: dOutput.count)
        for l in stride(from: config.numLayers - 1, through: max(r.start, stopAtLayer), by: -1) {
            let start = StepTimer.now()
            var visiting = 0.0
            let timed = timer != nil
            defer { timer?.setBackward(l, StepTimer.now() - start - visiting) }
            let w = try layerWeights(l)
            let a: BlockActivations
            if let recompute {
                a = recompute
                let input = r.input(l)
                a.input.ptr.update(from: input.cptr, count: input.count)
                block(l, weights: w, acts: a, batch: r.batch)
            } else {
                a = r.activations(l)
                rematerialize(l, weights: w, acts: a, batch: r.batch)
            }
            blockBackward(l, weights: w, acts: a, dOut: d, dInput: other, scratch: sc, batch: r.batch) { g in
                guard timed else { return visit(g) }
                let v0 = StepTimer.now(); visit(g); visiting += StepTimer.now() - v0
            }
            r.release(l)
            swap(&d, &other)
        }
    }
}

/// Copies rows `rows` (each C floats) of `src` into consecutive rows of `dst`.
func gatherRows(from src: UnsafePointer<Float>, rows: [Int], C: Int, into dst: UnsafeMutablePointer<Float>) {
    for (i, r) in rows.enumerated() { (dst + i * C).update(from: src + r * C, count: C) }
}
