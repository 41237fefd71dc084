// The profile manifest (manifests/<id>/profile.json): which load and dataset the card was computed from, where the
// card files are, run figures. Written after the card files: its presence with status ok marks the card done.
import Foundation

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
    public var card_json: String?
    public var card_h5: String?
    /// SHA-256 of card.json.
    public var card_sha256: String?
    public var loss: Double?
    public var tokens: Int?
    public var positions: Int?
    /// Seconds per phase: forward_backward, statistics, coupling, cost.
    public var timings: [String: Double]
    public var threads: Int
    public var seconds: Double
    public var peak_rss_bytes: Int
}
