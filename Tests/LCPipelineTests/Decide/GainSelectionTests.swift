// gain(S) (spec §3), cost(S) (§4) and the selections/baselines (§6) on hand-made cards, against
// the brute-force reference and numbers recomputed by hand.
import XCTest
import LCCard
import LCCore

final class GainSelectionTests: XCTestCase {
    func testSingleLayerGainIsHalfBSquared() {
        let m = GainModel(b: [3, 0.5, 2], coupling: [[1, 0.9, 0.2], [0.9, 1, 0.1], [0.2, 0.1, 1]])
        for (l, b) in [3.0, 0.5, 2.0].enumerated() {
            // With the 1e-6 ridge: max_c b c − ½(1+1e-6)c² = b²/(2(1+1e-6)).
            XCTAssertEqual(m.gain([l]), b * b / (2 * (1 + 1e-6)), accuracy: 1e-12)
        }
        XCTAssertEqual(m.gain([]), 0)
    }

    func testUncorrelatedLayersAdd() {
        let m = GainModel(b: [1, 2, 3, 4], coupling: (0..<4).map { i in (0..<4).map { $0 == i ? 1 : 0 } })
        XCTAssertEqual(m.gain([0, 2, 3]), m.gain([0]) + m.gain([2]) + m.gain([3]), accuracy: 1e-12)
    }

    func testNearCollinearLayerAddsAlmostNothing() {
        let m = GainModel(b: [2, 2], coupling: [[1, 0.9999], [0.9999, 1]])
        XCTAssertEqual(m.gain([0]), 2, accuracy: 1e-5)
        // Without c >= 0 it would still be ~2 here; with unequal b the unconstrained optimum explodes.
        XCTAssertLessThan(m.gain([0, 1]) - m.gain([0]), 1e-3)
        let n = GainModel(b: [2, 1], coupling: [[1, 0.9999], [0.9999, 1]])
        XCTAssertLessThan(n.gain([0, 1]) - n.gain([0]), 1e-3, "the unconstrained QP would give ~5000 here")
        XCTAssertEqual(n.gain([0, 1]), n.gainBruteForce([0, 1]), accuracy: 1e-9)
    }

    func testNNLSMatchesBruteForceOnRandomProblems() {
        var rng = SplitMix64(seed: 42)
        func u() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        for trial in 0..<200 {
            let L = 2 + trial % 7
            // Random Gram matrix of unit vectors in 3 dims (rank-deficient, strongly coupled, some negatives).
            let vecs = (0..<L).map { _ -> [Double] in let v = (0..<3).map { _ in u() * 2 - 1 + 0.3 }; let n = sqrt(v.reduce(0) { $0 + $1 * $1 }); return v.map { $0 / n } }
            let R = vecs.map { a in vecs.map { b in zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } } }
            let b = (0..<L).map { _ in u() * 3 }
            let m = GainModel(b: b, coupling: R)
            let S = Array(0..<L).filter { _ in u() < 0.8 }
            XCTAssertEqual(m.gain(S), m.gainBruteForce(S), accuracy: 1e-7 * max(1, m.gainBruteForce(S)), "trial \(trial) S=\(S)")
        }
    }

    func testGainIsMonotoneInS() {
        let card = CardFixtures.card(L: 8, rho: 0.7)
        let m = try! GainModel(card: card, signal: .grad_norm)
        var S: [Int] = []
        var last = 0.0
        for l in [3, 0, 7, 5, 1, 2, 6, 4] {
            S.append(l)
            let g = m.gain(S)
            XCTAssertGreaterThanOrEqual(g, last - 1e-12)
            last = g
        }
    }

    func testNonPSDCouplingIsClippedNotUnbounded() {
        // Not a Gram matrix (min eigenvalue < 0): the raw QP would be unbounded in the negative direction.
        let R = [[1.0, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]
        let m = GainModel(b: [1, 1, 1], coupling: R)
        XCTAssertLessThan(m.couplingMinEigenvalue ?? 0, 0)
        XCTAssertNil(GainModel(b: [1, 1], coupling: [[1, 0.5], [0.5, 1]]).couplingMinEigenvalue)
        XCTAssertTrue(m.gain([0, 1, 2]).isFinite)
        XCTAssertEqual(m.gain([0, 1, 2]), m.gainBruteForce([0, 1, 2]), accuracy: 1e-8)
    }

    func testSymmetricEigenReconstructs() {
        let M = [[2.0, 1, 0.5], [1, 3, -1], [0.5, -1, 1]]
        let (vals, V) = symmetricEigen(M)
        for i in 0..<3 { for j in 0..<3 {
            let r = (0..<3).reduce(0.0) { $0 + vals[$1] * V[i][$1] * V[j][$1] }
            XCTAssertEqual(r, M[i][j], accuracy: 1e-10)
        } }
    }

    func testSignalBColumns() {
        XCTAssertEqual(Signal.grad_norm.b(3), 3)
        XCTAssertEqual(Signal.predicted_gain.b(4.5), 3, accuracy: 1e-12)
        XCTAssertEqual(Signal.measured_gain.b(-1), 0)
        let card = CardFixtures.card(L: 4)
        XCTAssertEqual(Signal.defaultSignal(for: card), .grad_norm)
        XCTAssertEqual(Signal.defaultSignal(for: CardFixtures.card(L: 4, measured: [0.1, 0.2, 0.3, 0.4])), .measured_gain)
        XCTAssertThrowsError(try GainModel(card: card, signal: .measured_gain))
        // predicted_gain = ½ resnorm² → b = resnorm: identical models.
        let a = try! GainModel(card: card, signal: .predicted_gain), r = try! GainModel(card: card, signal: .resnorm)
        for i in 0..<4 { XCTAssertEqual(a.b[i], r.b[i], accuracy: 1e-12) }
    }

    func testCostAndSpeedup() {
        let c = CostModelView(card: CardFixtures.card(L: 6))   // cost[l] = 100 − 2l, adapter 1
        XCTAssertEqual(c.cost([3]), 94)
        XCTAssertEqual(c.cost([5, 2, 4]), 96 + 2)
        XCTAssertEqual(c.costAll, 100 + 5)
        XCTAssertEqual(c.speedup([5]), 1 - 90.0 / 105, accuracy: 1e-12)
    }

    func testBaselineIndexSets() {
        XCTAssertEqual(Baselines.mid(k: 8, L: 30), Array(11...18))
        XCTAssertEqual(Baselines.mid(k: 3, L: 6), [1, 2, 3])
        // numpy: np.round(np.linspace(0, 29, 8)) = [0, 4, 8, 12, 17, 21, 25, 29]
        XCTAssertEqual(Baselines.uniform(k: 8, L: 30), [0, 4, 8, 12, 17, 21, 25, 29])
        // np.round(np.linspace(0, 5, 3)) = [0, 2, 5] (2.5 rounds half to even)
        XCTAssertEqual(Baselines.uniform(k: 3, L: 6), [0, 2, 5])
        // np.round(np.linspace(0, 3, 3)) = [0, 2, 3] (1.5 → 2)
        XCTAssertEqual(Baselines.uniform(k: 3, L: 4), [0, 2, 3])
        XCTAssertEqual(Baselines.uniform(k: 1, L: 4), [0])
    }

    func testSplitMix64KnownValues() {
        // Reference values of SplitMix64 with seed 0 (as in Vigna's splitmix64.c).
        var g = SplitMix64(seed: 0)
        XCTAssertEqual(g.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(g.next(), 0x6E78_9E6A_A1B9_65F4)
        var h = SplitMix64(seed: 7)
        let s = h.sample(4, of: 10)
        XCTAssertEqual(Set(s).count, 4)
        XCTAssertTrue(s.allSatisfy { (0..<10).contains($0) })
    }

    func testPerformanceSelectionUncorrelated() throws {
        // Uncorrelated: gain adds, so greedy picks the k largest signals: layers 5, 4, 3.
        let sel = try Selector(card: CardFixtures.card(L: 6), signal: .grad_norm).select(.performance, k: 3)
        XCTAssertEqual(sel.chosen.layers, [3, 4, 5])
        let ridge = 1 + 1e-6
        let gAll = (1...6).reduce(0.0) { $0 + Double($1 * $1) } / (2 * ridge)     // 91/2
        XCTAssertEqual(sel.gain_all, gAll, accuracy: 1e-9)
        XCTAssertEqual(sel.chosen.gain, (16.0 + 25 + 36) / (2 * ridge), accuracy: 1e-9)
        XCTAssertEqual(sel.chosen.cost, 94 + 2)
        XCTAssertEqual(sel.chosen.speedup, 1 - 96.0 / 105, accuracy: 1e-12)
        let names = sel.baselines.map(\.name)
        XCTAssertEqual(names, ["bottom-k", "top-k", "mid-k", "uniform-k", "random-k", "all"])
        let bottom = sel.baselines[0]
        XCTAssertEqual(bottom.layers, [0, 1, 2])
        XCTAssertEqual(bottom.gain, (1.0 + 4 + 9) / (2 * ridge), accuracy: 1e-9)
        XCTAssertEqual(bottom.cost, 100 + 2)
        XCTAssertEqual(sel.baselines[1].layers, [3, 4, 5])
        XCTAssertEqual(sel.baselines[5].gain_fraction, 1, accuracy: 1e-12)
        // random-k: mean over the 10 documented draws, recomputed here.
        let rnd = sel.baselines[4]
        XCTAssertEqual(rnd.seeds, randomBaselineSeeds)
        let meanGain = randomBaselineSeeds.map { seed -> Double in
            var g = SplitMix64(seed: seed)
            return g.sample(3, of: 6).reduce(0.0) { $0 + Double(($1 + 1) * ($1 + 1)) } / (2 * ridge)
        }.reduce(0, +) / 10
        XCTAssertEqual(rnd.gain, meanGain, accuracy: 1e-9)
    }

    func testPerformanceSkipsCollinearLayer() throws {
        // Layers 4 and 5 almost collinear: after 5, layer 4 adds ~nothing, so greedy takes 3 instead.
        var card = CardFixtures.card(L: 6)
        card.coupling[4][5] = 0.999; card.coupling[5][4] = 0.999
        let sel = try Selector(card: card, signal: .grad_norm).select(.performance, k: 2)
        XCTAssertEqual(sel.chosen.layers, [3, 5])
    }

    func testCostObjectiveIsCheapestReachingTarget() throws {
        let sel = try Selector(card: CardFixtures.card(L: 6), signal: .grad_norm).select(.cost, targetFraction: 0.5)
        // gain fractions (b² / 91): 36, 25, 16, 9, 4, 1. {4,5} = 61/91 ≥ 0.5 with cost 92+1 = 93; {5} alone is 36/91 < 0.5.
        XCTAssertEqual(sel.chosen.layers, [4, 5])
        XCTAssertEqual(sel.chosen.cost, 93)
        XCTAssertEqual(sel.target_fraction, 0.5)
        // Brute force over all 63 non-empty subsets: no cheaper set reaches the target.
        let s = try Selector(card: CardFixtures.card(L: 6), signal: .grad_norm)
        for mask in 1..<64 {
            let S = (0..<6).filter { mask & (1 << $0) != 0 }
            if s.gain.gain(S) >= 0.5 * s.gainAll { XCTAssertGreaterThanOrEqual(s.cost.cost(S), 93, "\(S)") }
        }
        let def = try s.select(.cost)
        XCTAssertEqual(def.target_fraction, 0.9)
        XCTAssertGreaterThanOrEqual(def.chosen.gain_fraction, 0.9 - 1e-9)
    }

    func testBalancedMaximizesRatioAmongPrefixes() throws {
        let s = try Selector(card: CardFixtures.card(L: 6), signal: .grad_norm)
        let sel = try s.select(.balanced)
        let best = s.prefixes().map { s.gain.gain($0) / s.cost.cost($0) }.max() ?? 0
        XCTAssertEqual(sel.chosen.gain / sel.chosen.cost, best, accuracy: 1e-12)
        // Hand check: {1..5}: (4+9+16+25+36)/2 / (98+4) = 45/102 beats all layers 45.5/105 and {2..5} 43/99.
        XCTAssertEqual(sel.chosen.layers, [1, 2, 3, 4, 5])
        let k2 = try s.select(.balanced, k: 2)
        XCTAssertEqual(k2.chosen.layers.count, 2)
    }

    func testBadParametersAreUsageErrors() throws {
        let s = try Selector(card: CardFixtures.card(L: 6), signal: .grad_norm)
        XCTAssertThrowsError(try s.select(.performance, k: 7))
        XCTAssertThrowsError(try s.select(.performance, k: 0))
        XCTAssertThrowsError(try s.select(.cost, targetFraction: 1.5))
    }
}

final class GainIncrementalTests: XCTestCase {
    /// extend(state(S), l).gain equals the full solve of S ∪ {l}, on coupled, rank-deficient and near-collinear problems.
    func testExtendMatchesFullSolve() {
        var rng = SplitMix64(seed: 9)
        func u() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        for trial in 0..<150 {
            let L = 3 + trial % 9, dims = 1 + trial % 4
            let vecs = (0..<L).map { _ -> [Double] in let v = (0..<dims).map { _ in u() * 2 - 1 + 0.4 }; let n = sqrt(v.reduce(0) { $0 + $1 * $1 }); return v.map { $0 / n } }
            let R = vecs.map { a in vecs.map { b in zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } } }
            let m = GainModel(b: (0..<L).map { _ in u() * 2 }, coupling: R)
            var st = m.emptyState
            for l in (0..<L).shuffled(using: &rng) {
                st = m.extend(st, with: l)
                XCTAssertEqual(st.gain, m.gain(st.S), accuracy: 1e-9 * max(1, st.gain), "trial \(trial) S=\(st.S)")
                XCTAssertEqual(st.gain, m.gainBruteForce(st.S), accuracy: 1e-8 * max(1, st.gain))
            }
        }
    }

    /// Greedy prefixes from the incremental path are the ones a from-scratch greedy finds.
    func testGreedyMatchesNaiveGreedy() throws {
        let card = CardFixtures.card(L: 10, grad: (0..<10).map { 1 + 0.7 * sin(Double($0) * 1.3) }, rho: 0.8)
        let s = try Selector(card: card, signal: .grad_norm)
        var S: [Int] = [], pool = Array(0..<10), naive: [[Int]] = [[]]
        while !pool.isEmpty {
            let i = pool.indices.max { s.gain.gain(S + [pool[$0]]) < s.gain.gain(S + [pool[$1]]) } ?? 0
            S.append(pool.remove(at: i)); naive.append(S.sorted())
        }
        XCTAssertEqual(s.greedyPrefixes(start: [], candidates: Array(0..<10), maxSize: 10), naive)
    }
}

extension SplitMix64: RandomNumberGenerator {}
