// The deterministic LoRA A0 used by resnorm_lora (docs/decisions.md, "LoRA A0 for resnorm_lora"):
// SplitMix64 seeded with lora_seed ^ (layer << 32) ^ module_index, A0[i][j] = (2u − 1)/sqrt(d_in) filled
// row-major, u = (z >> 11)·2^-53 — PEFT's kaiming_uniform_(a = sqrt(5)) bound on an r × d_in weight.
// Deliberately independent of any RNG library so that a Python reference reproduces it bit for bit.

/// SplitMix64 (Steele, Lea, Flood 2014), all arithmetic mod 2^64.
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

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Default `lora_seed`.
public let defaultLoRASeed: UInt64 = 1234

/// A0 (r × dIn, row-major, Float64) for module index `moduleIndex` (position in Architecture.modules) of `layer`.
public func loraA0(seed: UInt64, layer: Int, moduleIndex: Int, r: Int, dIn: Int) -> [Double] {
    var g = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: layer) << 32) ^ UInt64(truncatingIfNeeded: moduleIndex))
    let bound = 1 / Double(dIn).squareRoot()
    return (0..<(r * dIn)).map { _ in (2 * g.nextUnit() - 1) * bound }
}
