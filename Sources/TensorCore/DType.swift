// Element types the engine reads from checkpoints, and half-width conversions.

public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
    public var isFloatingPoint: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
}

@inlinable @inline(__always)
public func bf16ToFloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

@inlinable @inline(__always)
public func floatToBF16(_ f: Float) -> UInt16 {
    // Round to nearest even, NaN stays NaN.
    let u = f.bitPattern
    if f.isNaN { return UInt16(truncatingIfNeeded: (u >> 16) | 0x40) }
    let rounding = ((u >> 16) & 1) &+ 0x7FFF
    return UInt16(truncatingIfNeeded: (u &+ rounding) >> 16)
}

@inlinable @inline(__always)
public func f16ToFloat(_ h: UInt16) -> Float {
    #if arch(x86_64) || arch(arm64)
    return Float(Float16(bitPattern: h))
    #else
    fatalError("Float16 unavailable")
    #endif
}

@inlinable @inline(__always)
public func floatToF16(_ f: Float) -> UInt16 { Float16(f).bitPattern }

/// Converts `n` raw elements of `dtype` at `src` (any alignment) into float32 at `dst`.
public func convertToFloat(_ src: UnsafeRawPointer, dtype: DType, count n: Int, into dst: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
    case .bf16:
        let s = SendablePointer(src.assumingMemoryBound(to: UInt16.self))
        let d = SendablePointer(dst)
        parallelFor(n, minPerThread: 1 << 18) { r in
            for i in r { d.p[i] = Float(bitPattern: UInt32(s.p[i]) << 16) }
        }
    case .f16:
        let s = SendablePointer(src.assumingMemoryBound(to: UInt16.self))
        let d = SendablePointer(dst)
        parallelFor(n, minPerThread: 1 << 18) { r in
            for i in r { d.p[i] = f16ToFloat(s.p[i]) }
        }
    case .f64:
        for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
    case .i64:
        for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
    case .i32:
        for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
    case .i16:
        for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
    case .i8:
        for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
    case .u8, .bool:
        for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
    }
}
