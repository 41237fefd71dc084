// Advisory per-(model, stage) locks for concurrent runs on one workspace, and the sweep of temp
// files that killed writers left behind. Locks are flock(2) on DIR/locks/<key>.<stage>.lock: the
// kernel drops them when the holder dies, so there is no stale lock to recover. Lock files are
// never deleted (deleting a lock file races with a waiter that has it open).
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LCCore

/// An exclusive flock held until `release()` (or process death).
public final class StageLock: @unchecked Sendable {
    public let url: URL
    private var fd: Int32

    private init(url: URL, fd: Int32) { self.url = url; self.fd = fd }

    /// The lock file of `key` (a model id or `OLD--NEW`) and `stage`.
    public static func url(_ ws: Workspace, key: String, stage: String) -> URL {
        ws.root.appendingPathComponent("locks", isDirectory: true).appendingPathComponent("\(key).\(stage).lock")
    }

    /// Takes the lock, waiting up to `timeout` seconds (0 = try once). Returns nil when another process
    /// still holds it at the deadline. Writes the holder's pid and host into the file for operators.
    /// - Throws: `LCError.io` when the lock file cannot be created.
    public static func acquire(_ ws: Workspace, key: String, stage: String, timeout: Double) throws -> StageLock? {
        let u = url(ws, key: key, stage: stage)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(u.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LCError.io(path: u.path, message: "cannot open lock file: \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            guard e == EWOULDBLOCK || e == EINTR else {
                close(fd)
                throw LCError.io(path: u.path, message: "flock failed: \(String(cString: strerror(e)))")
            }
            if Date() >= deadline { close(fd); return nil }
            usleep(50_000)
        }
        let note = "pid=\(getpid()) host=\(ProcessInfo.processInfo.hostName)\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        return StageLock(url: u, fd: fd)
    }

    /// The holder note (`pid=… host=…`) of a lock file, for "skipped: held by …" messages.
    public static func holder(_ ws: Workspace, key: String, stage: String) -> String {
        let s = (try? String(contentsOf: url(ws, key: key, stage: stage), encoding: .utf8)) ?? ""
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN); close(fd); fd = -1
    }

    deinit { release() }
}

/// Removes temp files that a killed writer left beside an output: `.<name>.tmp-<pid>-<n>` (AtomicFile,
/// SafetensorsWriter) and `.<name>.extract-<pid>-<n>` (archive extraction), only when `<pid>` is not
/// a live process. Callers hold the stage's lock, so no other run is legitimately writing them.
public enum TempSweeper {
    /// Parses the writer pid out of a temp name for `output`, nil if `name` is not such a temp.
    static func writerPID(_ name: String, output: String) -> Int32? {
        for infix in [".tmp-", ".extract-"] {
            let prefix = "." + output + infix
            guard name.hasPrefix(prefix) else { continue }
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[rest.startIndex..<dash]), pid > 0 else { return nil }
            return pid
        }
        return nil
    }

    static func isAlive(_ pid: Int32) -> Bool {
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Deletes dead writers' temps of each output; returns the paths removed.
    @discardableResult
    public static func sweep(outputs: [URL]) -> [String] {
        let fm = FileManager.default
        var removed: [String] = []
        for out in outputs {
            let dir = out.deletingLastPathComponent(), base = out.lastPathComponent
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else { continue }
            for n in names {
                guard let pid = writerPID(n, output: base), !isAlive(pid) else { continue }
                let p = dir.appendingPathComponent(n)
                if (try? fm.removeItem(at: p)) != nil { removed.append(p.path) }
            }
        }
        return removed
    }
}
