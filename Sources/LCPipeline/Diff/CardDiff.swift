// Comparing two Layer Cards (spec §7): per-layer and per-module deltas of every column (matched by
// layer index and Hugging Face module name), Spearman rank correlations of the layer rankings,
// Jaccard overlap of each objective's selection recomputed on both cards with the same parameters,
// flags and a verdict. Pure computation on two decoded cards; files are written by DiffStage.
import Foundation
import LCCard
import LCCore

/// A value in A and B and how it changed.
public struct ColumnDelta: Codable, Sendable, Equatable {
    public var a: Double?
    public var b: Double?
    /// b − a (nil when either is missing).
    public var delta: Double?
    /// (b − a) / |a|; 0 when both are 0; nil when a is 0 and b is not (or either is missing).
    public var relative: Double?
}

public struct LayerDiff: Codable, Sendable, Equatable {
    public var layer: Int
    public var changed: Bool
    /// Columns whose relative change exceeds the tolerance ("resnorm", "module q_proj.grad_norm", "coupling").
    public var changed_columns: [String]
    public var columns: [String: ColumnDelta]
    /// max over m of |coupling_B[l][m] − coupling_A[l][m]| (common layers).
    public var coupling_max_abs_delta: Double
}

public struct ModuleDiff: Codable, Sendable, Equatable {
    public var layer: Int
    public var module: String
    public var columns: [String: ColumnDelta]
}

public struct RankCorrelation: Codable, Sendable, Equatable {
    public var column: String
    public var spearman: Double
    /// spearman < 0.8: the card's ranking no longer transfers.
    public var flagged: Bool
}

public struct SelectionOverlap: Codable, Sendable, Equatable {
    public var objective: Objective
    public var a_layers: [Int]
    public var b_layers: [Int]
    public var jaccard: Double
    /// gain_B(S_A) / gain_B(S_B): how much of B's own choice A's choice still captures on B (common layers only).
    public var transfer: Double?
}

public struct CardSide: Codable, Sendable, Equatable {
    public var label: String
    public var path: String
    public var model_id: String
    public var spec_version: Int
    public var layers: Int
    public var architecture: String
}

public struct CardDiff: Codable, Sendable, Equatable {
    public var schema_version = 1
    public var tool_version = ToolInfo.version
    public var a: CardSide
    public var b: CardSide
    /// Mismatches accepted with --allow-mismatch (empty otherwise).
    public var mismatches: [String]
    public var tolerance: Double
    public var signal: Signal
    public var layers: [LayerDiff]
    public var changed_layers: [Int]
    public var modules: [ModuleDiff]
    public var modules_only_in_a: [String]
    public var modules_only_in_b: [String]
    public var correlations: [RankCorrelation]
    public var selections: [SelectionOverlap]
    /// "selection still valid" or "changed".
    public var verdict: String
    public var verdict_reason: String
}

public enum Compare {
    public static let correlationThreshold = 0.8
    public static let jaccardThreshold = 0.5

    /// Average (fractional) ranks, 1-based; ties share the mean of their positions.
    public static func averageRanks(_ x: [Double]) -> [Double] {
        let idx = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < idx.count {
            var j = i
            while j + 1 < idx.count && x[idx[j + 1]] == x[idx[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[idx[k]] = avg }
            i = j + 1
        }
        return r
    }

    /// Spearman's rho = Pearson correlation of average ranks. Both constant → 1; one constant → 0.
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        let ra = averageRanks(a), rb = averageRanks(b), n = Double(a.count)
        guard n > 1 else { return 1 }
        let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<a.count { sab += (ra[i] - ma) * (rb[i] - mb); saa += (ra[i] - ma) * (ra[i] - ma); sbb += (rb[i] - mb) * (rb[i] - mb) }
        if saa == 0 && sbb == 0 { return 1 }
        if saa == 0 || sbb == 0 { return 0 }
        return sab / (saa * sbb).squareRoot()
    }

    public static func jaccard(_ a: [Int], _ b: [Int]) -> Double {
        let u = Set(a).union(b)
        return u.isEmpty ? 1 : Double(Set(a).intersection(b).count) / Double(u.count)
    }

    static func delta(_ a: Double?, _ b: Double?) -> ColumnDelta {
        guard let a, let b else { return ColumnDelta(a: a, b: b, delta: nil, relative: nil) }
        let r: Double? = a != 0 ? (b - a) / abs(a) : (b == 0 ? 0 : nil)
        return ColumnDelta(a: a, b: b, delta: b - a, relative: r)
    }

    static func layerColumns(_ s: LayerStats) -> [String: Double?] {
        ["grad_norm": s.grad_norm, "resnorm": s.resnorm, "resnorm_lora": s.resnorm_lora, "act_energy_mean": s.act_energy_mean,
         "predicted_gain": s.predicted_gain, "cost": s.cost, "cost_relative": s.cost_relative,
         "activation_bytes_per_token": s.activation_bytes_per_token, "measured_step_seconds": s.measured_step_seconds,
         "measured_peak_bytes": s.measured_peak_bytes, "measured_gain": s.measured_gain,
         "block_influence": s.block_influence, "act_norm": s.act_norm]
    }

    /// Layer columns newer than some cards: present on one side only means the other card predates them (shown,
    /// not a reason to flag the layer).
    static let laterLayerColumns: Set<String> = ["block_influence", "act_norm"]

    static func moduleColumns(_ m: ModuleStats) -> [String: Double?] {
        ["grad_norm": m.grad_norm, "act_energy": m.act_energy, "resnorm": m.resnorm, "resnorm_lora": m.resnorm_lora,
         "lambda_max": m.lambda_max, "effective_rank": m.effective_rank]
    }

    /// Compares two validated cards. Mismatched spec versions or layer counts must have been accepted by the
    /// caller (`mismatches` lists them); layers and coupling are compared on the common prefix.
    /// - Parameters: tolerance: relative change (and absolute coupling change) above which a layer is flagged.
    public static func diff(_ A: LayerCard, _ B: LayerCard, sideA: CardSide, sideB: CardSide, mismatches: [String],
                            options: DecisionOptions, tolerance: Double = 0.05) throws -> CardDiff {
        let n = min(A.layers.count, B.layers.count)
        var modA: [String: ModuleStats] = [:], modB: [String: ModuleStats] = [:]
        for m in A.modules { modA["\(m.layer).\(m.module)"] = m }
        for m in B.modules { modB["\(m.layer).\(m.module)"] = m }
        var layerDiffs: [LayerDiff] = [], moduleDiffs: [ModuleDiff] = []
        // Changed: relative change above tolerance, a value appearing from 0, or a column present on one side only.
        func exceeds(_ d: ColumnDelta) -> Bool {
            if let r = d.relative { return abs(r) > tolerance }
            return d.a != nil || d.b != nil
        }
        for l in 0..<n {
            var cols: [String: ColumnDelta] = [:], changed: [String] = []
            let ca = layerColumns(A.layers[l]), cb = layerColumns(B.layers[l])
            for (k, va) in ca.sorted(by: { $0.key < $1.key }) {
                let d = delta(va, cb[k] ?? nil)
                if d.a == nil && d.b == nil { continue }
                cols[k] = d
                // Wall-clock measurements differ between runs of the same model: shown, never a reason to flag.
                let predates = laterLayerColumns.contains(k) && (d.a == nil || d.b == nil)
                if exceeds(d) && !predates && !["measured_step_seconds", "measured_peak_bytes"].contains(k) { changed.append(k) }
            }
            for mod in Set(A.modules.filter { $0.layer == l }.map(\.module)).intersection(B.modules.filter { $0.layer == l }.map(\.module)).sorted() {
                guard let ma = modA["\(l).\(mod)"], let mb = modB["\(l).\(mod)"] else { continue }
                var mcols: [String: ColumnDelta] = [:]
                let xa = moduleColumns(ma), xb = moduleColumns(mb)
                for (k, va) in xa.sorted(by: { $0.key < $1.key }) {
                    let d = delta(va, xb[k] ?? nil)
                    if d.a == nil && d.b == nil { continue }
                    mcols[k] = d
                    if exceeds(d) { changed.append("module \(mod).\(k)") }
                }
                moduleDiffs.append(ModuleDiff(layer: l, module: mod, columns: mcols))
            }
            let cmax = (0..<n).map { abs(A.coupling[l][$0] - B.coupling[l][$0]) }.max() ?? 0
            if cmax > tolerance { changed.append("coupling") }
            layerDiffs.append(LayerDiff(layer: l, changed: !changed.isEmpty, changed_columns: changed, columns: cols, coupling_max_abs_delta: cmax))
        }
        let onlyA = Set(modA.keys).subtracting(modB.keys).sorted(), onlyB = Set(modB.keys).subtracting(modA.keys).sorted()

        var corr: [RankCorrelation] = []
        for sig in [Signal.resnorm, .predicted_gain, .grad_norm, .resnorm_lora, .measured_gain] {
            let xa = A.layers.prefix(n).compactMap { sig.value($0) }, xb = B.layers.prefix(n).compactMap { sig.value($0) }
            guard xa.count == n, xb.count == n, n > 0 else { continue }
            let rho = spearman(xa, xb)
            corr.append(RankCorrelation(column: sig.rawValue, spearman: rho, flagged: rho < correlationThreshold))
        }

        let signal = options.signal ?? ((Signal.defaultSignal(for: A) == .measured_gain && Signal.defaultSignal(for: B) == .measured_gain) ? .measured_gain : .grad_norm)
        var opts = options
        opts.signal = signal
        let dA = try Decide.decide(A, options: opts), dB = try Decide.decide(B, options: opts)
        var overlaps: [SelectionOverlap] = []
        for (sa, sb) in zip(dA.selections, dB.selections) {
            let common = sa.chosen.layers.filter { $0 < B.layers.count }
            let gb = dB.selector.gain.gain(sb.chosen.layers)
            overlaps.append(SelectionOverlap(objective: sa.objective, a_layers: sa.chosen.layers, b_layers: sb.chosen.layers,
                                             jaccard: jaccard(sa.chosen.layers, sb.chosen.layers),
                                             transfer: gb > 0 ? dB.selector.gain.gain(common) / gb : nil))
        }
        let badCorr = corr.filter(\.flagged).map { "\($0.column) Spearman \(String(format: "%.3f", $0.spearman)) < \(correlationThreshold)" }
        let badSel = overlaps.filter { $0.jaccard < jaccardThreshold }.map { "\($0.objective.rawValue) Jaccard \(String(format: "%.2f", $0.jaccard)) < \(jaccardThreshold)" }
        let valid = badCorr.isEmpty && badSel.isEmpty
        let reason = valid ? "every ranking correlation >= \(correlationThreshold) and every selection overlap >= \(jaccardThreshold)"
            : (badCorr + badSel).joined(separator: "; ")
        return CardDiff(a: sideA, b: sideB, mismatches: mismatches, tolerance: tolerance, signal: signal, layers: layerDiffs,
                        changed_layers: layerDiffs.filter(\.changed).map(\.layer), modules: moduleDiffs,
                        modules_only_in_a: onlyA, modules_only_in_b: onlyB, correlations: corr, selections: overlaps,
                        verdict: valid ? "selection still valid" : "changed", verdict_reason: reason)
    }
}
