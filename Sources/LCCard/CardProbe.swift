// The probe's part of a Layer Card (spec §5): the `probe` object the probe stage adds to card.json (settings, the
// measured layers, the measured layer-set table and the Spearman correlations of measured_gain with the card's
// signals). Typed where other code reads it (sets, correlations); settings, dataset and random-k draws are kept as
// generic JSON so the card carries them verbatim (the probe stage owns their types). Pure values, no I/O.
import Foundation

/// Any JSON value, decoded and re-encoded without loss (integers stay integers).
public indirect enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let v = try? c.decode(Bool.self) { self = .bool(v); return }
        if let v = try? c.decode(Int64.self) { self = .int(v); return }
        if let v = try? c.decode(UInt64.self) { self = .uint(v); return }
        if let v = try? c.decode(Double.self) { self = .double(v); return }
        if let v = try? c.decode(String.self) { self = .string(v); return }
        if let v = try? c.decode([JSONValue].self) { self = .array(v); return }
        if let v = try? c.decode([String: JSONValue].self) { self = .object(v); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(v): try c.encode(v)
        case let .int(v): try c.encode(v)
        case let .uint(v): try c.encode(v)
        case let .double(v): try c.encode(v)
        case let .string(v): try c.encode(v)
        case let .array(v): try c.encode(v)
        case let .object(v): try c.encode(v)
        }
    }
}

/// One measured layer set (the strategy table): the card's choices and the §6 baselines at the probe's k.
public struct CardProbeSet: Codable, Sendable, Equatable {
    /// "performance", "cost", "balanced", "bottom-k", "top-k", "mid-k", "uniform-k", "random-k", "all".
    public var name: String
    /// The layers (random-k: the first draw's; its numbers are means over `draws`).
    public var layers: [Int]
    /// Held-out loss decrease, nats per target token.
    public var gain: Double
    /// gain / gain(all); nil when "all" was not run or its gain is ≤ 0.
    public var gain_fraction: Double?
    /// Median seconds per training step.
    public var step_seconds: Double
    /// step_seconds(all) / step_seconds; nil when "all" was not run.
    public var speedup: Double?
    /// The selection file a card choice came from.
    public var source: String?
    /// random-k: every draw's run, as the probe wrote it.
    public var draws: [JSONValue]?

    public init(name: String, layers: [Int], gain: Double, gain_fraction: Double? = nil, step_seconds: Double, speedup: Double? = nil,
                source: String? = nil, draws: [JSONValue]? = nil) {
        self.name = name; self.layers = layers; self.gain = gain; self.gain_fraction = gain_fraction; self.step_seconds = step_seconds
        self.speedup = speedup; self.source = source; self.draws = draws
    }
}

/// Spearman ρ of measured_gain with one card signal over the probed layers (nil when a column is constant).
public struct CardProbeCorrelation: Codable, Sendable, Equatable {
    public var signal: String
    public var spearman: Double?
    public var p_value: Double?
    public var n: Int
    public init(signal: String, spearman: Double?, p_value: Double?, n: Int) {
        self.signal = signal; self.spearman = spearman; self.p_value = p_value; self.n = n
    }
}

/// card.json's `probe` object.
public struct CardProbe: Codable, Sendable, Equatable {
    /// Layers probed one at a time (all, or a --budget-minutes / --layers subset), ascending.
    public var measured_layers: [Int]
    public var eval_loss_before: Double
    /// Size of the baseline sets.
    public var k: Int
    public var sets: [CardProbeSet]
    public var correlations: [CardProbeCorrelation]
    public var notes: [String]
    /// The probe's settings (steps, batch, LoRA options) and train/eval data, verbatim.
    public var settings: JSONValue?
    public var dataset: JSONValue?
    /// `probe --verify`: the best measured set per objective, verbatim (objective, k, layers, gain_fraction, verdict…).
    public var recommendations: [CardProbeRecommendation]? = nil

    public init(measured_layers: [Int], eval_loss_before: Double, k: Int, sets: [CardProbeSet], correlations: [CardProbeCorrelation],
                notes: [String] = [], settings: JSONValue? = nil, dataset: JSONValue? = nil) {
        self.measured_layers = measured_layers; self.eval_loss_before = eval_loss_before; self.k = k; self.sets = sets
        self.correlations = correlations; self.notes = notes; self.settings = settings; self.dataset = dataset
    }
}

/// The part of a `probe --verify` recommendation the rank stage uses.
public struct CardProbeRecommendation: Codable, Sendable, Equatable {
    public var objective: String
    public var k: Int
    public var layers: [Int]
    public var from_set: String
    public var gain_fraction: Double?
    public var gain_spread: Double?
    public var seeds: Int
    public var verdict: String
}
