// `layercard status`: the state of every model × stage in a workspace, from the manifests alone
// (done, stale, failed with reason, unsupported, missing, blocked) and when each manifest was written.
// Read-only and lock-free: it may race a running batch, and then shows the state of that instant.
import Foundation
import LCCore

public struct StageStatusEntry: Codable, Sendable, Equatable {
    public var stage: String
    public var state: String
    public var reason: String?
    /// Manifest modification time (ISO 8601, UTC), nil when there is no manifest.
    public var when: String?
}

public struct ModelStatus: Codable, Sendable, Equatable {
    public var model: String
    public var stages: [StageStatusEntry]
}

public struct WorkspaceStatus: Codable, Sendable {
    public var workspace: String
    public var stages: [String]
    public var models: [ModelStatus]
    /// Number of (model, stage) cells in state `failed`.
    public var failed: Int

    /// Builds the table for every model with any manifest under `ws`.
    public static func collect(_ ws: Workspace, registry: StageRegistry = .builtin) -> WorkspaceStatus {
        let fm = FileManager.default
        let ids = ((try? fm.contentsOfDirectory(atPath: ws.manifestsDir.path)) ?? [])
            .filter { !$0.hasPrefix(".") }
            .filter { id in registry.stages.contains { fm.fileExists(atPath: ws.manifestURL(model: id, stage: $0.name).path) } }
            .sorted(by: Shard.bytewiseLess)
        let fmt = ISO8601DateFormatter()
        var models: [ModelStatus] = []
        var failed = 0
        for id in ids {
            var entries: [StageStatusEntry] = []
            for st in registry.modelStages {
                let state = st.check(StageSubject(modelID: id), workspace: ws, params: StageParams())
                if state.name == "failed" { failed += 1 }
                let attrs = try? fm.attributesOfItem(atPath: ws.manifestURL(model: id, stage: st.name).path)
                let when = (attrs?[.modificationDate] as? Date).map { fmt.string(from: $0) }
                entries.append(StageStatusEntry(stage: st.name, state: state.name, reason: state.reason, when: when))
            }
            models.append(ModelStatus(model: id, stages: entries))
        }
        return WorkspaceStatus(workspace: ws.root.path, stages: registry.modelStages.map(\.name), models: models, failed: failed)
    }

    /// A fixed-width table: one row per model, one column per stage, then the reasons of non-done cells.
    public func table() -> String {
        let idW = max(5, models.map(\.model.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        var lines = [pad("MODEL", idW) + "  " + stages.map { pad($0.uppercased(), 24) }.joined(separator: "  ")]
        var notes: [String] = []
        for m in models {
            let cells = m.stages.map { e -> String in
                let t = e.when.map { String($0.prefix(16)).replacingOccurrences(of: "T", with: " ") } ?? ""
                return pad(e.state + (t.isEmpty ? "" : " " + t), 24)
            }
            lines.append(pad(m.model, idW) + "  " + cells.joined(separator: "  "))
            for e in m.stages { if let r = e.reason { notes.append("  \(m.model) \(e.stage) \(e.state): \(r)") } }
        }
        if models.isEmpty { lines.append("(no models in \(workspace))") }
        if !notes.isEmpty { lines.append(""); lines.append("Details:"); lines += notes }
        lines.append("")
        lines.append("\(models.count) model(s), \(failed) failed stage(s)")
        return lines.joined(separator: "\n")
    }
}
