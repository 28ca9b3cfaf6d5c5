// Softmax over the last axis.

@inlinable @inline(__always)
public func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    var mx = -Float.infinity
    for j in 0..<n { mx = Swift.max(mx, p[j]) }
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
