// The weights abstraction the forward pass reads from: canonical HF tensor names (TensorNames) → dense f32
// tensors, whole or by rows (embedding lookups and the streamed LM head read only the rows they need).
// Implementations (load stage, test loaders) own dequantization, un-permutation and transposition;
// this file deliberately knows nothing about files.

import LCCore

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
    /// The shape of `name` without decoding it (nil if absent). Default: decodes the tensor.
    func shape(of name: String) throws -> [Int]?
    /// Rows `range` of the leading dimension of `name` as a tensor of shape [range.count] + shape[1...]
    /// (nil if absent). Default: decodes the whole tensor and copies the rows out.
    /// - Throws: when the range lies outside the tensor or the tensor cannot be read.
    func rows(_ name: String, _ range: Range<Int>) throws -> Tensor?
    /// The given rows of the leading dimension, in the order given (repeats allowed), as [indices.count] +
    /// shape[1...]. Default: decodes the whole tensor once.
    func gatherRows(_ name: String, _ indices: [Int]) throws -> Tensor?
    /// Hint that `name` will not be read again soon (a mapped source can drop its pages). Default: nothing.
    func release(_ name: String)
}

extension WeightSource {
    public var sourceName: String { "weights" }
    public func shape(of name: String) throws -> [Int]? { try tensor(name)?.shape }
    public func rows(_ name: String, _ range: Range<Int>) throws -> Tensor? {
        guard let t = try tensor(name) else { return nil }
        return try t.rows(range, name: name, source: sourceName)
    }
    public func gatherRows(_ name: String, _ indices: [Int]) throws -> Tensor? {
        guard let t = try tensor(name) else { return nil }
        return try t.gather(indices, name: name, source: sourceName)
    }
    public func release(_ name: String) {}
}

extension Tensor {
    /// Elements per row of the leading dimension (1 for a vector).
    var rowWidth: Int { shape.dropFirst().reduce(1, *) }

    /// Rows `range` of the leading dimension. - Throws: `LCError.format` when out of range.
    public func rows(_ range: Range<Int>, name: String, source: String) throws -> Tensor {
        guard let n = shape.first, range.lowerBound >= 0, range.upperBound <= n else {
            throw LCError.format(path: source, message: "tensor '\(name)': rows \(range) outside shape \(shape)")
        }
        let w = rowWidth
        return Tensor(shape: [range.count] + shape.dropFirst(), data: Array(data[(range.lowerBound * w)..<(range.upperBound * w)]))
    }

    /// The rows `indices` of the leading dimension. - Throws: `LCError.format` when an index is out of range.
    public func gather(_ indices: [Int], name: String, source: String) throws -> Tensor {
        guard let n = shape.first else { throw LCError.format(path: source, message: "tensor '\(name)' is a scalar") }
        let w = rowWidth
        var out = [Float](); out.reserveCapacity(indices.count * w)
        for i in indices {
            guard i >= 0, i < n else { throw LCError.format(path: source, message: "tensor '\(name)': row \(i) outside shape \(shape)") }
            out.append(contentsOf: data[(i * w)..<((i + 1) * w)])
        }
        return Tensor(shape: [indices.count] + shape.dropFirst(), data: out)
    }
}

/// An in-memory WeightSource (tests, small fixtures).
public struct DictionaryWeights: WeightSource {
    public var tensors: [String: Tensor]
    public var sourceName: String
    public init(_ tensors: [String: Tensor], sourceName: String = "in-memory weights") {
        self.tensors = tensors; self.sourceName = sourceName
    }
    public func tensor(_ name: String) throws -> Tensor? { tensors[name] }
    public func shape(of name: String) throws -> [Int]? { tensors[name]?.shape }
    public func rows(_ name: String, _ range: Range<Int>) throws -> Tensor? {
        try tensors[name]?.rows(range, name: name, source: sourceName)
    }
    public func gatherRows(_ name: String, _ indices: [Int]) throws -> Tensor? {
        try tensors[name]?.gather(indices, name: name, source: sourceName)
    }
}
