// The normalized model configuration every stage uses, whatever the checkpoint format.
// Parsing from config.json / GGUF metadata lives in ModelConfig+Parse.swift.
import Foundation

public struct RopeConfig: Codable, Sendable, Equatable {
    /// Base frequency (rope_theta / {arch}.rope.freq_base).
    public var theta: Double
    /// "default", "llama3", "linear", ... (rope_type); nil fields when unscaled.
    public var type: String
    public var factor: Double?
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositions: Int?
    /// Rotary dimensions (defaults to headDim).
    public var dimensions: Int?

    enum CodingKeys: String, CodingKey {
        case theta, type, factor, dimensions
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositions = "original_max_positions"
    }

    public init(theta: Double, type: String = "default", factor: Double? = nil, lowFreqFactor: Double? = nil,
                highFreqFactor: Double? = nil, originalMaxPositions: Int? = nil, dimensions: Int? = nil) {
        self.theta = theta; self.type = type; self.factor = factor; self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor; self.originalMaxPositions = originalMaxPositions; self.dimensions = dimensions
    }
}

public struct ModelConfig: Codable, Sendable, Equatable {
    /// "llama" (incl. SmolLM, Mistral-as-llama), "qwen2", "qwen3", "gpt2", "bert".
    public var architecture: String
    public var numLayers: Int
    public var hiddenSize: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    /// RMSNorm / LayerNorm epsilon.
    public var normEps: Double
    /// nil for architectures with learned absolute positions (gpt2, bert).
    public var rope: RopeConfig?
    public var tiedEmbeddings: Bool
    public var maxPositions: Int?
    /// "silu", "gelu_new" (tanh approx), "gelu" (erf).
    public var activation: String
    /// Bias on q/k/v projections (qwen2: true).
    public var attentionBias: Bool
    /// bert only: number of token types.
    public var typeVocabSize: Int?

    enum CodingKeys: String, CodingKey {
        case architecture, rope, activation
        case numLayers = "num_layers", hiddenSize = "hidden_size", numHeads = "num_heads", numKVHeads = "num_kv_heads"
        case headDim = "head_dim", intermediateSize = "intermediate_size", vocabSize = "vocab_size", normEps = "norm_eps"
        case tiedEmbeddings = "tied_embeddings", maxPositions = "max_positions", attentionBias = "attention_bias"
        case typeVocabSize = "type_vocab_size"
    }

    public init(architecture: String, numLayers: Int, hiddenSize: Int, numHeads: Int, numKVHeads: Int, headDim: Int,
                intermediateSize: Int, vocabSize: Int, normEps: Double, rope: RopeConfig?, tiedEmbeddings: Bool,
                maxPositions: Int?, activation: String, attentionBias: Bool, typeVocabSize: Int? = nil) {
        self.architecture = architecture; self.numLayers = numLayers; self.hiddenSize = hiddenSize
        self.numHeads = numHeads; self.numKVHeads = numKVHeads; self.headDim = headDim
        self.intermediateSize = intermediateSize; self.vocabSize = vocabSize; self.normEps = normEps
        self.rope = rope; self.tiedEmbeddings = tiedEmbeddings; self.maxPositions = maxPositions
        self.activation = activation; self.attentionBias = attentionBias; self.typeVocabSize = typeVocabSize
    }
}
