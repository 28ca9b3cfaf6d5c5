// A WeightStore hands out tensors by their checkpoint names, whatever the file format.
// Models ask for every name and shape they need when they are built, before any compute.

import TensorCore

public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public init(name: String, dtype: DType, shape: [Int]) { self.name = name; self.dtype = dtype; self.shape = shape }
}

public protocol WeightStore: AnyObject, Sendable {
    /// What to call this store in error messages (a file path, usually).
    var sourceDescription: String { get }
    /// Every tensor name, sorted.
    var names: [String] { get }
    func info(_ name: String) -> TensorInfo?
    /// The tensor's bytes, without copying where possible.
    func weight(_ name: String) throws -> WeightTensor
}

extension WeightStore {
    public func contains(_ name: String) -> Bool { info(name) != nil }

    /// The weight, checked against an expected shape and required to be floating point.
    public func weight(_ name: String, shape: [Int]) throws -> WeightTensor {
        guard let i = info(name) else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        if i.shape != shape { throw WeightsError.shapeMismatch(name: name, source: sourceDescription, expected: shape, found: i.shape) }
        if !(i.dtype == .f32 || i.dtype == .f16 || i.dtype == .bf16) {
            throw WeightsError.dtypeMismatch(name: name, source: sourceDescription, expected: "F32, F16 or BF16", found: i.dtype.rawValue)
        }
        return try weight(name)
    }

    /// A float32 copy (any stored dtype converted).
    public func tensor(_ name: String) throws -> Tensor { try weight(name).toTensor() }

    /// A float32 copy checked against a shape.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor { try weight(name, shape: shape).toTensor() }

    /// Integer data (I64, I32, BOOL, ...) as Int.
    public func integers(_ name: String) throws -> [Int] {
        let w = try weight(name)
        switch w.dtype {
        case .i64: return (0..<w.count).map { Int(w.raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        case .i32: return (0..<w.count).map { Int(w.raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        case .u8, .bool: return (0..<w.count).map { Int(w.raw.load(fromByteOffset: $0, as: UInt8.self)) }
        default: return w.toTensor().array.map { Int($0) }
        }
    }

    /// Shape of a tensor or a missingTensor error.
    public func shape(_ name: String) throws -> [Int] {
        guard let i = info(name) else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        return i.shape
    }
}

/// A view of another store under a name prefix: `PrefixedStore(base, "encoder.")["x"]` reads "encoder.x".
public final class PrefixedStore: WeightStore, @unchecked Sendable {
    public let base: WeightStore
    public let prefix: String
    public init(_ base: WeightStore, prefix: String) { self.base = base; self.prefix = prefix }
    public var sourceDescription: String { base.sourceDescription }
    public var names: [String] { base.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } }
    public func info(_ name: String) -> TensorInfo? {
        base.info(prefix + name).map { TensorInfo(name: name, dtype: $0.dtype, shape: $0.shape) }
    }
    public func weight(_ name: String) throws -> WeightTensor { try base.weight(prefix + name) }
}

/// An in-memory store (tests, random-weight benchmarks).
public final class MemoryStore: WeightStore, @unchecked Sendable {
    public var tensors: [String: Tensor]
    public let sourceDescription: String
    public init(_ tensors: [String: Tensor], description: String = "<memory>") { self.tensors = tensors; self.sourceDescription = description }
    public var names: [String] { tensors.keys.sorted() }
    public func info(_ name: String) -> TensorInfo? { tensors[name].map { TensorInfo(name: name, dtype: .f32, shape: $0.shape) } }
    public func weight(_ name: String) throws -> WeightTensor {
        guard let t = tensors[name] else { throw WeightsError.missingTensor(name: name, source: sourceDescription) }
        return WeightTensor(t, name: name)
    }
}
