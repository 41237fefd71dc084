// GGUF metadata key names as namespaced constants, after gguf-py's `Keys`. Per-architecture
// keys are templates containing "{arch}"; resolve them with `GGUFKeys.resolve(_:arch:)`.
// Deliberately only the keys LayerCard reads or validates, not gguf-py's full list.
// Values are read via GGUFFile.metadata; integer keys may be stored as any integer width
// (gguf-py writes u32 for counts), so use GGUFValue.int rather than matching a case.
import Foundation

public enum GGUFKeys {
    /// Replaces "{arch}" in a template key.
    public static func resolve(_ template: String, arch: String) -> String {
        template.replacingOccurrences(of: "{arch}", with: arch)
    }

    public enum General {
        public static let architecture = "general.architecture"
        public static let alignment = "general.alignment"
        public static let quantizationVersion = "general.quantization_version"
        public static let fileType = "general.file_type"
        public static let name = "general.name"
    }

    public enum LLM {
        public static let vocabSize = "{arch}.vocab_size"
        public static let contextLength = "{arch}.context_length"
        public static let embeddingLength = "{arch}.embedding_length"
        public static let blockCount = "{arch}.block_count"
        public static let feedForwardLength = "{arch}.feed_forward_length"
    }

    public enum Attention {
        public static let headCount = "{arch}.attention.head_count"
        public static let headCountKV = "{arch}.attention.head_count_kv"
        public static let layerNormEpsilon = "{arch}.attention.layer_norm_epsilon"
        public static let layerNormRMSEpsilon = "{arch}.attention.layer_norm_rms_epsilon"
        public static let keyLength = "{arch}.attention.key_length"
        public static let valueLength = "{arch}.attention.value_length"
    }

    public enum Rope {
        public static let dimensionCount = "{arch}.rope.dimension_count"
        public static let freqBase = "{arch}.rope.freq_base"
        public static let scalingType = "{arch}.rope.scaling.type"
        public static let scalingFactor = "{arch}.rope.scaling.factor"
        public static let scalingOriginalContextLength = "{arch}.rope.scaling.original_context_length"
    }

    public enum Split {
        public static let index = "split.no"
        public static let count = "split.count"
        public static let tensorsCount = "split.tensors.count"
    }

    public enum Tokenizer {
        public static let model = "tokenizer.ggml.model"
        public static let pre = "tokenizer.ggml.pre"
        public static let tokens = "tokenizer.ggml.tokens"
        public static let tokenType = "tokenizer.ggml.token_type"
        public static let scores = "tokenizer.ggml.scores"
        public static let merges = "tokenizer.ggml.merges"
        public static let bosID = "tokenizer.ggml.bos_token_id"
        public static let eosID = "tokenizer.ggml.eos_token_id"
        public static let unknownID = "tokenizer.ggml.unknown_token_id"
        public static let paddingID = "tokenizer.ggml.padding_token_id"
        public static let addBOS = "tokenizer.ggml.add_bos_token"
        public static let addEOS = "tokenizer.ggml.add_eos_token"
        public static let chatTemplate = "tokenizer.chat_template"
    }
}
