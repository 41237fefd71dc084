// Tests for ZipDirectory, Pickle and TorchCheckpoint against fixtures written by
// scripts/fixtures/make_torch_archives.py (golden values computed there with numpy).
import Foundation
import LCCore
@testable import LCFormats
import XCTest

/// Locates `Tests/Fixtures/...` by walking up from this file to the repo root.
enum TorchFixtures {
    static let root: URL = {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) {
            u = u.deletingLastPathComponent()
        }
        return u
    }()
    static func url(_ rel: String) -> URL { root.appendingPathComponent("Tests/Fixtures/\(rel)") }
    static func json(_ rel: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(rel)))
    }
    static func tempDir(_ tag: String) throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("lc-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}

final class TorchCheckpointTests: XCTestCase {
    /// Decodes contiguous little-endian bytes of `dtype` to Doubles.
    func decode(_ b: [UInt8], dtype: String) -> [Double] {
        b.withUnsafeBytes { raw in
            func each<T>(_ n: Int, _ f: (Int) -> T) -> [T] { (0..<(raw.count / n)).map(f) }
            switch dtype {
            case "F32": return each(4) { Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            case "F16": return each(2) { Double(Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)))) }
            case "BF16": return each(2) { Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16)) }
            case "F64": return each(8) { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
            case "I64": return each(8) { Double(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            case "I32": return each(4) { Double(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
            case "BOOL", "U8": return each(1) { Double(raw[$0]) }
            default: return []
            }
        }
    }

    func testGoldenTensors() throws {
        let golden = try XCTUnwrap(try TorchFixtures.json("torch/expected.json") as? [String: [[String: Any]]])
        XCTAssertEqual(Set(golden.keys), ["model.bin", "nested.pt"])
        for (file, expected) in golden {
            let url = TorchFixtures.url("torch/\(file)")
            XCTAssertTrue(try TorchCheckpoint.isTorchZip(url: url), file)
            XCTAssertFalse(try ArchiveExtractor.isArchive(url: url), file)
            let ck = try TorchCheckpoint.read(url: url)
            XCTAssertEqual(ck.tensors.map(\.name), expected.map { $0["name"] as? String ?? "" }, file)
            let mf = try MappedFile(url: url)
            for (t, e) in zip(ck.tensors, expected) {
                XCTAssertEqual(t.dtype, e["dtype"] as? String, t.name)
                XCTAssertEqual(t.shape, e["shape"] as? [Int], t.name)
                XCTAssertEqual(t.file, url.path)
                XCTAssertEqual(t.strides == nil, e["contiguous"] as? Bool, "\(t.name) strides \(String(describing: t.strides))")
                let elem = try XCTUnwrap(TorchCheckpoint.elementSize(dtype: t.dtype))
                if t.strides == nil { XCTAssertEqual(t.bytes, t.elementCount * elem, t.name) }
                let values = decode(try TorchCheckpoint.contiguousBytes(of: t, in: mf), dtype: t.dtype)
                XCTAssertEqual(values.count, t.elementCount, t.name)
                let want = try XCTUnwrap(e["values"] as? [Double], t.name)
                XCTAssertEqual(values.count >= want.count ? want.count : -1, want.count, t.name)
                for (got, w) in zip(values, want) {
                    // Foundation's JSON parser may be 1 ulp off for doubles: compare F64 with a
                    // relative tolerance, narrower dtypes exactly after rounding to Float.
                    if t.dtype == "F64" { XCTAssertEqual(got, w, accuracy: 1e-14 * max(1, abs(w)), t.name) }
                    else { XCTAssertEqual(Float(got), Float(w), t.name) }
                }
            }
        }
    }

    func testViewsShareStorageAndOffsets() throws {
        let ck = try TorchCheckpoint.read(url: TorchFixtures.url("torch/model.bin"))
        let by = Dictionary(uniqueKeysWithValues: ck.tensors.map { ($0.name, $0) })
        let embed = try XCTUnwrap(by["model.embed_tokens.weight"]), head = try XCTUnwrap(by["lm_head.weight"])
        XCTAssertEqual(embed.offset, head.offset, "tied weights point at the same bytes")
        XCTAssertEqual(embed.offset % 64, 0, "torch records are 64-byte aligned")
        let q = try XCTUnwrap(by["layers.0.q_proj.weight"]), k = try XCTUnwrap(by["layers.0.k_proj.weight"])
        XCTAssertEqual(k.offset - q.offset, 16 * 4, "storage_offset is in elements")
        let o = try XCTUnwrap(by["layers.0.o_proj.weight"])
        XCTAssertEqual(o.strides, [1, 4]); XCTAssertEqual(o.bytes, 12 * 4)
        let s = try XCTUnwrap(by["layers.0.o_proj.sliced"])
        XCTAssertEqual(s.strides, [4, 2]); XCTAssertEqual(s.bytes, (1 + 4 + 2) * 4)
        XCTAssertEqual(by["scale"]?.shape, []); XCTAssertEqual(by["scale"]?.bytes, 8)
    }

    func testZipDirectoryMatchesPythonLayout() throws {
        // model.bin is hand-written ZIP64 (extras + ZIP64 end records); nested.pt is plain zipfile output.
        for (file, prefix, aligned) in [("model.bin", "model", true), ("nested.pt", "archive", false)] {
            let mf = try MappedFile(url: TorchFixtures.url("torch/\(file)"))
            let dir = try ZipDirectory.read(mf)
            XCTAssertEqual(dir.entries.first?.name, "\(prefix)/data.pkl")
            XCTAssertTrue(dir.entries.allSatisfy { $0.method == 0 && $0.compressedSize == $0.uncompressedSize })
            if aligned { XCTAssertTrue(dir.entries.allSatisfy { $0.dataOffset % 64 == 0 }, file) }
            let bo = try XCTUnwrap(dir.entry(named: "\(prefix)/byteorder"))
            XCTAssertEqual(String(decoding: try ZipDirectory.storedBytes(bo, in: mf), as: UTF8.self), "little")
        }
    }

    /// ZipDirectory must agree field by field with Python's independent `zipfile` parser.
    func testZipDirectoryAgreesWithPythonZipfile() throws {
        let layout = try XCTUnwrap(try TorchFixtures.json("torch/zip_layout.json") as? [String: [[String: Any]]])
        for (file, rows) in layout {
            let dir = try ZipDirectory.read(try MappedFile(url: TorchFixtures.url("torch/\(file)")))
            XCTAssertEqual(dir.entries.count, rows.count, file)
            for (e, r) in zip(dir.entries, rows) {
                XCTAssertEqual(e.name, r["name"] as? String, file)
                XCTAssertEqual(Int(e.method), r["method"] as? Int, e.name)
                XCTAssertEqual(e.compressedSize, r["compressedSize"] as? Int, e.name)
                XCTAssertEqual(e.uncompressedSize, r["uncompressedSize"] as? Int, e.name)
                XCTAssertEqual(e.localHeaderOffset, r["localHeaderOffset"] as? Int, e.name)
                XCTAssertEqual(e.dataOffset, r["dataOffset"] as? Int, e.name)
                XCTAssertEqual(Int(e.crc32), r["crc32"] as? Int, e.name)
            }
        }
    }

    /// The contiguous fast path (one slice) must equal the naive strided gather with row-major strides.
    func testContiguousFastPathMatchesGather() throws {
        let url = TorchFixtures.url("torch/model.bin")
        let mf = try MappedFile(url: url)
        var checked = 0
        for t in try TorchCheckpoint.read(url: url).tensors where t.strides == nil {
            var forced = t
            forced.strides = t.shape.indices.map { d in t.shape[(d + 1)...].reduce(1, *) }
            XCTAssertEqual(try TorchCheckpoint.contiguousBytes(of: t, in: mf),
                           try TorchCheckpoint.contiguousBytes(of: forced, in: mf), t.name)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 5)
    }

    /// Random byte strings must never trap the pickle reader.
    func testPickleRandomInputNeverTraps() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x80, 0x95, 0x2E, 0x28, 0x63, 0x93, 0x71, 0x72, 0x94, 0x68, 0x6A, 0x7D, 0x5D, 0x29,
                                 0x8F, 0x58, 0x8C, 0x8D, 0x55, 0x43, 0x42, 0x4A, 0x4B, 0x4D, 0x8A, 0x47, 0x4E, 0x88,
                                 0x89, 0x74, 0x85, 0x86, 0x87, 0x52, 0x62, 0x81, 0x92, 0x51, 0x73, 0x75, 0x61, 0x65,
                                 0x90, 0x00, 0x01, 0x02, 0xFF, 0x0A]
        var ok = 0
        for _ in 0..<20_000 {
            let n = Int.random(in: 1...40, using: &rng)
            let b = (0..<n).map { _ in alphabet.randomElement(using: &rng) ?? 0 }
            if (try? pickle(b)) != nil { ok += 1 }
        }
        XCTAssertLessThan(ok, 20_000)
    }

    /// Every malformed file must fail with the expected error kind, naming the file and the problem.
    func testMalformedFilesAreRejected() throws {
        let table = try XCTUnwrap(try TorchFixtures.json("malformed/expected_torch.json") as? [String: [String: String]])
        XCTAssertGreaterThan(table.count, 20)
        for (file, want) in table.sorted(by: { $0.key < $1.key }) {
            let url = TorchFixtures.url("malformed/\(file)")
            do {
                if want["reader"] == "archive" {
                    let out = try TorchFixtures.tempDir("bad").appendingPathComponent("out")
                    defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
                    _ = try ArchiveExtractor.extract(archive: url, into: out)
                } else {
                    _ = try TorchCheckpoint.read(url: url)
                }
                XCTFail("\(file): expected an error")
            } catch let e as LCError {
                let kindOK: Bool
                switch e {
                case .format: kindOK = want["kind"] == "format"
                case .unsupported: kindOK = want["kind"] == "unsupported"
                default: kindOK = false
                }
                if ProcessInfo.processInfo.environment["LC_PRINT_ERRORS"] != nil { print("MSG \(file): \(e)") }
                XCTAssertTrue(kindOK, "\(file): wrong kind: \(e)")
                XCTAssertTrue(e.description.contains(url.path), "\(file): path missing in \(e)")
                XCTAssertTrue(e.description.contains(want["contains"] ?? "\u{0}"), "\(file): '\(want["contains"] ?? "")' missing in \(e)")
            }
        }
    }

    /// Truncations and bit flips of a valid checkpoint must throw or parse, never trap.
    func testTruncationAndBitFlipSweep() throws {
        let orig = try Data(contentsOf: TorchFixtures.url("torch/nested.pt"))
        let dir = try TorchFixtures.tempDir("sweep")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.pt")
        var parsed = 0, failed = 0
        func attempt(_ d: Data) throws {
            try d.write(to: url)
            do { let ck = try TorchCheckpoint.read(url: url); parsed += 1
                let mf = try MappedFile(url: url)
                for t in ck.tensors { _ = try? TorchCheckpoint.contiguousBytes(of: t, in: mf) }
            } catch is LCError { failed += 1 }
        }
        for n in stride(from: 0, to: orig.count, by: 7) { try attempt(orig.prefix(n)) }
        for i in 0..<orig.count { var d = orig; d[i] ^= UInt8(1 << (i % 8)); try attempt(d) }
        // The ZIP64 checkpoint: truncations and a flip in every third byte (rotating bit).
        let big = try Data(contentsOf: TorchFixtures.url("torch/model.bin"))
        for n in stride(from: 0, to: big.count, by: 13) { try attempt(big.prefix(n)) }
        for i in stride(from: 0, to: big.count, by: 3) { var d = big; d[i] ^= UInt8(1 << ((i / 3) % 8)); try attempt(d) }
        print("sweep: \(parsed) variants parsed, \(failed) rejected with LCError")
        XCTAssertGreaterThan(parsed, 0); XCTAssertGreaterThan(failed, 0)
    }

    // MARK: Pickle unit tests (hand-assembled streams)

    func pickle(_ bytes: [UInt8], limits: Pickle.Limits = .init()) throws -> PickleValue {
        try bytes.withUnsafeBytes { try Pickle.read($0, path: "mem.pkl", limits: limits) }
    }
    func assertPickleError(_ bytes: [UInt8], _ substr: String, limits: Pickle.Limits = .init(), line: UInt = #line) {
        XCTAssertThrowsError(try pickle(bytes, limits: limits), line: line) { e in
            XCTAssertTrue("\(e)".contains(substr), "\(e) lacks '\(substr)'", line: line)
        }
    }

    func testPickleScalarsAndContainers() throws {
        // (1, -2, 70000, 2**70, 1.5, 'é', b'ab', None, True, [3], {'k': 4})
        var b: [UInt8] = [0x80, 0x02, 0x28, 0x4B, 1, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x4A, 0x70, 0x11, 0x01, 0x00]
        b += [0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40]
        b += [0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x58, 2, 0, 0, 0, 0xC3, 0xA9, 0x43, 2, 0x61, 0x62, 0x4E, 0x88]
        b += [0x5D, 0x4B, 3, 0x61, 0x7D, 0x8C, 1, 0x6B, 0x4B, 4, 0x73, 0x74, 0x2E]
        let v = try pickle(b)
        XCTAssertEqual(v, .tuple([.int(1), .int(-2), .int(70000), .bigint([0, 0, 0, 0, 0, 0, 0, 0, 0x40]), .float(1.5),
                                  .string("é"), .bytes([0x61, 0x62]), .none, .bool(true), .list([.int(3)]),
                                  .dict([.init(.string("k"), .int(4))])]))
        XCTAssertEqual(try pickle([0x80, 0x02, 0x8A, 2, 0x00, 0xFF, 0x2E]), .int(-256))
    }

    func testPickleMutationAfterMemoIsVisible() throws {
        // d = {}; memo[0] = d; d['a'] = 1; (d, memo[0]) -> both see 'a'
        let v = try pickle([0x80, 0x02, 0x7D, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x4B, 1, 0x73, 0x68, 0, 0x86, 0x2E])
        let d = PickleValue.dict([.init(.string("a"), .int(1))])
        XCTAssertEqual(v, .tuple([d, d]))
    }

    func testPickleRejections() {
        assertPickleError([0x80, 0x02, 0x63] + Array("posix\nsystem\n".utf8) + [0x2E], "forbidden global 'posix.system'")
        assertPickleError([0x80, 0x02, 0x63] + Array("builtins\neval\n".utf8) + [0x2E], "forbidden global 'builtins.eval'")
        assertPickleError([0x80, 0x02, 0x6A, 0x10, 0, 0, 0, 0x2E], "memo index 16")
        assertPickleError([0x80, 0x02, 0x4B, 1, 0x72, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "memo index 4294967295")
        assertPickleError([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x61, 0x2E], "exceeds")
        assertPickleError([0x80, 0x02, 0x2E], "empty stack")
        assertPickleError([0x80, 0x02, 0x74, 0x2E], "without a MARK")
        assertPickleError([0x80, 0x02, 0x4B, 1, 0x4B, 2, 0x73, 0x2E], "SETITEM")
        assertPickleError([0x80, 0x02, 0x30, 0x2E], "opcode 0x30 at offset 2")
        // A list containing itself.
        assertPickleError([0x80, 0x02, 0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E], "cycle")
        // Billion laughs: each level is a pair of the previous one.
        var laughs: [UInt8] = [0x80, 0x02, 0x4B, 0, 0x71, 0]
        for i in 0..<40 { laughs += [0x68, UInt8(i), 0x68, UInt8(i), 0x86, 0x71, UInt8(i + 1)] }
        laughs += [0x2E]
        var tree = Pickle.Limits(); tree.maxTreeNodes = 100_000
        assertPickleError(laughs, "exceeds 100000 nodes", limits: tree)
        let deep: [UInt8] = [0x80, 0x02, 0x4E] + Array(repeating: 0x85, count: 300) + [0x2E]
        assertPickleError(deep, "nesting deeper")
        var small = Pickle.Limits(); small.maxStack = 4
        assertPickleError([0x80, 0x02, 0x4E, 0x4E, 0x4E, 0x4E, 0x4E, 0x2E], "stack exceeds", limits: small)
        var few = Pickle.Limits(); few.maxOps = 3
        assertPickleError([0x80, 0x02, 0x4E, 0x4E, 0x4E, 0x4E, 0x2E], "opcodes", limits: few)
    }
}
