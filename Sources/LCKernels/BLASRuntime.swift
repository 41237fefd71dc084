// OpenBLAS kernel selection. A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels from the CPUID family/model
// when the library loads; on virtual machines that report a generic model ("Intel(R) Xeon(R) Processor") it
// falls back to the SSE3 "Prescott" kernels even when the CPU has AVX-512 — measured here: 23–41 GFLOP/s
// instead of 180–210 GFLOP/s for the same sgemm. The choice is made before `main` runs and cannot be changed
// afterwards, so a process that finds a generic core on an AVX2/AVX-512 CPU re-executes itself once with
// OPENBLAS_CORETYPE set (the variable OpenBLAS documents for this). The same re-exec sets OPENBLAS_THREAD_TIMEOUT=4
// (also read only at load): OpenBLAS's worker threads then sleep as soon as a GEMM is done instead of spinning on
// sched_yield for ~2^28 cycles, which took the cores from LayerCard's own worker threads (elementwise kernels,
// attention tasks) between GEMMs. A user's own OPENBLAS_CORETYPE / OPENBLAS_THREAD_TIMEOUT is never overridden;
// LAYERCARD_NO_BLAS_REEXEC=1 turns the re-exec off. Deliberately Linux-only and silent.
import COpenBLAS
import Foundation

public enum BLASRuntime {
    /// The kernel family OpenBLAS chose ("SkylakeX", "Haswell", "Prescott", ...).
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// The OPENBLAS_THREAD_TIMEOUT OpenBLAS loaded with (nil: unset, its built-in default).
    public static var threadTimeoutInEffect: Int? {
        let t = Int(openblas_thread_timeout())
        return t > 0 ? t : nil
    }

    /// Cores OpenBLAS falls back to when it does not recognise the CPU (pre-AVX2 kernels).
    static let genericCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                                            "coppermine", "northwood", "banias", "unknown"]

    /// The OPENBLAS_CORETYPE to force for a CPU with these /proc/cpuinfo flags, or nil to keep the detected one.
    public static func preferredCore(detected: String, cpuFlags: Set<String>) -> String? {
        guard genericCores.contains(detected.lowercased()) else { return nil }
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(cpuFlags.contains) { return "SKYLAKEX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "HASWELL" }
        return nil
    }

    /// The `flags` line of the first CPU in /proc/cpuinfo (the kernel hides features the OS does not enable).
    static func cpuFlags() -> Set<String> {
        guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Worker threads sleep right after each call (OpenBLAS clamps the value to 4…30; the wait is 2^value cycles).
    public static let threadTimeout = "4"

    /// The OpenBLAS variables the running program should be re-executed with (empty: none), given its environment,
    /// the detected core and the CPU flags (read lazily: only when the core is generic).
    public static func environmentToSet(env: [String: String], detected: String, cpuFlags: () -> Set<String>) -> [String: String] {
        guard env["LAYERCARD_NO_BLAS_REEXEC"] == nil else { return [:] }
        var out: [String: String] = [:]
        if env["OPENBLAS_CORETYPE"] == nil, genericCores.contains(detected.lowercased()),
           let want = preferredCore(detected: detected, cpuFlags: cpuFlags()) { out["OPENBLAS_CORETYPE"] = want }
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil { out["OPENBLAS_THREAD_TIMEOUT"] = threadTimeout }
        return out
    }

    /// Re-executes the running program once with the OpenBLAS settings of `environmentToSet` (see the file comment).
    /// Returns when nothing is to be done or the exec fails.
    public static func reexecWithBLASSettingsIfNeeded() {
        let want = environmentToSet(env: ProcessInfo.processInfo.environment, detected: coreName, cpuFlags: cpuFlags)
        guard !want.isEmpty else { return }
        for (k, v) in want { setenv(k, v, 1) }
        setenv("LAYERCARD_NO_BLAS_REEXEC", "1", 1)  // never loop, whatever the child detects
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // exec failed: keep running with the settings OpenBLAS loaded with.
        for k in want.keys { unsetenv(k) }
        for p in cargs { free(p) }
    }
}

/// glibc allocator settings for batch-after-batch math (docs/decisions.md "Runtime").
public enum AllocatorTuning {
    /// Keeps freed blocks up to 32 MB (glibc's largest mmap threshold) in the heap for reuse instead of returning them
    /// to the kernel: each batch allocates the same activation buffers again, and fresh mmap'd pages cost a page fault
    /// and a kernel zero fill each. `mallopt` is looked up at run time (glibc's <malloc.h> is not in Swift's Glibc
    /// module); returns false where it is unavailable.
    @discardableResult
    public static func keepFreedBlocks() -> Bool {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(sym, to: Mallopt.self)
        let mMmapThreshold: Int32 = -3, mTrimThreshold: Int32 = -1  // glibc <malloc.h>
        return mallopt(mMmapThreshold, 32 << 20) == 1 && mallopt(mTrimThreshold, 256 << 20) == 1
    }
}
