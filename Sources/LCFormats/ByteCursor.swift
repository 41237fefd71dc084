// A bounds-checked little-endian reader over untrusted bytes. Every read throws
// `LCError.format` naming the file and the offset instead of trapping on short input.
// Deliberately minimal: no big-endian helpers beyond what the formats need.
import Foundation
import LCCore

public struct ByteCursor {
    public let bytes: UnsafeRawBufferPointer
    /// Path used in error messages.
    public let path: String
    /// Current read position (0-based, relative to `bytes`).
    public var position: Int
    /// Offset of `bytes[0]` in the underlying file, for messages.
    public let baseOffset: Int

    public init(_ bytes: UnsafeRawBufferPointer, path: String, position: Int = 0, baseOffset: Int = 0) {
        self.bytes = bytes; self.path = path; self.position = position; self.baseOffset = baseOffset
    }

    public var remaining: Int { bytes.count - position }

    func fail(_ what: String) -> LCError {
        .format(path: path, message: "truncated: need \(what) at byte \(baseOffset + position), only \(max(remaining, 0)) bytes left")
    }

    /// Reads a fixed-width little-endian integer.
    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let n = MemoryLayout<T>.size
        guard position >= 0, remaining >= n else { throw fail("\(n)-byte integer") }
        let v = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += n
        return T(littleEndian: v)
    }

    public mutating func readFloat() throws -> Float { Float(bitPattern: try read(UInt32.self)) }
    public mutating func readDouble() throws -> Double { Double(bitPattern: try read(UInt64.self)) }

    /// Reads `count` raw bytes.
    public mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, position >= 0, remaining >= count else { throw fail("\(count) bytes") }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        position += count
        return slice
    }

    /// Reads `count` bytes as UTF-8; invalid UTF-8 is an error naming `what`.
    public mutating func readUTF8(_ count: Int, what: String) throws -> String {
        let raw = try readBytes(count)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw LCError.format(path: path, message: "\(what) at byte \(baseOffset + position - count) is not valid UTF-8")
        }
        return s
    }

    public mutating func skip(_ count: Int) throws { _ = try readBytes(count) }
}
