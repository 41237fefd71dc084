// The ingest manifest: what a checkpoint is, where its bytes are, and how its tensors map to
// layers and LoRA modules. Later stages trust only this file (and re-verify hashes they use).
import Foundation
import LCModel

public enum StageStatus: String, Codable, Sendable {
    case ok, failed, unsupported
}

public struct StageError: Codable, Sendable, Equatable {
    /// The file at fault (absolute path), when one is.
    public var file: String?
    public var message: String
}

public struct FileRecord: Codable, Sendable, Equatable {
    /// Absolute path.
    public var path: String
    /// Path relative to the checkpoint's folder (or the file name for single-file checkpoints).
    public var relpath: String
    public var role: String
    public var bytes: Int
    /// Modification time in nanoseconds since the epoch (the cheap change check).
    public var mtime_ns: Int64
    public var sha256: String?
}

public struct TensorRecord: Codable, Sendable, Equatable {
    /// Name as stored in the file.
    public var name: String
    /// Hugging Face canonical name (nil for non-parameter buffers or tensors with no HF counterpart).
    public var canonical: String?
    public var dtype: String
    public var shape: [Int]
    public var bytes: Int
    /// Absolute path of the file holding the data, and the absolute byte offset in it.
    public var file: String
    public var offset: Int
    public var strides: [Int]?
    public var layer: Int?
    public var module: String?
}

public struct ModuleRecord: Codable, Sendable, Equatable {
    public var layer: Int
    public var module: String
    /// Canonical weight tensor name.
    public var tensor: String
    /// Weight shape `[out, in]` in HF Linear layout (GPT-2 Conv1D is reported transposed to this layout).
    public var shape: [Int]
}

public struct TokenizerRecord: Codable, Sendable, Equatable {
    /// "tokenizer.json", "vocab.txt", "gguf-metadata" or "none".
    public var source: String
    public var path: String?
    /// "bpe", "wordpiece", or nil when unknown.
    public var type: String?
}

public struct IngestManifest: Codable, Sendable {
    public static let currentSchema = 1
    public var schema_version: Int = IngestManifest.currentSchema
    public var stage: String = "ingest"
    public var tool_version: String
    public var model_id: String
    public var status: StageStatus
    public var error: StageError?
    /// The path the checkpoint was found at (file or folder) and the scanned root.
    public var source_path: String
    public var scan_root: String
    /// "gguf", "safetensors", "safetensors-sharded", "pytorch", "pytorch-sharded", or "unknown".
    public var format: String
    /// Set when the checkpoint came out of an archive.
    public var archive: FileRecord?
    public var files: [FileRecord]
    public var architecture: String?
    public var config: ModelConfig?
    public var tensors: [TensorRecord]
    public var modules: [ModuleRecord]
    public var tokenizer: TokenizerRecord?
    /// Free-form facts about the container (GGUF version, alignment, quantization summary, ...).
    public var details: [String: String]
    /// SHA-256 over stage, tool version and the input file hashes: changes iff the inputs changed.
    public var fingerprint: String
}
