// Log output for unattended runs: human text or one JSON object per line (`--log-format json`),
// always on stderr so stdout stays machine-readable (e.g. `eval --json`).
import Foundation
import Logging

public enum LogFormat: String, Sendable, CaseIterable { case text, json }

public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: LogFormat
    let lock: NSLock

    public init(label: String, format: LogFormat, level: Logger.Level, lock: NSLock) {
        self.label = label; self.format = format; self.logLevel = level; self.lock = lock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let extra { all.merge(extra) { $1 } }
        let ts = ISO8601DateFormatter().string(from: Date())
        let text: String
        switch format {
        case .text:
            let kv = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            text = "\(ts) \(level.rawValue.uppercased()) \(message)\(kv.isEmpty ? "" : " " + kv)\n"
        case .json:
            var obj: [String: String] = ["ts": ts, "level": level.rawValue, "msg": "\(message)", "logger": label]
            for (k, v) in all { obj[k] = "\(v)" }
            let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data()
            text = (String(data: data, encoding: .utf8) ?? "{}") + "\n"
        }
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

public enum LogSetup {
    static let lock = NSLock()
    /// A logger for one command; `verbose` lowers the level to debug.
    public static func logger(_ label: String, format: LogFormat, verbose: Bool) -> Logger {
        Logger(label: label) { l in StderrLogHandler(label: l, format: format, level: verbose ? .debug : .info, lock: lock) }
    }
}
