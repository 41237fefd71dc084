// `layercard eval MODEL-ID --dataset FILE [--json]`: loss, perplexity and token count of a loaded model.
import ArgumentParser
import Foundation
import LCCore
import LCPipeline

public struct EvalCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean token loss, perplexity and token count of a loaded model on a dataset.",
        discussion: """
        Runs the forward pass over a JSONL dataset ({"text"}, {"prompt","response"} with loss on response tokens only, or pre-tokenized {"input_ids"}) and prints the mean token loss (layer-card-spec §1), perplexity and the number of predicted tokens. Use it to sanity-check a loaded store against another implementation. With --json, prints one object {"loss": …, "perplexity": …, "tokens": …} on stdout. Encoders (BERT) report the spec's squared-error loss on {"text","target"} records; perplexity is null.

        Example:
          layercard eval SmolLM2-135M-Instruct.Q4_1 --dataset data/default-d2t.jsonl --json
        """)

    @OptionGroup public var common: CommonOptions

    @Argument(help: ArgumentHelp("Model id (folder under DIR/manifests).", valueName: "MODEL-ID"))
    public var model: String

    @Option(help: "JSONL dataset (default: the repository's data/default-d2t.jsonl).")
    public var dataset: String?

    @Option(name: .customLong("max-tokens"), help: "Per-sequence token cap (longer sequences are truncated).")
    public var maxTokens = 512

    @Option(name: .customLong("max-records"), help: "Use only the first N records.")
    public var maxRecords: Int?

    @Option(help: "Sequences per forward batch.")
    public var batch = 4

    @Flag(help: "Print one JSON object on stdout.")
    public var json = false

    public init() {}

    public func validate() throws {
        if maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let m = maxRecords, m < 1 { throw ValidationError("--max-records must be at least 1") }
    }

    public func run() throws {
        let logger = common.logger("eval")
        let ds = try dataset.map { URL(fileURLWithPath: $0) } ?? DefaultDataset.url()
        let r: EvalResult
        do {
            r = try EvalStage.run(workspace: common.ws, model: model, dataset: ds, maxTokens: maxTokens,
                                  maxRecords: maxRecords, batch: batch, logger: logger)
        } catch let e as LCError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            if case .format = e { throw ExitCode(ExitCodes.someFailed) }
            throw ExitCode(ExitCodes.usage)
        }
        if json {
            struct Out: Encodable { let loss: Double; let perplexity: Double?; let tokens: Int }
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            print(String(data: try enc.encode(Out(loss: r.loss, perplexity: r.perplexity, tokens: r.tokens)), encoding: .utf8)!)
        } else {
            print("loss \(String(format: "%.6f", r.loss))  perplexity \(r.perplexity.map { String(format: "%.4f", $0) } ?? "n/a")  tokens \(r.tokens)  sequences \(r.sequences)")
        }
    }
}
