// Atomic file output: every file LayerCard writes goes through a temp file in the same
// directory, fsync, then rename, so a killed process never leaves a torn file behind.
// Deliberately not a general file API: only whole-file replace.
import Foundation

public enum AtomicFile {
    /// Replaces `url` with `data` atomically (temp + fsync + rename). Creates parent folders.
    /// - Throws: `LCError.io` naming the path on any failure; the temp file is removed.
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw LCError.io(path: url.path, message: "cannot create temp file: \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            if !ok { unlink(tmp.path) }
        }
        let wrote: Bool = data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
        if !wrote || fsync(fd) != 0 {
            let msg = String(cString: strerror(errno)); close(fd)
            throw LCError.io(path: url.path, message: "write failed: \(msg)")
        }
        close(fd)
        if rename(tmp.path, url.path) != 0 {
            throw LCError.io(path: url.path, message: "rename failed: \(String(cString: strerror(errno)))")
        }
        ok = true
    }

    /// Moves a finished temp file (written by the caller, e.g. HDF5 or a large store) into place.
    public static func commit(temp: URL, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if let h = FileHandle(forUpdatingAtPath: temp.path) { try? h.synchronize(); try? h.close() }
        if rename(temp.path, url.path) != 0 {
            throw LCError.io(path: url.path, message: "rename failed: \(String(cString: strerror(errno)))")
        }
    }

    /// A temp path beside `url` for callers that stream a large file before `commit`.
    public static func tempURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }
}
