// Helpers for the end-to-end tests: locate the built `layercard` executable next to the running
// test bundle, run it (and the Python fixture scripts) as subprocesses, read manifests as plain
// JSON, and stat files. Deliberately no in-process shortcut: the tests exercise the real binary.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

enum E2E {
    /// Repository root: walk up from this file to Package.swift.
    static let repoRoot: URL = {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while u.path != "/" {
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
            u.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    }()

    /// The `layercard` executable of the build that holds this test bundle (`.build/debug`,
    /// `.build/release` or a triple-specific folder); falls back to any built one. `$LAYERCARD_BIN` overrides.
    /// Every test that runs the executable finds it here.
    static func executable() throws -> URL {
        let fm = FileManager.default
        if let b = ProcessInfo.processInfo.environment["LAYERCARD_BIN"], !b.isEmpty, fm.isExecutableFile(atPath: b) {
            return URL(fileURLWithPath: b)
        }
        let bundleDirs = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments.first ?? "")]
            .map { $0.resolvingSymlinksInPath().path }
        var candidates: [URL] = []
        let build = repoRoot.appendingPathComponent(".build")
        for sub in ["debug", "release"] { candidates.append(build.appendingPathComponent(sub)) }
        for triple in (try? fm.contentsOfDirectory(atPath: build.path)) ?? [] where triple.contains("-") {
            for sub in ["debug", "release"] { candidates.append(build.appendingPathComponent(triple).appendingPathComponent(sub)) }
        }
        let found = candidates.map { $0.appendingPathComponent("layercard") }.filter { fm.isExecutableFile(atPath: $0.path) }
        if let own = found.first(where: { exe in
            let dir = exe.deletingLastPathComponent().resolvingSymlinksInPath().path
            return bundleDirs.contains { $0.hasPrefix(dir + "/") }
        }) { return own }
        guard let any = found.first else {
            throw E2EError("no built layercard executable under \(build.path); run 'swift build' first")
        }
        return any
    }

    struct Run { var code: Int32; var stdout: String; var stderr: String }

    /// Runs `exe args` to completion, capturing output (drained concurrently so pipes never fill).
    static func run(_ exe: URL, _ args: [String], env: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let ob = Box(), eb = Box()
        let g = DispatchGroup()
        g.enter(); DispatchQueue.global().async { ob.data = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        g.enter(); DispatchQueue.global().async { eb.data = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        p.waitUntilExit()
        g.wait()
        return Run(code: p.terminationStatus, stdout: String(decoding: ob.data, as: UTF8.self),
                   stderr: String(decoding: eb.data, as: UTF8.self))
    }

    static func python(_ script: String, _ args: [String]) throws -> Run {
        try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", repoRoot.appendingPathComponent(script).path] + args)
    }

    /// Fresh temp directory, removed at the end of the test.
    static func tempDir(_ test: XCTestCase) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lc-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: u) }
        return u
    }

    /// Builds the scan tree with scripts/fixtures/make_ingest_tree.py; returns (tree, expected.json).
    static func makeTree(in dir: URL, generatedOnly: Bool) throws -> (tree: URL, expected: [String: [String: Any]]) {
        let r = try python("scripts/fixtures/make_ingest_tree.py", [dir.path] + (generatedOnly ? ["--generated-only"] : []))
        guard r.code == 0 else {
            throw E2EError("make_ingest_tree.py failed (\(r.code)): \(r.stderr)\(r.stdout) — run scripts/setup.sh to fetch the real models")
        }
        let exp = try XCTUnwrap(try jsonObject(dir.appendingPathComponent("expected.json")) as? [String: [String: Any]])
        return (dir.appendingPathComponent("tree"), exp)
    }

    static func jsonObject(_ url: URL) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    }

    static func manifest(_ ws: URL, _ id: String, _ stage: String) throws -> [String: Any] {
        let u = ws.appendingPathComponent("manifests/\(id)/\(stage).json")
        return try XCTUnwrap(try jsonObject(u) as? [String: Any], u.path)
    }

    /// (inode, mtime ns) of a file, to prove it was not rewritten.
    static func identity(_ url: URL) -> String? {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return nil }
        return "\(st.st_ino)@\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    /// Identity of every manifest in the workspace, by relative path.
    static func manifestIdentities(_ ws: URL) -> [String: String] {
        var out: [String: String] = [:]
        let root = ws.appendingPathComponent("manifests")
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(id).path)) ?? [] {
                out["\(id)/\(f)"] = identity(root.appendingPathComponent(id).appendingPathComponent(f))
            }
        }
        return out
    }

    /// Sets a file's mtime to `seconds` after its current one (a "touch" that cannot collide).
    static func bumpMTime(_ url: URL, seconds: Int = 10) throws {
        let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
        let old = try XCTUnwrap(attrs[.modificationDate] as? Date)
        try FileManager.default.setAttributes([.modificationDate: old.addingTimeInterval(TimeInterval(seconds))], ofItemAtPath: url.path)
    }
}
