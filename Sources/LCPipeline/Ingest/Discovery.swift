// Finds checkpoints under the paths a user gives: Hugging Face folders (config.json + weights),
// single GGUF / safetensors / PyTorch files, and archives. Detection is by content (magic
// bytes), with file extensions used only to flag "looks like a checkpoint but is not one".
import Foundation
import LCCore
import LCFormats

public struct Candidate: Sendable, Equatable {
    public enum Kind: String, Sendable { case hfFolder, gguf, safetensors, pytorch, archive, broken }
    public var kind: Kind
    /// The checkpoint file or folder (absolute, symlinks kept as given).
    public var url: URL
    public var root: URL
    public var modelID: String
    /// For `.broken`: why the file was flagged.
    public var reason: String?
}

public enum Discovery {
    static let checkpointExtensions = [".gguf", ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".tar", ".tar.gz", ".tgz",
                                       ".tar.zst", ".tzst", ".tar.xz", ".zip"]
    static let weightNames = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                              "pytorch_model.bin.index.json"]

    /// Strips a known checkpoint extension (longest match) from a file name.
    static func stripExtension(_ name: String) -> String {
        for ext in checkpointExtensions.sorted(by: { $0.count > $1.count }) where name.lowercased().hasSuffix(ext) && name.count > ext.count {
            return String(name.dropLast(ext.count))
        }
        return name
    }

    static func hasTorchExtension(_ name: String) -> Bool {
        [".bin", ".pt", ".pth", ".ckpt"].contains { name.lowercased().hasSuffix($0) }
    }

    static func hasCheckpointExtension(_ name: String) -> Bool {
        checkpointExtensions.contains { name.lowercased().hasSuffix($0) }
    }

    /// Whether `dir` is a Hugging Face model folder: config.json plus a weights file or shards.
    static func isHFFolder(_ dir: URL) -> Bool {
        let fm = FileManager.default
        guard fm.fileExists(atPath: dir.appendingPathComponent("config.json").path) else { return false }
        if weightNames.contains(where: { fm.fileExists(atPath: dir.appendingPathComponent($0).path) }) { return true }
        let names = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.contains { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") }
    }

    /// GGUF split parts other than the first (`-0000K-of-0000N.gguf`, K > 1) are read with part 1.
    static func isLaterSplitPart(_ name: String) -> Bool {
        guard let r = name.range(of: #"-(\d{5})-of-(\d{5})\.gguf$"#, options: .regularExpression) else { return false }
        let digits = name[r].dropFirst().prefix(5)
        return Int(digits).map { $0 > 1 } ?? false
    }

    /// Walks `paths` and returns the checkpoints found, sorted by model id (ids made unique).
    public static func discover(paths: [URL]) throws -> [Candidate] {
        var out: [Candidate] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p.path, isDirectory: &isDir) else {
                throw LCError.usage("path does not exist: \(p.path)")
            }
            let root = p.standardizedFileURL
            if isDir.boolValue {
                if isHFFolder(root) {
                    out.append(Candidate(kind: .hfFolder, url: root, root: root.deletingLastPathComponent(),
                                         modelID: Workspace.modelID(fromRelativePath: root.lastPathComponent)))
                } else {
                    var seen = Set<String>()
                    try walk(root, root: root, into: &out, seen: &seen)
                }
            } else if let c = try classify(file: root, root: root.deletingLastPathComponent()) {
                out.append(c)
            } else {
                out.append(Candidate(kind: .broken, url: root, root: root.deletingLastPathComponent(),
                                     modelID: Workspace.modelID(fromRelativePath: stripExtension(root.lastPathComponent)),
                                     reason: "not a recognised checkpoint (no GGUF, safetensors, PyTorch zip or archive signature)"))
            }
        }
        return uniquify(out)
    }

    static func walk(_ dir: URL, root: URL, into out: inout [Candidate], seen: inout Set<String>) throws {
        let fm = FileManager.default
        let real = dir.resolvingSymlinksInPath().path
        guard seen.insert(real).inserted else { return } // symlink cycle
        let names = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        for name in names where !name.hasPrefix(".") {
            let url = dir.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { continue } // dangling symlink
            if isDir.boolValue {
                if isHFFolder(url) {
                    out.append(Candidate(kind: .hfFolder, url: url, root: root,
                                         modelID: Workspace.modelID(fromRelativePath: relative(url, to: root))))
                } else {
                    try walk(url, root: root, into: &out, seen: &seen)
                }
            } else if let c = try classify(file: url, root: root) {
                out.append(c)
            } else if hasCheckpointExtension(name) {
                out.append(Candidate(kind: .broken, url: url, root: root,
                                     modelID: Workspace.modelID(fromRelativePath: stripExtension(relative(url, to: root))),
                                     reason: "file name says checkpoint but the content has no known signature"))
            }
        }
    }

    /// Classifies one file by content; nil if it is not a checkpoint or archive.
    static func classify(file url: URL, root: URL) throws -> Candidate? {
        let id = Workspace.modelID(fromRelativePath: stripExtension(relative(url, to: root)))
        let kind: FileKind
        do { kind = try FileSniffer.sniff(url: url) } catch {
            return Candidate(kind: .broken, url: url, root: root, modelID: id, reason: "\(error)")
        }
        switch kind {
        case .gguf:
            return isLaterSplitPart(url.lastPathComponent) ? nil : Candidate(kind: .gguf, url: url, root: root, modelID: id)
        case .safetensors:
            return Candidate(kind: .safetensors, url: url, root: root, modelID: id)
        case .zip:
            // A zip named like a PyTorch file whose directory cannot be read is a broken torch
            // checkpoint: let the torch reader name the problem instead of the archive extractor.
            let isTorch = (try? TorchCheckpoint.isTorchZip(url: url)) ?? hasTorchExtension(url.lastPathComponent)
            return Candidate(kind: isTorch ? .pytorch : .archive, url: url, root: root, modelID: id)
        case .torchLegacy:
            return Candidate(kind: .pytorch, url: url, root: root, modelID: id)
        case .tar, .gzip, .zstd, .xz, .bzip2:
            return Candidate(kind: .archive, url: url, root: root, modelID: id)
        case .json, .unknown:
            return nil
        }
    }

    static func relative(_ url: URL, to root: URL) -> String {
        let r = root.standardizedFileURL.path, p = url.standardizedFileURL.path
        if p.hasPrefix(r + "/") { return String(p.dropFirst(r.count + 1)) }
        return url.lastPathComponent
    }

    /// Two candidates with the same id (e.g. `m.gguf` and `m.safetensors`) get their kind appended.
    static func uniquify(_ cs: [Candidate]) -> [Candidate] {
        var counts: [String: Int] = [:]
        for c in cs { counts[c.modelID, default: 0] += 1 }
        var used = Set<String>()
        var out: [Candidate] = []
        for var c in cs.sorted(by: { ($0.modelID, $0.url.path) < ($1.modelID, $1.url.path) }) {
            if counts[c.modelID, default: 0] > 1 { c.modelID += "-" + c.kind.rawValue.lowercased() }
            var id = c.modelID, n = 2
            while used.contains(id) { id = "\(c.modelID)-\(n)"; n += 1 }
            c.modelID = id; used.insert(id)
            out.append(c)
        }
        return out
    }
}
