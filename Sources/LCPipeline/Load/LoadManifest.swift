// The load manifest: where the canonical weight store is, how it was made (precision), and
// per-tensor statistics and quantization error. Profile reads weights only through it.
import Foundation
import LCModel

public enum StorePrecision: String, Codable, Sendable, CaseIterable { case f32, bf16, int8 }

public struct LoadedTensor: Codable, Sendable, Equatable {
    /// Canonical (HF) name, also the name inside the store file.
    public var name: String
    public var shape: [Int]
    /// Stored dtype in the store ("F32", "BF16", "I8").
    public var dtype: String
    /// The dtype in the source checkpoint (e.g. "Q4_1").
    public var source_dtype: String
    /// For int8: name of the per-output-channel F32 scale tensor in the store.
    public var scale_tensor: String?
    public var min: Double
    public var max: Double
    public var mean: Double
    public var std: Double
    public var nan_count: Int
    public var inf_count: Int
    /// ||W_stored - W_f32|| / ||W_f32|| (0 for f32 storage).
    public var quant_rel_error: Double
}

public struct LoadManifest: Codable, Sendable {
    public static let currentSchema = 1
    public var schema_version: Int = LoadManifest.currentSchema
    public var stage: String = "load"
    public var tool_version: String
    public var model_id: String
    public var status: StageStatus
    public var error: StageError?
    public var precision: StorePrecision
    /// Fingerprint of the ingest manifest this load was made from.
    public var ingest_fingerprint: String
    public var fingerprint: String
    public var architecture: String?
    public var config: ModelConfig?
    /// The store: a safetensors file with canonical names, and its SHA-256 and size.
    public var store_path: String?
    public var store_sha256: String?
    public var store_bytes: Int?
    /// Names that resolve to another tensor (tied embeddings: lm_head.weight → embed).
    public var aliases: [String: String]
    public var tensors: [LoadedTensor]
    /// Tokenizer source copied from ingest (path and type).
    public var tokenizer: TokenizerRecord?
    public var seconds: Double
    public var peak_rss_bytes: Int
}
