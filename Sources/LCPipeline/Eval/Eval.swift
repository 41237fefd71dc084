// `eval`: mean token loss (spec §1), perplexity and token count of a loaded model on a dataset,
// so users can sanity-check a store. Encoders report the spec's squared-error loss instead.
import Foundation
import LCCore
import LCModel
import Logging

public struct EvalResult: Codable, Sendable {
    public var loss: Double
    /// exp(loss) for causal LMs; nil for encoders.
    public var perplexity: Double?
    /// Predicted positions P (causal) or sequences n (encoders).
    public var tokens: Int
    public var sequences: Int
}

public enum EvalStage {
    public static func run(workspace: Workspace, model: String, dataset: URL, maxTokens: Int, maxRecords: Int?,
                           batch: Int, logger: Logger) throws -> EvalResult {
        try Workspace.validateModelID(model)
        let weights = try StoreWeights(workspace: workspace, model: model)
        guard let cfg = weights.manifest.config else { throw LCError.stage(model: model, message: "load manifest has no config") }
        let tokenizer = try TokenizerLoader.load(weights.manifest.tokenizer)
        let ds = try ReferenceDataset.load(url: dataset, tokenizer: tokenizer, vocabSize: cfg.vocabSize,
                                           maxTokens: min(maxTokens, cfg.maxPositions ?? maxTokens), maxRecords: maxRecords)
        let m = try TransformerModel(config: cfg, weights: weights)
        let started = Date()
        var sum = 0.0, count = 0
        let B = max(1, batch)
        for start in stride(from: 0, to: ds.sequences.count, by: B) {
            let chunk = Array(ds.sequences[start..<min(start + B, ds.sequences.count)])
            if m.isCausal {
                let r = try m.loss(tokens: chunk.map(\.ids), targetMask: chunk.map(\.lossMask))
                sum += r.sum; count += r.count
            } else {
                let pooled = try m.forward(tokens: chunk.map(\.ids)).pooled ?? []
                let C = cfg.hiddenSize
                for (i, s) in chunk.enumerated() {
                    guard let y = s.target, y.count == C else {
                        throw LCError.format(path: dataset.path, message: "encoder loss needs a \"target\" of \(C) numbers on every record")
                    }
                    var e = 0.0
                    for c in 0..<C { let d = Double(pooled[i * C + c]) - Double(y[c]); e += d * d }
                    sum += 0.5 * e; count += 1
                }
            }
            logger.debug("eval batch", metadata: ["done": "\(min(start + B, ds.sequences.count))/\(ds.sequences.count)"])
        }
        guard count > 0 else { throw LCError.format(path: dataset.path, message: "no target tokens in the dataset") }
        let loss = sum / Double(count)
        logger.info("eval done", metadata: ["model": "\(model)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        return EvalResult(loss: loss, perplexity: m.isCausal ? exp(loss) : nil, tokens: count, sequences: ds.sequences.count)
    }
}
