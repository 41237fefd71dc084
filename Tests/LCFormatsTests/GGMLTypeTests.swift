// GGMLType's single geometry table against gguf-py's GGML_QUANT_SIZES (golden JSON written by
// scripts/reference/ggml_types_golden.py), plus name lookup and overflow-checked byte counts.
// The one known disagreement (Q8_1: gguf-py 40 bytes, ggml 36) is asserted explicitly so a
// future gguf-py fix shows up as a test failure to revisit.
// Every Swift case must be present in gguf-py, so no geometry is unverified.
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class GGMLTypeTests: XCTestCase {
    func testTableMatchesGGUFPy() throws {
        let golden = try Fixtures.json("golden/ggml_types.json")
        let types = try XCTUnwrap(golden["types"]?.array)
        XCTAssertGreaterThanOrEqual(types.count, 30)
        var seen = Set<UInt32>()
        for t in types {
            let id = try XCTUnwrap(t["id"]?.int), name = try XCTUnwrap(t["name"]?.string)
            let type = try XCTUnwrap(GGMLType(rawValue: UInt32(id)), "gguf-py type \(name) (\(id)) missing from GGMLType")
            seen.insert(type.rawValue)
            XCTAssertEqual(type.name, name)
            XCTAssertEqual(type.blockSize, t["block_size"]?.int, name)
            if type == .q8_1 {
                // gguf-py still lists (32, 40) from the old f32 layout; ggml's block_q8_1 is
                // { ggml_half d, s; int8 qs[32] } = 36 bytes, and gguf.cpp sizes tensors with ggml.
                XCTAssertEqual(t["type_size"]?.int, 40)
                XCTAssertEqual(type.typeSize, 36)
            } else {
                XCTAssertEqual(type.typeSize, t["type_size"]?.int, name)
            }
        }
        // Every Swift case is verified by gguf-py (no unverified geometry).
        XCTAssertEqual(Set(GGMLType.allCases.map(\.rawValue)), seen)
    }

    func testNameLookup() {
        for t in GGMLType.allCases { XCTAssertEqual(GGMLType(name: t.name), t) }
        XCTAssertNil(GGMLType(name: "q4_k"))
        XCTAssertNil(GGMLType(name: "Q4_2"))
        XCTAssertNil(GGMLType(rawValue: 4))
        XCTAssertNil(GGMLType(rawValue: 31))
    }

    func testByteCount() throws {
        XCTAssertEqual(try GGMLType.q4_K.byteCount(shape: [3, 512]), 3 * 2 * 144)
        XCTAssertEqual(try GGMLType.f32.byteCount(shape: []), 4)
        XCTAssertEqual(try GGMLType.q8_0.byteCount(shape: [0, 64]), 0)
        XCTAssertEqual(try GGMLType.bf16.byteCount(shape: [2, 3, 5]), 60)
        assertFormatError("f", contains: "not a multiple of the Q6_K block size 256") {
            _ = try GGMLType.q6_K.byteCount(shape: [2, 100], path: "f")
        }
        assertFormatError("f", contains: "overflows") {
            _ = try GGMLType.f64.byteCount(shape: [Int.max / 4, 4], path: "f")
        }
        assertFormatError("f", contains: "negative") { _ = try GGMLType.f32.byteCount(shape: [-1, 4], path: "f") }
    }
}
