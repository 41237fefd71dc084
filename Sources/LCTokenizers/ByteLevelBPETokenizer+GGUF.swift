// Builds a byte-level BPE tokenizer from GGUF tokenizer metadata (`tokenizer.ggml.model == "gpt2"`)
// given as plain Swift values; reading the GGUF file itself is LCFormats' job. The pre-tokenizer
// comes from the `tokenizer.ggml.pre` name as llama.cpp's llama-vocab.cpp maps it; unknown names throw.
import Foundation
import LCCore

extension ByteLevelBPETokenizer {
    /// GGUF token types (`tokenizer.ggml.token_type`).
    enum GGUFTokenType: Int { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    /// Builds the tokenizer from GGUF metadata arrays.
    /// - Parameters:
    ///   - tokens: `tokenizer.ggml.tokens` (byte-level strings, index = id).
    ///   - merges: `tokenizer.ggml.merges`, `"a b"` in rank order (a space inside a part is stored as U+0120).
    ///   - tokenTypes: `tokenizer.ggml.token_type`; control (3) and user-defined (4) tokens are split out first
    ///     by exact match, like HF added tokens.
    ///   - pre: `tokenizer.ggml.pre`: "gpt-2"/"gpt2" (GPT-2 regex), "default" or "" (llama.cpp's four-regex
    ///     fallback, not the GPT-2 regex), "llama-bpe"/"llama3"/"llama-v3", "qwen2", "smollm".
    ///   - bosID, eosID: `tokenizer.ggml.bos_token_id` / `eos_token_id`.
    ///   - addBOS, addEOS: `tokenizer.ggml.add_bos_token` / `add_eos_token` (for "llama-bpe" a missing flag means true;
    ///     pass what the file says).
    /// - Throws: `LCError.unsupported` naming an unknown `pre`; `LCError.format` for inconsistent arrays.
    public static func fromGGUF(tokens: [String], merges: [String], tokenTypes: [Int]?, pre: String, bosID: Int?,
                                eosID: Int?, addBOS: Bool, addEOS: Bool) throws -> ByteLevelBPETokenizer {
        let path = "GGUF tokenizer metadata"
        let steps: [PreTokenizerStep]
        var normalizer = Normalizer.identity
        var ignoreMerges = false
        switch pre {
        case "gpt-2", "gpt2":
            steps = [.byteLevel(addPrefixSpace: false, regex: try CompiledRegex(PreTokenizerPattern.gpt2, path: path))]
        case "default", "":
            // llama.cpp's fallback (also used when the key is missing): a cascade of four regex splits.
            steps = try PreTokenizerPattern.llamaCppDefault.map { .split(try CompiledRegex($0, path: path), .isolated, invert: false) }
                + [.byteLevel(addPrefixSpace: false, regex: nil)]
        case "llama-bpe", "llama3", "llama-v3":
            steps = [.split(try CompiledRegex(PreTokenizerPattern.llama3, path: path), .isolated, invert: false),
                     .byteLevel(addPrefixSpace: false, regex: nil)]
            ignoreMerges = true
        case "qwen2":
            steps = [.split(try CompiledRegex(PreTokenizerPattern.qwen2, path: path), .isolated, invert: false),
                     .byteLevel(addPrefixSpace: false, regex: nil)]
            normalizer = .nfc
        case "smollm":
            steps = [.digits(individual: true),
                     .byteLevel(addPrefixSpace: false, regex: try CompiledRegex(PreTokenizerPattern.gpt2, path: path))]
        default:
            throw LCError.unsupported(path: path, message: "tokenizer.ggml.pre '\(pre)'")
        }
        if let tt = tokenTypes, tt.count != tokens.count {
            throw LCError.format(path: path, message: "tokenizer.ggml.token_type has \(tt.count) entries for \(tokens.count) tokens")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(tokens.count)
        var added: [AddedToken] = []
        for (id, t) in tokens.enumerated() {
            if vocab[t] == nil { vocab[t] = id }  // first id wins for duplicated strings
            switch tokenTypes?[id] {
            case GGUFTokenType.control.rawValue?: added.append(AddedToken(id: id, content: t, special: true))
            case GGUFTokenType.userDefined.rawValue?: added.append(AddedToken(id: id, content: t, special: false))
            default: break
            }
        }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() {
            let parts = m.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw LCError.format(path: path, message: "tokenizer.ggml.merges[\(i)] '\(m)' is not 'a b'")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        for id in [bosID, eosID].compactMap({ $0 }) where id < 0 || id >= tokens.count {
            throw LCError.format(path: path, message: "special token id \(id) outside vocab of \(tokens.count)")
        }
        let model = try BPEModel(vocab: vocab, merges: pairs, ignoreMerges: ignoreMerges, unkToken: nil, path: path)
        var template: [TemplatePiece] = []
        if addBOS, let b = bosID { template.append(.special([b])) }
        template.append(.sequence)
        if addEOS, let e = eosID { template.append(.special([e])) }
        return ByteLevelBPETokenizer(model: model, addedTokens: added, normalizer: normalizer, preTokenizer: steps,
                                     postProcessor: template.count > 1 ? .template(template) : .none,
                                     bosID: bosID, eosID: eosID)
    }
}
