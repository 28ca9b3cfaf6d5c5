// Softmax over the last axis.

@inlinable @inline(__always)
public func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    let total = expShiftedRow(p, n)
    if total == 0 { return }
    let inv = 1 / total
    for j in 0..<n { p[j] *= inv }
}

/// The unnormalised half of a softmax: p[j] = exp(p[j] - max p) in place; returns the sum, which
/// is at least 1 unless every entry is -inf (masked), where the row becomes zeros and 0 is
/// returned. Attention divides its [rows, D] output by the sum instead of the [rows, N] weights.
@inlinable @inline(__always)
public func expShiftedRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    expShiftedRow(p, n, shift: rowMax(p, n))
}

/// The largest of p[0..<n] (-inf for an empty or fully masked row).
@inlinable @inline(__always)
public func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    // Max in 8 lanes: a scalar max chain does not vectorise and costs as much as the exps.
    var lanes = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        lanes.replace(with: v, where: v .> lanes)      // a compare and blend (Swift.max adds NaN checks)
        i += 8
    }
    var mx = lanes[0]
    for l in 1..<8 { mx = Swift.max(mx, lanes[l]) }
    while i < n { mx = Swift.max(mx, p[i]); i += 1 }
    return mx
}

/// p[j] = exp(p[j] - shift) in place, returning the sum; `shift` is at least max p (the running
/// maximum of an online softmax may be larger). A shift of -inf (every entry masked) gives zeros
/// and 0.
@inlinable @inline(__always)
public func expShiftedRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, shift mx: Float) -> Float {
    if mx == -Float.infinity {           // every entry masked: define the row as zeros
        for j in 0..<n { p[j] = 0 }
        return 0
    }
    // exp and sum in one pass, 8 lanes at a time.
    let shift = SIMD8<Float>(repeating: mx)
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        let e = expApprox(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - shift)
        UnsafeMutableRawPointer(p + i).storeBytes(of: e, as: SIMD8<Float>.self)
        acc += e
        i += 8
    }
    var total = acc.sum()
    while i < n { let e = expApprox(p[i] - mx); p[i] = e; total += e; i += 1 }
    return total
}

public func softmax(_ x: Tensor) -> Tensor {
    var y = x
    let c = y.shape.last ?? 1
    let rows = y.count / max(c, 1)
    let p = SendablePointer(y.mutablePointer)
    parallelFor(rows, minPerThread: max(1, 4096 / max(c, 1))) { r in
        for row in r { softmaxRow(p.p + row * c, c) }
    }
    return y
}
