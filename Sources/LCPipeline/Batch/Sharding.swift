// Deterministic sharding for job runners: `--shard I/N`, else SLURM_ARRAY_TASK_ID/COUNT, else
// JOB_COMPLETION_INDEX/LAYERCARD_SHARD_COUNT (Kubernetes Indexed Job), else 0/1. Model ids are sorted
// bytewise and shard I takes sorted positions p with p mod N == I, so shards need no coordination.
// Not a work queue: shards do not rebalance.
import Foundation
import LCCore

public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int
    /// Where the shard came from: "flag", "slurm", "k8s" or "default".
    public var source: String

    public static let all = Shard(index: 0, count: 1, source: "default")

    public init(index: Int, count: Int, source: String) { self.index = index; self.count = count; self.source = source }

    public var description: String { "\(index)/\(count)" }

    /// Parses `I/N` (0 ≤ I < N).
    /// - Throws: `LCError.usage` naming the source of the bad value.
    public static func parse(_ s: String, source: String) throws -> Shard {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw LCError.usage("\(source): shard '\(s)' must be I/N, e.g. 0/4") }
        return try make(String(parts[0]), String(parts[1]), source: source)
    }

    static func make(_ i: String, _ n: String, source: String) throws -> Shard {
        let digits = { (x: String) in !x.isEmpty && x.count <= 9 && x.allSatisfy { $0.isASCII && $0.isNumber } }
        guard digits(i), digits(n), let ii = Int(i), let nn = Int(n), nn >= 1, ii < nn else {
            throw LCError.usage("\(source): bad shard \(i)/\(n) (need integers 0 <= I < N)")
        }
        return Shard(index: ii, count: nn, source: source)
    }

    /// The shard for this process: the flag, else the job runner's environment, else everything.
    public static func resolve(flag: String?, environment env: [String: String]) throws -> Shard {
        if let flag { return try parse(flag, source: "--shard") }
        if let i = env["SLURM_ARRAY_TASK_ID"], let n = env["SLURM_ARRAY_TASK_COUNT"], !i.isEmpty, !n.isEmpty {
            return try make(i, n, source: "slurm")
        }
        if let i = env["JOB_COMPLETION_INDEX"], let n = env["LAYERCARD_SHARD_COUNT"], !i.isEmpty, !n.isEmpty {
            return try make(i, n, source: "k8s")
        }
        return .all
    }

    /// Bytewise order of model ids (what `LC_ALL=C sort` gives).
    public static func bytewiseLess(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// This shard's share of `items`, keyed by model id.
    public func select<T>(_ items: [T], id: (T) -> String) -> [T] {
        let sorted = items.sorted { Shard.bytewiseLess(id($0), id($1)) }
        return sorted.enumerated().filter { $0.offset % count == index }.map(\.element)
    }
}
