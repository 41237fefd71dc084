// Reads pipelines/versions.toml: which model ids are successive versions of one model. Parses only
// the TOML subset the format uses — `[[series]]` tables with `name = "…"` and `versions = ["…", …]`
// (arrays may span lines), `#` comments, basic and literal strings — and rejects anything else with
// the file and line, rather than guessing. Not a general TOML parser.
import Foundation
import LCCore

public struct VersionSeries: Sendable, Equatable {
    public var name: String
    /// Model ids, oldest first.
    public var versions: [String]
    public init(name: String, versions: [String]) { self.name = name; self.versions = versions }
    /// Consecutive (older, newer) pairs: the diffs a run writes.
    public var pairs: [(old: String, new: String)] { zip(versions, versions.dropFirst()).map { (old: $0, new: $1) } }

    public static func == (a: VersionSeries, b: VersionSeries) -> Bool { a.name == b.name && a.versions == b.versions }
}

public enum VersionsFile {
    /// Parses the file at `url`.
    /// - Throws: `LCError.format` naming the file, line and problem; `LCError.io` if unreadable.
    public static func load(_ url: URL) throws -> [VersionSeries] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw LCError.io(path: url.path, message: "cannot read the versions file")
        }
        return try parse(text, path: url.path)
    }

    public static func parse(_ text: String, path: String) throws -> [VersionSeries] {
        var out: [VersionSeries] = []
        var current: (name: String?, versions: [String]?, line: Int)?
        func finish() throws {
            guard let c = current else { return }
            guard let v = c.versions else { throw LCError.format(path: path, message: "line \(c.line): [[series]] has no 'versions'") }
            out.append(VersionSeries(name: c.name ?? "series \(out.count + 1)", versions: v))
        }
        let lines = text.components(separatedBy: "\n")
        var i = 0
        while i < lines.count {
            let lineNo = i + 1
            var line = stripComment(lines[i]).trimmingCharacters(in: .whitespaces)
            i += 1
            if line.isEmpty { continue }
            if line == "[[series]]" { try finish(); current = (nil, nil, lineNo); continue }
            if line.hasPrefix("[") { throw LCError.format(path: path, message: "line \(lineNo): only [[series]] tables are allowed, got \(line)") }
            guard let eq = line.firstIndex(of: "=") else { throw LCError.format(path: path, message: "line \(lineNo): expected key = value") }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard current != nil else { throw LCError.format(path: path, message: "line \(lineNo): '\(key)' outside a [[series]] table") }
            var value = String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            switch key {
            case "name":
                guard current?.name == nil else { throw LCError.format(path: path, message: "line \(lineNo): duplicate key 'name'") }
                var rest = Substring(value)
                current?.name = try string(&rest, path: path, line: lineNo)
                guard rest.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw LCError.format(path: path, message: "line \(lineNo): unexpected text after the name")
                }
            case "versions":
                guard current?.versions == nil else { throw LCError.format(path: path, message: "line \(lineNo): duplicate key 'versions'") }
                // Gather continuation lines until the closing bracket.
                while !closes(value), i < lines.count { line = stripComment(lines[i]); value += " " + line; i += 1 }
                current?.versions = try array(value, path: path, line: lineNo)
            default:
                throw LCError.format(path: path, message: "line \(lineNo): unknown key '\(key)' (expected name, versions)")
            }
        }
        try finish()
        return out
    }

    /// Drops a `#` comment that is not inside a string.
    static func stripComment(_ s: String) -> String {
        var quote: Character?, escaped = false
        for (k, ch) in zip(s.indices, s) {
            if let q = quote {
                if escaped { escaped = false } else if ch == "\\" && q == "\"" { escaped = true } else if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" { quote = ch } else if ch == "#" {
                return String(s[..<k])
            }
        }
        return s
    }

    /// True when `s` holds a complete `[...]` (brackets outside strings balanced).
    static func closes(_ s: String) -> Bool {
        var quote: Character?, depth = 0, escaped = false
        for ch in s {
            if let q = quote {
                if escaped { escaped = false } else if ch == "\\" && q == "\"" { escaped = true } else if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" { quote = ch } else if ch == "[" { depth += 1 } else if ch == "]" { depth -= 1 }
        }
        return depth <= 0 && s.contains("]")
    }

    /// Reads one basic ("…", with \" \\ escapes) or literal ('…') string from the front of `s`.
    static func string(_ s: inout Substring, path: String, line: Int) throws -> String {
        s = s.drop { $0 == " " || $0 == "\t" }
        guard let q = s.first, q == "\"" || q == "'" else { throw LCError.format(path: path, message: "line \(line): expected a quoted string") }
        s = s.dropFirst()
        var out = ""
        while let ch = s.first {
            s = s.dropFirst()
            if ch == q { return out }
            if ch == "\\" && q == "\"" {
                guard let e = s.first else { break }
                s = s.dropFirst()
                switch e {
                case "\"": out.append("\""); case "\\": out.append("\\"); case "t": out.append("\t"); case "n": out.append("\n")
                default: throw LCError.format(path: path, message: "line \(line): unsupported escape \\\(e)")
                }
            } else { out.append(ch) }
        }
        throw LCError.format(path: path, message: "line \(line): unterminated string")
    }

    static func array(_ value: String, path: String, line: Int) throws -> [String] {
        var s = Substring(value).drop { $0 == " " }
        guard s.first == "[" else { throw LCError.format(path: path, message: "line \(line): 'versions' must be an array of strings") }
        s = s.dropFirst()
        var items: [String] = []
        while true {
            s = s.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            if s.first == "]" { s = s.dropFirst(); break }
            let v = try string(&s, path: path, line: line)
            guard !v.isEmpty else { throw LCError.format(path: path, message: "line \(line): empty model id in 'versions'") }
            items.append(v)
            s = s.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            if s.first == "," { s = s.dropFirst(); continue }
            if s.first == "]" { s = s.dropFirst(); break }
            throw LCError.format(path: path, message: "line \(line): expected ',' or ']' in 'versions'")
        }
        guard s.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw LCError.format(path: path, message: "line \(line): unexpected text after 'versions'")
        }
        return items
    }
}
