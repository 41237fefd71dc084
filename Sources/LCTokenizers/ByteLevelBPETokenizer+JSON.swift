// Loads a byte-level BPE tokenizer from HF tokenizer.json. Every component type it does not
// implement exactly (normalizers, pre-tokenizers, post-processors, BPE options) is rejected with
// `LCError.unsupported` naming the component, rather than silently producing different ids.
import Foundation
import LCCore

/// Parsed tokenizer.json shared by the BPE and WordPiece loaders.
struct TokenizerJSON {
    let path: String
    let root: [String: Any]

    init(url: URL) throws {
        path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LCError.io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw LCError.format(path: path, message: "not a JSON object")
        }
        root = dict
    }

    func fail(_ field: String, _ msg: String) -> LCError { .format(path: path, message: "\(field): \(msg)") }
    func unsupported(_ what: String) -> LCError { .unsupported(path: path, message: what) }

    /// `added_tokens` entries.
    func addedTokens() throws -> [AddedToken] {
        guard let list = root["added_tokens"] else { return [] }
        if list is NSNull { return [] }
        guard let arr = list as? [[String: Any]] else { throw fail("added_tokens", "not a list of objects") }
        return try arr.enumerated().map { i, t in
            guard let id = t["id"] as? Int, id >= 0, let content = t["content"] as? String else {
                throw fail("added_tokens[\(i)]", "needs non-negative 'id' and string 'content'")
            }
            return AddedToken(id: id, content: content, singleWord: t["single_word"] as? Bool ?? false,
                              lstrip: t["lstrip"] as? Bool ?? false, rstrip: t["rstrip"] as? Bool ?? false,
                              normalized: t["normalized"] as? Bool ?? false, special: t["special"] as? Bool ?? false)
        }
    }

    static func type(_ any: Any?) -> String? { (any as? [String: Any])?["type"] as? String }

    func normalizer(_ any: Any?) throws -> Normalizer {
        guard let any, !(any is NSNull) else { return .identity }
        guard let d = any as? [String: Any], let type = d["type"] as? String else { throw fail("normalizer", "missing 'type'") }
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Sequence":
            guard let list = d["normalizers"] as? [Any] else { throw fail("normalizer", "Sequence without 'normalizers'") }
            return .sequence(try list.map { try normalizer($0) })
        default: throw unsupported("normalizer '\(type)'")
        }
    }

    func preTokenizer(_ any: Any?) throws -> [PreTokenizerStep] {
        guard let any, !(any is NSNull) else { return [] }
        guard let d = any as? [String: Any], let type = d["type"] as? String else { throw fail("pre_tokenizer", "missing 'type'") }
        switch type {
        case "Sequence":
            guard let list = d["pretokenizers"] as? [Any] else { throw fail("pre_tokenizer", "Sequence without 'pretokenizers'") }
            let steps = try list.flatMap { try preTokenizer($0) }
            if let i = steps.firstIndex(where: { if case .byteLevel = $0 { return true }; return false }), i != steps.count - 1 {
                throw unsupported("pre_tokenizer: ByteLevel must be the last step of the Sequence")
            }
            return steps
        case "ByteLevel":
            let useRegex = d["use_regex"] as? Bool ?? true
            return [.byteLevel(addPrefixSpace: d["add_prefix_space"] as? Bool ?? false,
                               regex: useRegex ? try CompiledRegex(PreTokenizerPattern.gpt2, path: path) : nil)]
        case "Split":
            guard let pat = d["pattern"] as? [String: Any] else { throw fail("pre_tokenizer", "Split without 'pattern'") }
            let re: CompiledRegex
            if let r = pat["Regex"] as? String { re = try CompiledRegex(r, path: path) } else if let s = pat["String"] as? String {
                re = try CompiledRegex(literal: s, path: path)
            } else { throw fail("pre_tokenizer", "Split pattern must be Regex or String") }
            let bname = d["behavior"] as? String ?? "Isolated"
            guard let behavior = SplitBehavior(rawValue: bname) else { throw unsupported("Split behavior '\(bname)'") }
            return [.split(re, behavior, invert: d["invert"] as? Bool ?? false)]
        case "Digits":
            return [.digits(individual: d["individual_digits"] as? Bool ?? false)]
        default: throw unsupported("pre_tokenizer '\(type)'")
        }
    }

    /// - Parameter lookup: resolves a token string to its id (for BertProcessing-style names).
    func postProcessor(_ any: Any?) throws -> PostProcessor {
        guard let any, !(any is NSNull) else { return .none }
        guard let d = any as? [String: Any], let type = d["type"] as? String else { throw fail("post_processor", "missing 'type'") }
        switch type {
        case "ByteLevel": return .none
        case "Sequence":
            guard let list = d["processors"] as? [Any] else { throw fail("post_processor", "Sequence without 'processors'") }
            return .sequence(try list.map { try postProcessor($0) })
        case "TemplateProcessing": return try template(d)
        case "BertProcessing", "RobertaProcessing":
            guard let cls = d["cls"] as? [Any], cls.count == 2, let clsID = cls[1] as? Int,
                  let sep = d["sep"] as? [Any], sep.count == 2, let sepID = sep[1] as? Int else {
                throw fail("post_processor", "\(type) needs cls and sep as [token, id]")
            }
            return .template([.special([clsID]), .sequence, .special([sepID])])
        default: throw unsupported("post_processor '\(type)'")
        }
    }

    private func template(_ d: [String: Any]) throws -> PostProcessor {
        guard let single = d["single"] as? [[String: Any]] else { throw fail("post_processor", "TemplateProcessing without 'single'") }
        let specials = d["special_tokens"] as? [String: Any] ?? [:]
        var pieces: [TemplatePiece] = []
        for item in single {
            if let st = item["SpecialToken"] as? [String: Any], let name = st["id"] as? String {
                guard let entry = specials[name] as? [String: Any], let ids = entry["ids"] as? [Int] else {
                    throw fail("post_processor", "template special token '\(name)' missing from special_tokens")
                }
                pieces.append(.special(ids))
            } else if let seq = item["Sequence"] as? [String: Any], seq["id"] as? String == "A" {
                pieces.append(.sequence)
            } else {
                throw fail("post_processor", "unsupported single-template item \(item)")
            }
        }
        return .template(pieces)
    }

    /// `model.vocab` as (token, id) pairs.
    func vocab(_ model: [String: Any]) throws -> [String: Int] {
        guard let v = model["vocab"] as? [String: Any] else { throw fail("model.vocab", "not an object") }
        var out: [String: Int] = [:]
        out.reserveCapacity(v.count)
        for (k, id) in v {
            guard let i = id as? Int else { throw fail("model.vocab", "id of '\(k)' is not an integer") }
            out[k] = i
        }
        return out
    }
}

extension ByteLevelBPETokenizer {
    /// Loads a HF tokenizer.json whose model is byte-level BPE.
    /// - Parameters:
    ///   - bosToken, eosToken: token strings for `bosID`/`eosID` (e.g. from tokenizer_config.json). When nil,
    ///     BOS is the template's leading special token and EOS the first of the usual end tokens present.
    /// - Throws: `LCError.io`/`.format` for unreadable or malformed files, `.unsupported` naming any
    ///   component (normalizer, pre-tokenizer, post-processor, BPE option) not reproduced exactly.
    public static func fromTokenizerJSON(url: URL, bosToken: String? = nil, eosToken: String? = nil) throws -> ByteLevelBPETokenizer {
        try from(TokenizerJSON(url: url), bosToken: bosToken, eosToken: eosToken)
    }

    static func from(_ j: TokenizerJSON, bosToken: String?, eosToken: String?) throws -> ByteLevelBPETokenizer {
        guard let m = j.root["model"] as? [String: Any] else { throw j.fail("model", "missing") }
        guard (m["type"] as? String ?? "BPE") == "BPE" else { throw j.unsupported("model type '\(m["type"] ?? "?")' (expected BPE)") }
        if m["byte_fallback"] as? Bool == true { throw j.unsupported("BPE byte_fallback=true") }
        if let d = m["dropout"] as? Double, d > 0 { throw j.unsupported("BPE dropout=\(d)") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = m[key] as? String, !s.isEmpty { throw j.unsupported("BPE \(key)='\(s)'") }
        }
        let vocab = try j.vocab(m)
        guard let rawMerges = m["merges"] as? [Any] else { throw j.fail("model.merges", "not a list") }
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for (i, item) in rawMerges.enumerated() {
            if let s = item as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw j.fail("model.merges[\(i)]", "'\(s)' is not 'a b'") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let p = item as? [String], p.count == 2 {
                merges.append((p[0], p[1]))
            } else { throw j.fail("model.merges[\(i)]", "neither 'a b' nor [a, b]") }
        }
        let model = try BPEModel(vocab: vocab, merges: merges, ignoreMerges: m["ignore_merges"] as? Bool ?? false,
                                 unkToken: m["unk_token"] as? String, path: j.path)
        let pre = try j.preTokenizer(j.root["pre_tokenizer"])
        guard pre.contains(where: { if case .byteLevel = $0 { return true }; return false }) else {
            throw j.unsupported("pre_tokenizer without ByteLevel (not a byte-level BPE)")
        }
        let added = try j.addedTokens()
        let post = try j.postProcessor(j.root["post_processor"])
        func idOf(_ t: String) -> Int? { added.first { $0.content == t }?.id ?? vocab[t] }
        let bos = bosToken.flatMap(idOf) ?? post.leadingSpecialID
        let eos = eosToken.flatMap(idOf)
            ?? ["<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_end|>", "<|eot_id|>"].lazy.compactMap(idOf).first
        return ByteLevelBPETokenizer(model: model, addedTokens: added, normalizer: try j.normalizer(j.root["normalizer"]),
                                     preTokenizer: pre, postProcessor: post, bosID: bos, eosID: eos)
    }
}
