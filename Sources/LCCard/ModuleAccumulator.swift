// Streams one layer's per-module (a, delta) batches (layer-card-spec §2) into G = Σ s·deltaᵀa and the input
// second moment Σ aᵀa, skipping padding rows. Precision: each batch's deltaᵀa is one Float32 sgemm over that
// batch's rows, added into a Float64 G (on SmolLM2, 16 records: resnorm within 8e-8 and grad_norm within 2e-7
// relative of an all-Float64 dgemm G, which costs 25% more forward+backward time); Σ aᵀa is a Float64
// dsyrk on the rows widened to Double. Modules reading the same input buffer in a batch (q,k,v; gate,up)
// share one input-moment accumulator. Deliberately no statistics here: see ModuleStatistics.swift.
//
// Gram (row) mode, for input groups with more dimensions than the profile has token positions (N < d_in, e.g.
// 256 tokens through a 4096-wide model): G (d_out × d_in) and C (d_in × d_in) would be huge and rank ≤ N, so the
// group keeps its real input rows A (N × d_in) and each module its scaled output-gradient rows Δ (N × d_out),
// in Float32 as the backward produced them (Δ scaled in Float64, then rounded). Every statistic then follows
// from the N × N Gram matrices AAᵀ and ΔΔᵀ exactly (ModuleStatistics.swift, docs/decisions.md).
import Foundation
import LCKernels

/// Input second moment of one group of modules that read the same activation.
final class InputMoment {
    let d: Int
    /// Σ aᵀa (d, d), upper triangle until `finish` (primal mode; empty in Gram mode).
    let S: UnsafeMutablePointer<Double>
    /// Gram mode: the real input rows, (N, d) row-major.
    let gram: Bool
    var rows: [Float] = []
    /// Values of `rows` written so far (rows is preallocated to the expected total when known).
    var rowsFilled = 0
    var N = 0
    var lastBatch = -1
    var modules: [String] = []

    init(d: Int, gram: Bool) {
        self.d = d
        self.gram = gram
        let n = gram ? 0 : d * d
        S = .allocate(capacity: max(n, 1)); S.initialize(repeating: 0, count: max(n, 1))
    }
    deinit { S.deallocate() }
}

/// G of one module, Float64 (primal mode), or its scaled output-gradient rows Δ (N, dOut) (Gram mode).
final class GradientSum {
    let dIn: Int, dOut: Int
    let G: UnsafeMutablePointer<Double>
    let gram: Bool
    var deltaRows: [Float] = []
    var deltaFilled = 0
    init(dIn: Int, dOut: Int, gram: Bool) {
        self.dIn = dIn; self.dOut = dOut; self.gram = gram
        let n = gram ? 1 : dIn * dOut
        G = .allocate(capacity: n); G.initialize(repeating: 0, count: n)
    }
    deinit { G.deallocate() }
}

/// All accumulators of one layer. Not thread-safe: feed it from one thread.
public final class ModuleAccumulator: @unchecked Sendable {
    public let layer: Int
    var grads: [String: GradientSum] = [:]
    var groups: [InputMoment] = []
    var groupOf: [String: Int] = [:]
    // Pointer identity → group within the current batch.
    var batchPointers: [UnsafePointer<Float>: Int] = [:]
    var currentBatch = -1
    // Scratch (grown on demand).
    var aRows: [Float] = [], dRows: [Float] = [], aRows64: [Double] = [], gBatch: [Float] = []

    /// Input groups wider than this many dimensions use Gram (row) mode; nil = never.
    public let gramBelowWidth: Int?

    /// - Parameter gramRows: the total number of real rows the accumulator will see (when known): input groups
    ///   with `d_in > gramRows` keep rows instead of G and C (Gram mode, exact and cheaper when N < d_in).
    ///   nil keeps the primal G/C form everywhere; 0 forces Gram mode everywhere (tests).
    public init(layer: Int, gramRows: Int? = nil) { self.layer = layer; self.gramBelowWidth = gramRows }

    /// Appends the real `rows` of `src` (width `width`) to `store` at `filled`, into preallocated room when there is
    /// some (Gram rows are sized once for the expected total, huge-page backed: growing them by doubling re-faults and
    /// copies every page).
    static func appendRows(_ store: inout [Float], _ filled: inout Int, expected: Int, _ src: UnsafePointer<Float>,
                           rows: [Range<Int>], width: Int) {
        let count = rows.reduce(0) { $0 + $1.count } * width
        if store.isEmpty && count == expected && count > 0 {
            // One batch brings every expected row (the single-batch profile): copy them in one pass, no zero fill.
            store = [Float](unsafeUninitializedCapacity: count) { buf, n in
                guard let b = buf.baseAddress else { n = 0; return }
                if count * 4 >= HugePages.threshold { HugePages.advise(UnsafeMutableRawPointer(b), bytes: count * 4) }
                gatherRows(to: b, src, rows: rows, width: width)
                n = count
            }
            filled = count
            return
        }
        if store.isEmpty && expected > 0 { store = HugePages.zeroedArray(count: expected) }
        if filled + count > store.count { store.append(contentsOf: repeatElement(0, count: max(filled + count - store.count, store.count))) }
        gatherRows(into: &store, at: filled, src, rows: rows, width: width)
        filled += count
    }

    /// Copies the real `rows` of `src` (width `width`) contiguously into `dst` from index `at` (dst must have room).
    static func gatherRows(into dst: inout [Float], at: Int = 0, _ src: UnsafePointer<Float>, rows: [Range<Int>], width: Int) {
        dst.withUnsafeMutableBufferPointer { db in
            guard let dp = db.baseAddress else { return }
            gatherRows(to: dp + at, src, rows: rows, width: width)
        }
    }

    /// The same into raw memory (which may be uninitialized: Float is trivial).
    static func gatherRows(to dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, rows: [Range<Int>], width: Int) {
        var r = 0
        for range in rows {
            Parallel.copy(dst + r * width, from: src + range.lowerBound * width, count: range.count * width)
            r += range.count
        }
    }

    /// Drops preallocated room that was not used (before the statistics read the rows).
    func trimRows() {
        for g in groups where g.gram && g.rows.count > g.rowsFilled { g.rows.removeLast(g.rows.count - g.rowsFilled) }
        for gs in grads.values where gs.gram && gs.deltaRows.count > gs.deltaFilled { gs.deltaRows.removeLast(gs.deltaRows.count - gs.deltaFilled) }
    }

    func usesGram(d: Int) -> Bool { Self.usesGram(d: d, gramRows: gramBelowWidth) }

    /// The one rule for which form an input group of width `d` takes, given `init`'s `gramRows`.
    public static func usesGram(d: Int, gramRows: Int?) -> Bool { gramRows.map { d > $0 } ?? false }

    /// Module names seen, in first-seen order of their input groups.
    public var moduleNames: [String] { groups.flatMap(\.modules) }

    /// Adds one module's batch.
    /// - Parameters:
    ///   - input: a (rowsTotal, dIn), outputGrad: delta (rowsTotal, dOut) — all positions of the batch.
    ///   - rows: the real (non-padding) row ranges to use.
    ///   - scale: multiplies delta (turns a per-batch mean loss into the global one).
    ///   - batch: a batch counter; modules reading the same `input` pointer within one batch share a moment.
    public func add(module: String, input: UnsafePointer<Float>, outputGrad: UnsafePointer<Float>, dIn: Int, dOut: Int,
                    rows: [Range<Int>], scale: Double, batch: Int) {
        if batch != currentBatch { currentBatch = batch; batchPointers = [:] }
        let n = rows.reduce(0) { $0 + $1.count }
        // Input moment (shared by modules reading the same buffer).
        let gi: Int
        if let known = groupOf[module] { gi = known } else if let p = batchPointers[input], groups[p].d == dIn { gi = p } else {
            groups.append(InputMoment(d: dIn, gram: usesGram(d: dIn))); gi = groups.count - 1
        }
        if groupOf[module] == nil { groupOf[module] = gi; groups[gi].modules.append(module) }
        batchPointers[input] = gi
        let grp = groups[gi]
        // Gather real rows (the primal form's products need them contiguous; the Gram form appends them directly).
        if !grp.gram {
            if aRows.count < n * dIn { aRows = [Float](repeating: 0, count: n * dIn) }
            Self.gatherRows(into: &aRows, input, rows: rows, width: dIn)
        }
        if grp.lastBatch != batch && n > 0 && grp.gram {
            grp.lastBatch = batch
            Self.appendRows(&grp.rows, &grp.rowsFilled, expected: (gramBelowWidth ?? 0) * dIn, input, rows: rows, width: dIn)
            grp.N += n
        } else if grp.lastBatch != batch && n > 0 {
            grp.lastBatch = batch
            if aRows64.count < n * dIn { aRows64 = [Double](repeating: 0, count: n * dIn) }
            for i in 0..<(n * dIn) { aRows64[i] = Double(aRows[i]) }
            aRows64.withUnsafeBufferPointer { gramAccumulateUpper(grp.S, $0.baseAddress.unsafelyUnwrapped, N: n, d: dIn) }
            grp.N += n
        } else if grp.lastBatch != batch {
            grp.lastBatch = batch
        }
        // G += scale · deltaᵀ a (Float32 product of this batch, Float64 sum over batches).
        let gs: GradientSum
        if let g = grads[module] { gs = g } else { gs = GradientSum(dIn: dIn, dOut: dOut, gram: grp.gram); grads[module] = gs }
        guard n > 0 else { return }
        if gs.gram {
            // Scaled rows appended in place (memcpy, then one vectorizable pass), not element by element.
            let old = gs.deltaFilled
            Self.appendRows(&gs.deltaRows, &gs.deltaFilled, expected: (gramBelowWidth ?? 0) * dOut, outputGrad, rows: rows, width: dOut)
            if scale != 1 {
                gs.deltaRows.withUnsafeMutableBufferPointer { db in
                    guard let p = db.baseAddress else { return }
                    for i in old..<(old + n * dOut) { p[i] = Float(scale * Double(p[i])) }
                }
            }
            return
        }
        if dRows.count < n * dOut { dRows = [Float](repeating: 0, count: n * dOut) }
        Self.gatherRows(into: &dRows, outputGrad, rows: rows, width: dOut)
        if gBatch.count < dIn * dOut { gBatch = [Float](repeating: 0, count: dIn * dOut) }
        gBatch.withUnsafeMutableBufferPointer { gb in
            aRows.withUnsafeBufferPointer { ab in
                dRows.withUnsafeBufferPointer { db in
                    guard let g = gb.baseAddress, let a = ab.baseAddress, let d = db.baseAddress else { return }
                    g.update(repeating: 0, count: dIn * dOut)
                    matmulBackward(dinp: nil, dweight: g, dbias: nil, dout: d, inp: a, weight: a, N: n, C: dIn, OC: dOut)
                }
            }
            guard let g = gb.baseAddress else { return }
            for i in 0..<(dIn * dOut) { gs.G[i] += scale * Double(g[i]) }
        }
    }

    /// Total real rows the module's input group saw.
    public func rowCount(module: String) -> Int { groupOf[module].map { groups[$0].N } ?? 0 }
}

/// Naive Float64 reference: G = Σ_batches scale_b · Σ_rows deltaᵀa and S = Σ aᵀa, from explicit row lists.
public func accumulateNaive(batches: [(a: [Float], delta: [Float], rows: [Range<Int>], scale: Double)], dIn: Int, dOut: Int)
    -> (G: [Double], S: [Double], N: Int) {
    var G = [Double](repeating: 0, count: dIn * dOut), S = [Double](repeating: 0, count: dIn * dIn), N = 0
    for b in batches {
        for range in b.rows {
            for r in range {
                N += 1
                for o in 0..<dOut {
                    let d = Double(b.delta[r * dOut + o]) * b.scale
                    for i in 0..<dIn { G[o * dIn + i] += d * Double(b.a[r * dIn + i]) }
                }
                for i in 0..<dIn { for j in 0..<dIn { S[i * dIn + j] += Double(b.a[r * dIn + i]) * Double(b.a[r * dIn + j]) } }
            }
        }
    }
    return (G, S, N)
}
