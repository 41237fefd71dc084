// The GGML storage types the dequantizers know, by raw GGUF type id, with block geometry.
// A private stand-in for the shared `GGMLType` enum (written elsewhere); the coordinator
// bridges the two. Deliberately not public: callers pass raw `UInt32` ids to `Dequantize`.
import Foundation

/// One GGML storage type that `Dequantize` can convert to Float32.
/// Raw values are the ids from ggml.h / gguf-py `GGMLQuantizationType`.
enum QuantKind: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case iq1_M = 29
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28
    case bf16 = 30
    case tq1_0 = 34, tq2_0 = 35
    case mxfp4 = 39, nvfp4 = 40

    /// (elements per block, bytes per block), as ggml's type_traits / gguf-py GGML_QUANT_SIZES.
    var geometry: (block: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64, .f64: return (1, 8)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        case .iq4_NL: return (32, 18)
        case .iq2_XXS: return (256, 66)
        case .iq2_XS: return (256, 74)
        case .iq2_S: return (256, 82)
        case .iq3_XXS: return (256, 98)
        case .iq3_S: return (256, 110)
        case .iq1_S: return (256, 50)
        case .iq1_M: return (256, 56)
        case .iq4_XS: return (256, 136)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        case .mxfp4: return (32, 17)
        case .nvfp4: return (64, 36)
        }
    }

    var name: String { ggmlTypeName(rawValue) }
}

/// The ggml name of a type id, including types LayerCard cannot dequantize ("IQ2_XXS"),
/// so errors can say which type was met. Unknown ids read as "type id N".
func ggmlTypeName(_ id: UInt32) -> String {
    switch id {
    case 0: return "F32"
    case 1: return "F16"
    case 2: return "Q4_0"
    case 3: return "Q4_1"
    case 4, 5: return "removed type id \(id) (Q4_2/Q4_3)"
    case 6: return "Q5_0"
    case 7: return "Q5_1"
    case 8: return "Q8_0"
    case 9: return "Q8_1"
    case 10: return "Q2_K"
    case 11: return "Q3_K"
    case 12: return "Q4_K"
    case 13: return "Q5_K"
    case 14: return "Q6_K"
    case 15: return "Q8_K"
    case 16: return "IQ2_XXS"
    case 17: return "IQ2_XS"
    case 18: return "IQ3_XXS"
    case 19: return "IQ1_S"
    case 20: return "IQ4_NL"
    case 21: return "IQ3_S"
    case 22: return "IQ2_S"
    case 23: return "IQ4_XS"
    case 24: return "I8"
    case 25: return "I16"
    case 26: return "I32"
    case 27: return "I64"
    case 28: return "F64"
    case 29: return "IQ1_M"
    case 30: return "BF16"
    case 34: return "TQ1_0"
    case 35: return "TQ2_0"
    case 39: return "MXFP4"
    case 40: return "NVFP4"
    case 41: return "Q1_0"
    case 42: return "Q2_0"
    default: return "type id \(id)"
    }
}

/// Why a known-but-unsupported type cannot be dequantized (appended to the error message).
func unsupportedReason(_ id: UInt32) -> String {
    switch id {
    case 9:
        return "Q8_1 is ggml's internal dot-product operand; ggml has no dequantizer for it and its block size differs between ggml (36 bytes) and gguf-py (40 bytes)"
    case 41, 42:
        return "this recent ggml type has no reference dequantizer in gguf-py 0.19.0 to test against"
    default:
        return "unknown or removed ggml type id"
    }
}
