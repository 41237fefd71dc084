// A decoded GGUF metadata value. All integer widths collapse to `.uint`/`.int`, f32/f64 to
// `.float`; `GGUFValueType` keeps the on-disk type id for callers that care (e.g. dumps).
// Deliberately small: no writer support and no nested arrays (the reader rejects them).
// Accessors are lenient about width (`int` accepts any integer storage) but never coerce
// between kinds (a string "3" is not an int).
import Foundation

/// On-disk GGUF metadata value type ids.
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Fixed byte width of a scalar type; nil for string and array.
    public var scalarSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// A GGUF metadata value.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// Any integer value that fits `Int` (unsigned or signed storage alike).
    public var int: Int? {
        switch self {
        case let .uint(v): return v <= UInt64(Int.max) ? Int(v) : nil
        case let .int(v): return Int(exactly: v)
        default: return nil
        }
    }

    /// A float, or an integer converted to Double.
    public var double: Double? {
        switch self {
        case let .float(v): return v
        case let .uint(v): return Double(v)
        case let .int(v): return Double(v)
        default: return nil
        }
    }

    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var array: [GGUFValue]? { if case let .array(a) = self { return a }; return nil }

    /// An array whose every element is a string.
    public var strings: [String]? {
        guard let a = array else { return nil }
        var out: [String] = []; out.reserveCapacity(a.count)
        for e in a { guard let s = e.string else { return nil }; out.append(s) }
        return out
    }

    /// An array whose every element is an integer fitting `Int`.
    public var ints: [Int]? {
        guard let a = array else { return nil }
        var out: [Int] = []; out.reserveCapacity(a.count)
        for e in a { guard let v = e.int else { return nil }; out.append(v) }
        return out
    }

    /// An array whose every element is numeric.
    public var doubles: [Double]? {
        guard let a = array else { return nil }
        var out: [Double] = []; out.reserveCapacity(a.count)
        for e in a { guard let v = e.double else { return nil }; out.append(v) }
        return out
    }
}
