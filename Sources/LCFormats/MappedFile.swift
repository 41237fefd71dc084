// A read-only memory map of a whole file. Checkpoints can be larger than RAM: map, then
// touch only the tensors a stage needs. Slices are bounds-checked against the file size.
import Foundation
import LCCore

public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps `url` read-only. An empty file maps to an empty buffer.
    /// - Throws: `LCError.io` if the file cannot be opened or mapped.
    public init(url: URL) throws {
        path = url.path
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw LCError.io(path: url.path, message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LCError.io(path: url.path, message: "cannot stat") }
        size = Int(st.st_size)
        if size == 0 { base = nil; return }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw LCError.io(path: url.path, message: "mmap failed: \(String(cString: strerror(errno)))") }
        base = p
    }

    deinit { if let base { munmap(base, size) } }

    /// The whole file.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0) }, count: size) }

    /// Bytes `[offset, offset+count)`; throws `LCError.format` if the range leaves the file.
    public func slice(offset: Int, count: Int, what: String) throws -> UnsafeRawBufferPointer {
        let (end, o) = offset.addingReportingOverflow(count)
        guard offset >= 0, count >= 0, !o, end <= size else {
            throw LCError.format(path: path, message: "\(what): bytes [\(offset), \(offset)+\(count)) lie outside the file (\(size) bytes)")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }

    /// Hints the kernel that a range will not be needed soon (frees page cache pressure when streaming).
    public func dontNeed(offset: Int, count: Int) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        madvise(base + start, min(size - start, count + (offset - start)), MADV_DONTNEED)
    }
}
