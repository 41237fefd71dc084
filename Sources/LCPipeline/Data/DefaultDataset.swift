// Locates the default reference dataset shipped in the repository (data/default-d2t.jsonl):
// $LAYERCARD_DATA if set, else found by walking up from the executable (…/.build/<config>/layercard).
import Foundation
import LCCore

public enum DefaultDataset {
    public static let relativePath = "data/default-d2t.jsonl"

    /// - Throws: `LCError.usage` when no default dataset can be found (pass `--dataset FILE`).
    public static func url() throws -> URL {
        let env = ProcessInfo.processInfo.environment
        if let p = env["LAYERCARD_DATA"], !p.isEmpty { return URL(fileURLWithPath: p) }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let c = dir.appendingPathComponent(relativePath)
            if FileManager.default.fileExists(atPath: c.path) { return c }
            dir = dir.deletingLastPathComponent()
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(relativePath)
        if FileManager.default.fileExists(atPath: cwd.path) { return cwd }
        throw LCError.usage("no default dataset found (\(relativePath) beside the executable's repository, or $LAYERCARD_DATA); pass --dataset FILE")
    }
}
