// A pickle *reader* that never executes anything: a stack machine over the opcode subset torch's
// weights-only unpickler accepts (formats.md §1c) plus cheap protocol-4 opcodes. Objects live in an
// arena so in-place mutation after MEMOIZE behaves as in Python; the result is a `PickleValue` tree.
// GLOBAL / STACK_GLOBAL names must be on an allowlist. It deliberately has no general object
// model, no INST/OBJ/EXT opcodes and no text-mode (protocol 0) integers or strings.
import Foundation
import LCCore

public enum Pickle {
    /// Resource caps for one read. All inputs are untrusted.
    public struct Limits: Sendable {
        /// Maximum number of items on the stack (including marks).
        public var maxStack = 1 << 20
        /// Maximum number of memo entries; memo indices must be below this.
        public var maxMemo = 1 << 20
        /// Maximum number of opcodes executed.
        public var maxOps = 50_000_000
        /// Maximum nesting depth of the produced tree.
        public var maxDepth = 256
        /// Maximum nodes in the produced tree (shared memo references are expanded; this stops
        /// "billion laughs" DAGs).
        public var maxTreeNodes = 20_000_000
        public init() {}
    }

    /// Globals a checkpoint pickle may name (`module.name`). Nothing is ever called; names outside
    /// this set are refused because their only purpose in a pickle is code execution.
    public static let allowedGlobals: Set<String> = {
        var s: Set<String> = [
            "collections.OrderedDict",
            "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
            "torch.Tensor", "torch.nn.parameter.Parameter", "torch.Size", "torch.device",
            "builtins.set", "builtins.bytearray", "__builtin__.set", "__builtin__.bytearray",
            "_codecs.encode",
        ]
        for t in TorchCheckpoint.storageDTypes.keys { s.insert("torch.\(t)") }
        return s
    }()

    /// True for names in `allowedGlobals` and for any `torch.<X>Storage` class name (storage
    /// classes only tag a dtype; unknown ones are reported by the checkpoint reader as unsupported).
    public static func isAllowed(module: String, name: String) -> Bool {
        if allowedGlobals.contains("\(module).\(name)") { return true }
        return module == "torch" && name.hasSuffix("Storage") && name.count <= 64
            && name.unicodeScalars.allSatisfy { (("0"..."9").contains($0) || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || $0 == "_") }
    }

    /// Parses one pickle from `bytes` (up to and including STOP).
    /// - Parameter path: file named in errors.
    /// - Throws: `LCError.format(path:, message: "pickle: …")` for a forbidden global, an unknown
    ///   opcode (byte and offset), memo/stack misuse, truncation or exceeded limits.
    public static func read(_ bytes: UnsafeRawBufferPointer, path: String, limits: Limits = .init()) throws -> PickleValue {
        var m = Machine(cursor: ByteCursor(bytes, path: path), limits: limits)
        let root = try m.run()
        var budget = limits.maxTreeNodes
        var visiting = Set<Int>()
        return try m.materialize(root, depth: 0, budget: &budget, visiting: &visiting)
    }
}

/// Arena node: like `PickleValue`, but children are arena indices so containers can be mutated.
private enum Node {
    case leaf(PickleValue)
    case tuple([Int]), list([Int]), dict([(Int, Int)]), set([Int])
    case reduce(Int, Int), build(Int, Int), object(Int, Int, Int), persid(Int)
}

private enum Slot { case mark, ref(Int) }

private struct Machine {
    var cursor: ByteCursor
    let limits: Pickle.Limits
    var nodes: [Node] = []
    var stack: [Slot] = []
    var memo: [Int: Int] = [:]
    var opOffset = 0

    var path: String { cursor.path }
    func fail(_ m: String) -> LCError { .format(path: path, message: "pickle: \(m)") }

    mutating func add(_ n: Node) -> Int { nodes.append(n); return nodes.count - 1 }

    mutating func push(_ n: Node) throws { try pushRef(add(n)) }
    mutating func pushRef(_ r: Int) throws {
        guard stack.count < limits.maxStack else { throw fail("stack exceeds \(limits.maxStack) items at offset \(opOffset)") }
        stack.append(.ref(r))
    }
    mutating func pop(_ op: String) throws -> Int {
        guard let top = stack.popLast() else { throw fail("\(op) at offset \(opOffset) on an empty stack") }
        guard case let .ref(r) = top else { throw fail("\(op) at offset \(opOffset) found a MARK instead of a value") }
        return r
    }
    func top(_ op: String) throws -> Int {
        guard case let .ref(r)? = stack.last else { throw fail("\(op) at offset \(opOffset) needs a value on the stack") }
        return r
    }
    /// Pops everything down to the topmost MARK (and the MARK).
    mutating func popMark(_ op: String) throws -> [Int] {
        guard let i = stack.lastIndex(where: { if case .mark = $0 { return true }; return false }) else {
            throw fail("\(op) at offset \(opOffset) without a MARK")
        }
        let items = stack[(i + 1)...].map { slot -> Int in if case let .ref(r) = slot { return r }; return -1 }
        stack.removeSubrange(i...)
        return items
    }
    mutating func memoPut(_ index: Int) throws {
        guard index >= 0, index < limits.maxMemo else { throw fail("memo index \(index) at offset \(opOffset) exceeds the limit \(limits.maxMemo)") }
        memo[index] = try top("PUT")
    }
    mutating func memoGet(_ index: Int) throws {
        guard let r = memo[index] else { throw fail("memo index \(index) at offset \(opOffset) was never stored (memo has \(memo.count) entries)") }
        try pushRef(r)
    }
    mutating func string(_ count: Int) throws -> String {
        guard count <= cursor.remaining else { throw fail("string of \(count) bytes at offset \(opOffset) exceeds the \(cursor.remaining) bytes left") }
        return try cursor.readUTF8(count, what: "pickle string")
    }
    mutating func rawBytes(_ count: Int) throws -> [UInt8] {
        guard count <= cursor.remaining else { throw fail("bytes of length \(count) at offset \(opOffset) exceed the \(cursor.remaining) bytes left") }
        return Array(try cursor.readBytes(count))
    }
    mutating func global(_ module: String, _ name: String) throws {
        let full = "\(module).\(name)"
        guard Pickle.isAllowed(module: module, name: name) else { throw fail("forbidden global '\(full)' at offset \(opOffset)") }
        try push(.leaf(.global(module: module, name: name)))
    }
    mutating func line() throws -> String {
        var bytes: [UInt8] = []
        while true {
            let b = try cursor.read(UInt8.self)
            if b == 0x0A { break }
            bytes.append(b)
            guard bytes.count <= 256 else { throw fail("GLOBAL name at offset \(opOffset) longer than 256 bytes") }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("GLOBAL name at offset \(opOffset) is not UTF-8") }
        return s
    }
    func leafString(_ r: Int) -> String? { if case let .leaf(.string(s)) = nodes[r] { return s }; return nil }

    /// REDUCE on an allowlisted constructor whose result is plain data becomes that data, so later
    /// SETITEMS / APPENDS have a container to fill.
    mutating func reduce(_ callable: Int, _ args: Int) throws -> Node {
        guard case let .leaf(.global(m, n)) = nodes[callable] else { throw fail("REDUCE at offset \(opOffset) on a non-global callable") }
        let argv: [Int]? = { if case let .tuple(a) = nodes[args] { return a }; return nil }()
        switch ("\(m).\(n)", argv?.count) {
        case ("collections.OrderedDict", 0): return .dict([])
        case ("builtins.set", 0), ("__builtin__.set", 0): return .set([])
        case ("builtins.set", 1), ("__builtin__.set", 1):
            if let a = argv, case let .list(items) = nodes[a[0]] { return .set(items) }
        case ("_codecs.encode", 2):
            // Protocol-2 bytes: _codecs.encode(str, 'latin1').
            if let a = argv, let s = leafString(a[0]), leafString(a[1]) == "latin1" {
                var out: [UInt8] = []
                for u in s.unicodeScalars {
                    guard u.value < 256 else { throw fail("_codecs.encode latin1 string with code point \(u.value) at offset \(opOffset)") }
                    out.append(UInt8(u.value))
                }
                return .leaf(.bytes(out))
            }
        default: break
        }
        return .reduce(callable, args)
    }

    mutating func run() throws -> Int {
        var ops = 0
        while true {
            opOffset = cursor.position
            ops += 1
            guard ops <= limits.maxOps else { throw fail("more than \(limits.maxOps) opcodes") }
            guard cursor.remaining > 0 else { throw fail("ended at offset \(opOffset) without STOP") }
            let op = try cursor.read(UInt8.self)
            switch op {
            case 0x80: let p = try cursor.read(UInt8.self)                                   // PROTO
                guard p <= 5 else { throw fail("unsupported protocol \(p)") }
            case 0x95: let n = try cursor.read(UInt64.self)                                  // FRAME
                guard n <= UInt64(cursor.remaining) else { throw fail("FRAME of \(n) bytes at offset \(opOffset) exceeds the data") }
            case 0x2E:                                                                       // STOP
                let r = try pop("STOP")
                return r
            case 0x28: guard stack.count < limits.maxStack else { throw fail("stack limit at offset \(opOffset)") } // MARK
                stack.append(.mark)
            case 0x63: let mod = try line(); let name = try line(); try global(mod, name)     // GLOBAL
            case 0x93:                                                                       // STACK_GLOBAL
                let n = try pop("STACK_GLOBAL"), m = try pop("STACK_GLOBAL")
                guard let ms = leafString(m), let ns = leafString(n) else { throw fail("STACK_GLOBAL at offset \(opOffset) with non-string operands") }
                try global(ms, ns)
            case 0x71: try memoPut(Int(try cursor.read(UInt8.self)))                         // BINPUT
            case 0x72: try memoPut(Int(try cursor.read(UInt32.self)))                        // LONG_BINPUT
            case 0x94: try memoPut(memo.count)                                               // MEMOIZE
            case 0x68: try memoGet(Int(try cursor.read(UInt8.self)))                         // BINGET
            case 0x6A: try memoGet(Int(try cursor.read(UInt32.self)))                        // LONG_BINGET
            case 0x7D: try push(.dict([]))                                                   // EMPTY_DICT
            case 0x5D: try push(.list([]))                                                   // EMPTY_LIST
            case 0x29: try push(.tuple([]))                                                  // EMPTY_TUPLE
            case 0x8F: try push(.set([]))                                                    // EMPTY_SET
            case 0x58: try push(.leaf(.string(try string(Int(try cursor.read(UInt32.self))))))   // BINUNICODE
            case 0x8C: try push(.leaf(.string(try string(Int(try cursor.read(UInt8.self))))))    // SHORT_BINUNICODE
            case 0x8D: let n = try cursor.read(UInt64.self)                                  // BINUNICODE8
                guard n <= UInt64(cursor.remaining) else { throw fail("string of \(n) bytes at offset \(opOffset) exceeds the data") }
                try push(.leaf(.string(try string(Int(n)))))
            case 0x55: try push(.leaf(.bytes(try rawBytes(Int(try cursor.read(UInt8.self))))))   // SHORT_BINSTRING
            case 0x43: try push(.leaf(.bytes(try rawBytes(Int(try cursor.read(UInt8.self))))))   // SHORT_BINBYTES
            case 0x42: try push(.leaf(.bytes(try rawBytes(Int(try cursor.read(UInt32.self))))))  // BINBYTES
            case 0x4A: try push(.leaf(.int(Int64(try cursor.read(Int32.self)))))            // BININT
            case 0x4B: try push(.leaf(.int(Int64(try cursor.read(UInt8.self)))))            // BININT1
            case 0x4D: try push(.leaf(.int(Int64(try cursor.read(UInt16.self)))))           // BININT2
            case 0x8A:                                                                       // LONG1
                let n = Int(try cursor.read(UInt8.self))
                let b = Array(try cursor.readBytes(n))
                try push(.leaf(Self.long(b)))
            case 0x47: try push(.leaf(.float(Double(bitPattern: UInt64(bigEndian: try cursor.read(UInt64.self))))))  // BINFLOAT
            case 0x4E: try push(.leaf(.none))                                               // NONE
            case 0x88: try push(.leaf(.bool(true)))                                         // NEWTRUE
            case 0x89: try push(.leaf(.bool(false)))                                        // NEWFALSE
            case 0x74: try push(.tuple(try popMark("TUPLE")))                               // TUPLE
            case 0x85: let a = try pop("TUPLE1"); try push(.tuple([a]))
            case 0x86: let b = try pop("TUPLE2"), a = try pop("TUPLE2"); try push(.tuple([a, b]))
            case 0x87: let c = try pop("TUPLE3"), b = try pop("TUPLE3"), a = try pop("TUPLE3"); try push(.tuple([a, b, c]))
            case 0x52: let args = try pop("REDUCE"), f = try pop("REDUCE"); try push(try reduce(f, args))
            case 0x62: let state = try pop("BUILD"), obj = try pop("BUILD"); try push(.build(obj, state))
            case 0x81: let args = try pop("NEWOBJ"), cls = try pop("NEWOBJ")                // NEWOBJ
                try push(.object(cls, args, add(.dict([]))))
            case 0x92: let kw = try pop("NEWOBJ_EX"), args = try pop("NEWOBJ_EX"), cls = try pop("NEWOBJ_EX")
                try push(.object(cls, args, kw))
            case 0x51: let pid = try pop("BINPERSID"); try push(.persid(pid))               // BINPERSID
            case 0x73: let v = try pop("SETITEM"), k = try pop("SETITEM"); try setItems([k, v], "SETITEM")
            case 0x75: try setItems(try popMark("SETITEMS"), "SETITEMS")
            case 0x61: let v = try pop("APPEND"); try append([v], "APPEND")
            case 0x65: try append(try popMark("APPENDS"), "APPENDS")
            case 0x90:                                                                       // ADDITEMS
                let items = try popMark("ADDITEMS"), t = try top("ADDITEMS")
                guard case let .set(s) = nodes[t] else { throw fail("ADDITEMS at offset \(opOffset) on a non-set") }
                nodes[t] = .set(s + items)
            default:
                throw fail("unknown or unsupported opcode 0x\(String(op, radix: 16)) at offset \(opOffset)")
            }
        }
    }

    mutating func setItems(_ kv: [Int], _ op: String) throws {
        guard kv.count % 2 == 0 else { throw fail("\(op) at offset \(opOffset) with an odd number of items") }
        let t = try top(op)
        guard case var .dict(pairs) = nodes[t] else { throw fail("\(op) at offset \(opOffset) on a non-dict") }
        nodes[t] = .leaf(.none)  // release the array so the append below does not copy
        for i in stride(from: 0, to: kv.count, by: 2) { pairs.append((kv[i], kv[i + 1])) }
        nodes[t] = .dict(pairs)
    }

    mutating func append(_ items: [Int], _ op: String) throws {
        let t = try top(op)
        guard case var .list(l) = nodes[t] else { throw fail("\(op) at offset \(opOffset) on a non-list") }
        nodes[t] = .leaf(.none)
        l.append(contentsOf: items)
        nodes[t] = .list(l)
    }

    /// LONG1 payload: two's complement little-endian.
    static func long(_ b: [UInt8]) -> PickleValue {
        if b.isEmpty { return .int(0) }
        guard b.count <= 8 else { return .bigint(b) }
        var v: UInt64 = 0
        for (i, byte) in b.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
        if b.count < 8, b[b.count - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(b.count)) }
        return .int(Int64(bitPattern: v))
    }

    /// Arena → tree. Depth and node budgets bound the work; a cycle is an error.
    func materialize(_ r: Int, depth: Int, budget: inout Int, visiting: inout Set<Int>) throws -> PickleValue {
        budget -= 1
        guard budget >= 0 else { throw fail("value tree exceeds \(limits.maxTreeNodes) nodes (shared references expanded)") }
        guard depth <= limits.maxDepth else { throw fail("nesting deeper than \(limits.maxDepth)") }
        guard visiting.insert(r).inserted else { throw fail("self-referencing object (cycle)") }
        defer { visiting.remove(r) }
        func m(_ i: Int) throws -> PickleValue { try materialize(i, depth: depth + 1, budget: &budget, visiting: &visiting) }
        switch nodes[r] {
        case let .leaf(v): return v
        case let .tuple(a): return .tuple(try a.map(m))
        case let .list(a): return .list(try a.map(m))
        case let .set(a): return .set(try a.map(m))
        case let .dict(p): return .dict(try p.map { PickleValue.Pair(try m($0.0), try m($0.1)) })
        case let .reduce(f, a): return .reduce(callable: try m(f), args: try m(a))
        case let .build(o, s): return .build(object: try m(o), state: try m(s))
        case let .object(c, a, k): return .object(cls: try m(c), args: try m(a), kwargs: try m(k))
        case let .persid(p): return .persistentID(try m(p))
        }
    }
}
