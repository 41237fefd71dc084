// Safe extraction of checkpoint archives (tar, tar.gz/.zst/.xz/.bz2, zip) via libarchive's reader.
// libarchive only decodes; every file is created by this code under a fresh temp folder beside the
// target (openat + O_NOFOLLOW + O_EXCL, folders created one component at a time), bytes are counted
// while streaming (caps + compression-ratio check), and the folder is renamed into place only on
// success. Links, devices and fifos are rejected, never created. Not a general unarchiver.
import CArchive
import Foundation
import LCCore

/// Caps applied while extracting one archive.
public struct ArchiveLimits: Sendable {
    /// Maximum number of entries (all types).
    public var maxEntries: Int
    /// Maximum total bytes written.
    public var maxTotalBytes: Int
    /// Maximum bytes of one file.
    public var maxEntryBytes: Int
    /// Maximum (bytes written so far) / (archive file size), checked while streaming.
    public var maxRatio: Int
    /// The ratio check starts once this many bytes were written (tiny archives of text compress well).
    public var ratioGraceBytes: Int

    public init(maxEntries: Int = 100_000, maxTotalBytes: Int = 64 << 30, maxEntryBytes: Int = 64 << 30,
                maxRatio: Int = 200, ratioGraceBytes: Int = 16 << 20) {
        self.maxEntries = maxEntries; self.maxTotalBytes = maxTotalBytes; self.maxEntryBytes = maxEntryBytes
        self.maxRatio = maxRatio; self.ratioGraceBytes = ratioGraceBytes
    }
}

public enum ArchiveExtractor {
    /// Extracts `archive` into `dir`, which must not exist yet.
    ///
    /// Policy: entry names with an absolute path, a `..` component, a backslash or a NUL are
    /// rejected; symbolic links, hard links, devices, fifos and sockets are rejected (re-create the
    /// archive with `tar -h` to dereference links); duplicate file entries are rejected. Any
    /// rejection or cap removes everything written; `dir` then does not exist.
    /// - Returns: relative paths of the regular files written, sorted.
    /// - Throws: `LCError.format(path: archive, …)` naming the entry, `LCError.io` for filesystem errors.
    public static func extract(archive: URL, into dir: URL, limits: ArchiveLimits = .init()) throws -> [String] {
        let apath = archive.path
        var st = stat()
        guard stat(apath, &st) == 0 else { throw LCError.io(path: apath, message: "cannot stat: \(String(cString: strerror(errno)))") }
        let archiveSize = max(Int(st.st_size), 1)
        let target = dir.standardizedFileURL
        if lstat(target.path, &st) == 0 { throw LCError.io(path: target.path, message: "extraction target already exists") }
        let parent = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let temp = parent.appendingPathComponent(".\(target.lastPathComponent).extract-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard mkdir(temp.path, 0o700) == 0 else { throw LCError.io(path: temp.path, message: "cannot create: \(String(cString: strerror(errno)))") }
        var done = false
        defer { if !done { try? FileManager.default.removeItem(at: temp) } }
        let rootFD = open(temp.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        guard rootFD >= 0 else { throw LCError.io(path: temp.path, message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(rootFD) }

        guard let a = archive_read_new() else { throw LCError.io(path: apath, message: "archive_read_new failed") }
        defer { archive_read_free(a) }
        archive_read_support_filter_gzip(a); archive_read_support_filter_bzip2(a)
        archive_read_support_filter_xz(a); archive_read_support_filter_zstd(a)
        archive_read_support_format_tar(a); archive_read_support_format_gnutar(a)
        archive_read_support_format_zip(a)
        func libError(_ what: String) -> LCError {
            let msg = archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
            return .format(path: apath, message: "\(what): \(msg)")
        }
        guard archive_read_open_filename(a, apath, 1 << 16) == ARCHIVE_OK else { throw libError("not a readable archive") }

        var files: [String] = []
        var total = 0, count = 0
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            var entry: OpaquePointer?
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else { throw libError("reading entry \(count + 1)") }
            count += 1
            guard count <= limits.maxEntries else { throw LCError.format(path: apath, message: "more than \(limits.maxEntries) entries") }
            guard let cname = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
                throw LCError.format(path: apath, message: "entry \(count) has no readable name")
            }
            let name = String(cString: cname)
            func reject(_ m: String) -> LCError { .format(path: apath, message: "entry '\(name)': \(m)") }
            let components = try safeComponents(name, reject: reject)
            let type = UInt32(archive_entry_filetype(entry)) & 0o170000
            if archive_entry_hardlink(entry) != nil { throw reject("hard links are not extracted (re-create the archive without links)") }
            switch type {
            case 0o040000:  // directory
                if !components.isEmpty { close(try openDirs(rootFD, components, name: name, reject: reject)) }
                continue
            case 0o100000: break  // regular file
            case 0o120000: throw reject("symbolic links are not extracted (re-create the archive with dereferenced links, e.g. tar -h)")
            default: throw reject("special file (type 0o\(String(type, radix: 8))) is not extracted")
            }
            guard let last = components.last else { throw reject("empty file name") }
            let dirFD = try openDirs(rootFD, Array(components.dropLast()), name: name, reject: reject)
            defer { close(dirFD) }
            let fd = openat(dirFD, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                if errno == EEXIST { throw reject("duplicate entry") }
                throw LCError.io(path: apath, message: "entry '\(name)': cannot create: \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            var entryBytes = 0
            while true {
                let n = archive_read_data(a, buffer, 1 << 20)
                if n == 0 { break }
                guard n > 0 else { throw libError("entry '\(name)': data") }
                entryBytes += n; total += n
                guard entryBytes <= limits.maxEntryBytes else { throw reject("larger than the \(limits.maxEntryBytes)-byte per-file cap") }
                guard total <= limits.maxTotalBytes else { throw reject("archive expands past the \(limits.maxTotalBytes)-byte cap") }
                if total > limits.ratioGraceBytes, total / archiveSize > limits.maxRatio {
                    throw reject("compression ratio exceeds \(limits.maxRatio):1 (\(total) bytes from a \(archiveSize)-byte archive); refusing a likely zip bomb")
                }
                var off = 0
                while off < n {
                    let w = write(fd, buffer + off, n - off)
                    if w < 0, errno == EINTR { continue }
                    guard w > 0 else { throw LCError.io(path: apath, message: "entry '\(name)': write failed: \(String(cString: strerror(errno)))") }
                    off += w
                }
            }
            files.append(components.joined(separator: "/"))
        }
        guard rename(temp.path, target.path) == 0 else {
            throw LCError.io(path: target.path, message: "cannot move extracted files into place: \(String(cString: strerror(errno)))")
        }
        done = true
        return files.sorted()
    }

    /// Splits an entry name into safe path components ("." and empty parts dropped).
    static func safeComponents(_ name: String, reject: (String) -> LCError) throws -> [String] {
        if name.hasPrefix("/") { throw reject("absolute path") }
        if name.contains("\\") { throw reject("backslash in name (ambiguous path separator)") }
        if name.utf8.contains(0) { throw reject("NUL in name") }
        var out: [String] = []
        for c in name.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { throw reject("path escapes the extraction folder") }
            out.append(String(c))
        }
        return out
    }

    /// Opens (creating as needed) each folder component under `root` without following links.
    static func openDirs(_ root: Int32, _ components: [String], name: String, reject: (String) -> LCError) throws -> Int32 {
        var fd = dup(root)
        guard fd >= 0 else { throw reject("cannot open folder") }
        for c in components {
            if mkdirat(fd, c, 0o755) != 0, errno != EEXIST {
                close(fd); throw reject("cannot create folder '\(c)': \(String(cString: strerror(errno)))")
            }
            let next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            guard next >= 0 else { throw reject("'\(c)' exists and is not a folder") }
            fd = next
        }
        return fd
    }

    /// True if `url` looks like an archive this extractor handles: tar (ustar magic), gzip, zstd,
    /// xz, bzip2, or a zip that is not a torch.save checkpoint (check `TorchCheckpoint.isTorchZip`
    /// for those). Decided from magic bytes, not the extension.
    public static func isArchive(url: URL) throws -> Bool {
        guard let h = FileHandle(forReadingAtPath: url.path) else { throw LCError.io(path: url.path, message: "cannot open") }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 512)) ?? Data())
        func starts(_ m: [UInt8]) -> Bool { head.count >= m.count && Array(head.prefix(m.count)) == m }
        if starts([0x1F, 0x8B]) || starts([0x28, 0xB5, 0x2F, 0xFD]) || starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) || starts([0x42, 0x5A, 0x68]) {
            return true
        }
        if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) { return true }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            // A damaged zip is still "an archive" here; extraction will report the damage.
            return (try? TorchCheckpoint.isTorchZip(url: url)) != true
        }
        return false
    }
}
