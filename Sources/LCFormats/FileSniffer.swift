// Identifies a file's format by CONTENT, never by extension: magic bytes for GGUF, zip, tar,
// gzip, zstd, xz, bzip2 and legacy (pre-1.6) torch pickles; the u64-length + '{' shape of a
// safetensors header; a JSON object. Reads at most the first 512 bytes.
// Deliberately shallow: a positive sniff is a routing hint; the format reader still validates.
// Used by ingest to route archives and checkpoints; extensions are only ever a tie-breaker there.
import Foundation
import LCCore

/// Container or file format detected from content.
public enum FileKind: String, Sendable, Codable {
    case gguf, safetensors, zip, tar, gzip, zstd, xz, bzip2, torchLegacy, json, unknown
}

public enum FileSniffer {
    /// Pickle protocol 2 + LONG1 of torch's legacy magic 0x1950a86a20f9469cfc6c (serialization.py).
    static let torchLegacyPrefix: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// Sniffs the file at `url`.
    /// - Throws: `LCError.io` if the file cannot be opened or read.
    public static func sniff(url: URL) throws -> FileKind {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw LCError.io(path: url.path, message: "cannot open for sniffing")
        }
        defer { try? h.close() }
        let head: Data
        let size: UInt64
        do {
            head = try h.read(upToCount: 512) ?? Data()
            size = try h.seekToEnd()
        } catch {
            throw LCError.io(path: url.path, message: "cannot read: \(error.localizedDescription)")
        }
        return sniff(head: [UInt8](head), fileSize: size)
    }

    /// Classifies the first bytes of a file of `fileSize` bytes (`head` = up to 512 bytes).
    public static func sniff(head b: [UInt8], fileSize: UInt64) -> FileKind {
        func starts(_ m: [UInt8], at o: Int = 0) -> Bool { b.count >= o + m.count && Array(b[o..<(o + m.count)]) == m }
        if starts(Array("GGUF".utf8)) { return .gguf }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if starts(Array("BZh".utf8)), b.count > 3, (0x31...0x39).contains(b[3]) { return .bzip2 }
        if starts(Array("ustar".utf8), at: 257) { return .tar }
        if starts(torchLegacyPrefix) { return .torchLegacy }
        if b.count >= 9 {
            var n: UInt64 = 0
            for i in (0..<8).reversed() { n = n << 8 | UInt64(b[i]) }
            if n >= 2, n <= UInt64(SafetensorsFile.maxHeaderLength), fileSize >= 8, n <= fileSize - 8, b[8] == UInt8(ascii: "{") {
                return .safetensors
            }
        }
        if let first = b.first(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }),
           first == UInt8(ascii: "{") { return .json }
        return .unknown
    }
}
