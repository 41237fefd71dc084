// The decision shared by rank, report and diff: which modules and signal, and the selection for
// each objective on one card. Validates user-named modules against the architecture's real module
// list (an unknown name is a usage error, never ignored) and, for a module subset, recomputes the
// norm signals from the card's per-module statistics. Writes no files.
import Foundation
import LCCard
import LCCore
import LCModel

/// User choices for a decision (all optional; defaults documented per field).
public struct DecisionOptions: Sendable, Equatable, Codable {
    /// Objectives to run; empty = all three.
    public var objectives: [Objective]
    /// Budget of layers (performance, balanced). performance defaults to ceil(L/4); balanced searches all sizes.
    public var k: Int?
    /// Target share of gain(all) (cost: default 0.9; performance: smallest greedy prefix reaching it when no k).
    public var targetFraction: Double?
    /// PEFT target modules (Hugging Face names); nil = every module of the architecture.
    public var modules: [String]?
    /// Selection signal; nil = spec default (measured_gain if every layer has it, else grad_norm).
    public var signal: Signal?
    /// Set model; nil = the validated default for the signal (SetModelCatalog), else spec v1's NNLS.
    public var setModel: SetModel? = nil
    /// LoRA rank; nil = the rank the card's resnorm_lora used.
    public var rank: Int?
    /// lora_alpha; nil = 2·r.
    public var alpha: Double?
    public var dropout: Double
    /// base_model_name_or_path; nil = the card's model id.
    public var baseModel: String?

    public init(objectives: [Objective] = [], k: Int? = nil, targetFraction: Double? = nil, modules: [String]? = nil,
                signal: Signal? = nil, rank: Int? = nil, alpha: Double? = nil, dropout: Double = 0.05, baseModel: String? = nil) {
        self.objectives = objectives; self.k = k; self.targetFraction = targetFraction; self.modules = modules
        self.signal = signal; self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.baseModel = baseModel
    }

    public var resolvedObjectives: [Objective] { objectives.isEmpty ? Objective.allCases : objectives }
}

/// The selections for one card.
public struct Decision: Sendable {
    public var card: LayerCard
    /// The card the selector ran on (signal columns recomputed for a module subset).
    public var signalCard: LayerCard
    public var modules: [String]
    public var signal: Signal
    /// Where the per-layer signal came from, in words.
    public var signalSource: String
    /// Why this signal: requested, or the spec §6 default (measured_gain when every layer was probed) and why.
    public var signalReason: String
    /// True when the caller named the signal (--signal), false for the default.
    public var signalRequested: Bool
    public var selector: Selector
    public var selections: [Selection]
    public var rank: Int
    public var alpha: Double
    public var dropout: Double
    public var baseModel: String
}

public enum Decide {
    /// Checks `requested` against `Architecture.modules(arch)`; nil → all, in block order.
    /// - Throws: `LCError.usage` naming the unknown module and listing the valid ones.
    public static func validateModules(_ requested: [String]?, arch: String) throws -> [String] {
        let valid = Architecture.modules(arch)
        guard let requested else { return valid }
        if requested.isEmpty { throw LCError.usage("--modules is empty; valid modules for \(arch): \(valid.joined(separator: ","))") }
        for m in requested where !valid.contains(m) {
            throw LCError.usage("unknown module '\(m)' for architecture \(arch); valid: \(valid.joined(separator: ","))")
        }
        return valid.filter { requested.contains($0) }
    }

    /// A copy of `card` whose grad_norm/resnorm/resnorm_lora/predicted_gain are re-aggregated over `modules`
    /// (spec §2 layer aggregates), when the card has statistics for every (layer, module); otherwise the card
    /// unchanged and a note. measured_gain, the forward-only block_influence/act_norm and coupling stay as profiled
    /// (they are per layer).
    public static func restrict(_ card: LayerCard, to modules: [String]) -> (LayerCard, String) {
        let profiled = Set(card.modules.map(\.module))
        if Set(modules) == profiled || card.modules.isEmpty {
            let names = Architecture.modules(card.architecture).filter(profiled.contains)
            return (card, "card layer aggregates over \(names.isEmpty ? "the profiled modules" : names.joined(separator: ","))")
        }
        var byLayer: [Int: [String: ModuleStats]] = [:]
        for m in card.modules { byLayer[m.layer, default: [:]][m.module] = m }
        for l in 0..<card.layers.count {
            for m in modules where byLayer[l]?[m] == nil {
                return (card, "card layer aggregates (module \(m) has no statistics at layer \(l); coupling and signal use the profiled modules)")
            }
        }
        var out = card
        for l in 0..<out.layers.count {
            let ms = modules.compactMap { byLayer[l]?[$0] }
            func agg(_ f: (ModuleStats) -> Double) -> Double { ms.reduce(0.0) { $0 + f($1) * f($1) }.squareRoot() }
            out.layers[l].grad_norm = agg(\.grad_norm)
            out.layers[l].resnorm = agg(\.resnorm)
            out.layers[l].resnorm_lora = agg(\.resnorm_lora)
            out.layers[l].predicted_gain = 0.5 * out.layers[l].resnorm * out.layers[l].resnorm
        }
        return (out, "re-aggregated over modules \(modules.joined(separator: ",")) from per-module statistics (coupling as profiled)")
    }

    /// Runs every requested objective on `card`.
    /// - Throws: `LCError.usage` for unknown modules, a missing signal column, or bad k / F.
    public static func decide(_ card: LayerCard, options o: DecisionOptions) throws -> Decision {
        let modules = try validateModules(o.modules, arch: card.architecture)
        let (signalCard, aggregateSource) = restrict(card, to: modules)
        let (signal, reason): (Signal, String)
        if let s = o.signal {
            let dflt = Signal.defaultChoice(for: card)
            signal = s
            reason = "requested (--signal \(s.rawValue))" + (dflt.signal != s ? "; the default would be \(dflt.signal.rawValue) (\(dflt.reason))" : "")
        } else {
            (signal, reason) = Signal.defaultChoice(for: card)
        }
        let source = signal == .block_influence || signal == .act_norm
            ? "card layer column \(signal.rawValue) (forward-only, per block: independent of the modules)" : aggregateSource
        let (model, validation): (SetModel, SetModelValidation?)
        if let m = o.setModel {
            (model, validation) = (m, SetModelCatalog.validation(of: m, signal: signal))
        } else {
            (model, validation) = SetModelCatalog.defaultModel(for: signal)
        }
        var selector = try Selector(card: signalCard, signal: signal, model: model)
        selector.validation = validation
        for s in card.probe?.sets ?? [] where s.name != "random-k" {
            if let f = s.gain_fraction { selector.measuredFractions[Array(Set(s.layers)).sorted()] = f }
        }
        if o.resolvedObjectives == [.cost], o.k != nil {
            throw LCError.usage("--k does not apply to --objective cost (it takes --target-fraction)")
        }
        for r in card.probe?.recommendations ?? [] {
            if let f = r.gain_fraction { selector.measuredFractions[Array(Set(r.layers)).sorted()] = f }
        }
        var sels: [Selection] = []
        for obj in o.resolvedObjectives {
            var sel = try selector.select(obj, k: obj == .cost ? nil : o.k,
                                          targetFraction: (obj == .performance && o.k != nil) ? nil : o.targetFraction)
            // spec v2 §6b: after `probe --verify`, the recommendation is the best measured set meeting the objective.
            if signal == .measured_gain, o.modules == nil,
               let rec = card.probe?.recommendations?.first(where: { $0.objective == obj.rawValue && (o.k == nil || o.k == $0.k) }) {
                sel.chosen = selector.score(obj.rawValue, rec.layers)
                sel.chosen.basis = "measured"
                sel.chosen.measured_gain_fraction = rec.gain_fraction
                sel.method = "best measured set of \(rec.k) layers (probe --verify, \(rec.seeds) seed(s), from \(rec.from_set)): \(rec.verdict)"
                sel.baselines = selector.baselines(k: rec.layers.count)
            }
            sels.append(sel)
        }
        let r = o.rank ?? card.parameters.lora_rank
        guard r > 0 else { throw LCError.usage("--rank must be positive, got \(r)") }
        let alpha = o.alpha ?? Double(2 * r)
        guard alpha > 0, alpha.isFinite else { throw LCError.usage("--alpha must be positive") }
        guard (0..<1).contains(o.dropout) else { throw LCError.usage("--dropout must be in [0, 1)") }
        return Decision(card: card, signalCard: signalCard, modules: modules, signal: signal, signalSource: source, signalReason: reason,
                        signalRequested: o.signal != nil, selector: selector,
                        selections: sels, rank: r, alpha: alpha, dropout: o.dropout, baseModel: o.baseModel ?? card.model_id)
    }
}
