// Pre-tokenized reference records: token ids 0 and 1 are ids, not JSON booleans (Linux Foundation bridges the
// NSNumbers 0/1 to Bool), while a real true/false is still rejected.
import Foundation
@testable import LCPipeline
import XCTest

final class ProfileDatasetTests: XCTestCase {
    func testInputIDsZeroAndOneAreIDs() throws {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lc-ids-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: u) }
        try "{\"input_ids\": [0, 1, 2, 1, 0]}\n".write(to: u, atomically: true, encoding: .utf8)
        let ds = try ReferenceDataset.load(url: u, tokenizer: nil, vocabSize: 10, maxTokens: 4)
        XCTAssertEqual(ds.sequences.first?.ids, [0, 1, 2, 1], "truncated at max_tokens, 0/1 kept")
        XCTAssertEqual(ds.sequences.first?.lossMask, [false, true, true, true])
        try "{\"input_ids\": [3, true]}\n".write(to: u, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ReferenceDataset.load(url: u, tokenizer: nil, vocabSize: 10, maxTokens: 4))
    }
}
