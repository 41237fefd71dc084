// SplitMix64: a tiny deterministic PRNG a Python reference reproduces bit for bit (no RNG library).

/// SplitMix64 (Steele, Lea, Flood 2014), all arithmetic mod 2^64.
/// The one deterministic generator of the project: LoRA A0 (docs/decisions.md), random-k baselines, probe splits.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    /// The next 64-bit output.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in 0..<n by rejection (no modulo bias); n > 0.
    public mutating func next(below n: UInt64) -> UInt64 {
        let threshold = (0 &- n) % n
        while true { let r = next(); if r >= threshold { return r % n } }
    }
    /// k distinct values of 0..<n (partial Fisher–Yates), sorted.
    public mutating func sample(_ k: Int, of n: Int) -> [Int] {
        var a = Array(0..<max(0, n))
        for i in 0..<min(max(0, k), a.count) { a.swapAt(i, i + Int(next(below: UInt64(a.count - i)))) }
        return Array(a.prefix(max(0, k))).sorted()
    }
}
