// Streams a safetensors file to disk: the header is computed up front from names, dtypes and
// shapes, then tensors are appended in header order, so memory stays at one tensor. The file
// appears atomically (temp + rename) only when `finish` succeeds.
import Foundation
import LCCore

public final class SafetensorsWriter {
    public struct Entry: Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var bytes: Int
        public init(name: String, dtype: String, shape: [Int], bytes: Int) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }
    }

    public let url: URL
    let temp: URL
    let handle: FileHandle
    let entries: [Entry]
    var next = 0
    var sha = StreamingSHA256()
    public private(set) var dataStart = 0
    /// Absolute offsets of each entry's data, in entry order.
    public private(set) var offsets: [Int] = []
    public private(set) var totalBytes = 0

    /// Opens a temp file beside `url` and writes the header for `entries` (written in this order).
    public init(url: URL, entries: [Entry], metadata: [String: String]) throws {
        self.url = url; self.entries = entries
        temp = AtomicFile.tempURL(for: url)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: temp.path, contents: nil), let h = FileHandle(forWritingAtPath: temp.path) else {
            throw LCError.io(path: url.path, message: "cannot create \(temp.path)")
        }
        handle = h
        var header: [String: Any] = ["__metadata__": metadata]
        var pos = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype, "shape": e.shape, "data_offsets": [pos, pos + e.bytes]]
            pos += e.bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var len = UInt64(json.count).littleEndian
        let prefix = Data(bytes: &len, count: 8)
        try write(prefix); try write(json)
        dataStart = 8 + json.count
        var off = dataStart
        for e in entries { offsets.append(off); off += e.bytes }
        totalBytes = off
    }

    private func write(_ d: Data) throws {
        do { try handle.write(contentsOf: d) } catch {
            throw LCError.io(path: url.path, message: "write failed: \(error.localizedDescription)")
        }
        d.withUnsafeBytes { sha.update($0) }
    }

    /// Appends the next tensor's bytes; must match the declared entry size.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard next < entries.count, bytes.count == entries[next].bytes else {
            throw LCError.io(path: url.path, message: "internal: tensor \(next) size mismatch")
        }
        try write(Data(bytes))
        next += 1
    }

    /// Closes, fsyncs and renames into place; returns the SHA-256 of the whole file.
    public func finish() throws -> String {
        guard next == entries.count else { throw LCError.io(path: url.path, message: "internal: \(entries.count - next) tensors not written") }
        try? handle.synchronize()
        try? handle.close()
        try AtomicFile.commit(temp: temp, to: url)
        return sha.finalize()
    }

    /// Removes the temp file (on error paths).
    public func abandon() {
        try? handle.close()
        try? FileManager.default.removeItem(at: temp)
    }
}
