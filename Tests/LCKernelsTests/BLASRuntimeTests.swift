// The OpenBLAS kernel choice: which generic cores are replaced on which CPUs (BLASRuntime), and that the
// layercard executable really runs on the preferred kernels when it is not told otherwise (the re-exec).
import Foundation
@testable import LCKernels
import XCTest

final class BLASRuntimeTests: XCTestCase {
    func testPreferredCore() {
        let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        XCTAssertEqual(BLASRuntime.preferredCore(detected: "Prescott", cpuFlags: avx512), "SKYLAKEX")
        XCTAssertEqual(BLASRuntime.preferredCore(detected: "Prescott", cpuFlags: ["avx", "avx2", "fma"]), "HASWELL")
        XCTAssertNil(BLASRuntime.preferredCore(detected: "Prescott", cpuFlags: ["sse3", "avx"]), "no AVX2: keep the SSE kernels")
        XCTAssertNil(BLASRuntime.preferredCore(detected: "Haswell", cpuFlags: avx512), "a recognised core is kept")
        XCTAssertNil(BLASRuntime.preferredCore(detected: "SkylakeX", cpuFlags: avx512))
        XCTAssertNil(BLASRuntime.preferredCore(detected: "Prescott", cpuFlags: ["avx2", "avx512f"]), "avx512 without fma/bw: keep")
    }

    /// What the re-exec sets: the core only when generic (and the CPU has better), the thread timeout only when unset,
    /// nothing when the user set a variable themselves or turned the re-exec off.
    func testEnvironmentToSet() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        var flagsRead = 0
        func flags() -> Set<String> { flagsRead += 1; return avx512 }
        XCTAssertEqual(BLASRuntime.environmentToSet(env: [:], detected: "Prescott", cpuFlags: flags),
                       ["OPENBLAS_CORETYPE": "SKYLAKEX", "OPENBLAS_THREAD_TIMEOUT": "4"])
        XCTAssertEqual(BLASRuntime.environmentToSet(env: [:], detected: "SkylakeX", cpuFlags: flags), ["OPENBLAS_THREAD_TIMEOUT": "4"])
        XCTAssertEqual(flagsRead, 1, "cpuinfo is read only for a generic core")
        XCTAssertEqual(BLASRuntime.environmentToSet(env: ["OPENBLAS_THREAD_TIMEOUT": "28"], detected: "Haswell", cpuFlags: flags), [:])
        XCTAssertEqual(BLASRuntime.environmentToSet(env: ["OPENBLAS_CORETYPE": "HASWELL"], detected: "Prescott", cpuFlags: flags),
                       ["OPENBLAS_THREAD_TIMEOUT": "4"])
        XCTAssertEqual(BLASRuntime.environmentToSet(env: ["LAYERCARD_NO_BLAS_REEXEC": "1"], detected: "Prescott", cpuFlags: flags), [:])
    }

    func testAllocatorTuningApplies() {
        XCTAssertTrue(AllocatorTuning.keepFreedBlocks(), "mallopt not found or refused (glibc expected)")
    }

    func testCoreNameIsReported() {
        XCTAssertFalse(BLASRuntime.coreName.isEmpty)
    }
}
