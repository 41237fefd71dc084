// An owned, fixed-size Float allocation for activations and weights: the one place in LayerCard where raw
// memory is allocated for math. Zero-initialized; freed on deinit. Deliberately not copy-on-write and not
// thread-safe for concurrent writes — kernels take its `ptr`.
/// Owned Float storage of fixed `count`, zero-initialized.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let ptr: UnsafeMutablePointer<Float>

    /// Allocates `count` zeroed floats (count < 0 is treated as 0).
    public init(count: Int) {
        self.count = max(0, count)
        ptr = .allocate(capacity: max(1, self.count))
        ptr.initialize(repeating: 0, count: max(1, self.count))
    }

    /// Copies `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { ptr.update(from: base, count: values.count) }
        }
    }

    deinit { ptr.deallocate() }

    /// Read-only pointer view.
    public var cptr: UnsafePointer<Float> { UnsafePointer(ptr) }

    /// Sets every element to zero.
    public func zero() { ptr.update(repeating: 0, count: count) }

    /// A copy of the contents as an array.
    public var array: [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    /// A copy of `n` elements starting at `offset` (clamped to the buffer).
    public func slice(_ offset: Int, _ n: Int) -> [Float] {
        let lo = min(max(0, offset), count), hi = min(count, lo + max(0, n))
        return Array(UnsafeBufferPointer(start: ptr + lo, count: hi - lo))
    }
}
