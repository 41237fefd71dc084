// The streamed-weights side of TransformerModel: layer weights fetched on demand through a one-layer cache
// (the source's pages released after each copy), embedding rows gathered for the batch's tokens only, and the
// LM head read in vocabulary blocks (logits, or the blockwise cross-entropy without (N,V) logits).
// Deliberately the same math as the resident path: tests compare the two.
import LCCore
import LCKernels

extension TransformerModel {
    /// True when layers, the embedding and the LM head are read from the source on demand.
    public var streamsWeights: Bool { stream != nil }

    /// Layer `l`'s weights: the resident buffers (shared — do not modify them; copy to perturb), or a fresh
    /// fetch from the source (cached for the next call on the same layer).
    /// - Throws: `LCError.usage` for a layer out of range; the source's read/shape errors when streaming.
    public func layerWeights(_ l: Int) throws -> LayerWeights {
        guard l >= 0, l < config.numLayers else { throw LCError.usage("layer \(l) outside 0..<\(config.numLayers)") }
        if let o = overrides[l] { return o }
        guard let src = stream else { return weights.layers[l] }
        return try cache.get(l) { try ModelWeights.fetchLayer(config: config, source: src, layer: l) }
    }

    /// Throws (once) the first weight read error that the non-throwing stages (`embed`, `block`, `head`) met
    /// while streaming. Resident models never fail here. The throwing entry points call it themselves.
    public func throwIfWeightReadFailed() throws {
        if let e = cache.takeError() { throw e }
    }

    /// Canonical name of the LM head matrix (the embedding when tied, as the resident path does).
    var headWeightName: String {
        let g = TensorNames.globalTensors(arch: config.architecture)
        if config.architecture != "gpt2", config.architecture != "bert", !config.tiedEmbeddings, let h = g["lm_head"] { return h }
        return g["embed"] ?? ""
    }

    /// LM head rows `range` as a (range.count, C) buffer.
    func headRows(_ range: Range<Int>) throws -> FloatBuffer {
        if stream == nil {
            let w = weights.global["lm_head"] ?? weights.global["embed"]
            guard let w else { throw LCError.format(path: "weights", message: "no LM head") }
            let C = config.hiddenSize, out = FloatBuffer(count: range.count * C)
            out.ptr.update(from: w.cptr + range.lowerBound * C, count: range.count * C)
            return out
        }
        return try rows(headWeightName, range)
    }

    /// Rows of a streamed 2-D tensor, shape-checked.
    func rows(_ name: String, _ range: Range<Int>) throws -> FloatBuffer {
        guard let src = stream else { throw LCError.usage("rows: model is not streaming") }
        let C = config.hiddenSize
        guard let t = try src.rows(name, range) else { throw LCError.format(path: src.sourceName, message: "missing tensor '\(name)'") }
        guard t.shape == [range.count, C], t.data.count == range.count * C else {
            throw LCError.format(path: src.sourceName, message: "tensor '\(name)': rows \(range) came back as \(t.shape)")
        }
        return FloatBuffer(t.data)
    }

    /// Embedding lookup reading only the batch's distinct token rows.
    func streamedEmbedding(into x: FloatBuffer, batch: Batch) {
        let c = config, C = c.hiddenSize
        do {
            guard let src = stream, let name = TensorNames.globalTensors(arch: c.architecture)["embed"] else { return }
            let ids = Array(Set(batch.tokens.map { Int($0) })).sorted()
            guard let t = try src.gatherRows(name, ids), t.shape == [ids.count, C], t.data.count == ids.count * C else {
                throw LCError.format(path: src.sourceName, message: "tensor '\(name)': cannot gather \(ids.count) rows of width \(C)")
            }
            var slot: [Int32: Int32] = [:]
            for (i, id) in ids.enumerated() { slot[Int32(id)] = Int32(i) }
            let local = batch.tokens.map { slot[$0] ?? 0 }
            let table = FloatBuffer(t.data)
            local.withUnsafeBufferPointer { tp in
                embedding(out: x.ptr, tokens: tp.baseAddress.unsafelyUnwrapped, wte: table.cptr,
                          wpe: weights.global["pos_embed"]?.cptr, typeRow: weights.global["type_embed"]?.cptr,
                          B: batch.B, T: batch.T, C: C, V: ids.count)
            }
        } catch {
            cache.record(error)
            x.ptr.update(repeating: .nan, count: x.count)
        }
    }

    /// logits (N,V) = h·Wᵀ with W read in row blocks.
    func streamedLogits(into logits: FloatBuffer, h: FloatBuffer, N: Int) {
        let V = config.vocabSize, C = config.hiddenSize, R = memoryPlan.headBlockRows
        let part = FloatBuffer(count: N * R)
        do {
            var v0 = 0
            while v0 < V {
                let v1 = min(V, v0 + R), nb = v1 - v0
                let w = try headRows(v0..<v1)
                matmul(out: part.ptr, inp: h.cptr, weight: w.cptr, bias: nil, N: N, C: C, OC: nb)
                for n in 0..<N { (logits.ptr + n * V + v0).update(from: part.cptr + n * nb, count: nb) }
                v0 = v1
            }
        } catch {
            cache.record(error)
            logits.ptr.update(repeating: .nan, count: logits.count)
        }
    }

    /// `loss` for a streamed model: blocks without kept activations, then the blockwise cross-entropy.
    func streamedLoss(tokens: [[Int]], targetMask: [[Bool]]?) throws -> LossResult {
        let b = try makeBatch(tokens), N = b.B * b.T, C = config.hiddenSize
        var x = embed(b)
        let acts = BlockActivations(config: config, B: b.B, T: b.T)
        for l in 0..<config.numLayers {
            acts.input.ptr.update(from: x.cptr, count: x.count)
            block(l, acts: acts, batch: b)
            try throwIfWeightReadFailed()
            x = acts.output
        }
        try throwIfWeightReadFailed()
        let h = FloatBuffer(count: N * C)
        finalNorm(out: h, mean: nil, rstd: nil, x: x, N: N)
        let (targets, count) = nextTokenTargets(tokens, targetMask: targetMask, T: b.T)
        let sum = try targets.withUnsafeBufferPointer { tp in
            try blockwiseHeadCrossEntropy(losses: nil, h: h.cptr, targets: tp.baseAddress.unsafelyUnwrapped, dlosses: nil, dh: nil,
                                          N: N, C: C, V: config.vocabSize, blockRows: memoryPlan.headBlockRows,
                                          weightRows: { try headRows($0) })
        }
        return LossResult(sum: sum, count: count)
    }
}
