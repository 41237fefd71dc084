// Golden-id tests: every corpus string (and 300 seeded fuzz strings) encoded by LCTokenizers must equal
// the ids HF `tokenizers` produced (scripts/reference/tokenizer_golden.py), with and without special
// tokens, and decode must equal HF decode, for MiniLM (tokenizer.json, vocab.txt), SmolLM2 (GGUF
// metadata, plus its vocab under every other supported pre name) and synthetic GPT-2/Llama-3/Qwen2 files.
import Foundation
import LCCore
import XCTest
@testable import LCTokenizers

enum Fixtures {
    static let repoRoot: URL = {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while u.path != "/" && !FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) {
            u.deleteLastPathComponent()
        }
        return u
    }()
    static let dir = repoRoot.appendingPathComponent("Tests/Fixtures/tokenizers")
    static func url(_ name: String) -> URL { dir.appendingPathComponent(name) }

    static var modelsDir: URL {
        let cache = ProcessInfo.processInfo.environment["LAYERCARD_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/layercard").path
        return URL(fileURLWithPath: cache).appendingPathComponent("models")
    }

    static let corpus: [String] = {
        guard let text = try? String(contentsOf: url("corpus.jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) .flatMap { ($0 as? [String: Any])?["text"] as? String }
        }
    }()

    nonisolated(unsafe) static let goldenRoot: [String: Any] = {  // read-only after first use
        guard let d = try? Data(contentsOf: url("golden.json")),
              let root = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return [:] }
        return root
    }()

    /// Seeded random strings of hard pieces (see tokenizer_golden.py `fuzz_texts`).
    static var fuzzTexts: [String] { goldenRoot["fuzz_texts"] as? [String] ?? [] }

    typealias Golden = (with: [[Int]], without: [[Int]], decoded: [String], fuzz: [[Int]])

    /// golden.json: name → ids with/without special tokens, HF decode of the latter, fuzz ids (no specials).
    static let golden: [String: Golden] = {
        guard let toks = goldenRoot["tokenizers"] as? [String: Any] else { return [:] }
        var out: [String: Golden] = [:]
        for (k, v) in toks {
            guard let e = v as? [String: Any], let w = e["with_special"] as? [[Int]], let wo = e["without_special"] as? [[Int]],
                  let dec = e["decoded"] as? [String], let fz = e["fuzz_without_special"] as? [[Int]] else { continue }
            out[k] = (w, wo, dec, fz)
        }
        return out
    }()
}

extension Fixtures {
    /// SmolLM2's tokenizer from the exported GGUF metadata arrays.
    static func smolLM2(pre overridePre: String? = nil, addBOS overrideBOS: Bool? = nil) throws -> ByteLevelBPETokenizer {
        let d = try Data(contentsOf: Fixtures.url("smollm2_gguf_vocab.json"))
        guard let j = try JSONSerialization.jsonObject(with: d) as? [String: Any],
              let tokens = j["tokens"] as? [String], let merges = j["merges"] as? [String],
              let types = j["token_type"] as? [Int], let pre = j["pre"] as? String else {
            throw LCError.format(path: "smollm2_gguf_vocab.json", message: "unexpected layout")
        }
        return try ByteLevelBPETokenizer.fromGGUF(tokens: tokens, merges: merges, tokenTypes: types, pre: overridePre ?? pre,
                                                  bosID: j["bos"] as? Int, eosID: j["eos"] as? Int,
                                                  addBOS: overrideBOS ?? (j["add_bos"] as? Bool ?? false), addEOS: j["add_eos"] as? Bool ?? false)
    }
}

/// Fails with a message telling how to fetch the real models.
func requireModel(_ rel: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let u = Fixtures.modelsDir.appendingPathComponent(rel)
    if !FileManager.default.fileExists(atPath: u.path) {
        XCTFail("missing \(u.path): run scripts/setup.sh (or set LAYERCARD_CACHE)", file: file, line: line)
        throw LCError.io(path: u.path, message: "missing; run scripts/setup.sh")
    }
    return u
}

/// Compares every corpus string's ids with the golden ones; reports the mismatch count and the first mismatch.
@discardableResult
func assertGolden(_ tok: Tokenizer, _ name: String, roundTrip: ((String) -> String)? = nil,
                  file: StaticString = #filePath, line: UInt = #line) -> Int {
    guard let g = Fixtures.golden[name] else { XCTFail("no golden for \(name)", file: file, line: line); return -1 }
    let corpus = Fixtures.corpus
    XCTAssertGreaterThanOrEqual(corpus.count, 80, file: file, line: line)
    XCTAssertEqual(g.with.count, corpus.count, "golden/corpus size differ for \(name)", file: file, line: line)
    var mismatches = 0
    var first: String?
    for (i, s) in corpus.enumerated() where i < g.with.count {
        for (special, want) in [(true, g.with[i]), (false, g.without[i])] {
            let got = tok.encode(s, addSpecialTokens: special)
            if got != want {
                mismatches += 1
                if first == nil { first = "\(name) string #\(i) \(s.debugDescription) special=\(special)\n  want \(want)\n  got  \(got)" }
            }
        }
        // Compare scalars: String == is canonical equivalence and would hide NFC/NFD differences.
        if i < g.decoded.count, !tok.decode(g.without[i]).unicodeScalars.elementsEqual(g.decoded[i].unicodeScalars) {
            mismatches += 1
            if first == nil { first = "\(name) decode #\(i) want \(g.decoded[i].debugDescription) got \(tok.decode(g.without[i]).debugDescription)" }
        }
        if let expected = roundTrip {
            let dec = tok.decode(tok.encode(s, addSpecialTokens: false))
            if !dec.unicodeScalars.elementsEqual(expected(s).unicodeScalars) {
                mismatches += 1
                if first == nil { first = "\(name) round trip #\(i) \(s.debugDescription) → \(dec.debugDescription)" }
            }
        }
    }
    let fuzz = Fixtures.fuzzTexts
    XCTAssertEqual(fuzz.count, g.fuzz.count, "fuzz golden size differs for \(name)", file: file, line: line)
    for (i, s) in fuzz.enumerated() where i < g.fuzz.count {
        let got = tok.encode(s, addSpecialTokens: false)
        if got != g.fuzz[i] {
            mismatches += 1
            if first == nil { first = "\(name) fuzz #\(i) \(s.debugDescription)\n  want \(g.fuzz[i])\n  got  \(got)" }
        }
    }
    XCTAssertEqual(mismatches, 0, first ?? "", file: file, line: line)
    print("[golden] \(name): \(corpus.count) corpus + \(fuzz.count) fuzz strings, \(mismatches) mismatches")
    return mismatches
}

final class TokenizerGoldenTests: XCTestCase {
    func testMiniLMTokenizerJSON() throws {
        let u = try requireModel("all-MiniLM-L6-v2/tokenizer.json")
        let tok = try WordPieceTokenizer.fromTokenizerJSON(url: u)
        XCTAssertEqual(tok.vocabSize, 30522)
        XCTAssertEqual(tok.bosID, 101)
        XCTAssertEqual(tok.eosID, 102)
        assertGolden(tok, "minilm_json")
    }

    func testMiniLMVocabTxt() throws {
        let u = try requireModel("all-MiniLM-L6-v2/vocab.txt")
        assertGolden(try WordPieceTokenizer.fromVocabTxt(url: u, lowercase: true), "minilm_vocab")
    }

    func testSmolLM2FromGGUFMetadata() throws {
        let tok = try Fixtures.smolLM2()
        XCTAssertEqual(tok.vocabSize, 49152)
        XCTAssertEqual(tok.bosID, 1)
        XCTAssertEqual(tok.eosID, 2)
        assertGolden(tok, "smollm2", roundTrip: { $0 })
    }

    /// SmolLM2's GGUF vocab with each other `tokenizer.ggml.pre` name, against HF built as llama.cpp reads that name.
    func testGGUFPreTokenizerNames() throws {
        for pre in ["gpt-2", "default", "llama-bpe", "qwen2"] {
            let tok = try Fixtures.smolLM2(pre: pre, addBOS: pre == "llama-bpe")
            // NFC (qwen2) changes NFD input; the llama-bpe variant adds BOS only with special tokens.
            assertGolden(tok, "gguf_\(pre)", roundTrip: pre == "qwen2" ? { $0.precomposedStringWithCanonicalMapping } : { $0 })
        }
    }

    /// SmolLM2's equivalent tokenizer.json (1.6 MB, kept out of git for the fixture budget). Opt-in: set
    /// LC_SMOLLM2_TOKENIZER_JSON to a file written by tokenizer_golden.py's `smollm2_from_gguf` (pair merges format).
    func testSmolLM2TokenizerJSONOptIn() throws {
        guard let p = ProcessInfo.processInfo.environment["LC_SMOLLM2_TOKENIZER_JSON"] else {
            throw XCTSkip("set LC_SMOLLM2_TOKENIZER_JSON to run")
        }
        let tok = try ByteLevelBPETokenizer.fromTokenizerJSON(url: URL(fileURLWithPath: p))
        XCTAssertEqual(tok.vocabSize, 49152)
        assertGolden(tok, "smollm2", roundTrip: { $0 })
    }

    func testGPT2StyleJSON() throws {
        // add_prefix_space and lstrip/rstrip added tokens change the text, so no round trip here.
        let tok = try ByteLevelBPETokenizer.fromTokenizerJSON(url: Fixtures.url("gpt2_synth.json"))
        assertGolden(tok, "gpt2_synth")
    }

    func testLlama3StyleJSON() throws {
        let tok = try ByteLevelBPETokenizer.fromTokenizerJSON(url: Fixtures.url("llama3_synth.json"))
        XCTAssertEqual(tok.bosID, 0)
        XCTAssertEqual(tok.eosID, 1)
        assertGolden(tok, "llama3_synth", roundTrip: { $0 })
    }

    func testQwen2StyleJSON() throws {
        let tok = try ByteLevelBPETokenizer.fromTokenizerJSON(url: Fixtures.url("qwen2_synth.json"))
        // No round trip: HF itself decodes the normalized added token "Café" to invalid UTF-8 (é is a table char).
        assertGolden(tok, "qwen2_synth")
    }
}
