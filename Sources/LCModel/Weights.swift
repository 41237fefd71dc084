// The weights abstraction the forward pass reads from: canonical HF tensor names (TensorNames) → dense f32
// tensors. Implementations (load stage, test loaders) own dequantization, un-permutation and transposition;
// this file deliberately knows nothing about files.

/// A dense row-major f32 tensor, shape in PyTorch order. Value type; `data.count` must equal the shape product.
public struct Tensor: Sendable {
    public var shape: [Int]
    public var data: [Float]
    public init(shape: [Int], data: [Float]) { self.shape = shape; self.data = data }
}

/// A source of canonical-named f32 tensors.
public protocol WeightSource: Sendable {
    /// The tensor called `name` (canonical HF name), or nil if the source has no such tensor.
    /// - Throws: when the tensor exists but cannot be read or converted.
    func tensor(_ name: String) throws -> Tensor?
    /// A label for error messages (a path, typically).
    var sourceName: String { get }
}

extension WeightSource {
    public var sourceName: String { "weights" }
}

/// An in-memory WeightSource (tests, small fixtures).
public struct DictionaryWeights: WeightSource {
    public var tensors: [String: Tensor]
    public var sourceName: String
    public init(_ tensors: [String: Tensor], sourceName: String = "in-memory weights") {
        self.tensors = tensors; self.sourceName = sourceName
    }
    public func tensor(_ name: String) throws -> Tensor? { tensors[name] }
}
