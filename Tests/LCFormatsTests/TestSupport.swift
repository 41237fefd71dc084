// Shared helpers for LCFormats tests: locating committed fixtures from #filePath, the real
// model cache ($LAYERCARD_CACHE), and asserting that a call throws `LCError.format` for a file.
// Not a mock layer: every test reads real bytes from disk.
// Fixture paths are resolved from the repository root so tests run from any directory.
// Missing real models are a failure with a set-up hint, never a silent skip.
import Foundation
import LCCore
@testable import LCFormats
import XCTest

enum Fixtures {
    /// Repository root, found by walking up from this source file to Package.swift.
    static let repoRoot: URL = {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while u.path != "/" {
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
            u.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    }()

    static func url(_ rel: String) -> URL { repoRoot.appendingPathComponent("Tests/Fixtures/" + rel) }

    static func json(_ rel: String) throws -> JSONValue {
        let u = url(rel)
        return try StrictJSON.parse(try Data(contentsOf: u), path: u.path)
    }

    /// A real checkpoint from the model cache; fails the test (not skips) when missing.
    static func model(_ rel: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let cache = ProcessInfo.processInfo.environment["LAYERCARD_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/layercard").path
        let u = URL(fileURLWithPath: cache).appendingPathComponent("models/" + rel)
        guard FileManager.default.fileExists(atPath: u.path) else {
            XCTFail("missing \(u.path): run scripts/setup.sh to fetch the test models", file: file, line: line)
            throw LCError.io(path: u.path, message: "missing test model")
        }
        return u
    }
}

/// Asserts `body` throws `LCError.format` whose path is `path` and message contains `substring`.
func assertFormatError(_ path: String, contains substring: String, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("\(path): expected a format error containing '\(substring)', but it parsed", file: file, line: line)
    } catch let LCError.format(p, message) {
        XCTAssertEqual(p, path, "error names the wrong file", file: file, line: line)
        XCTAssertTrue(message.contains(substring), "\((path as NSString).lastPathComponent): '\(message)' does not contain '\(substring)'", file: file, line: line)
    } catch {
        XCTFail("\(path): expected LCError.format, got \(error)", file: file, line: line)
    }
}
