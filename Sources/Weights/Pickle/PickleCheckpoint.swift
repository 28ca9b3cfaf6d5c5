// PyTorch `.bin` / `.pth` checkpoints written by torch.save (the zip format of torch >= 1.6):
// `<archive>/data.pkl` pickles the state dict, `<archive>/data/<key>` hold the raw storages,
// stored uncompressed, so tensors are served straight from the memory map.
//
// Every tensor is checked against its storage (dtype, extent) when the file is opened.
// Contiguous tensors are views; a tensor with other strides is copied into a contiguous buffer
// when it is first asked for. Nested dicts ({"state_dict": {...}}) are flattened to dotted
// names; non-tensor leaves (epoch counters, config strings) are ignored.

import Foundation
import TensorCore

public final class PickleCheckpoint: WeightStore, @unchecked Sendable {
    public let path: String
    public let names: [String]
    public var sourceDescription: String { path }

    private let file: MappedFile
    private let entries: [String: Entry]
    private let lock = NSLock()
    private var copies: [String: WeightTensor] = [:]

    struct Entry {
        let info: TensorInfo
        let dataStart: Int          // byte offset of the storage's first element in the file
        let offset: Int             // in elements
        let strides: [Int]
        let contiguous: Bool
    }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        try Self.refuseNonZip(file)
        let zip = try ZipArchive(file: file)
        guard let pklName = zip.order.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }), let pkl = zip.entries[pklName] else {
            throw WeightsError.unsupportedFormat(file: path, detail: "zip archive has no data.pkl, so it is not a torch.save checkpoint")
        }
        let prefix = String(pklName.dropLast("data.pkl".count))
        if let order = zip.entries[prefix + "byteorder"] {
            let b = try zip.bytes(of: order)
            if String(decoding: b, as: UTF8.self) != "little" {
                throw WeightsError.unsupportedFormat(file: path, detail: "tensors are stored big-endian; only little-endian checkpoints are supported")
            }
        }
        let root: PickleValue
        do { root = try Unpickler.load(try zip.bytes(of: pkl)) } catch let e as PickleError {
            throw WeightsError.unsupportedFormat(file: path, detail: "\(pklName): \(e)")
        }
        var tensors: [(String, PickledTensor)] = []
        try Self.collect(root, prefix: "", into: &tensors, file: path)
        guard Self.isDict(root) else {
            throw WeightsError.unsupportedFormat(file: path, detail: "\(pklName) holds no state dict (expected a dict of tensors)")
        }

        var storageStart: [String: (start: Int, bytes: Int)] = [:]
        var parsed: [String: Entry] = [:]
        for (name, t) in tensors {
            guard parsed[name] == nil else { throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "name appears twice") }
            let s = t.storage
            if storageStart[s.key] == nil {
                guard let e = zip.entries[prefix + "data/" + s.key] else {
                    throw WeightsError.truncated(file: path, detail: "storage '\(s.key)' of tensor '\(name)' is missing from the archive")
                }
                storageStart[s.key] = (try zip.dataOffset(of: e), e.size)
            }
            let (start, bytes) = storageStart[s.key]!
            let (needed, overflow) = s.count.multipliedReportingOverflow(by: s.dtype.byteSize)
            guard !overflow, needed <= bytes else {
                throw WeightsError.truncated(file: path, detail: "storage '\(s.key)' of tensor '\(name)' should hold \(s.count) \(s.dtype.rawValue) elements but has \(bytes) bytes")
            }
            try Self.checkExtent(t, name: name, file: path)
            parsed[name] = Entry(info: TensorInfo(name: name, dtype: s.dtype, shape: t.shape), dataStart: start,
                                 offset: t.offset, strides: t.strides, contiguous: t.shape.contains(0) || Self.isContiguous(t.shape, t.strides))
        }
        entries = parsed
        names = parsed.keys.sorted()
    }

    public func info(_ name: String) -> TensorInfo? { entries[name]?.info }

    public func weight(_ name: String) throws -> WeightTensor {
        guard let e = entries[name] else { throw WeightsError.missingTensor(name: name, source: path) }
        let size = e.info.dtype.byteSize
        if e.contiguous {
            let raw = e.info.shape.contains(0) ? UnsafeRawPointer(file.base ?? UnsafeRawPointer(bitPattern: 64)!) : file.base! + e.dataStart + e.offset * size
            return WeightTensor(name: name, shape: e.info.shape, dtype: e.info.dtype, raw: raw, owner: file)
        }
        lock.lock(); defer { lock.unlock() }
        if let w = copies[name] { return w }
        let w = gather(e, name: name)
        copies[name] = w
        return w
    }

    /// Copies a strided tensor into a contiguous buffer of the same dtype.
    private func gather(_ e: Entry, name: String) -> WeightTensor {
        let size = e.info.dtype.byteSize, shape = e.info.shape
        let count = shape.reduce(1, *)
        let buffer = OwnedBytes(count: max(count * size, 1))
        let src = file.base! + e.dataStart
        var index = [Int](repeating: 0, count: shape.count)
        for i in 0..<count {
            var element = e.offset
            for d in 0..<shape.count { element += index[d] * e.strides[d] }
            buffer.pointer.advanced(by: i * size).copyMemory(from: src + element * size, byteCount: size)
            var d = shape.count - 1
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        return WeightTensor(name: name, shape: shape, dtype: e.info.dtype, raw: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    // MARK: validation

    private static func refuseNonZip(_ f: MappedFile) throws {
        guard let b = f.base, f.size >= 4 else { throw WeightsError.truncated(file: f.path, detail: "\(f.size) bytes is too short for a PyTorch checkpoint") }
        if b.load(as: UInt8.self) == 0x50, b.load(fromByteOffset: 1, as: UInt8.self) == 0x4B { return }
        if b.load(as: UInt8.self) == 0x80 {
            throw WeightsError.unsupportedFormat(file: f.path, detail: "legacy PyTorch serialization (torch < 1.6 or _use_new_zipfile_serialization=False) is not supported; re-save it with a current torch.save, or convert it to safetensors")
        }
        throw WeightsError.unsupportedFormat(file: f.path, detail: "not a PyTorch checkpoint (torch.save writes a zip archive starting with 'PK')")
    }

    private static func isDict(_ v: PickleValue) -> Bool { if case .dict = v { return true }; return false }

    /// Tensors of a (nested) dict, named by their dotted key path.
    private static func collect(_ v: PickleValue, prefix: String, into out: inout [(String, PickledTensor)], file: String) throws {
        switch v {
        case let .tensor(t): out.append((prefix, t))
        case let .dict(d):
            for (k, value) in d.items {
                let key: String
                switch k {
                case let .string(s): key = s
                case let .int(i): key = String(i)
                default: throw WeightsError.unsupportedFormat(file: file, detail: "state dict has a key that is not a string under '\(prefix)'")
                }
                try collect(value, prefix: prefix.isEmpty ? key : prefix + "." + key, into: &out, file: file)
            }
        default: break
        }
    }

    private static func checkExtent(_ t: PickledTensor, name: String, file: String) throws {
        let s = t.storage
        func bad(_ d: String) -> WeightsError { .badTensorEntry(file: file, tensor: name, detail: d) }
        guard t.offset >= 0, t.shape.allSatisfy({ $0 >= 0 }), t.strides.allSatisfy({ $0 >= 0 }) else {
            throw bad("negative size, stride or offset (size \(t.shape), stride \(t.strides), offset \(t.offset))")
        }
        if t.shape.contains(0) { return }
        var last = t.offset
        for (n, st) in zip(t.shape, t.strides) {
            let (m, o1) = (n - 1).multipliedReportingOverflow(by: st)
            let (sum, o2) = last.addingReportingOverflow(m)
            guard !o1, !o2 else { throw bad("size \(t.shape) with stride \(t.strides) overflows") }
            last = sum
        }
        guard last < s.count else {
            throw bad("size \(t.shape), stride \(t.strides), offset \(t.offset) reach element \(last) of a storage of \(s.count)")
        }
        // A weight never holds more elements than its storage; overlapping (broadcast, stride 0)
        // views would let a small file expand without bound when copied.
        var elements = 1
        for n in t.shape {
            let (m, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow, m <= s.count else {
                throw bad("size \(t.shape) has more elements than its storage of \(s.count); overlapping (broadcast) views are not supported")
            }
            elements = m
        }
    }

    static func isContiguous(_ shape: [Int], _ strides: [Int]) -> Bool {
        var expected = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            if shape[d] != 1 && strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }
}

/// Heap bytes owned by a WeightTensor (a strided tensor's contiguous copy).
final class OwnedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(count: Int) { pointer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64) }
    deinit { pointer.deallocate() }
}
