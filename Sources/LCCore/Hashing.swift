// SHA-256 of files (streamed, bounded memory) and of canonical values (fingerprints).
import Crypto
import Foundation

public enum Hashing {
    /// SHA-256 hex digest of a file, read in 4 MiB chunks.
    public static func sha256(file url: URL) throws -> String {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw LCError.io(path: url.path, message: "cannot open for hashing")
        }
        defer { try? h.close() }
        var hasher = SHA256()
        while true {
            let chunk = try h.read(upToCount: 4 << 20) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hex(hasher.finalize())
    }

    public static func sha256(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
    public static func sha256(_ s: String) -> String { sha256(Data(s.utf8)) }

    static func hex<D: Sequence>(_ d: D) -> String where D.Element == UInt8 {
        d.map { String(format: "%02x", $0) }.joined()
    }
}

/// Incremental SHA-256 for data written in pieces (e.g. a weight store streamed to disk).
public struct StreamingSHA256 {
    private var hasher = SHA256()
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    public mutating func update(_ data: Data) { hasher.update(data: data) }
    public func finalize() -> String { Hashing.hex(hasher.finalize()) }
}
