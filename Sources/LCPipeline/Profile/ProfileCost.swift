// Measured cost (layer-card-spec §4): wall time of one forward + truncated backward stopping at layer l on the
// first reference batch, median of `repeats`, at `depths` evenly spaced layers (always the first and the last),
// linearly interpolated for the others; peak RSS growth of that step (Linux: VmHWM after resetting it through
// /proc/self/clear_refs; nil where the reset is not permitted). Deliberately single-process and in-engine.
import Foundation
import LCCore
import LCModel

enum ProfileCost {
    struct Measured: Sendable {
        var seconds: [Double?]
        var peakBytes: [Double?]
        var measuredLayers: [Int]
    }

    /// round(linspace(0, L-1, k)), deduplicated; always contains 0 and L-1.
    static func depths(layers L: Int, count k: Int) -> [Int] {
        guard L > 0, k > 0 else { return [] }
        if L == 1 || k == 1 { return L == 1 ? [0] : [0, L - 1] }
        let n = min(k, L)
        return Array(Set((0..<n).map { Int((Double($0) * Double(L - 1) / Double(n - 1)).rounded()) })).sorted()
    }

    /// Resets the kernel's peak-RSS mark; false when not permitted.
    static func resetPeakRSS() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    static func measure(model: TransformerModel, batch: [ReferenceSequence], depths k: Int, repeats: Int,
                        repeatSecondsCap: Double = .infinity, progress: (ProfileCoupling.Step) -> Void) throws -> Measured {
        let L = model.config.numLayers
        let ds = depths(layers: L, count: k)
        let tokens = batch.map(\.ids), mask = batch.map(\.lossMask), targets = batch.compactMap(\.target)
        var secs: [Int: Double] = [:], peaks: [Int: Double] = [:]
        var done = 0
        for l in ds {
            var times: [Double] = [], mem: [Double] = []
            for rep in 0..<repeats {
                // A step longer than the cap is measured once (the first repeat already takes long enough to be stable).
                if rep > 0, let last = times.last, last > repeatSecondsCap { done += repeats - rep; break }
                let canPeak = resetPeakRSS()
                let before = ProcessStats.currentRSSBytes()
                let t = Date()
                if model.isCausal {
                    _ = try model.lossAndBackward(tokens: tokens, targetMask: mask, stopAtLayer: l) { _ in }
                } else {
                    _ = try model.embeddingLossAndBackward(tokens: tokens, targets: targets, stopAtLayer: l) { _ in }
                }
                times.append(Date().timeIntervalSince(t))
                if canPeak { mem.append(Double(max(0, ProcessStats.peakRSSBytes() - before))) }
                done += 1
                progress(ProfileCoupling.Step(step: done, total: ds.count * repeats, tokens: tokens.reduce(0) { $0 + $1.count } * done))
            }
            secs[l] = median(times)
            if !mem.isEmpty { peaks[l] = median(mem) }
        }
        return Measured(seconds: interpolate(secs, L), peakBytes: peaks.isEmpty ? Array(repeating: nil, count: L) : interpolate(peaks, L),
                        measuredLayers: ds)
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }

    /// Linear interpolation over layers between measured points (constant beyond the ends).
    static func interpolate(_ at: [Int: Double], _ L: Int) -> [Double?] {
        let xs = at.keys.sorted()
        guard let lo = xs.first, let hi = xs.last else { return Array(repeating: nil, count: L) }
        return (0..<L).map { l in
            if let v = at[l] { return v }
            if l <= lo { return at[lo] }
            if l >= hi { return at[hi] }
            guard let a = xs.last(where: { $0 < l }), let b = xs.first(where: { $0 > l }), let va = at[a], let vb = at[b] else { return nil }
            return va + (vb - va) * Double(l - a) / Double(b - a)
        }
    }
}
