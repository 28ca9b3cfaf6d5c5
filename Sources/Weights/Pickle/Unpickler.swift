// A restricted pickle reader for PyTorch state dicts. It runs the pickle opcodes that build
// plain data (ints, floats, strings, bytes, tuples, lists, dicts) and knows exactly five kinds
// of global: collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter,
// the torch.*Storage types named in persistent ids, and argparse.Namespace (the `args` entry of
// training checkpoints such as DiT's train.py writes), which is read as an empty mapping with its
// attributes discarded. Any other global is refused by name when the GLOBAL opcode is read;
// REDUCE and NEWOBJ apply only those known callables; nothing is executed.

import TensorCore

enum PickleError: Error, CustomStringConvertible {
    case truncated(at: Int)
    case refusedGlobal(String)
    case unsupportedOpcode(UInt8, at: Int)
    case malformed(String, at: Int)

    var description: String {
        switch self {
        case let .truncated(at): return "pickle data ends unexpectedly at byte \(at)"
        case let .refusedGlobal(g):
            return "pickle refers to '\(g)', which is not a tensor or state-dict type; refusing to load it (allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage, argparse.Namespace)"
        case let .unsupportedOpcode(op, at): return "unsupported pickle opcode 0x\(String(op, radix: 16)) at byte \(at)"
        case let .malformed(d, at): return "malformed pickle at byte \(at): \(d)"
        }
    }
}

/// A storage named by a persistent id: ('storage', torch.XStorage, key, location, numel).
struct PickledStorage: Equatable {
    let dtype: DType
    let key: String
    let count: Int
}

/// A tensor rebuilt by _rebuild_tensor_v2: a strided view of a storage.
struct PickledTensor {
    let storage: PickledStorage
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

final class PickledList { var items: [PickleValue] = [] }
final class PickledDict { var items: [(key: PickleValue, value: PickleValue)] = [] }

enum KnownGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storageType(DType)
    /// A training script's parsed arguments: an inert mapping, attributes discarded.
    case argumentNamespace

    static func lookup(module: String, name: String) -> KnownGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch", _): return storageTypes[name].map { .storageType($0) }
        case ("argparse", "Namespace"): return .argumentNamespace
        default: return nil
        }
    }

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]
}

enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickledList)
    case dict(PickledDict)
    case global(KnownGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)
}

struct Unpickler {
    static let maxStack = 10_000_000

    private let data: UnsafeRawBufferPointer
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(_ data: UnsafeRawBufferPointer) { self.data = data }

    /// Runs the pickle to its STOP opcode and returns the value it built.
    static func load(_ data: UnsafeRawBufferPointer) throws -> PickleValue {
        var u = Unpickler(data)
        return try u.run()
    }

    private mutating func run() throws -> PickleValue {
        while true {
            let at = pos
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                            // PROTO
            case 0x95: _ = try read(8)                                           // FRAME
            case 0x2E:                                                           // STOP
                guard stack.count == 1, marks.isEmpty else { throw PickleError.malformed("STOP with \(stack.count) values on the stack", at: at) }
                return stack[0]
            case 0x28: marks.append(stack.count)                                 // MARK
            case 0x29: try push(.tuple([]))                                      // EMPTY_TUPLE
            case 0x5D: try push(.list(PickledList()))                            // EMPTY_LIST
            case 0x7D: try push(.dict(PickledDict()))                            // EMPTY_DICT
            case 0x4E: try push(.none)                                           // NONE
            case 0x88: try push(.bool(true))                                     // NEWTRUE
            case 0x89: try push(.bool(false))                                    // NEWFALSE
            case 0x4B: try push(.int(Int(try byte())))                           // BININT1
            case 0x4D: try push(.int(Int(try uint(2))))                          // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4))))) // BININT
            case 0x8A: try push(.int(try long(Int(try byte()), at: at)))         // LONG1
            case 0x8B: try push(.int(try long(try length(4), at: at)))           // LONG4
            case 0x47:                                                           // BINFLOAT (big-endian)
                let bits = try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                try push(.float(Double(bitPattern: bits)))
            case 0x58: try push(.string(try utf8(try length(4))))                // BINUNICODE
            case 0x8C: try push(.string(try utf8(Int(try byte()))))              // SHORT_BINUNICODE
            case 0x8D: try push(.string(try utf8(try length(8))))                // BINUNICODE8
            case 0x43: try push(.bytes(Array(try read(Int(try byte())))))        // SHORT_BINBYTES
            case 0x42: try push(.bytes(Array(try read(try length(4)))))          // BINBYTES
            case 0x8E: try push(.bytes(Array(try read(try length(8)))))          // BINBYTES8
            case 0x71: memo[Int(try byte())] = try top(at)                       // BINPUT
            case 0x72: memo[try length(4)] = try top(at)                         // LONG_BINPUT
            case 0x94: memo[memo.count] = try top(at)                            // MEMOIZE
            case 0x68, 0x6A:                                                     // BINGET, LONG_BINGET
                let i = op == 0x68 ? Int(try byte()) : try length(4)
                guard let v = memo[i] else { throw PickleError.malformed("memo entry \(i) was never stored", at: at) }
                try push(v)
            case 0x30: _ = try pop(at)                                           // POP
            case 0x31: _ = try popMark(at)                                       // POP_MARK
            case 0x74: try push(.tuple(try popMark(at)))                         // TUPLE
            case 0x85: let a = try pop(at); try push(.tuple([a]))                // TUPLE1
            case 0x86: let b = try pop(at), a = try pop(at); try push(.tuple([a, b]))   // TUPLE2
            case 0x87: let c = try pop(at), b = try pop(at), a = try pop(at); try push(.tuple([a, b, c]))  // TUPLE3
            case 0x61:                                                           // APPEND
                let v = try pop(at)
                guard case let .list(l) = try top(at) else { throw PickleError.malformed("APPEND to a non-list", at: at) }
                l.items.append(v)
            case 0x65:                                                           // APPENDS
                let vs = try popMark(at)
                guard case let .list(l) = try top(at) else { throw PickleError.malformed("APPENDS to a non-list", at: at) }
                l.items += vs
            case 0x73:                                                           // SETITEM
                let v = try pop(at), k = try pop(at)
                guard case let .dict(d) = try top(at) else { throw PickleError.malformed("SETITEM on a non-dict", at: at) }
                d.items.append((k, v))
            case 0x75:                                                           // SETITEMS
                let kv = try popMark(at)
                guard kv.count % 2 == 0, case let .dict(d) = try top(at) else { throw PickleError.malformed("SETITEMS needs a dict and key/value pairs", at: at) }
                for i in stride(from: 0, to: kv.count, by: 2) { d.items.append((kv[i], kv[i + 1])) }
            case 0x63:                                                           // GLOBAL "module\nname\n"
                let module = try line(at), name = try line(at)
                try push(.global(try known(module, name)))
            case 0x93:                                                           // STACK_GLOBAL
                guard case let .string(name) = try pop(at), case let .string(module) = try pop(at) else {
                    throw PickleError.malformed("STACK_GLOBAL needs two strings", at: at)
                }
                try push(.global(try known(module, name)))
            case 0x51: try push(try persistent(try pop(at), at))                 // BINPERSID
            case 0x52:                                                           // REDUCE
                let args = try pop(at), callable = try pop(at)
                try push(try reduce(callable, args, at))
            case 0x62:                                                           // BUILD
                let state = try pop(at)
                // Only dicts take state here: OrderedDict's `_metadata` attribute, ignored.
                guard case .dict = try top(at) else { throw PickleError.malformed("BUILD on something other than a dict", at: at) }
                if case .dict = state {} else if case .none = state {} else if case .tuple = state {} else {
                    throw PickleError.malformed("BUILD state of a dict must be a dict", at: at)
                }
            case 0x81:                                                           // NEWOBJ: argparse.Namespace only
                let args = try pop(at), cls = try pop(at)
                guard case .global(.argumentNamespace) = cls, case let .tuple(a) = args, a.isEmpty else {
                    throw PickleError.malformed("object construction (opcode 0x81) is allowed only for argparse.Namespace()", at: at)
                }
                try push(.dict(PickledDict()))
            case 0x92, 0x69, 0x6F:                                               // NEWOBJ_EX, INST, OBJ
                throw PickleError.malformed("object construction (opcode 0x\(String(op, radix: 16))) is not allowed in a state dict", at: at)
            default:
                throw PickleError.unsupportedOpcode(op, at: at)
            }
        }
    }

    // MARK: known callables

    private func known(_ module: String, _ name: String) throws -> KnownGlobal {
        guard let g = KnownGlobal.lookup(module: module, name: name) else { throw PickleError.refusedGlobal(module + "." + name) }
        return g
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue, _ at: Int) throws -> PickleValue {
        guard case let .global(g) = callable else { throw PickleError.malformed("REDUCE applies something that is not a known global", at: at) }
        guard case let .tuple(a) = args else { throw PickleError.malformed("REDUCE arguments are not a tuple", at: at) }
        switch g {
        case .orderedDict:
            guard a.isEmpty else { throw PickleError.malformed("OrderedDict(...) with arguments", at: at) }
            return .dict(PickledDict())
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard a.count >= 4, case let .storage(s) = a[0], case let .int(offset) = a[1],
                  let shape = ints(a[2]), let strides = ints(a[3]), shape.count == strides.count else {
                throw PickleError.malformed("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)", at: at)
            }
            return .tensor(PickledTensor(storage: s, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            guard let first = a.first, case .tensor = first else { throw PickleError.malformed("_rebuild_parameter without a tensor", at: at) }
            return first
        case .storageType:
            throw PickleError.malformed("a storage type is called directly", at: at)
        case .argumentNamespace:
            throw PickleError.malformed("argparse.Namespace is called with REDUCE (expected NEWOBJ)", at: at)
        }
    }

    private func persistent(_ pid: PickleValue, _ at: Int) throws -> PickleValue {
        guard case let .tuple(t) = pid, t.count == 5, case .string("storage") = t[0], case let .global(.storageType(dtype)) = t[1],
              case let .string(key) = t[2], case let .int(count) = t[4], count >= 0 else {
            throw PickleError.malformed("persistent id is not ('storage', torch.XStorage, key, location, numel)", at: at)
        }
        return .storage(PickledStorage(dtype: dtype, key: key, count: count))
    }

    private func ints(_ v: PickleValue) -> [Int]? {
        guard case let .tuple(t) = v else { return nil }
        var out: [Int] = []
        for e in t { guard case let .int(i) = e else { return nil }; out.append(i) }
        return out
    }

    // MARK: stack

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw PickleError.malformed("stack exceeds \(Self.maxStack) values", at: pos) }
        stack.append(v)
    }

    private mutating func pop(_ at: Int) throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw PickleError.malformed("pop from an empty stack", at: at) }
        return v
    }

    private func top(_ at: Int) throws -> PickleValue {
        guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw PickleError.malformed("empty stack", at: at) }
        return v
    }

    private mutating func popMark(_ at: Int) throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw PickleError.malformed("no MARK to pop to", at: at) }
        let vs = Array(stack[m...])
        stack.removeSubrange(m...)
        return vs
    }

    // MARK: reading bytes

    private mutating func byte() throws -> UInt8 {
        guard pos < data.count else { throw PickleError.truncated(at: pos) }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func read(_ n: Int) throws -> UnsafeRawBufferPointer.SubSequence {
        guard n >= 0, n <= data.count - pos else { throw PickleError.truncated(at: pos) }
        defer { pos += n }
        return data[pos..<(pos + n)]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        try read(n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A little-endian length that must fit the remaining data.
    private mutating func length(_ n: Int) throws -> Int {
        let at = pos
        let v = try uint(n)
        guard v <= UInt64(data.count) else { throw PickleError.truncated(at: at) }
        return Int(v)
    }

    /// Little-endian two's-complement integer of n bytes (LONG1/LONG4), up to 64 bits.
    private mutating func long(_ n: Int, at: Int) throws -> Int {
        guard n <= 8 else { throw PickleError.malformed("integer of \(n) bytes is too large", at: at) }
        if n == 0 { return 0 }
        let bytes = try read(n)
        var v = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if n < 8, bytes.last! & 0x80 != 0 { v |= ~UInt64(0) << UInt64(8 * n) }
        return Int(Int64(bitPattern: v))
    }

    private mutating func utf8(_ n: Int) throws -> String { String(decoding: try read(n), as: UTF8.self) }

    private mutating func line(_ at: Int) throws -> String {
        var bytes: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            bytes.append(b)
            if bytes.count > 256 { throw PickleError.malformed("GLOBAL name longer than 256 bytes", at: at) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
