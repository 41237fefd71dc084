// Transparent huge pages for big buffers. Activations, Gram rows and weights are allocated fresh and touched once
// per batch; with 4 KB pages that is one page fault (and, in a VM, one exit) per 4 KB — measured on SmolLM2 4×128:
// page faults and the kernel's page clearing were ~75 % of the forward+backward's own (non-BLAS) time. Where THP is
// in "madvise" mode (Debian's default), MADV_HUGEPAGE on a 2 MB-aligned range backs it with 2 MB pages: 512× fewer
// faults, and fewer TLB misses in the GEMMs. Advice only: no effect (and no error) where THP is off.
import Foundation

public enum HugePages {
    /// Buffers at least this large get the advice (and, in `FloatBuffer`, 2 MB alignment).
    public static let threshold = 2 << 20
    public static let pageBytes = 2 << 20

    /// Advises the 2 MB-aligned interior of [p, p + bytes) for huge pages (before its first touch).
    public static func advise(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let start = (Int(bitPattern: p) + pageBytes - 1) & ~(pageBytes - 1)
        let end = (Int(bitPattern: p) + bytes) & ~(pageBytes - 1)
        guard end > start, let s = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(s, end - start, 14)  // MADV_HUGEPAGE (<bits/mman-linux.h>)
    }

    /// A zeroed [Float] of `count`, huge-page advised before the zero fill when it is big.
    public static func zeroedArray(count: Int) -> [Float] {
        guard count * 4 >= threshold else { return [Float](repeating: 0, count: count) }
        return [Float](unsafeUninitializedCapacity: count) { buf, n in
            guard let b = buf.baseAddress else { n = 0; return }
            advise(UnsafeMutableRawPointer(b), bytes: count * 4)
            Parallel.zero(b, count: count)
            n = count
        }
    }
}
