// A read-only tensor that may live outside the engine's heap (memory-mapped checkpoint bytes)
// and may be half-width. Models hold their parameters as WeightTensors; ops that consume weights
// (linear, conv) convert half-width data to float32 on use, into a reused scratch buffer.

import Foundation

public struct WeightTensor: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let dtype: DType
    /// First byte of the data (any alignment for half types; f32 data is copied if unaligned).
    public let raw: UnsafeRawPointer
    /// Keeps the memory behind `raw` alive (a mapped file or a Tensor's storage).
    public let owner: AnyObject

    public var count: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int], dtype: DType, raw: UnsafeRawPointer, owner: AnyObject) {
        self.name = name; self.shape = shape; self.dtype = dtype; self.raw = raw; self.owner = owner
    }

    /// Wraps an in-memory float32 tensor (shares its buffer).
    public init(_ t: Tensor, name: String = "") {
        self.name = name
        self.shape = t.shape
        self.dtype = .f32
        self.raw = UnsafeRawPointer(t.pointer)
        self.owner = t.storage
    }

    /// A float32 copy.
    public func toTensor() -> Tensor {
        var t = Tensor(uninitialized: shape)
        convertToFloat(raw, dtype: dtype, count: count, into: t.mutablePointer)
        return t
    }

    /// Calls `body` with float32 data: directly for aligned f32, else through a converted copy
    /// held in a scratch buffer that is reused across calls (so do not keep the pointer).
    public func withFloatPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        if dtype == .f32 && Int(bitPattern: raw) % MemoryLayout<Float>.alignment == 0 {
            return try body(raw.assumingMemoryBound(to: Float.self))
        }
        return try ScratchArena.shared.withBuffer(count: count) { buf in
            convertToFloat(raw, dtype: dtype, count: count, into: buf)
            return try body(UnsafePointer(buf))
        }
    }

    /// Drops this weight's resident pages when it lives in a memory-mapped file (a no-op for heap
    /// memory). The data stays valid: touching it again faults the pages back in, from the page
    /// cache when the kernel still has them. Lets a model stream a large checkpoint layer by layer
    /// with a resident set of one layer.
    public func releasePages() {
        (owner as? PageReleasable)?.releasePages(raw, byteCount: count * dtype.byteSize)
    }

    /// Same bytes, new shape.
    public func reshaped(_ s: [Int]) -> WeightTensor {
        precondition(s.reduce(1, *) == count, "cannot reshape weight \(name) \(shape) to \(s)")
        return WeightTensor(name: name, shape: s, dtype: dtype, raw: raw, owner: owner)
    }
}

/// Memory that can give back the physical pages behind part of itself (a file mapping).
public protocol PageReleasable: AnyObject {
    func releasePages(_ start: UnsafeRawPointer, byteCount: Int)
}

/// Reusable float32 buffers for converting half-width weights. A small pool (not one buffer)
/// so nested users (a conv converting its weight while a caller holds another) do not collide.
public final class ScratchArena: @unchecked Sendable {
    public static let shared = ScratchArena()
    private var free: [(UnsafeMutablePointer<Float>, Int)] = []
    public init() {}
    private let lock = NSLock()

    public func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        lock.lock()
        var buf: (UnsafeMutablePointer<Float>, Int)
        // Best fit: a small request (an int8 linear's per-worker products) must not take the
        // large weight-conversion buffer, or the next conversion allocates another large one.
        if let i = free.indices.filter({ free[$0].1 >= count }).min(by: { free[$0].1 < free[$1].1 }) {
            buf = free.remove(at: i)
        } else if let i = free.indices.max(by: { free[$0].1 < free[$1].1 }) {
            let old = free.remove(at: i)
            UnsafeMutableRawPointer(old.0).deallocate()
            buf = (Self.allocate(count), count)
        } else {
            buf = (Self.allocate(count), count)
        }
        lock.unlock()
        defer { lock.lock(); free.append(buf); lock.unlock() }
        return try body(buf.0)
    }

    /// Frees every cached buffer (between pipeline stages).
    public func releaseAll() {
        lock.lock(); defer { lock.unlock() }
        for b in free { UnsafeMutableRawPointer(b.0).deallocate() }
        free.removeAll()
    }

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(n, 1) * 4, alignment: 64).bindMemory(to: Float.self, capacity: max(n, 1))
    }
}
