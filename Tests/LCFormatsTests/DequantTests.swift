// Dequantization tests: bit-exact against gguf-py goldens for every supported type
// (Tests/Fixtures/dequant, from scripts/reference/dequant_golden.py), against real tensors of
// SmolLM2-135M-Instruct.Q4_1.gguf (SHA-256 of the float output), plus size/type error paths.
import Foundation
import LCCore
import LCFormats
import XCTest

enum DequantFixtures {
    /// The repository root: walk up from this file until Package.swift appears.
    static var repoRoot: URL {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while u.path != "/" {
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
            u.deleteLastPathComponent()
        }
        fatalError("Package.swift not found above \(#filePath)")
    }
    static var dequant: URL { repoRoot.appendingPathComponent("Tests/Fixtures/dequant") }
    static var modelCache: URL {
        let env = ProcessInfo.processInfo.environment["LAYERCARD_CACHE"]
        let base = env.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/layercard")
        return base.appendingPathComponent("models")
    }
}

private struct GoldenIndex: Decodable {
    struct Entry: Decodable { let type: String; let type_id: UInt32; let elements: Int; let bytes: Int; let blocks: Int; let source: String }
    let fixtures: [Entry]
}

private struct RealIndex: Decodable {
    struct Entry: Decodable {
        let name: String; let type: String; let type_id: UInt32; let offset: Int; let bytes: Int
        let rows: Int; let row_length: Int; let elements: Int; let full_tensor: Bool
        let sha256: String; let first16_bits: [UInt32]
    }
    let model: String
    let types_present: [String]
    let tensors: [Entry]
}

/// Float32 buffer → little-endian bytes (for hashing like numpy's `tobytes()`).
private func leBytes(_ x: [Float]) -> Data {
    #if _endian(little)
    return x.withUnsafeBufferPointer { Data(buffer: $0) }
    #else
    var d = Data(capacity: x.count * 4)
    for v in x { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
    return d
    #endif
}

final class DequantTests: XCTestCase {
    private func loadIndex() throws -> GoldenIndex {
        try JSON.decode(GoldenIndex.self, from: DequantFixtures.dequant.appendingPathComponent("index.json"))
    }

    /// Every supported type matches gguf-py bit for bit, through both `row` and the parallel `tensor`.
    func testGoldenBitExactEveryType() throws {
        let index = try loadIndex()
        for e in index.fixtures {
            let raw = try Data(contentsOf: DequantFixtures.dequant.appendingPathComponent("\(e.type).bin"))
            let expData = try Data(contentsOf: DequantFixtures.dequant.appendingPathComponent("\(e.type).f32"))
            XCTAssertEqual(raw.count, e.bytes, e.type)
            XCTAssertEqual(expData.count, 4 * e.elements, e.type)
            let expected: [UInt32] = expData.withUnsafeBytes { b in
                (0..<e.elements).map { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
            }
            guard let geo = Dequantize.bytesPerBlock(typeID: e.type_id) else { XCTFail("\(e.type) unsupported"); continue }
            XCTAssertEqual(Dequantize.typeName(e.type_id), e.type)
            XCTAssertEqual(geo.bytes * e.blocks, e.bytes, "\(e.type) bytes per block vs gguf-py")
            XCTAssertEqual(geo.block * e.blocks, e.elements, "\(e.type) elements per block vs gguf-py")

            var out = [Float](repeating: .nan, count: e.elements)
            try raw.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { try Dequantize.row(typeID: e.type_id, src, into: $0, count: e.elements) }
            }
            let diff = (0..<e.elements).filter { out[$0].bitPattern != expected[$0] }
            XCTAssertTrue(diff.isEmpty, "\(e.type): \(diff.count)/\(e.elements) elements differ; first at \(diff.first ?? -1): "
                + "got \(diff.first.map { out[$0] } ?? 0) want \(diff.first.map { Float(bitPattern: expected[$0]) } ?? 0)")

            // Same bytes as one block per "row" through the chunked parallel driver.
            var out2 = [Float](repeating: .nan, count: e.elements)
            try raw.withUnsafeBytes { src in
                try out2.withUnsafeMutableBufferPointer {
                    try Dequantize.tensor(typeID: e.type_id, src: src, rows: e.elements / geo.block, rowLength: geo.block, into: $0)
                }
            }
            XCTAssertEqual(out2.map(\.bitPattern), out.map(\.bitPattern), "\(e.type) tensor() vs row()")
        }
    }

    /// The goldens cover exactly the set of supported type ids (no supported type goes untested).
    func testGoldensCoverEverySupportedType() throws {
        let covered = Set(try loadIndex().fixtures.map(\.type_id))
        let supported = Set((0..<64).map(UInt32.init).filter { Dequantize.isSupported(typeID: $0) })
        XCTAssertEqual(covered, supported)
        XCTAssertGreaterThanOrEqual(supported.count, 32)
    }

    /// Unsupported types throw `.unsupported` naming the type; nothing is read.
    func testUnsupportedTypesNameTheType() {
        var out = [Float](repeating: 0, count: 256)
        let bytes = [UInt8](repeating: 0, count: 66)
        for (id, name) in [(UInt32(9), "Q8_1"), (41, "Q1_0"), (42, "Q2_0"), (77, "type id 77"), (4, "removed")] {
            XCTAssertNil(Dequantize.bytesPerBlock(typeID: id))
            XCTAssertThrowsError(try bytes.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { try Dequantize.row(typeID: id, src, into: $0, count: 256, context: "m.gguf: t") }
            }) { err in
                guard case let LCError.unsupported(path, message)? = err as? LCError else { return XCTFail("\(err)") }
                XCTAssertEqual(path, "m.gguf: t")
                XCTAssertTrue(message.contains("dequantization of \(name)"), message)
            }
        }
    }

    /// Wrong byte counts, partial blocks, short outputs and overflowing shapes throw `.format`, never trap.
    func testSizeMismatchesThrow() {
        func attempt(_ id: UInt32, bytes: Int, count: Int, dst: Int) -> LCError? {
            let src = [UInt8](repeating: 0x55, count: bytes)
            var out = [Float](repeating: 0, count: dst)
            do {
                try src.withUnsafeBytes { s in try out.withUnsafeMutableBufferPointer { try Dequantize.row(typeID: id, s, into: $0, count: count) } }
                return nil
            } catch { return error as? LCError }
        }
        func isFormat(_ e: LCError?) -> Bool { if case .format? = e { return true }; return false }
        XCTAssertNil(attempt(3, bytes: 40, count: 64, dst: 64))                 // 2 Q4_1 blocks: fine
        XCTAssertTrue(isFormat(attempt(3, bytes: 39, count: 64, dst: 64)))      // one byte short
        XCTAssertTrue(isFormat(attempt(3, bytes: 41, count: 64, dst: 64)))      // one byte extra
        XCTAssertTrue(isFormat(attempt(3, bytes: 40, count: 63, dst: 64)))      // partial block
        XCTAssertTrue(isFormat(attempt(3, bytes: 40, count: 64, dst: 63)))      // output too small
        XCTAssertTrue(isFormat(attempt(14, bytes: 209, count: 256, dst: 256)))  // Q6_K short
        XCTAssertTrue(isFormat(attempt(0, bytes: 8, count: -2, dst: 4)))        // negative count
        XCTAssertNil(attempt(12, bytes: 0, count: 0, dst: 0))                   // empty is fine
        var out = [Float](repeating: 0, count: 4)
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 8).withUnsafeBytes { s in
            try out.withUnsafeMutableBufferPointer {
                try Dequantize.tensor(typeID: 0, src: s, rows: Int.max / 2, rowLength: 4, into: $0)
            }
        })
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 40).withUnsafeBytes { s in
            try out.withUnsafeMutableBufferPointer {                             // row not a whole Q4_1 block
                try Dequantize.tensor(typeID: 3, src: s, rows: 2, rowLength: 16, into: $0)
            }
        })
    }

    /// Real SmolLM2 tensors read straight from the GGUF file: SHA-256 of the float output and the
    /// first 16 values match gguf-py. Includes full tensors of every type present (Q4_1, Q8_0, F32).
    func testRealSmolLM2TensorsBitExact() throws {
        let real = try JSON.decode(RealIndex.self, from: DequantFixtures.dequant.appendingPathComponent("smollm2_real.json"))
        let url = DequantFixtures.modelCache.appendingPathComponent(real.model)
        guard FileManager.default.fileExists(atPath: url.path) else {
            return XCTFail("\(url.path) is missing: run scripts/setup.sh (or set LAYERCARD_CACHE)")
        }
        let file = try MappedFile(url: url)
        var fullTypes = Set<String>()
        for t in real.tensors {
            let src = try file.slice(offset: t.offset, count: t.bytes, what: t.name)
            var out = [Float](repeating: .nan, count: t.elements)
            try out.withUnsafeMutableBufferPointer {
                try Dequantize.tensor(typeID: t.type_id, src: src, rows: t.rows, rowLength: t.row_length, into: $0, context: t.name)
            }
            XCTAssertEqual(Hashing.sha256(leBytes(out)), t.sha256, "\(t.name) (\(t.type), \(t.rows) rows)")
            XCTAssertEqual(out.prefix(16).map(\.bitPattern), t.first16_bits, t.name)
            if t.full_tensor { fullTypes.insert(t.type) }
        }
        XCTAssertEqual(fullTypes, Set(real.types_present), "a full tensor of every type in the file is checked")
    }
}
