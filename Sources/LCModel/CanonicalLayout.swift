// Brings a decoded tensor into LayerCard's canonical layout (Hugging Face names, `[out, in]`):
// un-permutes llama-arch GGUF Q/K rows (formats.md §1b.5) and transposes GPT-2 Conv1D weights
// stored `[in, out]` by safetensors/PyTorch. Fused GPT-2 `c_attn` stays fused: rows q | k | v.
import Foundation

public enum CanonicalLayout {
    /// Conv1D weights of GPT-2 (stored `[in, out]` in HF checkpoints).
    public static func isConv1D(_ canonical: String, arch: String) -> Bool {
        arch == "gpt2" && canonical.hasSuffix(".weight") &&
            (canonical.hasSuffix("attn.c_attn.weight") || canonical.hasSuffix("attn.c_proj.weight") ||
             canonical.hasSuffix("mlp.c_fc.weight") || canonical.hasSuffix("mlp.c_proj.weight"))
    }

    /// Inverse of convert_hf_to_gguf's `permute` for one Q or K weight (or bias) with `heads` heads:
    /// within each head, rows (2i, 2i+1) go back to (i, i + headDim/2).
    /// - Parameters: data `[rows, cols]` row-major, rows = heads × headDim.
    public static func unpermuteRows(_ data: [Float], rows: Int, cols: Int, heads: Int) -> [Float] {
        precondition(heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0, "unpermute: bad head geometry")
        let hd = rows / heads, half = hd / 2
        var out = [Float](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0..<heads {
                    for i in 0..<half {
                        for j in 0..<2 {
                            let from = h * hd + 2 * i + j          // GGUF row
                            let to = h * hd + j * half + i         // HF row
                            for c in 0..<cols { dst[to * cols + c] = src[from * cols + c] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The forward permutation (HF → GGUF), used by tests to check the round trip.
    public static func permuteRows(_ data: [Float], rows: Int, cols: Int, heads: Int) -> [Float] {
        let hd = rows / heads, half = hd / 2
        var out = [Float](repeating: 0, count: data.count)
        for h in 0..<heads { for i in 0..<half { for j in 0..<2 {
            let to = h * hd + 2 * i + j, from = h * hd + j * half + i
            for c in 0..<cols { out[to * cols + c] = data[from * cols + c] }
        } } }
        return out
    }

    public static func transpose(_ data: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in
            for r in 0..<rows { for c in 0..<cols { d[c * rows + r] = s[r * cols + c] } }
        } }
        return out
    }

    /// Applies the canonical-layout transforms for a tensor coming from `sourceFormat`
    /// ("gguf", "safetensors", "pytorch", ...). Returns the new data and shape.
    public static func canonicalize(_ data: [Float], shape: [Int], canonical: String, config: ModelConfig,
                                    sourceFormat: String) -> (data: [Float], shape: [Int]) {
        let arch = config.architecture
        if sourceFormat == "gguf" && arch == "llama" {
            let isQ = canonical.hasSuffix("self_attn.q_proj.weight") || canonical.hasSuffix("self_attn.q_proj.bias")
            let isK = canonical.hasSuffix("self_attn.k_proj.weight") || canonical.hasSuffix("self_attn.k_proj.bias")
            if isQ || isK {
                let rows = shape[0], cols = shape.count > 1 ? shape[1] : 1
                return (unpermuteRows(data, rows: rows, cols: cols, heads: isQ ? config.numHeads : config.numKVHeads), shape)
            }
        }
        if sourceFormat != "gguf" && isConv1D(canonical, arch: arch) && shape.count == 2 {
            return (transpose(data, rows: shape[0], cols: shape[1]), [shape[1], shape[0]])
        }
        return (data, shape)
    }
}
