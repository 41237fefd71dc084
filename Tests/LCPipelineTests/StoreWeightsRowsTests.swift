// StoreWeights' partial reads (shape without decoding, row ranges, gathered rows) against its whole-tensor
// decode, for every store dtype (F32, BF16, I8 × per-row scale) and through an alias; out-of-range rows throw.
// Deliberately a hand-written store (SafetensorsWriter), independent of ingest/load.
import Foundation
import LCCore
import LCFormats
import LCModel
import LCPipeline
import XCTest

final class StoreWeightsRowsTests: XCTestCase {
    func makeStore() throws -> (StoreWeights, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lc-rows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("model.safetensors")
        let f = (0..<15).map { Float($0) * 0.5 - 3 }
        let b = (0..<24).map { BF16.fromFloat(Float($0) * 0.25 - 2).littleEndian }
        let q: [Int8] = (0..<14).map { Int8($0 * 9 - 60) }
        let sc: [Float] = (0..<7).map { 0.01 * Float($0 + 1) }
        let w = try SafetensorsWriter(url: url, entries: [
            .init(name: "f", dtype: "F32", shape: [5, 3], bytes: 60), .init(name: "b", dtype: "BF16", shape: [4, 6], bytes: 48),
            .init(name: "q", dtype: "I8", shape: [7, 2], bytes: 14), .init(name: "q_scale", dtype: "F32", shape: [7], bytes: 28),
        ], metadata: [:])
        try f.withUnsafeBytes { try w.append($0) }
        try b.withUnsafeBytes { try w.append($0) }
        try q.withUnsafeBytes { try w.append($0) }
        try sc.withUnsafeBytes { try w.append($0) }
        let sha = try w.finish()
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        let json: [String: Any] = [
            "schema_version": LoadManifest.currentSchema, "stage": "load", "tool_version": "test", "model_id": "rows",
            "status": "ok", "precision": "f32", "ingest_fingerprint": "", "fingerprint": "", "store_path": url.path,
            "store_sha256": sha, "store_bytes": size, "aliases": ["alias": "b"], "tensors": [Any](), "seconds": 0,
            "peak_rss_bytes": 0,
        ]
        let m = try JSONDecoder().decode(LoadManifest.self, from: JSONSerialization.data(withJSONObject: json))
        return (try StoreWeights(manifest: m), dir)
    }

    func testRowsAndGatherMatchWholeDecode() throws {
        let (s, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["f", "b", "q", "alias"] {
            let whole = try XCTUnwrap(try s.tensor(name))
            XCTAssertEqual(try s.shape(of: name), whole.shape)
            let n = whole.shape[0], w = whole.shape[1]
            for lo in 0..<n {
                for hi in (lo + 1)...n {
                    let r = try XCTUnwrap(try s.rows(name, lo..<hi))
                    XCTAssertEqual(r.shape, [hi - lo, w])
                    XCTAssertEqual(r.data, Array(whole.data[(lo * w)..<(hi * w)]), "\(name) rows \(lo)..<\(hi)")
                }
            }
            let idx = [n - 1, 0, n - 1, 1 % n]
            let g = try XCTUnwrap(try s.gatherRows(name, idx))
            XCTAssertEqual(g.shape, [idx.count, w])
            XCTAssertEqual(g.data, idx.flatMap { Array(whole.data[($0 * w)..<(($0 + 1) * w)]) })
            XCTAssertThrowsError(try s.rows(name, 0..<(n + 1)))
            XCTAssertThrowsError(try s.gatherRows(name, [n]))
            XCTAssertThrowsError(try s.gatherRows(name, [-1]))
            s.release(name)
            XCTAssertEqual(try s.tensor(name)?.data, whole.data, "readable again after release")
        }
        XCTAssertNil(try s.shape(of: "missing")); XCTAssertNil(try s.rows("missing", 0..<1))
        XCTAssertEqual(try s.tensor("q")?.data.prefix(2), [Float(-60) * 0.01, Float(-51) * 0.01])
    }
}
