// The profile manifest (manifests/<id>/profile.json): which load and dataset the card was computed from, where the
// card files are, run figures. Written after the card files: its presence with status ok marks the card done.
import Foundation

/// The settings a profile ran with (what the fingerprint covers besides the load and the dataset).
public struct ProfileSettings: Codable, Sendable, Equatable {
    public var max_tokens: Int
    public var max_records: Int?
    public var batch: Int
    public var lora_rank: Int
    public var lora_seed: UInt64
    public var coupling: Bool
    public var coupling_records: Int?
    public var cost_depths: Int
    public var cost_repeats: Int
    /// Absent in manifests written before these options existed (= nil positions cap, auto cost method).
    public var coupling_max_tokens: Int? = nil
    public var cost_method: String? = nil
}

public struct ProfileManifest: Codable, Sendable {
    public static let currentSchema = 1
    public var schema_version: Int = ProfileManifest.currentSchema
    public var stage: String = "profile"
    public var tool_version: String
    public var model_id: String
    public var status: StageStatus
    public var error: StageError?
    /// SHA-256 over the load fingerprint, dataset SHA-256 and every parameter that changes the numbers.
    public var fingerprint: String
    public var load_fingerprint: String
    public var dataset_path: String
    public var dataset_sha256: String
    public var settings: ProfileSettings?
    public var card_json: String?
    public var card_h5: String?
    /// SHA-256 of card.json.
    public var card_sha256: String?
    public var loss: Double?
    public var tokens: Int?
    public var positions: Int?
    /// Seconds per phase: forward_backward, statistics, coupling, cost; statistics_collect = the part of
    /// forward_backward spent handing each module's (a, delta) to the statistics (row copies or G/C products),
    /// forward_columns = the part spent on the forward-only layer columns (block_influence, act_norm).
    public var timings: [String: Double]
    /// Analytic FLOPs of the forward+backward phase and its achieved rate.
    public var forward_backward_flops: Double?
    public var forward_backward_gflops: Double?
    /// `--bench-sgemm`: the rate of a plain cblas_sgemm (the MLP's shape, M = min(512, positions)) in the same
    /// process, timed ~1 s right before and ~1 s right after the forward+backward (together more FLOPs than it),
    /// and the ratio of the forward+backward's rate to it.
    public var sgemm_reference_gflops: Double?
    /// The reference's two timings (right before and right after the forward+backward); the rate above is their mean.
    public var sgemm_reference_samples_gflops: [Double]?
    public var forward_backward_vs_sgemm: Double?
    /// The same for the model's forward+backward alone: forward_backward − statistics_collect − forward_columns
    /// seconds (the split the segmented cost measurement makes too: statistics are not part of a training step).
    public var forward_backward_step_gflops: Double?
    public var forward_backward_step_vs_sgemm: Double?
    public var threads: Int
    /// OpenBLAS kernel family in use (`openblas_get_corename`).
    public var blas_core: String? = nil
    /// OPENBLAS_THREAD_TIMEOUT in effect (nil: OpenBLAS's default spin); the executables set 4 (docs/decisions.md).
    public var blas_thread_timeout: Int? = nil
    public var seconds: Double
    public var peak_rss_bytes: Int
}
