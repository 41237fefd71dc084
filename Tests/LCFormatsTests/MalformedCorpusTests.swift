// Hostile input: every file in Tests/Fixtures/malformed (scripts/fixtures/make_malformed_formats.py)
// must fail with LCError.format naming the file and the expected problem; valid small files
// truncated at every length and bit-flipped must throw or parse consistently, never crash.
// Regenerate the corpus with scripts/fixtures/make_malformed_formats.py.
// Sweeps parse from memory (GGUFFile.parse / SafetensorsFile.parse) to avoid temp files.
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class MalformedCorpusTests: XCTestCase {
    func testEveryMalformedFileFailsWithItsMessage() throws {
        let expected = try XCTUnwrap(Fixtures.json("malformed/expected.json").object)
        XCTAssertGreaterThanOrEqual(expected.count, 50)
        let listed = Set(expected.map(\.0))
        // The torch/archive cases share the folder; they are listed in expected_torch.json (TorchCheckpointTests).
        let torchCases = Set(try XCTUnwrap(Fixtures.json("malformed/expected_torch.json").object).map(\.0))
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("malformed").path)
            .filter { $0 != "expected.json" && $0 != "expected_torch.json" && !torchCases.contains($0) }
        XCTAssertEqual(Set(onDisk), listed, "expected.json and the corpus disagree")
        for (name, sub) in expected {
            let url = Fixtures.url("malformed/" + name)
            let substring = try XCTUnwrap(sub.string)
            assertFormatError(url.path, contains: substring) {
                if name.hasSuffix(".gguf") { _ = try GGUFFile.read(url: url) } else { _ = try SafetensorsFile.read(url: url) }
            }
        }
    }

    /// Invariants any successfully parsed GGUF must satisfy.
    private func checkGGUF(_ f: GGUFFile, size: Int) {
        let sorted = f.tensors.filter { $0.bytes > 0 }.sorted { $0.offset < $1.offset }
        for t in f.tensors { XCTAssertTrue(t.offset >= f.dataStart && t.offset + t.bytes <= size, t.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) { XCTAssertLessThanOrEqual(a.offset + a.bytes, b.offset) }
    }

    private func checkSafetensors(_ f: SafetensorsFile, size: Int) {
        XCTAssertEqual(f.tensors.map { $0.offset + $0.bytes }.max() ?? (8 + f.headerLength), size)
    }

    func testGGUFTruncationSweep() throws {
        let data = try Data(contentsOf: Fixtures.url("formats/small.gguf"))
        let full = try data.withUnsafeBytes { try GGUFFile.parse($0, path: "t") }
        let lastEnd = full.tensors.map { $0.offset + $0.bytes }.max() ?? 0
        var parsed = 0
        for n in 0..<data.count {
            data.prefix(n).withUnsafeBytes { raw in
                do {
                    let f = try GGUFFile.parse(raw, path: "t")
                    parsed += 1
                    XCTAssertGreaterThanOrEqual(n, lastEnd, "prefix \(n) parsed but tensors end at \(lastEnd)")
                    checkGGUF(f, size: n)
                } catch let e as LCError {
                    guard case .format = e else { return XCTFail("prefix \(n): \(e)") }
                } catch { XCTFail("prefix \(n): \(error)") }
            }
        }
        XCTAssertEqual(parsed, data.count - lastEnd, "only trailing padding may be cut")
    }

    func testSafetensorsTruncationSweep() throws {
        let data = try Data(contentsOf: Fixtures.url("formats/small.safetensors"))
        for n in 0..<data.count {
            try data.prefix(n).withUnsafeBytes { raw in
                XCTAssertThrowsError(try SafetensorsFile.parse(raw, path: "t"), "prefix \(n) must not parse") { e in
                    guard case LCError.format = e else { return XCTFail("prefix \(n): \(e)") }
                }
            }
        }
    }

    /// Flips every bit of the header (and random bits beyond); each mutant must throw
    /// LCError.format or parse into a self-consistent file.
    func testBitFlips() throws {
        var rng = SystemRandomNumberGenerator()
        for (file, isGGUF) in [("formats/small.gguf", true), ("formats/small.safetensors", false)] {
            let original = try Data(contentsOf: Fixtures.url(file))
            let headerEnd = isGGUF ? try original.withUnsafeBytes { try GGUFFile.parse($0, path: "t").dataStart }
                                   : try original.withUnsafeBytes { 8 + (try SafetensorsFile.parse($0, path: "t").headerLength) }
            var positions = Array(0..<(headerEnd * 8))
            for _ in 0..<500 { positions.append(Int.random(in: 0..<(original.count * 8), using: &rng)) }
            var outcomes = (ok: 0, failed: 0)
            for bit in positions {
                var d = original
                d[bit / 8] ^= UInt8(1 << (bit % 8))
                d.withUnsafeBytes { raw in
                    do {
                        if isGGUF { checkGGUF(try GGUFFile.parse(raw, path: "t"), size: raw.count) } else {
                            checkSafetensors(try SafetensorsFile.parse(raw, path: "t"), size: raw.count)
                        }
                        outcomes.ok += 1
                    } catch let e as LCError {
                        guard case .format = e else { return XCTFail("bit \(bit): \(e)") }
                        outcomes.failed += 1
                    } catch { XCTFail("bit \(bit): \(error)") }
                }
            }
            XCTAssertGreaterThan(outcomes.failed, 0, file)
            XCTAssertGreaterThan(outcomes.ok, 0, file)
        }
    }
}
