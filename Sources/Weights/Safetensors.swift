// safetensors: 8-byte little-endian header length, a JSON header, then raw tensor bytes.
// The file is memory-mapped; the header is validated in full before any tensor is handed out.

import Foundation
import TensorCore

public final class SafetensorsFile: WeightStore, @unchecked Sendable {
    /// Headers above this are refused before parsing (real checkpoints use well under 1 MB).
    public static let maxHeaderBytes = 100 << 20
    public static let maxTensors = 1_000_000

    public let path: String
    public let file: MappedFile
    public let metadata: [String: String]
    private let entries: [String: Entry]
    public let names: [String]
    private let dataStart: Int

    struct Entry { let info: TensorInfo; let begin: Int; let end: Int }

    public var sourceDescription: String { path }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let h = try Self.parseHeader(base: file.base, size: file.size, path: path)
        entries = h.entries
        metadata = h.metadata
        dataStart = h.dataStart
        names = h.entries.keys.sorted()
    }

    /// Parses and validates a safetensors header held in memory (`size` bytes at `base`).
    /// Exposed for fuzzing; `path` is only used in error messages.
    static func parseHeader(base: UnsafeRawPointer?, size: Int, path: String) throws
        -> (entries: [String: Entry], metadata: [String: String], dataStart: Int) {
        guard size >= 8, let base else {
            throw WeightsError.truncated(file: path, detail: "\(size) bytes, shorter than the 8-byte header length")
        }
        let headerLen64 = base.loadUnaligned(as: UInt64.self).littleEndian
        // Another kind of file (text, video, ...) is named as such, not as a header of absurd length.
        if headerLen64 > UInt64(size - 8) && (size == 8 || base.load(fromByteOffset: 8, as: UInt8.self) != UInt8(ascii: "{")) {
            throw WeightsError.unsupportedFormat(file: path, detail: "not a safetensors file (an 8-byte header length, then a JSON header) nor a PyTorch zip checkpoint")
        }
        if headerLen64 > UInt64(size - 8) {
            throw WeightsError.truncated(file: path, detail: "header length \(headerLen64) extends past the end of the file (\(size) bytes)")
        }
        let headerLen = Int(headerLen64)
        if headerLen > Self.maxHeaderBytes {
            throw WeightsError.badHeader(file: path, detail: "header length \(headerLen) exceeds the \(Self.maxHeaderBytes)-byte limit")
        }
        if headerLen < 2 { throw WeightsError.badHeader(file: path, detail: "header of \(headerLen) bytes cannot hold a JSON object") }
        let headerData = Data(bytes: base + 8, count: headerLen)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerData, options: []) } catch {
            throw WeightsError.badHeader(file: path, detail: "header is not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = json as? [String: Any] else { throw WeightsError.badHeader(file: path, detail: "header is not a JSON object") }
        if dict.count > Self.maxTensors { throw WeightsError.badHeader(file: path, detail: "\(dict.count) entries exceed the limit of \(Self.maxTensors)") }

        let dataStart = 8 + headerLen
        let dataSize = size - dataStart
        var meta: [String: String] = [:]
        var parsed: [String: Entry] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                if let m = value as? [String: Any] { for (k, v) in m { meta[k] = "\(v)" } }
                continue
            }
            guard let obj = value as? [String: Any] else { throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "entry is not an object") }
            guard let dtypeName = obj["dtype"] as? String else { throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "missing 'dtype'") }
            guard let dtype = DType(rawValue: dtypeName) else { throw WeightsError.unsupportedDType(file: path, tensor: name, dtype: dtypeName) }
            guard let shapeAny = obj["shape"] as? [Any], let shape = Self.intArray(shapeAny) else {
                throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "'shape' is missing or not a list of integers")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "negative dimension in shape \(shape)") }
            guard let offAny = obj["data_offsets"] as? [Any], let offs = Self.intArray(offAny), offs.count == 2 else {
                throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "'data_offsets' is missing or not two integers")
            }
            let (begin, end) = (offs[0], offs[1])
            guard begin >= 0, begin <= end else { throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "data_offsets [\(begin), \(end)] are reversed or negative") }
            guard end <= dataSize else {
                throw WeightsError.truncated(file: path, detail: "tensor '\(name)' ends at byte \(end) of the data section, which has only \(dataSize) bytes")
            }
            var elements = 1
            for d in shape {
                let (r, overflow) = elements.multipliedReportingOverflow(by: d)
                if overflow { throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "shape \(shape) overflows") }
                elements = r
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            if overflow || bytes != end - begin {
                throw WeightsError.badTensorEntry(file: path, tensor: name, detail: "shape \(shape) of \(dtypeName) needs \(overflow ? "too many" : String(bytes)) bytes but data_offsets span \(end - begin)")
            }
            parsed[name] = Entry(info: TensorInfo(name: name, dtype: dtype, shape: shape), begin: begin, end: end)
        }
        // No two tensors may share bytes.
        let sorted = parsed.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
        for i in sorted.indices.dropFirst() where sorted[i].begin < sorted[i - 1].end {
            throw WeightsError.overlapping(file: path, first: sorted[i - 1].info.name, second: sorted[i].info.name)
        }
        return (parsed, meta, dataStart)
    }

    /// Validates a safetensors image held in memory and returns its tensor infos (fuzzing, tests).
    public static func validate(bytes: UnsafeRawBufferPointer, path: String = "<memory>") throws -> [TensorInfo] {
        try parseHeader(base: bytes.baseAddress, size: bytes.count, path: path).entries.values.map(\.info)
    }

    private static func intArray(_ a: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in a {
            if let n = v as? NSNumber {
                // Reject non-integral numbers.
                let d = n.doubleValue
                if d != d.rounded() || abs(d) > 9.0e15 { return nil }
                out.append(n.intValue)
            } else { return nil }
        }
        return out
    }

    public func info(_ name: String) -> TensorInfo? { entries[name]?.info }

    public func weight(_ name: String) throws -> WeightTensor {
        guard let e = entries[name] else { throw WeightsError.missingTensor(name: name, source: path) }
        let raw = e.end > e.begin ? file.base! + dataStart + e.begin : UnsafeRawPointer(file.base ?? UnsafeRawPointer(bitPattern: 64)!)
        return WeightTensor(name: name, shape: e.info.shape, dtype: e.info.dtype, raw: raw, owner: file)
    }
}
