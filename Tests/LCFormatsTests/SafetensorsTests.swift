// SafetensorsFile against the real MiniLM checkpoint (golden from safetensors.safe_open via
// scripts/reference/safetensors_golden.py), the small fixture, and sharded-index validation.
// Regenerate the golden with scripts/reference/safetensors_golden.py. Index tests build
// tiny shards in a temp folder so each rule (path escape, missing shard, unmapped or
// doubly-stored tensor, duplicate map key) is exercised in isolation.
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class SafetensorsTests: XCTestCase {
    func testMiniLMMatchesReference() throws {
        let url = try Fixtures.model("all-MiniLM-L6-v2/model.safetensors")
        let g = try Fixtures.json("golden/minilm_safetensors.json")
        let f = try SafetensorsFile.read(url: url)
        XCTAssertEqual(f.headerLength, g["header_length"]?.int)
        let meta = try XCTUnwrap(g["metadata"]?.object)
        XCTAssertEqual(f.metadata, Dictionary(uniqueKeysWithValues: meta.map { ($0.0, $0.1.string ?? "") }))
        let golden = try XCTUnwrap(g["tensors"]?.array)
        XCTAssertEqual(f.tensors.count, golden.count)
        let byName = Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0) })
        for e in golden {
            let name = try XCTUnwrap(e["name"]?.string)
            let t = try XCTUnwrap(byName[name], name)
            XCTAssertEqual(t.dtype, e["dtype"]?.string, name)
            XCTAssertEqual(t.shape, e["shape"]?.array?.compactMap(\.int), name)
            XCTAssertEqual(t.offset, e["offset"]?.int, name)
            XCTAssertEqual(t.bytes, e["bytes"]?.int, name)
        }
    }

    /// The dtype table equals the one probed from safetensors.safe_open (name and bit size).
    func testDTypeTableMatchesReference() throws {
        let g = try XCTUnwrap(Fixtures.json("golden/minilm_safetensors.json")["dtype_bits"]?.object)
        XCTAssertEqual(SafetensorsDType.bits, Dictionary(uniqueKeysWithValues: g.map { ($0.0, $0.1.int ?? -1) }))
    }

    func testSmallFixture() throws {
        let f = try SafetensorsFile.read(url: Fixtures.url("formats/small.safetensors"))
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "fixture"])
        let byName = Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0) })
        XCTAssertEqual(byName["a.weight"]?.shape, [3, 5])
        XCTAssertEqual(byName["b.bias"]?.dtype, "I64")
        XCTAssertEqual(byName["d.empty"]?.bytes, 0)
        XCTAssertEqual(byName["e.scalar"]?.shape, [])
        XCTAssertEqual(byName["e.scalar"]?.dtype, "F64")
        // Data check: the I64 arange 0..<7 is where the header says.
        let m = try MappedFile(url: Fixtures.url("formats/small.safetensors"))
        let b = try XCTUnwrap(byName["b.bias"])
        let raw = try m.slice(offset: b.offset, count: b.bytes, what: b.name)
        XCTAssertEqual((0..<7).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }, Array(0..<7))
    }

    // MARK: sharded index

    private func makeShard(_ dir: URL, _ name: String, tensors: [String]) throws {
        var header = "{"
        for (i, t) in tensors.enumerated() {
            header += (i > 0 ? "," : "") + "\"\(t)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\(4 * i),\(4 * i + 4)]}"
        }
        header += "}"
        var d = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(header.utf8))
        d.append(Data(count: 4 * tensors.count))
        try d.write(to: dir.appendingPathComponent(name))
    }

    private func withIndex(_ map: [(String, String)], shards: [String: [String]], _ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, ts) in shards { try makeShard(dir, name, tensors: ts) }
        let body1 = map.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ")
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        try Data("{\"metadata\": {\"total_size\": 12}, \"weight_map\": {\(body1)}}".utf8).write(to: index)
        try body(index)
    }

    func testShardedValid() throws {
        try withIndex([("a", "s1.safetensors"), ("b", "s2.safetensors"), ("c", "s1.safetensors")],
                      shards: ["s1.safetensors": ["a", "c"], "s2.safetensors": ["b"]]) { index in
            let s = try ShardedSafetensors.read(index: index)
            XCTAssertEqual(s.shards.count, 2)
            XCTAssertEqual(s.tensors.map(\.name).sorted(), ["a", "b", "c"])
            XCTAssertTrue(s.tensors.first { $0.name == "b" }?.file.hasSuffix("s2.safetensors") == true)
        }
    }

    func testShardedErrors() throws {
        try withIndex([("a", "../s1.safetensors")], shards: [:]) { index in
            assertFormatError(index.path, contains: "not a plain file name") { _ = try ShardedSafetensors.read(index: index) }
        }
        try withIndex([("a", "sub/s1.safetensors")], shards: [:]) { index in
            assertFormatError(index.path, contains: "not a plain file name") { _ = try ShardedSafetensors.read(index: index) }
        }
        try withIndex([("a", "s9.safetensors")], shards: [:]) { index in
            assertFormatError(index.path, contains: "shard 's9.safetensors' named in weight_map does not exist") { _ = try ShardedSafetensors.read(index: index) }
        }
        try withIndex([("a", "s1.safetensors"), ("b", "s1.safetensors")], shards: ["s1.safetensors": ["a"]]) { index in
            assertFormatError(index.path, contains: "tensor 'b' is mapped to shard 's1.safetensors'") { _ = try ShardedSafetensors.read(index: index) }
        }
        try withIndex([("a", "s1.safetensors")], shards: ["s1.safetensors": ["a", "x"]]) { index in
            let shard = index.deletingLastPathComponent().appendingPathComponent("s1.safetensors").path
            assertFormatError(shard, contains: "tensor 'x' is in shard") { _ = try ShardedSafetensors.read(index: index) }
        }
        try withIndex([("a", "s1.safetensors"), ("b", "s2.safetensors")], shards: ["s1.safetensors": ["a"], "s2.safetensors": ["b", "a"]]) { index in
            let shard = index.deletingLastPathComponent().appendingPathComponent("s2.safetensors").path
            assertFormatError(shard, contains: "tensor 'a' is stored in both") { _ = try ShardedSafetensors.read(index: index) }
        }
        try withIndex([("a", "s1.safetensors"), ("a", "s1.safetensors")], shards: ["s1.safetensors": ["a"]]) { index in
            assertFormatError(index.path, contains: "duplicate key 'a'") { _ = try ShardedSafetensors.read(index: index) }
        }
    }
}
