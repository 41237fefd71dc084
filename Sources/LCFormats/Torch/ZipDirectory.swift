// ZIP central-directory reader for zero-copy access to STORED entries (PyTorch checkpoints):
// end-of-central-directory (plain and ZIP64), central headers with ZIP64 extra fields, and the
// local headers they point to, all validated against the mapped file. It deliberately does not
// decompress, check CRCs, or support multi-disk/encrypted archives; general archives go through
// `ArchiveExtractor` (libarchive).
import Foundation
import LCCore

/// One member of a ZIP file, as the central directory declares it (sizes and offsets validated).
public struct ZipEntry: Sendable, Equatable {
    /// Entry name (UTF-8, exactly as stored; not sanitised — never use it as a file path).
    public let name: String
    /// Compression method: 0 = STORED, 8 = DEFLATE, …
    public let method: UInt16
    /// Bytes the entry occupies in the file.
    public let compressedSize: Int
    /// Bytes after decompression (equals `compressedSize` for STORED entries).
    public let uncompressedSize: Int
    /// Absolute offset of the entry's local file header.
    public let localHeaderOffset: Int
    /// Absolute offset of the entry's data (after the local header, name and extra field).
    public let dataOffset: Int
    /// CRC-32 declared in the central directory (not verified here).
    public let crc32: UInt32
}

/// The validated central directory of a ZIP file.
public struct ZipDirectory: Sendable {
    /// Entries in central-directory order.
    public let entries: [ZipEntry]
    private let index: [String: Int]

    init(entries: [ZipEntry]) {
        self.entries = entries
        index = Dictionary(entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Entry with exactly this name, if any.
    public func entry(named name: String) -> ZipEntry? { index[name].map { entries[$0] } }

    static let eocdSig: UInt32 = 0x0605_4B50
    static let eocd64Sig: UInt32 = 0x0606_4B50
    static let locatorSig: UInt32 = 0x0706_4B50
    static let centralSig: UInt32 = 0x0201_4B50
    static let localSig: UInt32 = 0x0403_4B50

    /// Parses and validates the directory of `file`.
    ///
    /// Checks: EOCD within the last 64 KiB + 22 bytes with a comment that ends exactly at end of
    /// file; ZIP64 locator/record when present; single disk; entry counts agree and fit the
    /// directory size; every range inside the file; local header signatures and names agree with
    /// the central directory; names are valid UTF-8 and unique; entry ranges do not overlap.
    /// - Throws: `LCError.format(path:message:)` naming the file and the problem.
    public static func read(_ file: MappedFile) throws -> ZipDirectory {
        let path = file.path
        func bad(_ m: String) -> LCError { .format(path: path, message: "zip: \(m)") }
        let all = file.bytes
        let size = file.size
        guard size >= 22 else { throw bad("file too short (\(size) bytes) for an end of central directory record") }

        // 1. End of central directory: search backwards; the comment must reach end of file exactly.
        var eocdPos = -1
        var pos = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while pos >= lowest {
            if all.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian == eocdSig {
                let commentLen = Int(all.loadUnaligned(fromByteOffset: pos + 20, as: UInt16.self).littleEndian)
                if pos + 22 + commentLen == size { eocdPos = pos; break }
            }
            pos -= 1
        }
        guard eocdPos >= 0 else {
            throw bad("no end of central directory record in the last 64 KiB (truncated or not a zip file)")
        }
        var c = ByteCursor(all, path: path, position: eocdPos + 4)
        let disk = try c.read(UInt16.self), cdDisk = try c.read(UInt16.self)
        var diskEntries = Int(try c.read(UInt16.self)), totalEntries = Int(try c.read(UInt16.self))
        var cdSize = Int(try c.read(UInt32.self)), cdOffset = Int(try c.read(UInt32.self))
        var cdLimit = eocdPos  // the central directory must end before this offset

        // 2. ZIP64: a locator 20 bytes before the EOCD points at the ZIP64 EOCD record.
        if eocdPos >= 20, all.loadUnaligned(fromByteOffset: eocdPos - 20, as: UInt32.self).littleEndian == locatorSig {
            var l = ByteCursor(all, path: path, position: eocdPos - 16)
            let z64Disk = try l.read(UInt32.self)
            let z64Off = try l.read(UInt64.self)
            let disks = try l.read(UInt32.self)
            guard z64Disk == 0, disks <= 1 else { throw bad("multi-disk archives are not supported") }
            guard eocdPos - 20 >= 56, z64Off <= UInt64(eocdPos - 20 - 56) else {
                throw bad("ZIP64 end of central directory offset \(z64Off) is outside the file")
            }
            var z = ByteCursor(all, path: path, position: Int(z64Off))
            guard try z.read(UInt32.self) == eocd64Sig else { throw bad("bad ZIP64 end of central directory signature at \(z64Off)") }
            _ = try z.read(UInt64.self); _ = try z.read(UInt16.self); _ = try z.read(UInt16.self)
            let d = try z.read(UInt32.self), cd = try z.read(UInt32.self)
            guard d == 0, cd == 0 else { throw bad("multi-disk archives are not supported") }
            let de = try z.read(UInt64.self), te = try z.read(UInt64.self)
            let cs = try z.read(UInt64.self), co = try z.read(UInt64.self)
            let lim = UInt64(Int.max)
            guard de < lim, te < lim, cs < lim, co < lim else { throw bad("ZIP64 directory fields out of range") }
            diskEntries = Int(de); totalEntries = Int(te); cdSize = Int(cs); cdOffset = Int(co)
            cdLimit = Int(z64Off)
        } else {
            guard disk == 0, cdDisk == 0 else { throw bad("multi-disk archives are not supported") }
            if diskEntries == 0xFFFF || totalEntries == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
                throw bad("ZIP64 values without a ZIP64 end of central directory locator")
            }
        }
        guard diskEntries == totalEntries else {
            throw bad("entry counts disagree (\(diskEntries) on this disk, \(totalEntries) in total)")
        }
        let (cdEnd, o1) = cdOffset.addingReportingOverflow(cdSize)
        guard !o1, cdEnd <= cdLimit else {
            throw bad("central directory [\(cdOffset), +\(cdSize)) overlaps the end records or leaves the file")
        }
        guard totalEntries <= cdSize / 46 else {
            throw bad("\(totalEntries) entries cannot fit in a \(cdSize)-byte central directory")
        }

        // 3. Central directory headers.
        let cdBytes = try file.slice(offset: cdOffset, count: cdSize, what: "central directory")
        var h = ByteCursor(cdBytes, path: path, baseOffset: cdOffset)
        var entries: [ZipEntry] = []
        entries.reserveCapacity(totalEntries)
        var seen = Set<String>()
        for i in 0..<totalEntries {
            let at = cdOffset + h.position
            guard try h.read(UInt32.self) == centralSig else { throw bad("bad central directory signature for entry \(i) at byte \(at)") }
            try h.skip(4)
            let flags = try h.read(UInt16.self)
            let method = try h.read(UInt16.self)
            try h.skip(4)
            let crc = try h.read(UInt32.self)
            var csize = UInt64(try h.read(UInt32.self)), usize = UInt64(try h.read(UInt32.self))
            let nameLen = Int(try h.read(UInt16.self)), extraLen = Int(try h.read(UInt16.self))
            let commentLen = Int(try h.read(UInt16.self))
            let diskStart = try h.read(UInt16.self)
            try h.skip(6)
            var localOff = UInt64(try h.read(UInt32.self))
            let name = try h.readUTF8(nameLen, what: "name of zip entry \(i)")
            var extra = ByteCursor(try h.readBytes(extraLen), path: path, baseOffset: cdOffset + h.position - extraLen)
            try h.skip(commentLen)
            // ZIP64 extended information: only the fields whose 32-bit value is saturated, in order.
            while extra.remaining >= 4 {
                let id = try extra.read(UInt16.self), len = Int(try extra.read(UInt16.self))
                var f = ByteCursor(try extra.readBytes(len), path: path)
                guard id == 0x0001 else { continue }
                if usize == 0xFFFF_FFFF { usize = try f.read(UInt64.self) }
                if csize == 0xFFFF_FFFF { csize = try f.read(UInt64.self) }
                if localOff == 0xFFFF_FFFF { localOff = try f.read(UInt64.self) }
            }
            guard diskStart == 0 || diskStart == 0xFFFF else { throw bad("entry '\(name)' starts on another disk") }
            guard flags & 1 == 0 else { throw bad("entry '\(name)' is encrypted") }
            guard csize < UInt64(size), usize < UInt64(Int.max), localOff < UInt64(size) else {
                throw bad("entry '\(name)': sizes or offset out of range (compressed \(csize), local header at \(localOff))")
            }
            guard seen.insert(name).inserted else { throw bad("duplicate entry '\(name)'") }
            if method == 0, csize != usize {
                throw bad("STORED entry '\(name)' has compressed size \(csize) != uncompressed size \(usize)")
            }
            // Local header: signature, then name/extra lengths decide where data starts.
            let lo = Int(localOff)
            var lh = ByteCursor(all, path: path, position: lo)
            guard try lh.read(UInt32.self) == localSig else { throw bad("entry '\(name)': no local header signature at byte \(lo)") }
            try lh.skip(22)
            let lNameLen = Int(try lh.read(UInt16.self)), lExtraLen = Int(try lh.read(UInt16.self))
            let lName = try lh.readBytes(lNameLen)
            guard lName.elementsEqual(name.utf8) else { throw bad("entry '\(name)': local header name differs from the central directory") }
            try lh.skip(lExtraLen)
            let dataOff = lh.position
            let (dataEnd, o2) = dataOff.addingReportingOverflow(Int(csize))
            guard !o2, dataEnd <= cdOffset else {
                throw bad("entry '\(name)': data [\(dataOff), +\(csize)) runs into the central directory or past the file")
            }
            entries.append(ZipEntry(name: name, method: method, compressedSize: Int(csize), uncompressedSize: Int(usize),
                                    localHeaderOffset: lo, dataOffset: dataOff, crc32: crc))
        }
        guard h.remaining == 0 else { throw bad("\(h.remaining) unexplained bytes after \(totalEntries) central directory entries") }

        // 4. No two entries may share bytes (overlapping entries are a zip-bomb and confusion trick).
        let sorted = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.dataOffset + a.compressedSize > b.localHeaderOffset {
            throw bad("entries '\(a.name)' and '\(b.name)' overlap")
        }
        return ZipDirectory(entries: entries)
    }

    /// Bytes of a STORED entry, zero-copy from the map.
    /// - Throws: `LCError.format` if the entry is compressed.
    public static func storedBytes(_ e: ZipEntry, in file: MappedFile) throws -> UnsafeRawBufferPointer {
        guard e.method == 0 else {
            throw LCError.format(path: file.path, message: "zip entry '\(e.name)' is compressed (method \(e.method)); only STORED entries can be mapped")
        }
        return try file.slice(offset: e.dataOffset, count: e.compressedSize, what: "zip entry '\(e.name)'")
    }
}
