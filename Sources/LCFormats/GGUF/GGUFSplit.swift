// Multi-file GGUF sets written by llama.cpp's gguf-split ("<stem>-00001-of-00003.gguf"):
// finds every part next to the first, reads each, and checks they belong together via the
// `split.no` (0-based), `split.count` and `split.tensors.count` keys. Not a merger: tensors
// keep pointing into their own part file. A plain (unsplit) GGUF reads as a one-part set.
// Missing parts are an error naming the expected file path.
import Foundation
import LCCore

/// All parts of a (possibly) split GGUF model, in part order.
public struct GGUFSplit: Sendable {
    public let parts: [GGUFFile]
    /// Metadata of the first part (gguf-split writes the model's KV only there).
    public var metadata: [String: GGUFValue] { parts.first?.metadata ?? [:] }
    /// Union of tensors of all parts, in part then file order; `file` says which part.
    public var tensors: [TensorInfo] { parts.flatMap(\.tensors) }

    /// Splits "<stem>-00001-of-00003.gguf" into (stem, 1, 3); nil if the name has no split suffix.
    public static func parseName(_ name: String) -> (stem: String, index: Int, count: Int)? {
        guard name.hasSuffix(".gguf") else { return nil }
        let base = name.dropLast(5)
        let parts = base.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 2] == "of" else { return nil }
        let a = parts[parts.count - 3], b = parts[parts.count - 1]
        guard a.count == 5, b.count == 5, (a + b).allSatisfy({ $0.isASCII && $0.isNumber }),
              let i = Int(a), let n = Int(b), i >= 1, n >= 1, i <= n else { return nil }
        return (parts.dropLast(3).joined(separator: "-"), i, n)
    }

    /// File name of part `index` (1-based) of `count`, as gguf-split names it.
    public static func partName(stem: String, index: Int, count: Int) -> String {
        stem + "-" + String(format: "%05d", index) + "-of-" + String(format: "%05d", count) + ".gguf"
    }

    /// Reads `first` and, if it is part 1 of a split set, every other part beside it.
    /// - Throws: `LCError.format` naming the missing or inconsistent part.
    public static func read(first: URL) throws -> GGUFSplit {
        let head = try GGUFFile.read(url: first)
        func int(_ f: GGUFFile, _ k: String) throws -> Int? {
            guard let v = f.metadata[k] else { return nil }
            guard let i = v.int else { throw LCError.format(path: f.path, message: "\(k) is not an integer") }
            return i
        }
        guard let count = try int(head, GGUFKeys.Split.count) else {
            if let n = parseName(first.lastPathComponent), n.count > 1 {
                throw LCError.format(path: first.path, message: "file name says part \(n.index) of \(n.count) but the file has no split.count key")
            }
            return GGUFSplit(parts: [head])
        }
        guard (1...99_999).contains(count) else {
            throw LCError.format(path: first.path, message: "split.count \(count) is out of range")
        }
        guard try int(head, GGUFKeys.Split.index) == 0 else {
            throw LCError.format(path: first.path, message: "not the first split part (split.no must be 0)")
        }
        let total = try int(head, GGUFKeys.Split.tensorsCount)
        var files = [head]
        if count > 1 {
            guard let n = parseName(first.lastPathComponent), n.index == 1, n.count == count else {
                throw LCError.format(path: first.path, message: "split.count is \(count) but the file name is not '<stem>-00001-of-\(String(format: "%05d", count)).gguf'")
            }
            let dir = first.deletingLastPathComponent()
            for i in 2...count {
                let url = dir.appendingPathComponent(partName(stem: n.stem, index: i, count: count))
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw LCError.format(path: url.path, message: "split part \(i) of \(count) is missing (listed by \(first.lastPathComponent))")
                }
                let part = try GGUFFile.read(url: url)
                guard try int(part, GGUFKeys.Split.count) == count else {
                    throw LCError.format(path: url.path, message: "split.count differs from part 1 (\(count))")
                }
                guard try int(part, GGUFKeys.Split.index) == i - 1 else {
                    throw LCError.format(path: url.path, message: "split.no should be \(i - 1) for part \(i)")
                }
                files.append(part)
            }
        }
        var seen: [String: String] = [:]
        for f in files {
            for t in f.tensors {
                if let other = seen.updateValue(f.path, forKey: t.name) {
                    throw LCError.format(path: f.path, message: "tensor '\(t.name)' also appears in \(other)")
                }
            }
        }
        if let total, total != seen.count {
            throw LCError.format(path: first.path, message: "split.tensors.count is \(total) but the \(count) parts hold \(seen.count) tensors")
        }
        return GGUFSplit(parts: files)
    }
}
