// The engine's one tensor type: float32, row-major, contiguous.
//
// `Tensor` is a value type backed by a reference-counted buffer. Reshapes and slices along the
// first axis share the buffer (views); anything that would need strides copies. Mutating access
// (`withMutableData`, `mutablePointer`) copies first if the buffer is shared, so views never
// change under someone else's feet.

import Foundation

/// A heap buffer of float32, 64-byte aligned so SIMD loads and BLAS like it.
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity >= 0, "negative tensor size")
        self.capacity = capacity
        let bytes = max(capacity, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(capacity, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}

public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage
    @usableFromInline var offset: Int

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    // MARK: creation

    /// A tensor whose contents are not initialised (callers overwrite every element).
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.storage = TensorStorage(capacity: shape.reduce(1, *))
        self.offset = 0
    }

    public init(zeros shape: [Int]) {
        self.init(uninitialized: shape)
        storage.base.initialize(repeating: 0, count: count)
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        storage.base.initialize(repeating: value, count: count)
    }

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) holds \(shape.reduce(1, *)) elements, got \(data.count)")
        self.init(uninitialized: shape)
        data.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: data.count) }
    }

    /// Copies `count` floats from a pointer.
    public init(shape: [Int], copying src: UnsafePointer<Float>) {
        self.init(uninitialized: shape)
        storage.base.update(from: src, count: count)
    }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], data: [v]) }

    // MARK: raw access

    /// Read-only pointer to the first element. Valid while `self` is alive.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.base + offset) }

    /// Mutable pointer to the first element; copies the buffer first if it is shared.
    public var mutablePointer: UnsafeMutablePointer<Float> {
        mutating get {
            makeUnique()
            return storage.base + offset
        }
    }

    public func withData<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: pointer, count: count))
    }

    public mutating func withMutableData<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        let p = mutablePointer
        return try body(UnsafeMutableBufferPointer(start: p, count: count))
    }

    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) || offset != 0 {
            let fresh = TensorStorage(capacity: count)
            fresh.base.update(from: storage.base + offset, count: count)
            storage = fresh
            offset = 0
        }
    }

    /// Whether nothing else holds this tensor's buffer, so writing through it in place changes no
    /// other tensor (an in-place kernel may then skip the copy `mutablePointer` would make).
    public var isUniquelyOwned: Bool {
        mutating get { isKnownUniquelyReferenced(&storage) && offset == 0 }
    }

    public var array: [Float] { withData { Array($0) } }

    public subscript(flat i: Int) -> Float {
        get { pointer[i] }
        set { mutablePointer[i] = newValue }
    }

    // MARK: views

    /// Same data, new shape. One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = s
        return t
    }

    /// Rows `range` of the first axis, sharing storage.
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "slice \(range) out of \(shape)")
        let inner = shape.dropFirst().reduce(1, *)
        var t = self
        t.shape[0] = range.count
        t.offset = offset + range.lowerBound * inner
        return t
    }

    /// Element `i` of the first axis, sharing storage (rank drops by one).
    public subscript(i: Int) -> Tensor {
        slice(i..<(i + 1)).reshaped(Array(shape.dropFirst()))
    }

    public var description: String {
        let n = min(count, 8)
        let head = (0..<n).map { String(format: "%.5g", pointer[$0]) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > n ? ", ..." : "")])"
    }
}

extension Tensor {
    /// Maximum absolute difference to another tensor of the same element count.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(count == other.count, "size mismatch \(shape) vs \(other.shape)")
        var m: Float = 0
        let a = pointer, b = other.pointer
        for i in 0..<count {
            let d = abs(a[i] - b[i])
            if d > m || d.isNaN { m = d.isNaN ? .nan : d }
            if m.isNaN { return .nan }
        }
        return m
    }
}
