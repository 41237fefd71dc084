// The Layer Card (spec v1, ../shared/reference/layer-card-spec.md): per-module and per-layer
// statistics, the coupling matrix, the cost model and (optionally) measured performance.
// Pure value types; JSON in LayerCard+JSON.swift, HDF5 in LayerCard+HDF5.swift.
import Foundation
import LCModel

/// Spec version of the definitions every number on a card follows. A definition change bumps it.
public let layerCardSpecVersion = 1

/// One LoRA-targetable module of one layer (spec §2).
public struct ModuleStats: Codable, Sendable, Equatable {
    public var layer: Int
    /// Hugging Face module name (PEFT `target_modules` spelling), e.g. "q_proj", "attn.c_proj".
    public var module: String
    public var d_in: Int
    public var d_out: Int
    /// ||G||_F, G = dL/dW.
    public var grad_norm: Double
    /// tr(C) = (1/N) Σ_t ||a_t||².
    public var act_energy: Double
    /// ||G (C + λI)^(-1/2)||_F, λ = 1e-3 tr(C)/d_in.
    public var resnorm: Double
    /// ||G_B (C' + λ'I)^(-1/2)||_F with G_B = G A0ᵀ, C' = A0 C A0ᵀ (rank r, seeded A0).
    public var resnorm_lora: Double
    /// Largest eigenvalue of C and tr(C)/λ_max (optional conditioning statistics).
    public var lambda_max: Double?
    public var effective_rank: Double?

    public init(layer: Int, module: String, d_in: Int, d_out: Int, grad_norm: Double, act_energy: Double, resnorm: Double,
                resnorm_lora: Double, lambda_max: Double? = nil, effective_rank: Double? = nil) {
        self.layer = layer; self.module = module; self.d_in = d_in; self.d_out = d_out; self.grad_norm = grad_norm
        self.act_energy = act_energy; self.resnorm = resnorm; self.resnorm_lora = resnorm_lora
        self.lambda_max = lambda_max; self.effective_rank = effective_rank
    }
}

/// Per-layer aggregates (spec §2 "Layer aggregates", §4 cost, §5 measured performance).
public struct LayerStats: Codable, Sendable, Equatable {
    public var layer: Int
    /// sqrt(Σ_modules grad_norm²).
    public var grad_norm: Double
    /// sqrt(Σ_modules resnorm²).
    public var resnorm: Double
    /// sqrt(Σ_modules resnorm_lora²).
    public var resnorm_lora: Double
    /// Mean of the modules' act_energy (a convenience; act_energy is per module).
    public var act_energy_mean: Double
    /// 0.5 · resnorm_layer² (quadratic-model units, not nats).
    public var predicted_gain: Double
    /// Analytic training-step cost with adapters only at this layer, FLOPs per token (spec §4).
    public var cost: Double
    /// cost / cost(all layers).
    public var cost_relative: Double
    /// Activation memory retained for layers ≥ l, bytes per token (analytic).
    public var activation_bytes_per_token: Double
    /// Measured wall time of forward + truncated backward stopping at l (seconds, median), if measured
    /// or interpolated; `cost_measured_at` on the card lists the layers actually measured.
    public var measured_step_seconds: Double?
    /// Peak memory of that measured step, bytes.
    public var measured_peak_bytes: Double?
    /// Held-out loss decrease of a single-layer LoRA probe (spec §5), if probed.
    public var measured_gain: Double?
    /// The probe's own median step time and peak RSS for its single-layer run at l (profile owns
    /// measured_step_seconds), if probed.
    public var probe_step_seconds: Double?
    public var probe_peak_bytes: Double?
    /// Forward-only (docs/decisions.md "Profile (card numbers)"): 1 − mean over real positions of cos(x_in, x_out),
    /// block l's input and output residual streams (ShortGPT's Block Influence; in [0, 2], higher = the block
    /// changes the stream more). nil (absent from card.json, NaN in card.h5) on cards profiled before it existed.
    public var block_influence: Double?
    /// Forward-only: mean over real positions of ||x_out||₂, block l's output hidden state (before the final norm).
    /// nil on cards profiled before it existed.
    public var act_norm: Double?

    public init(layer: Int, grad_norm: Double, resnorm: Double, resnorm_lora: Double, act_energy_mean: Double,
                predicted_gain: Double, cost: Double, cost_relative: Double, activation_bytes_per_token: Double,
                measured_step_seconds: Double? = nil, measured_peak_bytes: Double? = nil, measured_gain: Double? = nil,
                probe_step_seconds: Double? = nil, probe_peak_bytes: Double? = nil, block_influence: Double? = nil,
                act_norm: Double? = nil) {
        self.block_influence = block_influence; self.act_norm = act_norm
        self.layer = layer; self.grad_norm = grad_norm; self.resnorm = resnorm; self.resnorm_lora = resnorm_lora
        self.act_energy_mean = act_energy_mean; self.predicted_gain = predicted_gain; self.cost = cost
        self.cost_relative = cost_relative; self.activation_bytes_per_token = activation_bytes_per_token
        self.measured_step_seconds = measured_step_seconds; self.measured_peak_bytes = measured_peak_bytes
        self.measured_gain = measured_gain; self.probe_step_seconds = probe_step_seconds; self.probe_peak_bytes = probe_peak_bytes
    }
}

/// How cost(S) is computed from the card (spec §4): cost(S) = layers[min S].cost + (|S|-1)·adapter_flops_per_token.
public struct CostModel: Codable, Sendable, Equatable {
    public var unit: String  // "flops_per_token"
    public var forward_flops_per_token: Double
    /// Extra FLOPs per token for one more adapted layer (its adapter forward/backward and weight gradients).
    public var adapter_flops_per_token: Double
    /// Trainable parameters of one layer's adapters (all target modules, rank r) and their Adam state bytes.
    public var adapter_params_per_layer: Int
    public var optimizer_bytes_per_layer: Int
    /// cost(all layers), same unit.
    public var all_layers_cost: Double
    /// Layers at which step time was measured (others interpolated); empty if not measured.
    public var measured_layers: [Int]
    /// How the measured step times were obtained: "repeated" (median of forward + truncated backward steps at
    /// `measured_layers`, interpolated between them) or "segmented" (every layer from per-stage timings of one
    /// full step: forward + head + the block backwards down to the layer); nil when not measured.
    public var measured_method: String?

    public init(unit: String = "flops_per_token", forward_flops_per_token: Double, adapter_flops_per_token: Double,
                adapter_params_per_layer: Int, optimizer_bytes_per_layer: Int, all_layers_cost: Double, measured_layers: [Int]) {
        self.unit = unit; self.forward_flops_per_token = forward_flops_per_token
        self.adapter_flops_per_token = adapter_flops_per_token; self.adapter_params_per_layer = adapter_params_per_layer
        self.optimizer_bytes_per_layer = optimizer_bytes_per_layer; self.all_layers_cost = all_layers_cost
        self.measured_layers = measured_layers
    }
}

/// The reference data the card was computed on.
public struct DatasetInfo: Codable, Sendable, Equatable {
    public var path: String
    public var sha256: String
    public var records: Int
    /// "text", "prompt_response", "input_ids" or "mixed".
    public var kind: String
    public init(path: String, sha256: String, records: Int, kind: String) {
        self.path = path; self.sha256 = sha256; self.records = records; self.kind = kind
    }
}

/// Everything needed to reproduce the card.
public struct CardParameters: Codable, Sendable, Equatable {
    public var max_tokens: Int
    public var batch: Int
    public var lora_rank: Int
    public var lora_seed: UInt64
    public var lambda_rel: Double        // 1e-3
    public var precision: String         // store precision the weights came from
    public var threads: Int
    public var coupling_method: String   // e.g. "central-difference eps=1e-3 relative"
    /// Records used (nil = all), cost-measurement depths and repeats (nil when not measured).
    public var max_records: Int?
    public var cost_depths: Int?
    public var cost_repeats: Int?
    /// Records whose positions the coupling vectors cover (the first ones; nil = all).
    public var coupling_records: Int?
    /// Positions per coupling record (the first ones; nil = all).
    public var coupling_max_tokens: Int?
    /// How the per-module statistics were formed per input group: "primal" (d × d C and G), "gram" (N × N Gram
    /// matrices, N < d_in) or "mixed"; the numbers are the same definitions either way (docs/decisions.md).
    public var statistics_form: String?
    public init(max_tokens: Int, batch: Int, lora_rank: Int, lora_seed: UInt64, lambda_rel: Double, precision: String,
                threads: Int, coupling_method: String, max_records: Int? = nil, cost_depths: Int? = nil, cost_repeats: Int? = nil,
                coupling_records: Int? = nil, statistics_form: String? = nil, coupling_max_tokens: Int? = nil) {
        self.statistics_form = statistics_form; self.coupling_max_tokens = coupling_max_tokens
        self.max_tokens = max_tokens; self.batch = batch; self.lora_rank = lora_rank; self.lora_seed = lora_seed
        self.lambda_rel = lambda_rel; self.precision = precision; self.threads = threads; self.coupling_method = coupling_method
        self.max_records = max_records; self.cost_depths = cost_depths; self.cost_repeats = cost_repeats
        self.coupling_records = coupling_records
    }
}

public struct LayerCard: Codable, Sendable, Equatable {
    public static let schemaVersion = 1
    public var spec_version: Int
    public var schema_version: Int
    public var tool_version: String
    public var model_id: String
    public var architecture: String
    public var config: ModelConfig
    /// Fingerprint (SHA-256) of the weight store the card was computed from.
    public var model_fingerprint: String
    public var dataset: DatasetInfo
    public var parameters: CardParameters
    /// Mean token loss (spec §1) and the number of predicted positions P (or N for encoders).
    public var loss: Double
    public var tokens: Int
    public var modules: [ModuleStats]
    public var layers: [LayerStats]
    /// L×L, symmetric, unit diagonal (spec §3).
    public var coupling: [[Double]]
    public var cost_model: CostModel
    /// Added by the probe stage (spec §5); nil on a card straight from profile.
    public var probe: CardProbe?

    public init(spec_version: Int = layerCardSpecVersion, schema_version: Int = LayerCard.schemaVersion, tool_version: String,
                model_id: String, architecture: String, config: ModelConfig, model_fingerprint: String, dataset: DatasetInfo,
                parameters: CardParameters, loss: Double, tokens: Int, modules: [ModuleStats], layers: [LayerStats],
                coupling: [[Double]], cost_model: CostModel, probe: CardProbe? = nil) {
        self.spec_version = spec_version; self.schema_version = schema_version; self.tool_version = tool_version
        self.model_id = model_id; self.architecture = architecture; self.config = config
        self.model_fingerprint = model_fingerprint; self.dataset = dataset; self.parameters = parameters
        self.loss = loss; self.tokens = tokens; self.modules = modules; self.layers = layers; self.coupling = coupling
        self.cost_model = cost_model; self.probe = probe
    }
}
