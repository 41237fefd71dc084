// The deterministic LoRA A0 used by resnorm_lora (docs/decisions.md, "LoRA A0 for resnorm_lora"):
// SplitMix64 seeded with lora_seed ^ (layer << 32) ^ module_index, A0[i][j] = (2u − 1)/sqrt(d_in) filled
// row-major, u = (z >> 11)·2^-53 — PEFT's kaiming_uniform_(a = sqrt(5)) bound on an r × d_in weight.
// Deliberately independent of any RNG library so that a Python reference reproduces it bit for bit.

import LCCore

/// Default `lora_seed`.
public let defaultLoRASeed: UInt64 = 1234

/// A0 (r × dIn, row-major, Float64) for module index `moduleIndex` (position in Architecture.modules) of `layer`.
public func loraA0(seed: UInt64, layer: Int, moduleIndex: Int, r: Int, dIn: Int) -> [Double] {
    var g = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: layer) << 32) ^ UInt64(truncatingIfNeeded: moduleIndex))
    let bound = 1 / Double(dIn).squareRoot()
    return (0..<(r * dIn)).map { _ in (2 * g.nextUnit() - 1) * bound }
}
