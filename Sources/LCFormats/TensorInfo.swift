// One tensor as a checkpoint file declares it: where its bytes are and how to read them.
// Produced by every reader (safetensors, GGUF, PyTorch zip); no data is loaded here.
import Foundation

public struct TensorInfo: Codable, Sendable, Equatable {
    /// Name as stored in the file (GGUF names stay GGUF names; canonical HF names are LCModel's job).
    public var name: String
    /// Storage type: a safetensors dtype string ("F32", "BF16", "F16", "I64", ...) or a GGML type
    /// name ("Q4_1", "Q6_K", "F32", ...) — see `GGMLType.name`.
    public var dtype: String
    /// Shape in PyTorch order (outermost first). GGUF `ne` is reversed into this order.
    public var shape: [Int]
    /// Path of the file holding the data, as given to the reader.
    public var file: String
    /// Absolute byte offset of the first byte of the tensor's data in `file`.
    public var offset: Int
    /// Number of bytes the tensor's data spans in `file`.
    public var bytes: Int
    /// Element strides (PyTorch order) when the data is a non-contiguous view (PyTorch `.bin`);
    /// nil means contiguous row-major.
    public var strides: [Int]?

    public init(name: String, dtype: String, shape: [Int], file: String, offset: Int, bytes: Int, strides: [Int]? = nil) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.file = file
        self.offset = offset; self.bytes = bytes; self.strides = strides
    }

    /// Product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}
