// The byte-level BPE model: GPT-2's byte→char table, vocab and merge ranks keyed by ids, the
// merge loop (fast linked-list + heap path and the naive O(n²) reference beside it) and a
// bounded per-word cache. It knows nothing about files; the JSON and GGUF loaders build it.
import Foundation
import LCCore

/// GPT-2 `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100….
enum ByteLevelTable {
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            let direct = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if direct { table[b] = Unicode.Scalar(UInt8(b)) } else {
                table[b] = Unicode.Scalar(256 + extra) ?? " "
                extra += 1
            }
        }
        return table
    }()
    static let scalarToByte: [Unicode.Scalar: UInt8] = {
        var m: [Unicode.Scalar: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { m[s] = UInt8(b) }
        return m
    }()

    /// The byte-level string of raw text (each UTF-8 byte → one table char).
    static func encode(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for b in s.utf8 { out.append(byteToScalar[Int(b)]) }
        return String(out)
    }

    /// HF ByteLevel decoder for one token: table chars → bytes; a token with any other char stays raw UTF-8.
    static func decodeToken(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            guard let b = scalarToByte[s] else { return Array(token.utf8) }
            out.append(b)
        }
        return out
    }
}

/// A BPE vocabulary with merge ranks. Ids are `Int`; merges are looked up by id pair.
final class BPEModel: @unchecked Sendable {
    struct Merge { let rank: Int; let newID: Int }

    /// Vocab keyed by UTF-8 bytes (not `String`, whose equality is canonical equivalence).
    let vocab: [[UInt8]: Int]
    let idToToken: [Int: String]
    let merges: [UInt64: Merge]
    let ignoreMerges: Bool
    let unkID: Int?
    /// Vocab id of each single byte char (nil when missing).
    private let byteIDs: [Int?]

    private let lock = NSLock()
    private var cache: [[UInt8]: [Int]] = [:]
    private let cacheLimit = 50_000

    /// - Throws: `LCError.format` if a merge names tokens (or a merged token) missing from the vocab,
    ///   or ids are negative or duplicated.
    init(vocab: [String: Int], merges: [(String, String)], ignoreMerges: Bool, unkToken: String?, path: String) throws {
        var v: [[UInt8]: Int] = [:]
        var r: [Int: String] = [:]
        for (tok, id) in vocab {
            guard id >= 0 else { throw LCError.format(path: path, message: "negative id \(id) for token '\(tok)'") }
            if let prev = r[id] { throw LCError.format(path: path, message: "id \(id) used by '\(prev)' and '\(tok)'") }
            v[Array(tok.utf8)] = id
            r[id] = tok
        }
        var m: [UInt64: Merge] = [:]
        m.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = v[Array(a.utf8)], let ib = v[Array(b.utf8)] else {
                throw LCError.format(path: path, message: "merge \(rank) '\(a) \(b)': token not in vocab")
            }
            guard let inew = v[Array((a + b).utf8)] else {
                throw LCError.format(path: path, message: "merge \(rank) '\(a) \(b)': merged token not in vocab")
            }
            let key = Self.key(ia, ib)
            if m[key] == nil { m[key] = Merge(rank: rank, newID: inew) }  // first occurrence wins, as in HF
        }
        self.vocab = v
        self.idToToken = r
        self.merges = m
        self.ignoreMerges = ignoreMerges
        self.unkID = unkToken.flatMap { v[Array($0.utf8)] }
        byteIDs = ByteLevelTable.byteToScalar.map { v[Array(String($0).utf8)] }
    }

    @inline(__always) static func key(_ a: Int, _ b: Int) -> UInt64 {
        (UInt64(UInt32(truncatingIfNeeded: a)) << 32) | UInt64(UInt32(truncatingIfNeeded: b))
    }

    /// Ids of one pre-tokenized piece given as raw UTF-8 bytes (before the byte→char mapping).
    func tokenize(rawBytes: [UInt8]) -> [Int] {
        lock.lock()
        if let hit = cache[rawBytes] { lock.unlock(); return hit }
        lock.unlock()
        let ids = tokenizeUncached(rawBytes)
        lock.lock()
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[rawBytes] = ids
        lock.unlock()
        return ids
    }

    func tokenizeUncached(_ rawBytes: [UInt8], naive: Bool = false) -> [Int] {
        if ignoreMerges {
            var mapped: [UInt8] = []
            for b in rawBytes { mapped.append(contentsOf: String(ByteLevelTable.byteToScalar[Int(b)]).utf8) }
            if let id = vocab[mapped] { return [id] }
        }
        // Missing byte chars become unk when the model has one, else are dropped (HF behaviour).
        let symbols = rawBytes.compactMap { byteIDs[Int($0)] ?? unkID }
        return naive ? mergeNaive(symbols) : mergeFast(symbols)
    }

    /// Reference: repeatedly merge the adjacent pair with the lowest rank (leftmost on ties).
    func mergeNaive(_ start: [Int]) -> [Int] {
        var syms = start
        while syms.count > 1 {
            var best: Merge?
            var at = -1
            for i in 0..<(syms.count - 1) {
                if let m = merges[Self.key(syms[i], syms[i + 1])], m.rank < (best?.rank ?? Int.max) { best = m; at = i }
            }
            guard let b = best else { break }
            syms[at] = b.newID
            syms.remove(at: at + 1)
        }
        return syms
    }

    /// Linked list of symbols + min-heap of candidate merges ordered by (rank, position), skipping
    /// stale entries — the same order as the reference, in O(n log n).
    func mergeFast(_ start: [Int]) -> [Int] {
        let n = start.count
        if n < 2 { return start }
        var ids = start
        var prev = Array(-1..<(n - 1))
        var next = Array(1...n); next[n - 1] = -1
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[Self.key(ids[i], ids[i + 1])] { heap.push(.init(rank: m.rank, pos: i, newID: m.newID)) }
        }
        while let top = heap.pop() {
            let i = top.pos
            guard alive[i] else { continue }
            let j = next[i]
            guard j >= 0, let m = merges[Self.key(ids[i], ids[j])], m.rank == top.rank, m.newID == top.newID else { continue }
            ids[i] = m.newID
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { prev[next[j]] = i }
            if prev[i] >= 0, let pm = merges[Self.key(ids[prev[i]], ids[i])] {
                heap.push(.init(rank: pm.rank, pos: prev[i], newID: pm.newID))
            }
            if next[i] >= 0, let nm = merges[Self.key(ids[i], ids[next[i]])] {
                heap.push(.init(rank: nm.rank, pos: i, newID: nm.newID))
            }
        }
        var out: [Int] = []
        var k = 0
        while k >= 0 { out.append(ids[k]); k = next[k] }
        return out
    }
}

/// Binary min-heap of merge candidates keyed by (rank, pos).
struct MergeHeap {
    struct Item { let rank: Int; let pos: Int; let newID: Int }
    private var a: [Item] = []

    @inline(__always) private func less(_ x: Item, _ y: Item) -> Bool { x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos }

    mutating func push(_ x: Item) {
        a.append(x)
        var c = a.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            if less(a[c], a[p]) { a.swapAt(c, p); c = p } else { break }
        }
    }

    mutating func pop() -> Item? {
        guard let first = a.first else { return nil }
        let last = a.removeLast()
        if a.isEmpty { return first }
        a[0] = last
        var p = 0
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < a.count && less(a[l], a[m]) { m = l }
            if r < a.count && less(a[r], a[m]) { m = r }
            if m == p { break }
            a.swapAt(p, m); p = m
        }
        return first
    }
}
