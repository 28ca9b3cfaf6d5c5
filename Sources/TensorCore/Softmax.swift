// Softmax over the last axis.

@inlinable @inline(__always)
public func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    // Max in 8 lanes: a scalar max chain does not vectorise and costs as much as the exps.
    var lanes = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        for l in 0..<8 { lanes[l] = Swift.max(lanes[l], v[l]) }
        i += 8
    }
    var mx = lanes[0]
    for l in 1..<8 { mx = Swift.max(mx, lanes[l]) }
    while i < n { mx = Swift.max(mx, p[i]); i += 1 }
    if mx == -Float.infinity {           // every entry masked: define the row as zeros
        for j in 0..<n { p[j] = 0 }
        return
    }
    for j in 0..<n { p[j] = expApprox(p[j] - mx) }
    let inv = 1 / sumRow(UnsafePointer(p), n)
    for j in 0..<n { p[j] *= inv }
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
