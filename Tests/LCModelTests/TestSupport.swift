// Test-only helpers: a minimal F32-only safetensors reader exposed as a WeightSource (the real reader lives in
// LCFormats/the load stage), fixture location, and golden comparison. Deliberately lenient about nothing:
// any non-F32 tensor that is requested throws.
import Foundation
import LCCore
import LCModel
import XCTest

/// Repo root found by walking up from this file.
func repoRoot() -> URL {
    var u = URL(fileURLWithPath: #filePath)
    while u.path != "/" {
        u.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}

func cacheDir() -> URL {
    if let c = ProcessInfo.processInfo.environment["LAYERCARD_CACHE"] { return URL(fileURLWithPath: c) }
    return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/layercard")
}

/// F32 safetensors → canonical-name WeightSource. `rename` maps file names → canonical names;
/// `transpose` lists canonical names stored [in,out] (GPT-2 Conv1D) to transpose into [out,in].
struct TestSafetensors: WeightSource, @unchecked Sendable {
    let data: Data
    let base: Int
    let entries: [String: (dtype: String, shape: [Int], begin: Int, end: Int)]
    let transpose: Set<String>
    let sourceName: String

    init(_ url: URL, arch: String, transpose: Set<String> = []) throws {
        data = try Data(contentsOf: url, options: .alwaysMapped)
        sourceName = url.path
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        base = 8 + n
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any] ?? [:]
        var e: [String: (String, [Int], Int, Int)] = [:]
        for (k, v) in header where k != "__metadata__" {
            guard let d = v as? [String: Any], let dt = d["dtype"] as? String, let sh = d["shape"] as? [Int],
                  let off = d["data_offsets"] as? [Int], off.count == 2 else { continue }
            e[TensorNames.canonicalize(arch: arch, name: k)] = (dt, sh, off[0], off[1])
        }
        entries = e
        self.transpose = transpose
    }

    func tensor(_ name: String) throws -> Tensor? {
        guard let e = entries[name] else { return nil }
        guard e.dtype == "F32", e.end - e.begin == 4 * e.shape.reduce(1, *) else {
            throw LCError.format(path: sourceName, message: "test loader: \(name) is \(e.dtype)")
        }
        var vals = [Float](repeating: 0, count: e.shape.reduce(1, *))
        data.withUnsafeBytes { raw in
            for i in vals.indices { vals[i] = raw.loadUnaligned(fromByteOffset: base + e.begin + 4 * i, as: Float.self) }
        }
        if transpose.contains(name), e.shape.count == 2 {
            let (r, c) = (e.shape[0], e.shape[1])
            var t = [Float](repeating: 0, count: vals.count)
            for i in 0..<r { for j in 0..<c { t[j * r + i] = vals[i * c + j] } }
            return Tensor(shape: [c, r], data: t)
        }
        return Tensor(shape: e.shape, data: vals)
    }
}

/// max|a−b| / max|b|, llm.c-style report.
func relError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var md = 0.0, mr = 0.0
    for i in a.indices { md = max(md, Double(abs(a[i] - b[i]))); mr = max(mr, Double(abs(b[i]))) }
    return md / max(mr, 1e-30)
}

func loadJSON(_ url: URL) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
}

func floats(_ any: Any?) -> [Float] { ((any as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.floatValue } }
func ints(_ any: Any?) -> [Int] { ((any as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.intValue } }
