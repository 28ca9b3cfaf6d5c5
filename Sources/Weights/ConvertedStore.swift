// Keeps a checkpoint's float32 tensors in memory as bf16 or f16 (half the bytes), converting
// each on first use. Used when the compute dtype is bf16/fp16 and the file is float32, as the
// published STDiT3 and VAE are: the reference then runs those weights in half precision.

import Foundation
import TensorCore

public final class ConvertedStore: WeightStore, @unchecked Sendable {
    public let base: WeightStore
    public let dtype: DType
    private var cache: [String: WeightTensor] = [:]
    private let lock = NSLock()

    public init(_ base: WeightStore, dtype: DType) {
        precondition(dtype == .bf16 || dtype == .f16, "ConvertedStore converts to BF16 or F16")
        self.base = base
        self.dtype = dtype
    }

    public var sourceDescription: String { base.sourceDescription }
    public var names: [String] { base.names }

    public func info(_ name: String) -> TensorInfo? {
        guard let i = base.info(name) else { return nil }
        return converts(i) ? TensorInfo(name: name, dtype: dtype, shape: i.shape) : i
    }

    /// float32 tensors, except the scales of int8 weights (`Int8Weight.scaleSuffix`), which stay float32.
    private func converts(_ i: TensorInfo) -> Bool { i.dtype == .f32 && !i.name.hasSuffix(".weight" + Int8Weight.scaleSuffix) }

    public func weight(_ name: String) throws -> WeightTensor {
        lock.lock(); defer { lock.unlock() }
        if let w = cache[name] { return w }
        let src = try base.weight(name)
        guard src.dtype == .f32, converts(TensorInfo(name: name, dtype: src.dtype, shape: src.shape)) else { return src }
        let n = src.count
        let buffer = HalfBuffer(count: n)
        let out = SendablePointer(buffer.pointer)
        src.withFloatPointer { p in
            let s = SendablePointer(p)
            if dtype == .bf16 {
                parallelFor(n, minPerThread: 1 << 16) { r in for i in r { out.p[i] = floatToBF16(s.p[i]) } }
            } else {
                parallelFor(n, minPerThread: 1 << 16) { r in for i in r { out.p[i] = floatToF16(s.p[i]) } }
            }
        }
        let w = WeightTensor(name: name, shape: src.shape, dtype: dtype, raw: UnsafeRawPointer(buffer.pointer), owner: buffer)
        cache[name] = w
        return w
    }
}

final class HalfBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>
    init(count: Int) { pointer = .allocate(capacity: max(count, 1)) }
    deinit { pointer.deallocate() }
}

extension WeightStore {
    /// Drops the resident pages of the files behind this store (they are re-read if touched
    /// again). Call after copying or converting what a model needs.
    public func releaseFilePages() {
        switch self {
        case let s as SafetensorsFile: s.file.adviseDontNeed()
        case let s as ShardedStore: for shard in s.shards.values { shard.releaseFilePages() }
        case let s as PrefixedStore: s.base.releaseFilePages()
        case let s as ConvertedStore: s.base.releaseFilePages()
        default: break
        }
    }
}
