// Process resource figures for manifests and benchmarks (Linux /proc).
import Foundation

public enum ProcessStats {
    /// Peak resident set size (VmHWM) in bytes, 0 if unavailable.
    public static func peakRSSBytes() -> Int { field("VmHWM:") }
    /// Current resident set size (VmRSS) in bytes.
    public static func currentRSSBytes() -> Int { field("VmRSS:") }

    static func field(_ name: String) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return 0
    }
}
