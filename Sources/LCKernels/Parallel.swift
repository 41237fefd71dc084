// Row/element parallelism for the kernels OpenBLAS does not run: elementwise activations, norms, the fused
// cross-entropy. Work is split into at most `Parallel.workers` contiguous chunks (set with the OpenBLAS thread
// count by `Threads.set`), each chunk a plain loop, so results are identical to the serial loop whatever the
// split (no reduction crosses a chunk). Small inputs stay on the calling thread.
import Dispatch

public enum Parallel {
    /// Threads used by `chunks` (≥ 1).
    public nonisolated(unsafe) static var workers = 1

    /// Calls `body` on contiguous sub-ranges covering 0..<n, concurrently when n ≥ 2·minChunk and workers > 1.
    @inline(__always)
    public static func chunks(_ n: Int, minChunk: Int = 16384, _ body: (Range<Int>) -> Void) {
        let parts = min(workers, n / max(1, minChunk))
        guard parts > 1 else { if n > 0 { body(0..<n) }; return }
        // The chunks write disjoint ranges of the caller's buffers; the body does not escape this call.
        withoutActuallyEscaping(body) { f in
            let box = UncheckedBox(f)
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                box.value((p * n / parts)..<((p + 1) * n / parts))
            }
        }
    }
}

extension Parallel {
    /// dst[0..<count] = src[0..<count] (non-overlapping; dst may be uninitialized: Float is trivial), in chunks over
    /// the workers when large: a copy into fresh pages is mostly page faults, which then run on every core.
    public static func copy(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, count: Int) {
        chunks(count, minChunk: 1 << 18) { r in (dst + r.lowerBound).initialize(from: src + r.lowerBound, count: r.count) }
    }

    /// p[0..<count] = 0 (p may be uninitialized), in chunks over the workers when large (first touch: page faults).
    public static func zero(_ p: UnsafeMutablePointer<Float>, count: Int) {
        chunks(count, minChunk: 1 << 18) { r in (p + r.lowerBound).initialize(repeating: 0, count: r.count) }
    }
}

/// Carries a non-Sendable value into `concurrentPerform` (the callers guarantee disjoint writes).
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
