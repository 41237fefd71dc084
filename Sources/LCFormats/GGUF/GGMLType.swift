// GGML tensor storage types as GGUF files number them, with block geometry from ONE table.
// Ids, names and (elements per block, bytes per block) follow ggml.h / ggml.c type_traits;
// the table is checked against gguf-py's GGML_QUANT_SIZES by a golden test.
// Deliberately not here: dequantization (LCKernels) and removed ids (4, 5, 31–33, 36–38),
// which are rejected as unknown. Q8_1 follows ggml (36 bytes), not gguf-py's stale 40.
import Foundation
import LCCore

/// A GGML tensor type id as stored in a GGUF tensor-info record.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// (ggml name, elements per block, bytes per block) — the single source of truth.
    private var traits: (name: String, block: Int, size: Int) {
        switch self {
        case .f32: return ("F32", 1, 4)
        case .f16: return ("F16", 1, 2)
        case .q4_0: return ("Q4_0", 32, 18)
        case .q4_1: return ("Q4_1", 32, 20)
        case .q5_0: return ("Q5_0", 32, 22)
        case .q5_1: return ("Q5_1", 32, 24)
        case .q8_0: return ("Q8_0", 32, 34)
        case .q8_1: return ("Q8_1", 32, 36)
        case .q2_K: return ("Q2_K", 256, 84)
        case .q3_K: return ("Q3_K", 256, 110)
        case .q4_K: return ("Q4_K", 256, 144)
        case .q5_K: return ("Q5_K", 256, 176)
        case .q6_K: return ("Q6_K", 256, 210)
        case .q8_K: return ("Q8_K", 256, 292)
        case .iq2_XXS: return ("IQ2_XXS", 256, 66)
        case .iq2_XS: return ("IQ2_XS", 256, 74)
        case .iq3_XXS: return ("IQ3_XXS", 256, 98)
        case .iq1_S: return ("IQ1_S", 256, 50)
        case .iq4_NL: return ("IQ4_NL", 32, 18)
        case .iq3_S: return ("IQ3_S", 256, 110)
        case .iq2_S: return ("IQ2_S", 256, 82)
        case .iq4_XS: return ("IQ4_XS", 256, 136)
        case .i8: return ("I8", 1, 1)
        case .i16: return ("I16", 1, 2)
        case .i32: return ("I32", 1, 4)
        case .i64: return ("I64", 1, 8)
        case .f64: return ("F64", 1, 8)
        case .iq1_M: return ("IQ1_M", 256, 56)
        case .bf16: return ("BF16", 1, 2)
        case .tq1_0: return ("TQ1_0", 256, 54)
        case .tq2_0: return ("TQ2_0", 256, 66)
        case .mxfp4: return ("MXFP4", 32, 17)
        case .nvfp4: return ("NVFP4", 64, 36)
        case .q1_0: return ("Q1_0", 128, 18)
        }
    }

    /// ggml's type name ("Q4_K", "BF16", ...), used as `TensorInfo.dtype`.
    public var name: String { traits.name }
    /// Elements per block (1 for plain types).
    public var blockSize: Int { traits.block }
    /// Bytes per block.
    public var typeSize: Int { traits.size }
    /// True for block-quantized types (blockSize > 1).
    public var isQuantized: Bool { blockSize > 1 }

    /// Looks a type up by its ggml name (case-sensitive, e.g. "Q6_K").
    public init?(name: String) {
        guard let t = GGMLType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    /// Bytes occupied by a tensor of `shape` (PyTorch order: innermost dimension LAST).
    /// - Throws: `LCError.format` if a dimension is negative, the innermost dimension is not a
    ///   multiple of `blockSize`, or the size overflows `Int`. `path`/`tensor` name the culprit.
    public func byteCount(shape: [Int], path: String = "", tensor: String = "") throws -> Int {
        let label = tensor.isEmpty ? "" : "tensor '\(tensor)': "
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw LCError.format(path: path, message: "\(label)negative dimension in shape \(shape)")
        }
        let inner = shape.last ?? 1
        guard inner % blockSize == 0 else {
            throw LCError.format(path: path, message: "\(label)innermost dimension \(inner) is not a multiple of the \(name) block size \(blockSize)")
        }
        var total = (inner / blockSize).multipliedReportingOverflow(by: typeSize)
        for d in shape.dropLast() {
            guard !total.overflow else { break }
            total = total.partialValue.multipliedReportingOverflow(by: d)
        }
        guard !total.overflow else {
            throw LCError.format(path: path, message: "\(label)byte size of shape \(shape) as \(name) overflows")
        }
        return total.partialValue
    }
}
