// `layercard probe --verify` (spec v2 §6b, issue 15 item 4): after the single-layer sweep, the rank stage's choice
// for each objective on the card *with the measured single-layer gains* (signal measured_gain, its validated set
// model), plus a few alternatives (each choice shifted one layer toward the output; the weakest layer swapped for
// the best unchosen one), are measured with --seeds seeds. The recommended set per objective is then the best
// *measured* set that meets the objective among everything this probe measured at that size (the candidates and
// the baselines): performance = highest gain; balanced = highest gain per second of step; cost = the fastest step
// among sets reaching the target fraction of the all-layer gain (none reaching it: the highest-gain set, said so).
// A set that a measured baseline beats on both gain and step time is never recommended. The verdict compares the
// recommendation with the best baseline and calls the difference real only beyond the two seed spreads.
import Foundation
import LCCard
import LCCore

/// One objective's measured recommendation (probe.json `recommendations`, card.json `probe.recommendations`).
public struct ProbeRecommendation: Codable, Sendable, Equatable {
    public var objective: String
    public var k: Int
    public var layers: [Int]
    /// Which measured set it is ("verify-performance", "mid-k", ...).
    public var from_set: String
    public var gain: Double
    public var gain_fraction: Double?
    public var gain_spread: Double?
    public var seeds: Int
    public var step_seconds: Double
    public var speedup: Double?
    /// The best baseline (bottom/top/mid/uniform/random-k) and the comparison in words.
    public var best_baseline: String?
    public var verdict: String
}

enum ProbeVerify {
    /// Candidate sets per objective from the card with measured_gain at every layer.
    static func candidates(card: LayerCard, measured: [Int: Double], k: Int, targetFraction: Double) throws -> [(String, [Int])] {
        var c = card
        for i in c.layers.indices { c.layers[i].measured_gain = measured[c.layers[i].layer] }
        let d = try Decide.decide(c, options: DecisionOptions(objectives: Objective.allCases, k: k, targetFraction: targetFraction,
                                                                signal: .measured_gain))
        let L = card.layers.count
        var out: [(String, [Int])] = []
        func add(_ name: String, _ s: [Int]) {
            let set = Array(Set(s)).sorted()
            guard !set.isEmpty, !out.contains(where: { $0.1 == set }) else { return }
            out.append((name, set))
        }
        for sel in d.selections {
            let S = sel.chosen.layers
            add("verify-\(sel.objective.rawValue)", S)
            add("verify-\(sel.objective.rawValue)-shift", S.map { min(L - 1, $0 + 1) })
            if let weakest = S.min(by: { (measured[$0] ?? 0) < (measured[$1] ?? 0) }),
               let best = (0..<L).filter({ !S.contains($0) }).max(by: { (measured[$0] ?? 0) < (measured[$1] ?? 0) }) {
                add("verify-\(sel.objective.rawValue)-swap", S.filter { $0 != weakest } + [best])
            }
        }
        return out
    }

    /// The recommendation per objective among measured sets (`sets` must contain "all" for fractions).
    static func recommend(sets: [ProbeSetResult], k: Int, targetFraction: Double) -> [ProbeRecommendation] {
        let baselineNames: Set<String> = ["bottom-k", "top-k", "mid-k", "uniform-k", "random-k"]
        let all = sets.first { $0.name == "all" }
        let pool = sets.filter { $0.name != "all" && $0.layers.count == k && $0.name != "random-k" }
        let baselines = sets.filter { baselineNames.contains($0.name) }
        let medSpread = ProbeStats.median(sets.compactMap(\.gain_spread))
        func dominated(_ s: ProbeSetResult) -> Bool {
            baselines.contains { $0.name != s.name && $0.gain > s.gain && $0.step_seconds < s.step_seconds }
        }
        func frac(_ s: ProbeSetResult) -> Double? { all.flatMap { $0.gain > 0 ? s.gain / $0.gain : nil } }
        var out: [ProbeRecommendation] = []
        for obj in Objective.allCases {
            let eligible = pool.filter { !dominated($0) }
            guard !eligible.isEmpty else { continue }
            var note = ""
            let pick: ProbeSetResult
            switch obj {
            case .performance: pick = eligible.max { $0.gain < $1.gain }!
            case .balanced: pick = eligible.max { $0.gain / max($0.step_seconds, 1e-9) < $1.gain / max($1.step_seconds, 1e-9) }!
            case .cost:
                let reaching = eligible.filter { (frac($0) ?? 0) >= targetFraction }
                if let r = reaching.min(by: { $0.step_seconds < $1.step_seconds }) {
                    pick = r
                } else {
                    pick = eligible.max { $0.gain < $1.gain }!
                    note = "no measured set of \(k) layers reached \(Int((targetFraction * 100).rounded()))% of the all-layer gain; "
                        + "this is the highest-gain one. "
                }
            }
            let best = baselines.filter { $0.name != pick.name }.max { $0.gain < $1.gain }
            var verdict = note
            if let b = best {
                let d = pick.gain - b.gain
                let sp = (pick.gain_spread ?? medSpread ?? 0) + (b.gain_spread ?? medSpread ?? 0)
                let unit = all.map { $0.gain > 0 ? 100 / $0.gain : 0 } ?? 0
                let label = b.name.replacingOccurrences(of: "-k", with: "-\(k)")
                if pick.layers == b.layers {
                    verdict += "the recommendation is \(label) itself"
                } else if sp > 0, abs(d) > sp {
                    verdict += String(format: "%@ %@ by %.1f ± %.1f points of the all-layer gain", d > 0 ? "better than" : "worse than",
                                      label, abs(d) * unit, sp * unit)
                } else if sp > 0 {
                    verdict += String(format: "no reliable difference from %@ (%.1f points, seed spread %.1f)", label, d * unit, sp * unit)
                } else {
                    verdict += String(format: "%.1f points %@ %@ (one seed each: the spread is unknown; run --seeds 3)", abs(d) * unit,
                                      d >= 0 ? "above" : "below", label)
                }
            } else {
                verdict += "no baseline of size \(k) was measured"
            }
            out.append(ProbeRecommendation(objective: obj.rawValue, k: k, layers: pick.layers, from_set: pick.name, gain: pick.gain,
                                           gain_fraction: frac(pick), gain_spread: pick.gain_spread, seeds: pick.seeds ?? 1,
                                           step_seconds: pick.step_seconds, speedup: all.map { $0.step_seconds / max(pick.step_seconds, 1e-9) },
                                           best_baseline: best?.name, verdict: verdict))
        }
        return out
    }
}
