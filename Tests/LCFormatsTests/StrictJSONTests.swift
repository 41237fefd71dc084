// StrictJSON: ordered members, duplicate-key rejection, exact integers, escapes and the
// things JSONSerialization accepts or silently resolves but a strict parser must reject.
// Also cross-checks numbers against JSONSerialization on documents both accept.
// The reject list is the contract other modules (config.json, index files) rely on.
// Each case asserts the specific message, not just that parsing failed.
import Foundation
import LCCore
@testable import LCFormats
import XCTest

final class StrictJSONTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try StrictJSON.parse(Data(s.utf8), path: "j") }

    func testValues() throws {
        let v = try parse(#" {"b": [1, -2, 3.5, 1e2, true, false, null], "a": "x\u00e9\ud83d\ude00\n\"", "big": 18446744073709551616} "#)
        XCTAssertEqual(v.object?.map(\.0), ["b", "a", "big"])
        XCTAssertEqual(v["b"]?.array?.first, .int(1))
        XCTAssertEqual(v["b"]?.array?[1].int, -2)
        XCTAssertEqual(v["b"]?.array?[2].double, 3.5)
        XCTAssertEqual(v["b"]?.array?[3], .number(100))
        XCTAssertEqual(v["b"]?.array?[3].int, 100)
        XCTAssertNil(v["b"]?.array?[2].int)
        XCTAssertEqual(v["b"]?.array?[4].bool, true)
        XCTAssertEqual(v["b"]?.array?[6].isNull, true)
        XCTAssertEqual(v["a"]?.string, "xé😀\n\"")
        XCTAssertEqual(v["big"]?.double, 18446744073709551616)
        XCTAssertNil(v["missing"])
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
    }

    /// Agrees with JSONSerialization on documents both accept.
    func testAgreesWithFoundation() throws {
        let doc = #"{"x": [1, 2.25, "s", {"y": null}], "z": -0.5, "t": true}"#
        let ours = try parse(doc)
        let theirs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(doc.utf8)) as? [String: Any])
        XCTAssertEqual(ours["z"]?.double, theirs["z"] as? Double)
        XCTAssertEqual(ours["x"]?.array?.count, (theirs["x"] as? [Any])?.count)
        XCTAssertEqual(ours["x"]?.array?[1].double, (theirs["x"] as? [Any])?[1] as? Double)
    }

    func testRejects() {
        let bad: [(String, String)] = [
            (#"{"a":1,"a":2}"#, "duplicate key 'a'"), ("{\"a\":NaN}", "unexpected character"),
            ("[Infinity]", "unexpected character"), ("[01]", "leading zero"), ("[1.]", "digits after"),
            ("{\"a\":1,}", "expected a string key"), ("[1,]", "unexpected character"), ("{} {}", "trailing"),
            ("\"\\ud800\"", "lone high surrogate"), ("\"\\udc00\"", "lone low surrogate"), ("\"a\u{01}\"", "control character"),
            ("[1e999]", "out of range"), ("\"\\x\"", "invalid escape"), ("", "unexpected end"), ("[", "unexpected end"),
            (String(repeating: "[", count: 200) + String(repeating: "]", count: 200), "nesting deeper"),
        ]
        for (doc, sub) in bad {
            assertFormatError("j", contains: sub) { _ = try self.parse(doc) }
        }
    }
}
