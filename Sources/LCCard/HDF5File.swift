// A minimal HDF5 wrapper over the C API (CHDF5 shim getters, formats.md §0.3/§3.3) for Layer Card files:
// groups, 1-D/2-D float64 and int64 datasets, variable-length UTF-8 string datasets and scalar attributes,
// written and read back. Every failed call throws naming the file and the object. Deliberately not a general
// HDF5 binding: no chunking, compression, slicing or other types.
import CHDF5
import Foundation
import LCCore

/// An open HDF5 file (closed on deinit or `close()`).
final class HDF5File {
    let path: String
    private(set) var id: hid_t

    private init(path: String, id: hid_t) { self.path = path; self.id = id }

    /// Creates (truncates) a file.
    static func create(_ url: URL) throws -> HDF5File {
        swift_H5_silence_errors()
        let id = H5Fcreate(url.path, swift_H5F_ACC_TRUNC(), swift_H5P_DEFAULT(), swift_H5P_DEFAULT())
        guard id >= 0 else { throw LCError.io(path: url.path, message: "cannot create HDF5 file") }
        return HDF5File(path: url.path, id: id)
    }

    /// Opens a file read-only.
    static func open(_ url: URL) throws -> HDF5File {
        swift_H5_silence_errors()
        guard FileManager.default.fileExists(atPath: url.path) else { throw LCError.io(path: url.path, message: "no such file") }
        let id = H5Fopen(url.path, swift_H5F_ACC_RDONLY(), swift_H5P_DEFAULT())
        guard id >= 0 else { throw LCError.format(path: url.path, message: "not an HDF5 file") }
        return HDF5File(path: url.path, id: id)
    }

    func close() throws {
        guard id >= 0 else { return }
        let st = H5Fclose(id); id = -1
        guard st >= 0 else { throw LCError.io(path: path, message: "H5Fclose failed") }
    }
    deinit { if id >= 0 { H5Fclose(id) } }

    private func fail(_ what: String) -> LCError { .format(path: path, message: what) }

    func createGroup(_ name: String) throws {
        let g = H5Gcreate2(id, name, swift_H5P_DEFAULT(), swift_H5P_DEFAULT(), swift_H5P_DEFAULT())
        guard g >= 0 else { throw fail("cannot create group \(name)") }
        H5Gclose(g)
    }

    // MARK: datasets

    private func write(_ name: String, dims: [Int], type: hid_t, _ body: (hid_t) -> herr_t) throws {
        var hd = dims.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &hd, nil)
        guard space >= 0 else { throw fail("cannot create dataspace for \(name)") }
        defer { H5Sclose(space) }
        let ds = H5Dcreate2(id, name, type, space, swift_H5P_DEFAULT(), swift_H5P_DEFAULT(), swift_H5P_DEFAULT())
        guard ds >= 0 else { throw fail("cannot create dataset \(name)") }
        defer { H5Dclose(ds) }
        guard body(ds) >= 0 else { throw fail("cannot write dataset \(name)") }
    }

    func writeDoubles(_ name: String, _ v: [Double], dims: [Int]? = nil) throws {
        try write(name, dims: dims ?? [v.count], type: swift_H5T_NATIVE_DOUBLE()) { ds in
            v.withUnsafeBytes { H5Dwrite(ds, swift_H5T_NATIVE_DOUBLE(), swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), $0.baseAddress) }
        }
    }

    func writeInts(_ name: String, _ v: [Int], dims: [Int]? = nil) throws {
        let w = v.map(Int64.init)
        try write(name, dims: dims ?? [w.count], type: swift_H5T_NATIVE_INT64()) { ds in
            w.withUnsafeBytes { H5Dwrite(ds, swift_H5T_NATIVE_INT64(), swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), $0.baseAddress) }
        }
    }

    private func stringType() throws -> hid_t {
        let t = H5Tcopy(swift_H5T_C_S1())
        guard t >= 0, H5Tset_size(t, swift_H5T_VARIABLE()) >= 0, H5Tset_cset(t, H5T_CSET_UTF8) >= 0 else { throw fail("string type") }
        return t
    }

    /// Runs `body` with C string pointers for `strings` (valid only inside).
    private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let dup = strings.map { strdup($0) }
        defer { dup.forEach { free($0) } }
        return body(dup.map { $0.map { UnsafePointer($0) } })
    }

    func writeStrings(_ name: String, _ v: [String]) throws {
        let t = try stringType()
        defer { H5Tclose(t) }
        try write(name, dims: [v.count], type: t) { ds in
            withCStrings(v) { ptrs in ptrs.withUnsafeBytes { H5Dwrite(ds, t, swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), $0.baseAddress) } }
        }
    }

    /// Whether a link (group or dataset) `name` exists; every parent must exist (checked from the root down).
    func exists(_ name: String) -> Bool {
        var path = ""
        for part in name.split(separator: "/") {
            path += "/" + part
            guard H5Lexists(id, path, swift_H5P_DEFAULT()) > 0 else { return false }
        }
        return !path.isEmpty
    }

    /// Opens dataset `name`, checks its rank, returns (id, dims).
    private func openDataset(_ name: String) throws -> (hid_t, [Int]) {
        let ds = H5Dopen2(id, name, swift_H5P_DEFAULT())
        guard ds >= 0 else { throw fail("missing dataset \(name)") }
        let sp = H5Dget_space(ds)
        defer { H5Sclose(sp) }
        let rank = Int(H5Sget_simple_extent_ndims(sp))
        guard rank >= 1, rank <= 2 else { H5Dclose(ds); throw fail("dataset \(name) has rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(sp, &dims, nil)
        return (ds, dims.map { Int(clamping: $0) })
    }

    func readDoubles(_ name: String) throws -> (values: [Double], dims: [Int]) {
        let (ds, dims) = try openDataset(name)
        defer { H5Dclose(ds) }
        var n = 1
        for d in dims {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o, p <= 1 << 31 else { throw fail("dataset \(name) too large") }
            n = p
        }
        var v = [Double](repeating: 0, count: n)
        let st = v.withUnsafeMutableBytes { H5Dread(ds, swift_H5T_NATIVE_DOUBLE(), swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), $0.baseAddress) }
        guard st >= 0 else { throw fail("cannot read dataset \(name) as float64") }
        return (v, dims)
    }

    func readInts(_ name: String) throws -> [Int] { try readIntArray(name, allow2D: false).values }

    /// int64 dataset of rank 1 (or 2 when `allow2D`), row-major, with its dims.
    func readIntArray(_ name: String, allow2D: Bool = true) throws -> (values: [Int], dims: [Int]) {
        let (ds, dims) = try openDataset(name)
        defer { H5Dclose(ds) }
        guard dims.count == 1 || allow2D else { throw fail("dataset \(name) must be 1-D") }
        let n = dims.reduce(1, *)
        guard n <= 1 << 31 else { throw fail("dataset \(name) too large") }
        var v = [Int64](repeating: 0, count: n)
        let st = v.withUnsafeMutableBytes { H5Dread(ds, swift_H5T_NATIVE_INT64(), swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), $0.baseAddress) }
        guard st >= 0 else { throw fail("cannot read dataset \(name) as int64") }
        return (v.map { Int($0) }, dims)
    }

    func readStrings(_ name: String) throws -> [String] {
        let (ds, dims) = try openDataset(name)
        defer { H5Dclose(ds) }
        guard dims.count == 1, dims[0] <= 1 << 24 else { throw fail("dataset \(name) must be 1-D") }
        let t = try stringType()
        defer { H5Tclose(t) }
        var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: dims[0])
        let st = ptrs.withUnsafeMutableBytes { H5Dread(ds, t, swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), $0.baseAddress) }
        guard st >= 0 else { throw fail("cannot read dataset \(name) as strings") }
        let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
        let sp = H5Dget_space(ds)
        _ = ptrs.withUnsafeMutableBytes { H5Dvlen_reclaim(t, sp, swift_H5P_DEFAULT(), $0.baseAddress) }
        H5Sclose(sp)
        return out
    }

    // MARK: attributes (on the root group)

    private func writeAttribute(_ name: String, type: hid_t, _ body: (hid_t) -> herr_t) throws {
        let space = H5Screate(H5S_SCALAR)
        guard space >= 0 else { throw fail("cannot create scalar dataspace") }
        defer { H5Sclose(space) }
        let a = H5Acreate2(id, name, type, space, swift_H5P_DEFAULT(), swift_H5P_DEFAULT())
        guard a >= 0 else { throw fail("cannot create attribute \(name)") }
        defer { H5Aclose(a) }
        guard body(a) >= 0 else { throw fail("cannot write attribute \(name)") }
    }

    func setAttribute(_ name: String, _ s: String) throws {
        let t = try stringType()
        defer { H5Tclose(t) }
        try writeAttribute(name, type: t) { a in withCStrings([s]) { p in p.withUnsafeBytes { H5Awrite(a, t, $0.baseAddress) } } }
    }

    func setAttribute(_ name: String, _ v: Double) throws {
        var x = v
        try writeAttribute(name, type: swift_H5T_NATIVE_DOUBLE()) { H5Awrite($0, swift_H5T_NATIVE_DOUBLE(), &x) }
    }

    func setAttribute(_ name: String, _ v: Int) throws {
        var x = Int64(v)
        try writeAttribute(name, type: swift_H5T_NATIVE_INT64()) { H5Awrite($0, swift_H5T_NATIVE_INT64(), &x) }
    }

    /// Whether the root group has attribute `name`.
    func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

    private func openAttribute(_ name: String) throws -> hid_t {
        let a = H5Aopen(id, name, swift_H5P_DEFAULT())
        guard a >= 0 else { throw fail("missing attribute \(name)") }
        return a
    }

    func stringAttribute(_ name: String) throws -> String {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        let t = try stringType()
        defer { H5Tclose(t) }
        var p: UnsafeMutablePointer<CChar>? = nil
        guard H5Aread(a, t, &p) >= 0, let q = p else { throw fail("attribute \(name) is not a string") }
        defer { H5free_memory(q) }
        return String(cString: q)
    }

    func doubleAttribute(_ name: String) throws -> Double {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        var x = 0.0
        guard H5Aread(a, swift_H5T_NATIVE_DOUBLE(), &x) >= 0 else { throw fail("attribute \(name) is not a number") }
        return x
    }

    func intAttribute(_ name: String) throws -> Int {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        var x: Int64 = 0
        guard H5Aread(a, swift_H5T_NATIVE_INT64(), &x) >= 0 else { throw fail("attribute \(name) is not an integer") }
        return Int(x)
    }
}
