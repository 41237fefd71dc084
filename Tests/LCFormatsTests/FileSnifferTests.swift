// FileSniffer on one sample per kind (Tests/Fixtures/formats/sniff/<kind>.dat — every file
// has the same misleading extension, so only content can tell them apart).
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class FileSnifferTests: XCTestCase {
    func testEveryKind() throws {
        let dir = Fixtures.url("formats/sniff")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".dat") }
        XCTAssertEqual(files.count, 11)
        for f in files {
            let kind = String(f.dropLast(4))
            XCTAssertEqual(try FileSniffer.sniff(url: dir.appendingPathComponent(f)).rawValue, kind, f)
        }
    }

    func testEdgeCases() throws {
        XCTAssertEqual(FileSniffer.sniff(head: [], fileSize: 0), .unknown)
        // A safetensors-looking length that runs past the file is not safetensors.
        var head: [UInt8] = [0xFF, 0, 0, 0, 0, 0, 0, 0, UInt8(ascii: "{")]
        XCTAssertEqual(FileSniffer.sniff(head: head, fileSize: 20), .unknown)
        head[0] = 4
        XCTAssertEqual(FileSniffer.sniff(head: head + [0x7D, 0x20, 0x20, 0x20], fileSize: 13), .safetensors)
        XCTAssertEqual(try FileSniffer.sniff(url: Fixtures.url("formats/small.gguf")), .gguf)
        XCTAssertEqual(try FileSniffer.sniff(url: Fixtures.url("malformed/gguf_v1.gguf")), .gguf)
        XCTAssertThrowsError(try FileSniffer.sniff(url: Fixtures.url("formats/does-not-exist")))
    }
}
