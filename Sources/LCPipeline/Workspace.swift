// The on-disk workspace: `manifests/<model-id>/<stage>.json` and `outputs/<model-id>/...`.
// Stages talk only through these files. Model ids are flat, filesystem-safe names.
import Foundation
import LCCore

public struct Workspace: Sendable {
    public let root: URL
    public init(root: URL) { self.root = root.standardizedFileURL }

    public var manifestsDir: URL { root.appendingPathComponent("manifests", isDirectory: true) }
    public var outputsDir: URL { root.appendingPathComponent("outputs", isDirectory: true) }

    public func manifestURL(model: String, stage: String) -> URL {
        manifestsDir.appendingPathComponent(model, isDirectory: true).appendingPathComponent("\(stage).json")
    }

    public func outputDir(model: String) -> URL {
        outputsDir.appendingPathComponent(model, isDirectory: true)
    }

    /// Model ids that have a manifest for `stage`, sorted.
    public func models(withStage stage: String) -> [String] {
        let fm = FileManager.default
        guard let ids = try? fm.contentsOfDirectory(atPath: manifestsDir.path) else { return [] }
        return ids.filter { fm.fileExists(atPath: manifestURL(model: $0, stage: stage).path) }.sorted()
    }

    /// Turns a relative path into a model id: `/` → `__`, anything outside `[A-Za-z0-9._-]` → `_`.
    public static func modelID(fromRelativePath rel: String) -> String {
        let parts = rel.split(separator: "/").filter { !$0.isEmpty && $0 != "." }
        let joined = parts.joined(separator: "__")
        let safe = String(joined.unicodeScalars.map { s -> Character in
            let c = Character(s)
            return (s.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-" || c == "_")) ? c : "_"
        })
        let trimmed = safe.hasPrefix(".") ? "_" + safe.dropFirst() : safe
        return trimmed.isEmpty ? "model" : trimmed
    }

    /// Checks a user-given model id refers to a safe single path component.
    public static func validateModelID(_ id: String) throws {
        guard !id.isEmpty, id != ".", id != "..", !id.contains("/"), !id.contains("\0") else {
            throw LCError.usage("invalid model id '\(id)'")
        }
    }
}
