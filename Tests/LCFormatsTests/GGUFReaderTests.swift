// GGUFFile against the real SmolLM2 Q4_1 checkpoint (golden from gguf.GGUFReader via
// scripts/reference/gguf_golden.py), the small generated fixture's typed values, and split sets.
// Regenerate goldens with scripts/reference/gguf_golden.py and fixtures with
// scripts/fixtures/make_malformed_formats.py. The real model comes from $LAYERCARD_CACHE;
// a missing model fails the test (run scripts/setup.sh).
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class GGUFReaderTests: XCTestCase {
    func testSmolLM2MatchesGGUFPy() throws {
        let url = try Fixtures.model("SmolLM2-135M-Instruct.Q4_1.gguf")
        let g = try Fixtures.json("golden/smollm2_gguf.json")
        let f = try GGUFFile.read(url: url)
        XCTAssertEqual(f.version, g["version"]?.int)
        XCTAssertEqual(f.alignment, g["alignment"]?.int)
        XCTAssertEqual(f.dataStart, g["data_start"]?.int)
        XCTAssertEqual(f.fileSize, g["file_size"]?.int)
        XCTAssertEqual(f.architecture, "llama")
        XCTAssertEqual(f.metadataKeys, g["metadata_keys"]?.array?.compactMap(\.string))

        let tensors = try XCTUnwrap(g["tensors"]?.array)
        XCTAssertEqual(f.tensors.count, tensors.count)
        for (t, e) in zip(f.tensors, tensors) {
            XCTAssertEqual(t.name, e["name"]?.string)
            XCTAssertEqual(t.dtype, e["type"]?.string, t.name)
            XCTAssertEqual(t.shape, e["shape"]?.array?.compactMap(\.int), t.name)
            XCTAssertEqual(t.offset, e["offset"]?.int, t.name)
            XCTAssertEqual(t.bytes, e["bytes"]?.int, t.name)
            XCTAssertEqual(f.ggmlTypes[t.name]?.rawValue, e["type_id"]?.int.map(UInt32.init), t.name)
            XCTAssertEqual(t.file, url.path)
        }
        XCTAssertEqual(Set(f.tensors.map(\.dtype)).isSuperset(of: ["Q4_1", "F32"]), true)

        for (key, e) in try XCTUnwrap(g["scalars"]?.object) {
            let v = try XCTUnwrap(f.metadata[key], key)
            switch e["value"] {
            case let .string(s)?: XCTAssertEqual(v.string, s, key)
            case let .bool(b)?: XCTAssertEqual(v.bool, b, key)
            case let .int(i)?: XCTAssertEqual(v.int, i, key)
            case let .number(d)?: XCTAssertEqual(v.double, d, key)
            default: XCTFail("unexpected golden value for \(key)")
            }
        }
        for (key, e) in try XCTUnwrap(g["arrays"]?.object) {
            let a = try XCTUnwrap(f.metadata[key]?.array, key)
            XCTAssertEqual(a.count, e["count"]?.int, key)
            if let first = e["first"]?.array?.compactMap(\.string), let last = e["last"]?.array?.compactMap(\.string) {
                let strings = try XCTUnwrap(f.metadata[key]?.strings, key)
                XCTAssertEqual(Array(strings.prefix(first.count)), first, key)
                XCTAssertEqual(Array(strings.suffix(last.count)), last, key)
            }
        }
        XCTAssertEqual(f.metadata[GGUFKeys.resolve(GGUFKeys.LLM.blockCount, arch: "llama")]?.int, 30)
        XCTAssertEqual(f.metadata[GGUFKeys.Tokenizer.pre]?.string, "smollm")
    }

    func testSmallFixtureValues() throws {
        let url = Fixtures.url("formats/small.gguf")
        let f = try GGUFFile.read(url: url)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.metadata["llama.block_count"]?.int, 2)
        XCTAssertEqual(f.metadata["llama.attention.layer_norm_rms_epsilon"]?.double ?? 0, 1e-5, accuracy: 1e-12)
        XCTAssertEqual(f.metadata["llama.rope.freq_base"]?.double, 10000)
        XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.strings, ["a", "b", "<s>"])
        XCTAssertEqual(f.metadata["test.ints"]?.ints, [1, -2, 3])
        XCTAssertEqual(f.metadata["test.ints"]?.doubles, [1, -2, 3])
        XCTAssertEqual(f.metadata["test.flag"]?.bool, true)
        XCTAssertEqual(f.metadata["test.f64"]?.double, 0.125)
        XCTAssertEqual(f.metadata["test.i64"]?.int, -7)
        XCTAssertNil(f.metadata["test.flag"]?.int)
        let byName = Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0) })
        XCTAssertEqual(byName["token_embd.weight"]?.shape, [8, 64])
        XCTAssertEqual(byName["token_embd.weight"]?.dtype, "Q8_0")
        XCTAssertEqual(byName["token_embd.weight"]?.bytes, 8 * 2 * 34)
        XCTAssertEqual(byName["blk.0.attn_q.weight"]?.dtype, "F16")
        XCTAssertEqual(byName["blk.1.ffn_up.weight"]?.dtype, "Q4_1")
        XCTAssertEqual(byName["blk.0.attn_norm.weight"]?.shape, [64])
        for t in f.tensors {
            XCTAssertEqual((t.offset - f.dataStart) % f.alignment, 0)
            XCTAssertLessThanOrEqual(t.offset + t.bytes, f.fileSize)
        }
        // The F32 norm weight's bytes are the numpy values gguf-py wrote: check they are finite floats.
        let m = try MappedFile(url: url)
        let t = try XCTUnwrap(byName["blk.0.attn_norm.weight"])
        let raw = try m.slice(offset: t.offset, count: t.bytes, what: t.name)
        let floats = (0..<64).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        XCTAssertTrue(floats.allSatisfy(\.isFinite))
        XCTAssertGreaterThan(floats.map(abs).max() ?? 0, 0.1)
    }

    func testSplitReadsBothParts() throws {
        let s = try GGUFSplit.read(first: Fixtures.url("formats/split-00001-of-00002.gguf"))
        XCTAssertEqual(s.parts.count, 2)
        XCTAssertEqual(s.tensors.map(\.name), ["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.1.ffn_up.weight"])
        XCTAssertTrue(s.tensors[2].file.hasSuffix("split-00002-of-00002.gguf"))
        XCTAssertEqual(s.metadata["split.count"]?.int, 2)
        // A plain file is a one-part set.
        XCTAssertEqual(try GGUFSplit.read(first: Fixtures.url("formats/small.gguf")).parts.count, 1)
    }

    func testSplitMissingPartNamesFile() {
        let missing = Fixtures.url("formats/lonely-00002-of-00002.gguf").path
        assertFormatError(missing, contains: "split part 2 of 2 is missing") {
            _ = try GGUFSplit.read(first: Fixtures.url("formats/lonely-00001-of-00002.gguf"))
        }
    }

    func testSplitNameParsing() {
        let n = GGUFSplit.parseName("a-b-00002-of-00003.gguf")
        XCTAssertEqual(n?.stem, "a-b"); XCTAssertEqual(n?.index, 2); XCTAssertEqual(n?.count, 3)
        XCTAssertNil(GGUFSplit.parseName("model.gguf"))
        XCTAssertNil(GGUFSplit.parseName("m-00004-of-00003.gguf"))
        XCTAssertNil(GGUFSplit.parseName("m-0001-of-00003.gguf"))
        XCTAssertNil(GGUFSplit.parseName("m-+0001-of-00003.gguf"))
        XCTAssertEqual(GGUFSplit.partName(stem: "m", index: 2, count: 12), "m-00002-of-00012.gguf")
    }

    func testSplitInconsistentParts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-split-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Part 2 is actually a copy of part 1 (split.no 0 again).
        let p1 = dir.appendingPathComponent("x-00001-of-00002.gguf"), p2 = dir.appendingPathComponent("x-00002-of-00002.gguf")
        try FileManager.default.copyItem(at: Fixtures.url("formats/split-00001-of-00002.gguf"), to: p1)
        try FileManager.default.copyItem(at: Fixtures.url("formats/split-00001-of-00002.gguf"), to: p2)
        assertFormatError(p2.path, contains: "split.no should be 1") { _ = try GGUFSplit.read(first: p1) }
    }
}

final class GGUFLimitsTests: XCTestCase {
    /// A well-formed file whose one array exceeds `maxArrayCount` (too big to commit, built here).
    func testArrayCountCap() {
        let n = GGUFFile.maxArrayCount + 1
        var d = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        u32(3); u64(0); u64(1)
        u64(3); d.append(contentsOf: Array("a.b".utf8)); u32(9); u32(0); u64(UInt64(n))
        d.append(Data(count: n))
        d.withUnsafeBytes { raw in
            assertFormatError("big", contains: "exceeds the limit of \(GGUFFile.maxArrayCount)") { _ = try GGUFFile.parse(raw, path: "big") }
        }
        // One element fewer is accepted (the cap is not off by one).
        d.removeLast()
        d.replaceSubrange(43..<51, with: withUnsafeBytes(of: UInt64(n - 1).littleEndian) { Data($0) })
        d.withUnsafeBytes { raw in XCTAssertEqual((try? GGUFFile.parse(raw, path: "ok"))?.metadata["a.b"]?.array?.count, n - 1) }
    }
}
