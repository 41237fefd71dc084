// Tests for ArchiveExtractor: benign archives extract exactly; hostile ones are rejected and
// leave nothing behind (no target folder, no temp folder, nothing outside).
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class ArchiveExtractorTests: XCTestCase {
    let expectedFiles: [String: Data] = [
        "ckpt/README.md": Data("hello\n".utf8),
        "ckpt/config.json": Data("{\"model_type\": \"llama\"}\n".utf8),
        "ckpt/sub/dir/weights.bin": Data((0..<1024).map { UInt8($0 % 256) }),
    ]

    func testBenignArchivesExtractExactly() throws {
        let sizes = try XCTUnwrap(try TorchFixtures.json("torch/archives/expected.json") as? [String: Int])
        XCTAssertEqual(sizes, expectedFiles.mapValues(\.count))
        for name in ["folder.tar.gz", "folder.tar.zst", "folder.tar.xz", "folder.zip"] {
            let url = TorchFixtures.url("torch/archives/\(name)")
            XCTAssertTrue(try ArchiveExtractor.isArchive(url: url), name)
            XCTAssertFalse(try TorchCheckpoint.isTorchZip(url: url), name)
            let base = try TorchFixtures.tempDir("ok")
            defer { try? FileManager.default.removeItem(at: base) }
            let out = base.appendingPathComponent("nested/out")
            let files = try ArchiveExtractor.extract(archive: url, into: out)
            XCTAssertEqual(files, expectedFiles.keys.sorted(), name)
            for (rel, data) in expectedFiles {
                XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent(rel)), data, "\(name): \(rel)")
            }
            // Only the target folder is left in its parent (temp folder renamed away).
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path), ["out"])
            // A second extraction into the same place refuses to overwrite.
            XCTAssertThrowsError(try ArchiveExtractor.extract(archive: url, into: out))
        }
    }

    func testHostileArchivesLeaveNothingBehind() throws {
        let table = try XCTUnwrap(try TorchFixtures.json("malformed/expected_torch.json") as? [String: [String: String]])
        let hostile = table.filter { $0.value["reader"] == "archive" }
        XCTAssertGreaterThanOrEqual(hostile.count, 8)
        let outsideAbs = "/tmp/layercard-evil.txt"
        try? FileManager.default.removeItem(atPath: outsideAbs)
        for (name, want) in hostile.sorted(by: { $0.key < $1.key }) {
            let base = try TorchFixtures.tempDir("hostile")
            defer { try? FileManager.default.removeItem(at: base) }
            let parent = base.appendingPathComponent("a/b")
            let out = parent.appendingPathComponent("out")
            let url = TorchFixtures.url("malformed/\(name)")
            XCTAssertThrowsError(try ArchiveExtractor.extract(archive: url, into: out), name) { e in
                guard case let .format(path, message)? = e as? LCError else { return XCTFail("\(name): \(e)") }
                XCTAssertEqual(path, url.path)
                XCTAssertTrue(message.contains(want["contains"] ?? "") || path.hasSuffix(want["contains"] ?? ""), "\(name): \(message)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "\(name): target exists")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent.path), [], "\(name): leftovers")
            // Nothing escaped: the only things under base are the folders we made.
            let all = FileManager.default.enumerator(atPath: base.path)?.allObjects as? [String] ?? []
            XCTAssertEqual(all.sorted(), ["a", "a/b"], name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: outsideAbs), name)
        }
    }

    func testZipBombStopsEarlyWhileStreaming() throws {
        let url = TorchFixtures.url("malformed/archive_zip_bomb.zip")
        let base = try TorchFixtures.tempDir("bomb")
        defer { try? FileManager.default.removeItem(at: base) }
        // A per-file cap also trips, well before the 256 MiB the headers announce.
        var limits = ArchiveLimits(); limits.maxRatio = 1_000_000; limits.maxEntryBytes = 8 << 20
        XCTAssertThrowsError(try ArchiveExtractor.extract(archive: url, into: base.appendingPathComponent("o"), limits: limits)) {
            XCTAssertTrue("\($0)".contains("per-file cap"), "\($0)")
        }
        limits.maxEntryBytes = 1 << 40; limits.maxTotalBytes = 4 << 20
        XCTAssertThrowsError(try ArchiveExtractor.extract(archive: url, into: base.appendingPathComponent("o"), limits: limits)) {
            XCTAssertTrue("\($0)".contains("byte cap"), "\($0)")
        }
        var entries = ArchiveLimits(); entries.maxEntries = 2
        XCTAssertThrowsError(try ArchiveExtractor.extract(archive: TorchFixtures.url("torch/archives/folder.tar.gz"),
                                                          into: base.appendingPathComponent("o"), limits: entries)) {
            XCTAssertTrue("\($0)".contains("more than 2 entries"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base.path), [])
    }

    func testPreExistingSymlinkTargetIsNotFollowed() throws {
        let base = try TorchFixtures.tempDir("link")
        defer { try? FileManager.default.removeItem(at: base) }
        let elsewhere = base.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let link = base.appendingPathComponent("out")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: elsewhere)
        XCTAssertThrowsError(try ArchiveExtractor.extract(archive: TorchFixtures.url("torch/archives/folder.tar.gz"), into: link))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path), [])
    }

    func testSafeComponents() throws {
        func comps(_ s: String) throws -> [String] { try ArchiveExtractor.safeComponents(s) { LCError.format(path: "x", message: $0) } }
        XCTAssertEqual(try comps("./a//b/./c.txt"), ["a", "b", "c.txt"])
        XCTAssertEqual(try comps("a/"), ["a"])
        for hostile in ["/etc/passwd", "../x", "a/../../x", "a/..", "a\\..\\x"] {
            XCTAssertThrowsError(try comps(hostile), hostile)
        }
    }

    func testIsArchiveByMagic() throws {
        XCTAssertTrue(try ArchiveExtractor.isArchive(url: TorchFixtures.url("malformed/archive_dotdot.tar")))
        XCTAssertFalse(try ArchiveExtractor.isArchive(url: TorchFixtures.url("malformed/torch_not_zip.bin")))
        XCTAssertFalse(try ArchiveExtractor.isArchive(url: TorchFixtures.url("torch/model.bin")))
        XCTAssertFalse(try TorchCheckpoint.isTorchZip(url: TorchFixtures.url("malformed/torch_legacy.bin")))
    }
}
