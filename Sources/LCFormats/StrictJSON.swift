// A strict RFC 8259 JSON parser for untrusted headers and configs: keeps object keys in file
// order, REJECTS duplicate keys (JSONSerialization silently keeps the last), caps nesting depth,
// rejects NaN/Infinity, lone surrogates, control characters and trailing garbage.
// Integer literals that fit Int stay exact (`.int`); other numbers are `.number(Double)`.
// Deliberately not a Codable decoder or a writer; LCCore.JSON writes manifests.
import Foundation
import LCCore

/// A parsed JSON value with ordered object members.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer literal (no fraction/exponent) that fits `Int`, kept exact.
    case int(Int)
    /// Any other number.
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order; keys are unique (the parser rejects duplicates).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Member `key` of an object (nil for non-objects or a missing key).
    public subscript(key: String) -> JSONValue? {
        guard case let .object(m) = self else { return nil }
        return m.first { $0.0 == key }?.1
    }
    /// An exact integer: `.int`, or a `.number` that is integral and fits `Int`.
    public var int: Int? {
        switch self {
        case let .int(v): return v
        case let .number(d): return Int(exactly: d)
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case let .int(v): return Double(v)
        case let .number(d): return d
        default: return nil
        }
    }
    public var string: String? { if case let .string(s) = self { return s }; return nil }
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    public var object: [(String, JSONValue)]? { if case let .object(o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
}

public enum StrictJSON {
    /// Maximum nesting depth of arrays/objects.
    public static let maxDepth = 128

    /// Parses one JSON value filling all of `data` (surrounding whitespace allowed).
    /// - Throws: `LCError.format(path:message:)` with the byte offset of the problem.
    public static func parse(_ data: Data, path: String) throws -> JSONValue {
        try data.withUnsafeBytes { raw in
            try parse(UnsafeRawBufferPointer(raw), path: path)
        }
    }

    /// Parses from raw bytes (e.g. a slice of a mapped file).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> JSONValue {
        var p = Parser(b: bytes.bindMemory(to: UInt8.self), path: path)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.i == p.b.count else { throw p.err("trailing characters after the JSON value") }
        return v
    }

    struct Parser {
        let b: UnsafeBufferPointer<UInt8>
        let path: String
        var i = 0

        func err(_ m: String) -> LCError { .format(path: path, message: "invalid JSON at byte \(i): \(m)") }

        mutating func skipWS() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ lit: String) throws {
            for ch in lit.utf8 {
                guard i < b.count, b[i] == ch else { throw err("expected '\(lit)'") }
                i += 1
            }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard i < b.count else { throw err("unexpected end of input") }
            switch b[i] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw err("unexpected character 0x\(String(b[i], radix: 16))")
            }
        }

        mutating func object(depth: Int) throws -> JSONValue {
            guard depth <= StrictJSON.maxDepth else { throw err("nesting deeper than \(StrictJSON.maxDepth)") }
            i += 1
            var members: [(String, JSONValue)] = []
            var keys = Set<String>()
            skipWS()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipWS()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw err("expected a string key") }
                let keyAt = i
                let key = try string()
                guard keys.insert(key).inserted else {
                    i = keyAt
                    throw err("duplicate key '\(key)'")
                }
                skipWS()
                try expect(":")
                skipWS()
                members.append((key, try value(depth: depth)))
                skipWS()
                guard i < b.count else { throw err("unterminated object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw err("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            guard depth <= StrictJSON.maxDepth else { throw err("nesting deeper than \(StrictJSON.maxDepth)") }
            i += 1
            var items: [JSONValue] = []
            skipWS()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipWS()
                items.append(try value(depth: depth))
                skipWS()
                guard i < b.count else { throw err("unterminated array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw err("expected ',' or ']'")
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard b.count - i >= 4 else { throw err("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a")) + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A")) + 10
                default: throw err("bad hex digit in \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw err("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw err("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < b.count else { throw err("unterminated escape") }
                let e = b[i]; i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var u = try hex4()
                    if (0xD800...0xDBFF).contains(u) {
                        guard b.count - i >= 6, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw err("lone high surrogate") }
                        i += 2
                        let lo = try hex4()
                        guard (0xDC00...0xDFFF).contains(lo) else { throw err("invalid low surrogate") }
                        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(u) {
                        throw err("lone low surrogate")
                    }
                    guard let scalar = Unicode.Scalar(u) else { throw err("invalid code point") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw err("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw err("string is not valid UTF-8") }
            return s
        }

        mutating func number() throws -> JSONValue {
            let start = i
            var integral = true
            if b[i] == UInt8(ascii: "-") { i += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.b.count, p.b[p.i] >= 0x30, p.b[p.i] <= 0x39 { p.i += 1 }
                return p.i - s
            }
            guard i < b.count else { throw err("truncated number") }
            if b[i] == UInt8(ascii: "0") {
                i += 1
                if i < b.count, b[i] >= 0x30, b[i] <= 0x39 { throw err("leading zero in number") }
            } else {
                guard digits(&self) > 0 else { throw err("expected digits") }
            }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                integral = false; i += 1
                guard digits(&self) > 0 else { throw err("expected digits after '.'") }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                integral = false; i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw err("expected exponent digits") }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            if integral, let v = Int(text) { return .int(v) }
            guard let d = Double(text), d.isFinite else { throw err("number '\(text.prefix(40))' is out of range") }
            return .number(d)
        }
    }
}
