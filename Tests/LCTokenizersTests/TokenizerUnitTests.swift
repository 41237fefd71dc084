// Unit tests for LCTokenizers pieces the golden corpus cannot isolate: the heap merge loop against
// its naive reference, added-token rules, error paths (unsupported components, malformed files),
// and encode throughput on ~100 KB of text (printed for the report).
import Foundation
import LCCore
import XCTest
@testable import LCTokenizers

final class TokenizerUnitTests: XCTestCase {
    private func smolLM2() throws -> ByteLevelBPETokenizer { try Fixtures.smolLM2() }

    /// Writes `json` to a temp file and returns its URL.
    private func temp(_ json: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lctok-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: u)
        return u
    }

    private func minimalBPE(normalizer: String = "null", pre: String = #"{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}"#,
                            post: String = "null", model: String = "") -> String {
        var vocab: [String] = []
        for (b, s) in ByteLevelTable.byteToScalar.enumerated() {
            let esc = String(s) == "\"" ? "\\\"" : (String(s) == "\\" ? "\\\\" : String(s))
            vocab.append("\"\(esc)\":\(b)")
        }
        vocab.append(#""ab":256"#)
        return #"{"added_tokens":[],"normalizer":\#(normalizer),"pre_tokenizer":\#(pre),"post_processor":\#(post),"#
            + #""model":{"type":"BPE",\#(model)"vocab":{\#(vocab.joined(separator: ","))},"merges":["a b"]}}"#
    }

    func testHeapMergeMatchesNaiveReference() throws {
        let tok = try smolLM2()
        var rng = SystemRandomNumberGenerator()
        var words: [[UInt8]] = Fixtures.corpus.flatMap { tok.preTokenize($0) }.map { Array($0.utf8) }
        let alphabet = Array("aeiou strnlTHE0123456789_-.,'é😀\n".utf8)
        for _ in 0..<2000 {
            words.append((0..<Int.random(in: 1...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng) ?? 0x61 })
        }
        var checked = 0
        for w in words {
            let fast = tok.model.tokenizeUncached(w)
            let naive = tok.model.tokenizeUncached(w, naive: true)
            XCTAssertEqual(fast, naive, "merge mismatch for \(String(decoding: w, as: UTF8.self).debugDescription)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 2000)
    }

    func testByteTable() {
        let t = ByteLevelTable.byteToScalar
        XCTAssertEqual(Set(t).count, 256)
        XCTAssertEqual(t[0x20], "\u{0120}")
        XCTAssertEqual(t[0x0A], "\u{010A}")
        XCTAssertEqual(t[0x00], "\u{0100}")
        XCTAssertEqual(t[0x7F], "\u{0121}")
        XCTAssertEqual(t[0xAD], "\u{0143}")
        XCTAssertEqual(t[0x41], "A")
    }

    func testAddedTokenRules() {
        let toks = [AddedToken(id: 1, content: "<m>", lstrip: true), AddedToken(id: 2, content: "<r>", rstrip: true),
                    AddedToken(id: 3, content: "w", singleWord: true), AddedToken(id: 4, content: "<mm>"),
                    AddedToken(id: 5, content: "<m")]
        let m = AddedTokenMatcher(tokens: toks, normalize: { $0 })
        func run(_ s: String) -> [Segment] { m.split(Array(s.unicodeScalars)) }
        func text(_ s: String) -> Segment { .text(Array(s.unicodeScalars)) }
        XCTAssertEqual(run("a  <m>b"), [text("a"), .token(1), text("b")])
        XCTAssertEqual(run("<r>  b"), [.token(2), text("b")])
        XCTAssertEqual(run("a w b"), [text("a "), .token(3), text(" b")])
        XCTAssertEqual(run("awb"), [text("awb")])
        XCTAssertEqual(run("<mm><m"), [.token(4), .token(5)])  // longest at the leftmost position
        XCTAssertEqual(run(""), [])
    }

    func testMinimalBPEAndMergeFormats() throws {
        let tok = try ByteLevelBPETokenizer.fromTokenizerJSON(url: try temp(minimalBPE()))
        XCTAssertEqual(tok.encode("ab", addSpecialTokens: true), [256])
        XCTAssertEqual(tok.encode("ba", addSpecialTokens: true), [98, 97])
        XCTAssertEqual(tok.decode([256, 0x20]), "ab ")
        XCTAssertEqual(tok.vocabSize, 257)
    }

    func testUnsupportedComponentsThrowNamingThem() throws {
        let cases: [(String, String)] = [
            (minimalBPE(normalizer: #"{"type":"Precompiled","precompiled_charsmap":""}"#), "Precompiled"),
            (minimalBPE(pre: #"{"type":"Metaspace","replacement":"▁"}"#), "Metaspace"),
            (minimalBPE(post: #"{"type":"Weird"}"#), "Weird"),
            (minimalBPE(model: #""byte_fallback":true,"#), "byte_fallback"),
            (minimalBPE(pre: #"{"type":"Split","pattern":{"Regex":"\\s"},"behavior":"Sideways","invert":false}"#), "Sideways"),
        ]
        for (json, name) in cases {
            XCTAssertThrowsError(try ByteLevelBPETokenizer.fromTokenizerJSON(url: try temp(json))) { e in
                guard case let LCError.unsupported(_, msg) = e else { return XCTFail("expected unsupported, got \(e)") }
                XCTAssertTrue(msg.contains(name), msg)
            }
        }
        XCTAssertThrowsError(try ByteLevelBPETokenizer.fromGGUF(tokens: ["a"], merges: [], tokenTypes: nil, pre: "deepseek-llm",
                                                                bosID: nil, eosID: nil, addBOS: false, addEOS: false)) { e in
            XCTAssertTrue("\(e)".contains("deepseek-llm"), "\(e)")
        }
    }

    func testMalformedInputsThrowFormatErrors() throws {
        let bad = [
            "[]",
            "{not json",
            minimalBPE().replacingOccurrences(of: #""merges":["a b"]"#, with: #""merges":["a b c"]"#),
            minimalBPE().replacingOccurrences(of: #""merges":["a b"]"#, with: #""merges":["a zz"]"#),
            minimalBPE().replacingOccurrences(of: #""ab":256"#, with: #""ab":-3"#),
        ]
        for json in bad {
            XCTAssertThrowsError(try ByteLevelBPETokenizer.fromTokenizerJSON(url: try temp(json))) { e in
                guard case LCError.format = e else { return XCTFail("expected format error, got \(e)") }
            }
        }
        let base = ByteLevelTable.byteToScalar.map { String($0) }
        XCTAssertThrowsError(try ByteLevelBPETokenizer.fromGGUF(tokens: base, merges: ["a"], tokenTypes: nil, pre: "gpt2",
                                                                bosID: nil, eosID: nil, addBOS: false, addEOS: false))
        XCTAssertThrowsError(try ByteLevelBPETokenizer.fromGGUF(tokens: base, merges: [], tokenTypes: [1], pre: "gpt2",
                                                                bosID: nil, eosID: nil, addBOS: false, addEOS: false))
        XCTAssertThrowsError(try ByteLevelBPETokenizer.fromGGUF(tokens: base, merges: [], tokenTypes: nil, pre: "gpt2",
                                                                bosID: 999, eosID: nil, addBOS: true, addEOS: false))
        XCTAssertThrowsError(try WordPieceTokenizer.fromVocabTxt(url: try temp("a\nb\n"), lowercase: true))
        XCTAssertThrowsError(try WordPieceTokenizer.fromTokenizerJSON(url: try temp(minimalBPE())))
    }

    func testLoadTokenizerJSONDispatchesOnModelType() throws {
        XCTAssertTrue(try loadTokenizerJSON(url: Fixtures.url("llama3_synth.json")) is ByteLevelBPETokenizer)
        XCTAssertTrue(try loadTokenizerJSON(url: requireModel("all-MiniLM-L6-v2/tokenizer.json")) is WordPieceTokenizer)
        let unigram = try temp(#"{"model":{"type":"Unigram","vocab":[]}}"#)
        XCTAssertThrowsError(try loadTokenizerJSON(url: unigram)) { e in XCTAssertTrue("\(e)".contains("Unigram"), "\(e)") }
    }

    func testGGUFLlamaBPEAddsBOSAndIgnoresMerges() throws {
        var tokens = ByteLevelTable.byteToScalar.map { String($0) }
        tokens += ["ab", "abc", "<|begin_of_text|>"]
        // "abc" is reachable only whole (no merge to it): ignore_merges must still emit it.
        let tok = try ByteLevelBPETokenizer.fromGGUF(tokens: tokens, merges: ["a b"], tokenTypes: nil, pre: "llama-bpe",
                                                     bosID: 258, eosID: nil, addBOS: true, addEOS: false)
        XCTAssertEqual(tok.encode("abc", addSpecialTokens: true), [258, 257])
        XCTAssertEqual(tok.encode("abd", addSpecialTokens: false), [256, 100])
    }

    func testEncodeThroughput() throws {
        // ~100 KB of varied text: the corpus plus MiniLM's README and data_config, repeated.
        var parts = Fixtures.corpus
        for f in ["all-MiniLM-L6-v2/README.md", "all-MiniLM-L6-v2/data_config.json"] {
            if let s = try? String(contentsOf: Fixtures.modelsDir.appendingPathComponent(f), encoding: .utf8) { parts.append(s) }
        }
        let unit = parts.joined(separator: "\n")
        var text = ""
        while text.utf8.count < 100_000 { text += unit + "\n" }
        for (name, make) in [("SmolLM2 (GGUF)", { try self.smolLM2() as Tokenizer }),
                             ("MiniLM (WordPiece)", { try WordPieceTokenizer.fromTokenizerJSON(
                                url: requireModel("all-MiniLM-L6-v2/tokenizer.json")) as Tokenizer })] {
            let tok = try make()
            let t0 = Date()
            let ids = tok.encode(text, addSpecialTokens: false)
            let dt = Date().timeIntervalSince(t0)
            let t1 = Date()
            XCTAssertEqual(tok.encode(text, addSpecialTokens: false), ids)
            let dt2 = Date().timeIntervalSince(t1)
            XCTAssertGreaterThan(ids.count, 10_000)
            print(String(format: "[speed] %@: %d bytes → %d tokens; first pass %.3f s = %.0f tokens/s, second (warm cache) %.0f tokens/s",
                         name, text.utf8.count, ids.count, dt, Double(ids.count) / dt, Double(ids.count) / dt2))
        }
    }
}
