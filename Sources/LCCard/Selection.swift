// Layer selection for an objective (spec §6) and the baselines printed beside it.
// performance: greedy forward selection maximizing gain(S). cost: cheapest cost(S) reaching a
// fraction F of gain(all). balanced: maximize gain(S)/cost(S). The cost and balanced searches
// fix the lowest adapted layer m (which fixes the backward depth, hence the base cost), grow S
// greedily by gain from {m} among layers > m, and take the best over all m (see `prefixes`).
// Deliberately heuristic (greedy), not an exact subset search: exact is exponential in L.
import Foundation
import LCCore

/// What the selection optimizes.
public enum Objective: String, CaseIterable, Codable, Sendable { case performance, cost, balanced }

/// gain/cost/speedup of one layer set.
public struct SetScore: Codable, Sendable, Equatable {
    public var name: String
    /// The layers; for `random-k` the first seed's draw (the scores are means over all seeds).
    public var layers: [Int]
    public var gain: Double
    /// gain(S) / gain(all).
    public var gain_fraction: Double
    public var cost: Double
    /// cost(S) / cost(all).
    public var cost_fraction: Double
    public var speedup: Double
    /// random-k only: the seeds and every seed's draw.
    public var seeds: [UInt64]?
    public var draws: [[Int]]?
    /// ± band of `gain_fraction` (the 90th-percentile absolute error leave-one-task-out validation measured for the
    /// set model with this signal; fraction units); nil when the model was not validated for this signal.
    public var gain_fraction_band: Double? = nil
    /// The held-out gain fraction a probe measured for exactly this set, when it did (then shown instead of the
    /// prediction, marked measured).
    public var measured_gain_fraction: Double? = nil
    /// "measured", "predicted" (validated, with band) or "predicted, not validated".
    public var basis: String? = nil
}

/// The outcome of one objective on one card.
public struct Selection: Codable, Sendable, Equatable {
    public var objective: Objective
    public var signal: Signal
    /// Parameters as requested (nil = not given) and the size actually chosen.
    public var k: Int?
    public var target_fraction: Double?
    public var chosen: SetScore
    public var gain_all: Double
    public var cost_all: Double
    public var cost_unit: String
    /// bottom-k, top-k, mid-k, uniform-k, random-k, all — with k = chosen.layers.count.
    public var baselines: [SetScore]
    /// How the set was searched, in words.
    public var method: String
    /// The set model behind the gains (SetModel.description) and what validation measured for it with this signal.
    public var set_model: String? = nil
    public var set_model_validation: SetModelValidation? = nil
}

/// Seeds of the random-k baseline (SplitMix64), fixed so reports are reproducible.
public let randomBaselineSeeds: [UInt64] = Array(0..<10)

/// Selection and baselines on one card for one signal.
public struct Selector: Sendable {
    public let gain: GainModel
    public let cost: CostModelView
    public let signal: Signal
    /// The set model (SetModel.swift): `gain` runs on its coupling, fractions go through its calibration.
    public let model: SetModel
    public var L: Int { gain.count }
    /// gain(all layers), solved once.
    public let gainAll: Double

    public init(gain: GainModel, cost: CostModelView, signal: Signal, model: SetModel = .specV1) {
        precondition(gain.count == cost.layerCost.count, "gain and cost must cover the same layers")
        self.gain = gain; self.cost = cost; self.signal = signal; self.model = model
        gainAll = gain.gain(Array(0..<gain.count))
    }

    public init(card: LayerCard, signal: Signal, model: SetModel = .specV1) throws {
        let g = try GainModel(card: card, signal: signal)
        let R = model.coupling(card: card.coupling, L: card.layers.count)
        self.init(gain: model == .specV1 ? g : GainModel(b: g.b, coupling: R), cost: CostModelView(card: card), signal: signal,
                  model: model)
    }

    /// Validation of `model` with `signal` (its p90 is every predicted fraction's band); nil = not validated.
    public var validation: SetModelValidation? = nil
    /// Gain fractions a probe measured, by sorted layer set (CardProbeSet with a gain_fraction).
    public var measuredFractions: [[Int]: Double] = [:]

    /// The set model's predicted gain fraction for an NNLS gain on this selector's coupling.
    public func fraction(gain g: Double) -> Double { gainAll > 0 ? model.calibrate(g / gainAll) : 0 }

    /// Default k for `performance` when neither k nor F is given: ceil(L/4).
    public var defaultK: Int { max(1, (L + 3) / 4) }

    /// Scores a set under this card.
    public func score(_ name: String, _ S: [Int]) -> SetScore {
        let set = Array(Set(S)).sorted()
        let g = gain.gain(set), ga = gainAll, c = cost.cost(set), ca = cost.costAll
        var sc = SetScore(name: name, layers: set, gain: g, gain_fraction: ga > 0 ? fraction(gain: g) : 0, cost: c,
                          cost_fraction: ca > 0 ? c / ca : 0, speedup: cost.speedup(set))
        sc.gain_fraction_band = validation?.p90
        if set.count == L {  // every layer: the reference every fraction is relative to (1 by definition)
            sc.gain_fraction_band = nil; sc.basis = "reference"
        } else if let m = measuredFractions[set] {
            sc.measured_gain_fraction = m; sc.basis = "measured"
        } else {
            sc.basis = validation == nil ? "predicted, not validated" : "predicted"
        }
        return sc
    }

    /// Greedy forward selection from `start` over `candidates`, maximizing gain(S) at each step (ties: the
    /// earlier candidate). Returns every prefix: result[i] is the set after i additions (result[0] == start).
    /// Candidate gains come from `GainModel.extend` (incremental, exact).
    public func greedyPrefixStates(start: [Int], candidates: [Int], maxSize: Int) -> [GainState] {
        var st = gain.state(start)
        var pool = candidates.filter { !start.contains($0) }
        var out = [st]
        while st.S.count < maxSize, !pool.isEmpty {
            var bestI = 0, best = gain.extend(st, with: pool[0])
            for (i, l) in pool.enumerated().dropFirst() {
                let s2 = gain.extend(st, with: l)
                if s2.gain > best.gain { best = s2; bestI = i }
            }
            pool.remove(at: bestI)
            st = best
            out.append(st)
        }
        return out
    }

    /// The layer sets of `greedyPrefixStates`.
    public func greedyPrefixes(start: [Int], candidates: [Int], maxSize: Int) -> [[Int]] {
        greedyPrefixStates(start: start, candidates: candidates, maxSize: maxSize).map(\.S)
    }

    /// For every lowest layer m: greedy prefixes {m} ⊂ ... ⊂ {m..L-1} among layers > m. The search space of
    /// the cost and balanced objectives, and the population of the report's gain–cost scatter.
    public func prefixStates(maxSize: Int? = nil) -> [GainState] {
        (0..<L).flatMap { m in greedyPrefixStates(start: [m], candidates: Array((m + 1)..<L), maxSize: maxSize ?? L) }
    }

    /// The layer sets of `prefixStates`.
    public func prefixes(maxSize: Int? = nil) -> [[Int]] { prefixStates(maxSize: maxSize).map(\.S) }

    /// Runs one objective. - Throws: `LCError.usage` for k outside 1...L or F outside (0, 1].
    public func select(_ objective: Objective, k: Int? = nil, targetFraction: Double? = nil) throws -> Selection {
        if let k, !(1...L).contains(k) { throw LCError.usage("--k must be in 1...\(L) (the card has \(L) layers), got \(k)") }
        if let f = targetFraction, !(f > 0 && f <= 1) { throw LCError.usage("--target-fraction must be in (0, 1], got \(f)") }
        let ga = gainAll
        let S: [Int], method: String
        switch objective {
        case .performance:
            if let k {
                S = greedyPrefixes(start: [], candidates: Array(0..<L), maxSize: k).last ?? []
                method = "greedy forward selection maximizing gain(S), k = \(k)"
            } else if let f = targetFraction {
                let p = greedyPrefixStates(start: [], candidates: Array(0..<L), maxSize: L)
                S = p.first { !$0.S.isEmpty && $0.gain >= model.uncalibrate(f) * ga * (1 - 1e-12) }?.S ?? Array(0..<L)
                method = "greedy forward selection maximizing gain(S), smallest prefix reaching \(f) of gain(all)"
            } else {
                S = greedyPrefixes(start: [], candidates: Array(0..<L), maxSize: defaultK).last ?? []
                method = "greedy forward selection maximizing gain(S), default k = ceil(L/4) = \(defaultK)"
            }
        case .cost:
            let f = targetFraction ?? 0.9
            S = cheapestReaching(model.uncalibrate(f) * ga * (1 - 1e-12))
            method = "for each lowest layer m: greedy by gain from {m} over layers > m until gain(S) >= \(f)·gain(all); cheapest cost(S) over m"
        case .balanced:
            // Best gain/cost; ties go to the smaller set.
            var best: (S: [Int], r: Double)? = nil
            for st in prefixStates(maxSize: k) where k == nil || st.S.count == k {
                let c = cost.cost(st.S), r = c > 0 ? fraction(gain: st.gain) / c : 0
                if let b = best, !(r > b.r || (r == b.r && st.S.count < b.S.count)) { continue }
                best = (st.S, r)
            }
            S = best?.S ?? Array(0..<L)
            method = "for each lowest layer m: greedy by gain from {m} over layers > m; the prefix maximizing gain(S)/cost(S)"
                + (k.map { " with |S| = \($0)" } ?? " over all sizes")
        }
        let chosen = score(objective.rawValue, S)
        return Selection(objective: objective, signal: signal, k: k, target_fraction: objective == .cost ? (targetFraction ?? 0.9) : targetFraction,
                         chosen: chosen, gain_all: ga, cost_all: cost.costAll, cost_unit: cost.unit,
                         baselines: baselines(k: max(1, chosen.layers.count)), method: method,
                         set_model: model.description, set_model_validation: validation)
    }

    /// The cheapest per-m greedy set reaching `target` (pruned: a lowest layer m whose cost alone is no cheaper
    /// than the best found cannot win). Falls back to all layers.
    func cheapestReaching(_ target: Double) -> [Int] {
        var best: (S: [Int], cost: Double)? = nil
        var tail = gain.emptyState  // {m..L-1}, grown as m decreases: no set with lowest layer m can beat it
        for m in (0..<L).reversed() {
            tail = gain.extend(tail, with: m)
            if let b = best, cost.layerCost[m] >= b.cost { continue }
            if tail.gain < target { continue }
            var st = gain.state([m]), pool = Array((m + 1)..<L)
            while st.gain < target, !pool.isEmpty {
                if let b = best, cost.cost(st.S) + cost.adapterCost >= b.cost { break }
                var bestI = 0, next = gain.extend(st, with: pool[0])
                for (i, l) in pool.enumerated().dropFirst() {
                    let s2 = gain.extend(st, with: l)
                    if s2.gain > next.gain { next = s2; bestI = i }
                }
                pool.remove(at: bestI)
                st = next
            }
            guard st.gain >= target else { continue }
            let c = cost.cost(st.S)
            if let b = best, c >= b.cost { continue }
            best = (st.S, c)
        }
        return best?.S ?? Array(0..<L)
    }

    /// Baselines of size k (spec §6): bottom-k, top-k, mid-k, uniform-k, random-k (mean over seeds), all.
    public func baselines(k: Int) -> [SetScore] {
        let k = min(max(k, 1), L)
        var out = [score("bottom-k", Array(0..<k)), score("top-k", Array((L - k)..<L)),
                   score("mid-k", Baselines.mid(k: k, L: L)), score("uniform-k", Baselines.uniform(k: k, L: L))]
        let draws = randomBaselineSeeds.map { seed -> [Int] in var g = SplitMix64(seed: seed); return g.sample(k, of: L) }
        let scores = draws.map { score("random-k", $0) }
        let n = Double(scores.count)
        var r = scores[0]
        r.gain = scores.map(\.gain).reduce(0, +) / n
        r.gain_fraction = scores.map(\.gain_fraction).reduce(0, +) / n
        r.cost = scores.map(\.cost).reduce(0, +) / n
        r.cost_fraction = scores.map(\.cost_fraction).reduce(0, +) / n
        r.speedup = scores.map(\.speedup).reduce(0, +) / n
        r.seeds = randomBaselineSeeds; r.draws = draws
        r.measured_gain_fraction = nil
        r.basis = validation == nil ? "predicted, not validated" : "predicted"
        out.append(r)
        out.append(score("all", Array(0..<L)))
        return out
    }
}

/// Index sets of the deterministic baselines.
public enum Baselines {
    /// k contiguous layers centred on the middle: start = floor((L − k) / 2).
    public static func mid(k: Int, L: Int) -> [Int] { let s = (L - k) / 2; return Array(s..<(s + k)) }

    /// round(linspace(0, L−1, k)) with numpy's arithmetic (i·step, last = L−1) and half-to-even rounding.
    public static func uniform(k: Int, L: Int) -> [Int] {
        if k <= 1 { return [0] }
        let step = Double(L - 1) / Double(k - 1)
        var v = (0..<k).map { Double($0) * step }
        v[k - 1] = Double(L - 1)
        var seen = Set<Int>(), out: [Int] = []
        for x in v { let i = Int(x.rounded(.toNearestOrEven)); if seen.insert(i).inserted { out.append(i) } }
        return out
    }
}
