// An owned, fixed-size Float allocation for activations and weights: the one place in LayerCard where raw
// memory is allocated for math. Zero-initialized; freed on deinit. Deliberately not copy-on-write and not
// thread-safe for concurrent writes — kernels take its `ptr`.
import Foundation

/// Owned Float storage of fixed `count`, zero-initialized.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let ptr: UnsafeMutablePointer<Float>
    /// For a view (`carve`): the buffer whose memory it shares, kept alive by the view; nil when `ptr` is owned.
    private let arena: FloatBuffer?

    /// Allocates `count` zeroed floats (count < 0 is treated as 0).
    public init(count: Int) {
        self.count = max(0, count)
        arena = nil
        ptr = Self.allocate(self.count)
        // Fresh pages fault in on this first touch; big buffers are split over the worker threads (~2× faster).
        Parallel.zero(ptr, count: max(1, self.count))
    }

    /// Big buffers: 2 MB-aligned and advised for transparent huge pages before the first touch (HugePages). The
    /// advice covers the whole last 2 MB page; the size is not rounded up, so that page's rest serves the next
    /// allocations instead of being faulted in (and zeroed by the kernel) for nothing.
    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(1, count) * 4
        guard bytes >= HugePages.threshold else { return .allocate(capacity: max(1, count)) }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, HugePages.pageBytes, bytes) == 0, let raw else { return .allocate(capacity: max(1, count)) }
        HugePages.advise(raw, bytes: (bytes + HugePages.pageBytes - 1) / HugePages.pageBytes * HugePages.pageBytes)
        return raw.bindMemory(to: Float.self, capacity: max(1, count))
    }

    /// Copies `values` (initialized from them directly: no zero fill first — a streamed 8B layer is 772 MB).
    public init(_ values: [Float]) {
        count = values.count
        arena = nil
        ptr = Self.allocate(count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { ptr.initialize(from: base, count: count) } else { ptr.initialize(to: 0) }
        }
    }

    private init(view arena: FloatBuffer, offset: Int, count: Int) {
        self.count = count; self.arena = arena; ptr = arena.ptr + offset
    }

    /// Zeroed buffers of the given counts carved from one allocation (each start 64-byte aligned): one huge-page
    /// backed block zeroed over the worker threads instead of many small ones zeroed on one thread with 4 KB pages
    /// (a transformer block's activations are a dozen buffers, half of them under 2 MB). The memory is freed when
    /// the last of them is.
    public static func carve(_ counts: [Int]) -> [FloatBuffer] {
        let sizes = counts.map { (max(0, $0) + 15) / 16 * 16 }
        let whole = FloatBuffer(count: sizes.reduce(0, +))
        var offset = 0
        return zip(counts, sizes).map { c, size in
            defer { offset += size }
            return FloatBuffer(view: whole, offset: offset, count: max(0, c))
        }
    }

    deinit { if arena == nil { free(ptr) } }  // both allocation paths (UnsafeMutablePointer.allocate, posix_memalign) are malloc's

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
