// The value tree a `Pickle` read produces: plain data plus *descriptions* of calls
// (`reduce`, `build`, `object`) that Python would have executed. Nothing here runs code;
// interpreting a description (e.g. `_rebuild_tensor_v2`) is the consumer's job.
import Foundation

/// A decoded pickle value. Calls are kept symbolic: `reduce(callable, args)` is what
/// `callable(*args)` would have been.
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer that does not fit Int64: two's-complement little-endian bytes (as LONG1 stores it).
    case bigint([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list([PickleValue])
    /// Insertion-ordered key/value pairs (dict and `collections.OrderedDict`).
    case dict([PickleValue.Pair])
    case set([PickleValue])
    /// An allowlisted global, e.g. `torch._utils` / `_rebuild_tensor_v2`.
    case global(module: String, name: String)
    /// `callable(*args)`, not executed.
    case reduce(callable: PickleValue, args: PickleValue)
    /// `obj.__setstate__(state)` / `obj.__dict__.update(state)`, not executed.
    case build(object: PickleValue, state: PickleValue)
    /// `cls.__new__(cls, *args, **kwargs)` (NEWOBJ / NEWOBJ_EX), not executed.
    case object(cls: PickleValue, args: PickleValue, kwargs: PickleValue)
    /// A persistent id (BINPERSID); torch uses it for storages.
    case persistentID(PickleValue)

    /// A dict entry.
    public struct Pair: Sendable, Equatable {
        public var key: PickleValue
        public var value: PickleValue
        public init(_ key: PickleValue, _ value: PickleValue) { self.key = key; self.value = value }
    }

    /// The string payload, if this is a string.
    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    /// The integer payload, if this is an int (bool counts as 0/1 like Python).
    public var intValue: Int64? {
        switch self {
        case let .int(v): return v
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
    /// Elements of a tuple or list.
    public var sequence: [PickleValue]? {
        switch self {
        case let .tuple(v), let .list(v): return v
        default: return nil
        }
    }
    /// `"module.name"` of a global.
    public var globalName: String? { if case let .global(m, n) = self { return "\(m).\(n)" }; return nil }
}
