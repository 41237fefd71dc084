// Deterministic JSON for manifests and cards: sorted keys, pretty, no NaN/Infinity literals.
import Foundation

public enum JSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var d = try enc.encode(value)
        d.append(0x0A)
        return d
    }

    public static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LCError.io(path: url.path, message: "cannot read: \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw LCError.format(path: url.path, message: "invalid JSON: \(describe(error))")
        }
    }

    /// A readable one-liner for a DecodingError (field path + problem).
    public static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: [CodingKey]) -> String { c.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        switch e {
        case let .keyNotFound(k, ctx): return "missing field '\(path(ctx.codingPath + [k]))'"
        case let .typeMismatch(_, ctx): return "wrong type at '\(path(ctx.codingPath))': \(ctx.debugDescription)"
        case let .valueNotFound(_, ctx): return "null at '\(path(ctx.codingPath))'"
        case let .dataCorrupted(ctx): return "corrupted at '\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// Tool identity recorded in every manifest and card.
public enum ToolInfo {
    public static let name = "layercard"
    public static let version = "0.1.0"
}

/// True for a JSON `true`/`false` parsed by JSONSerialization. (`v is Bool` is also true for the numbers 0 and 1
/// on Linux Foundation, which would reject token ids 0 and 1; booleans are the NSNumbers of ObjC type "c".)
public func isJSONBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }
