// How a TransformerModel spends memory: weights resident or streamed one layer at a time from the WeightSource,
// and, per batch, whether the backward keeps every block's activations or only layer-boundary inputs
// (activation checkpointing, recomputing one block at a time). Chosen from a byte budget (default: a share of
// /proc/meminfo MemAvailable), overridable per flag. Also the small lock-protected layer cache streaming uses.
// Deliberately estimates only: nothing here allocates model memory.
import Foundation
import LCCore
import LCKernels

/// Caller's memory wishes; nil fields are chosen automatically from the budget.
public struct MemoryOptions: Sendable {
    /// Byte budget for the model process (weights + activations); nil = 80% of MemAvailable (8 GiB if unknown).
    public var budget: Int?
    /// Force weights resident (false) or streamed (true); nil = streamed when they exceed 60% of the budget.
    public var streamWeights: Bool?
    /// Force activation checkpointing on or off for every batch; nil = per batch, from the budget.
    public var checkpointActivations: Bool?
    public init(budget: Int? = nil, streamWeights: Bool? = nil, checkpointActivations: Bool? = nil) {
        self.budget = budget; self.streamWeights = streamWeights; self.checkpointActivations = checkpointActivations
    }
}

/// The decisions a model made from `MemoryOptions` (see `TransformerModel.memoryPlan`).
public struct MemoryPlan: Sendable {
    /// Budget in bytes.
    public let budget: Int
    /// Layers, the embedding matrix and the LM head are read from the source on demand.
    public let streamWeights: Bool
    /// f32 bytes of all weights, and of the largest layer.
    public let weightBytes: Int, layerBytes: Int
    let checkpointOverride: Bool?
    let config: ModelConfig

    init(config c: ModelConfig, options o: MemoryOptions, weightBytes: Int, layerBytes: Int) {
        let budget = max(0, o.budget ?? Self.defaultBudget())
        self.budget = budget; config = c
        self.weightBytes = weightBytes; self.layerBytes = layerBytes
        streamWeights = o.streamWeights ?? (Double(weightBytes) > 0.6 * Double(budget))
        checkpointOverride = o.checkpointActivations
    }

    /// 80% of MemAvailable, or 8 GiB when /proc/meminfo is unreadable.
    public static func defaultBudget() -> Int {
        guard let a = availableMemoryBytes() else { return 8 << 30 }
        return Int(Double(a) * 0.8)
    }

    /// MemAvailable from /proc/meminfo in bytes, nil if unavailable.
    public static func availableMemoryBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb.multipliedReportingOverflow(by: 1024).overflow ? nil : kb * 1024 }
        }
        return nil
    }

    /// Rows of the LM head (or embedding) read per block when streaming: ~64 MB of f32.
    public var headBlockRows: Int { max(1, min(config.vocabSize, (16 << 20) / max(1, config.hiddenSize))) }

    /// f32 bytes of one block's activations (BlockActivations) for a (B,T) batch.
    public func activationBytes(B: Int, T: Int) -> Int { 4 * BlockActivations.floatCount(config: config, B: B, T: T) }

    /// f32 bytes of every block's activations kept by a forward for the backward (blocks share their boundaries
    /// and transient buffers: BlockActivations.keptFloatCount).
    public func keptActivationBytes(B: Int, T: Int) -> Int {
        4 * (config.numLayers * BlockActivations.keptFloatCount(config: config, B: B, T: T)
             + BlockActivations.sharedFloatCount(config: config, B: B, T: T))
    }

    /// Attention's per-thread (T,T) workspaces: probabilities and their gradient in the backward (never per layer).
    public func attentionWorkspaceBytes(T: Int) -> Int { 2 * 4 * T * T * max(1, Parallel.workers) }

    /// Whether the backward over a (B,T) batch keeps only layer-boundary activations and recomputes blocks:
    /// yes when keeping every block's activations (+ weights held, + full logits if resident) exceeds 70% of the budget.
    public func checkpoints(B: Int, T: Int) -> Bool {
        if let o = checkpointOverride { return o }
        let N = B * T, L = config.numLayers
        let weights = streamWeights ? 2 * layerBytes + 2 * 4 * headBlockRows * config.hiddenSize : weightBytes
        let head = streamWeights ? 0 : 2 * 4 * N * config.vocabSize  // logits + their gradient
        let keepAll = Double(keptActivationBytes(B: B, T: T)) + Double(weights) + Double(head) + Double(attentionWorkspaceBytes(T: T))
        return keepAll > 0.7 * Double(budget)  // 30% headroom: gradient scratch, decode buffers, allocator slack
    }

    /// Rough peak f32 bytes of a loss+backward over (B,T) under this plan (for logs and the CLI).
    public func estimatedPeakBytes(B: Int, T: Int) -> Int {
        let N = B * T, C = config.hiddenSize, L = config.numLayers
        let acts = activationBytes(B: B, T: T)
        let weights = streamWeights ? 2 * layerBytes + 2 * 4 * headBlockRows * C : weightBytes
        let head = streamWeights ? 4 * N * headBlockRows * 2 : 2 * 4 * N * config.vocabSize
        let kept = checkpoints(B: B, T: T) ? 4 * (L + 1) * N * C + 2 * acts : keptActivationBytes(B: B, T: T) + acts
        return weights + head + kept + attentionWorkspaceBytes(T: T)
    }
}

/// Holds the most recently fetched layers (capacity ≥ 1) so a forward's last layer is reused by the backward's
/// first; remembers the first fetch error for the non-throwing stage API. Thread-safe.
final class LayerWeightCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(Int, LayerWeights)] = []
    private var error: Error?
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func get(_ l: Int, fetch: () throws -> LayerWeights) throws -> LayerWeights {
        lock.lock(); defer { lock.unlock() }
        if let i = entries.firstIndex(where: { $0.0 == l }) { return entries[i].1 }
        if entries.count >= capacity { entries.removeFirst(entries.count - capacity + 1) }  // drop before fetching
        let w = try fetch()
        entries.append((l, w))
        return w
    }

    func record(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
    func takeError() -> Error? { lock.lock(); defer { error = nil; lock.unlock() }; return error }
}
