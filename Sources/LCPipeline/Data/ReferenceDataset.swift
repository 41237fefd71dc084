// Reference data (layer-card-spec §1): JSONL records {"text"}, {"prompt","response"} or
// {"input_ids"} (plus {"text","target"} for encoders), tokenized with the model's own tokenizer,
// truncated (never dropped) at max_tokens, with a per-position loss mask.
import Foundation
import LCCore
import LCTokenizers

/// One reference sequence.
public struct ReferenceSequence: Sendable, Equatable {
    public var ids: [Int]
    /// lossMask[t] == true when the token at position t is a *target* (predicted from positions < t).
    /// Position 0 is never a target for causal LMs.
    public var lossMask: [Bool]
    /// Encoder regression target (BERT family), if given.
    public var target: [Float]?
}

public struct ReferenceDataset: Sendable {
    public var url: URL
    public var sha256: String
    public var sequences: [ReferenceSequence]
    /// "text", "prompt_response", "input_ids" or "mixed".
    public var kind: String
    /// Number of predicted positions P (Σ lossMask).
    public var targetCount: Int { sequences.reduce(0) { $0 + $1.lossMask.filter { $0 }.count } }
    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.ids.count } }

    /// The default dataset shipped in the repository (data-to-text, prompt/response records).
    public static func defaultURL(repoRoot: URL) -> URL { repoRoot.appendingPathComponent("data/default-d2t.jsonl") }

    /// Reads and tokenizes `url`.
    /// - Parameters:
    ///   - maxTokens: per-sequence cap; longer sequences are truncated (kept).
    ///   - maxRecords: use only the first N records (nil = all).
    ///   - appendEOS: append the tokenizer's EOS after a response (prompt/response records).
    /// - Throws: `LCError.format` naming the file, line and problem (bad JSON, unknown record shape,
    ///   ids out of the vocabulary, empty dataset).
    public static func load(url: URL, tokenizer: (any Tokenizer)?, vocabSize: Int, maxTokens: Int, maxRecords: Int? = nil,
                            appendEOS: Bool = true) throws -> ReferenceDataset {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LCError.io(path: url.path, message: "cannot read dataset: \(error.localizedDescription)")
        }
        guard maxTokens >= 2 else { throw LCError.usage("--max-tokens must be at least 2") }
        let text = String(decoding: data, as: UTF8.self)
        var seqs: [ReferenceSequence] = []
        var kinds = Set<String>()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let m = maxRecords, seqs.count >= m { break }
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            func bad(_ msg: String) -> LCError { .format(path: url.path, message: "line \(i + 1): \(msg)") }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw bad("not a JSON object")
            }
            var seq: ReferenceSequence
            if let ids = obj["input_ids"] {
                guard let arr = ids as? [Any], !arr.isEmpty else { throw bad("input_ids must be a non-empty list") }
                var out: [Int] = []
                for v in arr {
                    guard let n = v as? NSNumber, !isJSONBool(n), n.doubleValue == n.doubleValue.rounded(),
                          n.doubleValue >= 0, n.doubleValue < Double(vocabSize) else {
                        throw bad("input_ids contains \(v), outside the vocabulary [0, \(vocabSize))")
                    }
                    out.append(n.intValue)
                }
                seq = ReferenceSequence(ids: out, lossMask: out.indices.map { $0 > 0 }, target: nil)
                kinds.insert("input_ids")
            } else if let p = obj["prompt"] as? String, let r = obj["response"] as? String {
                guard let tok = tokenizer else { throw bad("prompt/response needs a tokenizer, and this model has none") }
                let pi = tok.encode(p, addSpecialTokens: true)
                var ri = tok.encode(r, addSpecialTokens: false)
                if appendEOS, let eos = tok.eosID { ri.append(eos) }
                seq = ReferenceSequence(ids: pi + ri, lossMask: pi.map { _ in false } + ri.map { _ in true }, target: nil)
                if !pi.isEmpty { seq.lossMask[0] = false } else if !seq.lossMask.isEmpty { seq.lossMask[0] = false }
                kinds.insert("prompt_response")
            } else if let t = obj["text"] as? String {
                guard let tok = tokenizer else { throw bad("text records need a tokenizer, and this model has none") }
                let ids = tok.encode(t, addSpecialTokens: true)
                seq = ReferenceSequence(ids: ids, lossMask: ids.indices.map { $0 > 0 }, target: nil)
                kinds.insert("text")
            } else {
                throw bad("expected {\"text\"}, {\"prompt\",\"response\"} or {\"input_ids\"}")
            }
            if let tgt = obj["target"] {
                guard let arr = tgt as? [NSNumber], arr.allSatisfy({ $0.doubleValue.isFinite }) else { throw bad("target must be a list of finite numbers") }
                seq.target = arr.map { $0.floatValue }
            }
            if seq.ids.count > maxTokens {
                seq.ids = Array(seq.ids.prefix(maxTokens)); seq.lossMask = Array(seq.lossMask.prefix(maxTokens))
            }
            guard !seq.ids.isEmpty else { throw bad("record tokenizes to no tokens") }
            seqs.append(seq)
        }
        guard !seqs.isEmpty else { throw LCError.format(path: url.path, message: "dataset has no records") }
        let ds = ReferenceDataset(url: url, sha256: Hashing.sha256(data), sequences: seqs,
                                  kind: kinds.count == 1 ? kinds.first! : "mixed")
        return ds
    }
}
