// Builds a model's tokenizer from the source the ingest manifest recorded: GGUF metadata
// (tokenizer.ggml.*), tokenizer.json, or vocab.txt (+ tokenizer_config.json for lowercasing).
import Foundation
import LCCore
import LCFormats
import LCTokenizers

public enum TokenizerLoader {
    /// - Returns: nil when the checkpoint has no tokenizer (source "none").
    public static func load(_ rec: TokenizerRecord?) throws -> (any Tokenizer)? {
        guard let rec, rec.source != "none", let path = rec.path else { return nil }
        let url = URL(fileURLWithPath: path)
        switch rec.source {
        case "gguf-metadata":
            let g = try GGUFFile.read(url: url)
            let md = g.metadata
            guard let model = md["tokenizer.ggml.model"]?.string else {
                throw LCError.format(path: path, message: "no tokenizer.ggml.model")
            }
            guard model == "gpt2" else {
                throw LCError.unsupported(path: path, message: "tokenizer.ggml.model '\(model)' (only byte-level BPE 'gpt2')")
            }
            guard let tokens = md["tokenizer.ggml.tokens"]?.strings, let merges = md["tokenizer.ggml.merges"]?.strings else {
                throw LCError.format(path: path, message: "tokenizer.ggml.tokens/merges missing or not string arrays")
            }
            let pre = md["tokenizer.ggml.pre"]?.string ?? "default"
            let llamaBPE = ["llama-bpe", "llama3", "llama-v3"].contains(pre)
            return try ByteLevelBPETokenizer.fromGGUF(
                tokens: tokens, merges: merges, tokenTypes: md["tokenizer.ggml.token_type"]?.ints, pre: pre,
                bosID: md["tokenizer.ggml.bos_token_id"]?.int, eosID: md["tokenizer.ggml.eos_token_id"]?.int,
                addBOS: md["tokenizer.ggml.add_bos_token"]?.bool ?? llamaBPE,
                addEOS: md["tokenizer.ggml.add_eos_token"]?.bool ?? false)
        case "tokenizer.json":
            return try loadTokenizerJSON(url: url)
        case "vocab.txt":
            var lower = true
            let cfg = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
            if let d = try? Data(contentsOf: cfg), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
               let l = o["do_lower_case"] as? Bool { lower = l }
            return try WordPieceTokenizer.fromVocabTxt(url: url, lowercase: lower)
        default:
            throw LCError.unsupported(path: path, message: "tokenizer source '\(rec.source)'")
        }
    }
}
