// Writes safetensors files, atomically: bytes go to a temporary name in the same folder and are
// renamed over the destination only when complete.

import Foundation
import TensorCore

public struct SafetensorsWriter {
    public struct Item {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Produces the tensor's bytes; called once, in file order, while writing.
        public let bytes: () throws -> Data
        public init(name: String, dtype: DType, shape: [Int], bytes: @escaping () throws -> Data) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }
    }

    public init() {}

    /// Float32 tensor converted to `dtype` (F32, F16 or BF16).
    public static func item(_ name: String, _ t: Tensor, as dtype: DType = .f32) -> Item {
        Item(name: name, dtype: dtype, shape: t.shape) { encode(t, as: dtype) }
    }

    public static func encode(_ t: Tensor, as dtype: DType) -> Data {
        let n = t.count
        switch dtype {
        case .f32: return t.withData { Data(buffer: $0) }
        case .bf16:
            var out = [UInt16](repeating: 0, count: n)
            let p = t.pointer
            for i in 0..<n { out[i] = floatToBF16(p[i]) }
            return out.withUnsafeBufferPointer { Data(buffer: $0) }
        case .f16:
            var out = [UInt16](repeating: 0, count: n)
            let p = t.pointer
            for i in 0..<n { out[i] = floatToF16(p[i]) }
            return out.withUnsafeBufferPointer { Data(buffer: $0) }
        default:
            preconditionFailure("SafetensorsWriter encodes floats as F32, F16 or BF16, not \(dtype)")
        }
    }

    /// Writes `items` to `path`. Tensor data are laid out in the given order.
    public func write(_ items: [Item], to path: String, metadata: [String: String] = [:]) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for it in items {
            let bytes = it.shape.reduce(1, *) * it.dtype.byteSize
            header[it.name] = ["dtype": it.dtype.rawValue, "shape": it.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // pad so the data section is 8-byte aligned
        let tmp = path + ".partial-\(getpid())"
        // Registered before it exists, so a signal at any moment after creation removes it.
        PendingOutputs.register(tmp)
        defer { PendingOutputs.unregister(tmp) }
        guard FileManager.default.createFile(atPath: tmp, contents: nil) else {
            throw WeightsError.cannotOpen(file: path, reason: "cannot create \(tmp) (is the folder writable?)")
        }
        do {
            let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp))
            defer { try? fh.close() }
            var len = UInt64(json.count).littleEndian
            try fh.write(contentsOf: Data(bytes: &len, count: 8))
            try fh.write(contentsOf: json)
            for it in items {
                let d = try it.bytes()
                let expected = it.shape.reduce(1, *) * it.dtype.byteSize
                guard d.count == expected else { throw WeightsError.other("\(path): tensor '\(it.name)' produced \(d.count) bytes, expected \(expected)") }
                try fh.write(contentsOf: d)
            }
            try fh.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? WeightsError { throw e }
            throw WeightsError.other("\(path): write failed: \(error.localizedDescription)")
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw WeightsError.other("\(path): cannot move the finished file into place: \(reason)")
        }
    }
}
