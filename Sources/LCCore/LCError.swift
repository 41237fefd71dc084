// The error type shared by every LayerCard module. Each case names the file or object
// at fault so a message is actionable; the CLI maps errors to exit codes.
import Foundation

public enum LCError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Malformed or hostile input data in `path`.
    case format(path: String, message: String)
    /// A recognised checkpoint that LayerCard does not support (architecture, legacy format).
    case unsupported(path: String, message: String)
    /// Filesystem failure.
    case io(path: String, message: String)
    /// Bad arguments or configuration (exit code 2).
    case usage(String)
    /// A precondition of a stage is not met (e.g. the upstream manifest is missing).
    case stage(model: String, message: String)

    public var description: String {
        switch self {
        case let .format(path, message): return "\(path): \(message)"
        case let .unsupported(path, message): return "\(path): unsupported: \(message)"
        case let .io(path, message): return "\(path): \(message)"
        case let .usage(message): return message
        case let .stage(model, message): return "\(model): \(message)"
        }
    }
}
