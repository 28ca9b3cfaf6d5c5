// Elementwise ops: activations, arithmetic with NumPy-style broadcasting, and in-place forms.
// Kernels are plain loops over raw pointers so LLVM vectorises them.

import Foundation

public enum GELUApproximation: Sendable { case tanh, erf }

// MARK: activations

@inlinable @inline(__always)
func geluTanhScalar(_ x: Float) -> Float {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    let u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1 + tanhApprox(u))
}

/// Applies `f` to every element in place, in parallel chunks.
@inlinable
public func mapInPlace(_ x: inout Tensor, _ f: @escaping @Sendable (Float) -> Float) {
    let n = x.count
    let p = SendablePointer(x.mutablePointer)
    parallelFor(n, minPerThread: 1 << 15) { r in
        let q = p.p
        for i in r { q[i] = f(q[i]) }
    }
}

public func geluInPlace(_ x: inout Tensor, approximation: GELUApproximation = .tanh) {
    let n = x.count
    let p = SendablePointer(x.mutablePointer)
    switch approximation {
    case .tanh:
        parallelFor(n, minPerThread: 1 << 15) { r in
            let q = p.p
            for i in r { q[i] = geluTanhScalar(q[i]) }
        }
    case .erf:
        parallelFor(n, minPerThread: 1 << 14) { r in
            let q = p.p
            for i in r { let v = q[i]; q[i] = 0.5 * v * (1 + Foundation.erf(v * 0.7071067811865476)) }
        }
    }
}

public func gelu(_ x: Tensor, approximation: GELUApproximation = .tanh) -> Tensor {
    var y = x; geluInPlace(&y, approximation: approximation); return y
}

public func siluInPlace(_ x: inout Tensor) {
    let n = x.count
    let p = SendablePointer(x.mutablePointer)
    parallelFor(n, minPerThread: 1 << 15) { r in
        let q = p.p
        for i in r { let v = q[i]; q[i] = v / (1 + expApprox(-v)) }
    }
}

public func silu(_ x: Tensor) -> Tensor { var y = x; siluInPlace(&y); return y }

// MARK: broadcasting arithmetic

public enum BinaryOp: Sendable { case add, sub, mul, div }

@inlinable @inline(__always)
func apply(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
    switch op {
    case .add: return a + b
    case .sub: return a - b
    case .mul: return a * b
    case .div: return a / b
    }
}

/// Shape that `a` and `b` broadcast to (NumPy rules), or nil.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        if da != db && da != 1 && db != 1 { return nil }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// a (op) b with broadcasting. Fast paths for equal shapes and a trailing-suffix b.
public func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    var out = Tensor(uninitialized: shape)
    let n = out.count
    let o = SendablePointer(out.mutablePointer), ap = SendablePointer(a.pointer), bp = SendablePointer(b.pointer)
    if a.shape == shape && b.shape == shape {
        parallelFor(n, minPerThread: 1 << 16) { r in
            switch op {
            case .add: for i in r { o.p[i] = ap.p[i] + bp.p[i] }
            case .sub: for i in r { o.p[i] = ap.p[i] - bp.p[i] }
            case .mul: for i in r { o.p[i] = ap.p[i] * bp.p[i] }
            case .div: for i in r { o.p[i] = ap.p[i] / bp.p[i] }
            }
        }
        return out
    }
    if a.shape == shape && b.count > 0 && isTrailingSuffix(b.shape, of: shape) {
        let inner = b.count, rows = n / inner
        parallelFor(rows, minPerThread: max(1, (1 << 15) / inner)) { r in
            for row in r {
                let oa = row * inner
                for j in 0..<inner { o.p[oa + j] = apply(op, ap.p[oa + j], bp.p[j]) }
            }
        }
        return out
    }
    // General path: strided iteration.
    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
    var idx = [Int](repeating: 0, count: shape.count)
    for i in 0..<n {
        var ia = 0, ib = 0
        for d in 0..<shape.count { ia += idx[d] * sa[d]; ib += idx[d] * sb[d] }
        o.p[i] = apply(op, ap.p[ia], bp.p[ib])
        var d = shape.count - 1
        while d >= 0 { idx[d] += 1; if idx[d] < shape[d] { break }; idx[d] = 0; d -= 1 }
    }
    return out
}

func isTrailingSuffix(_ s: [Int], of full: [Int]) -> Bool {
    var t = s
    while let f = t.first, f == 1, t.count > 0 { t.removeFirst() }
    if t.count > full.count { return false }
    return Array(full.suffix(t.count)) == t
}

/// Element strides of `s` broadcast to `to` (0 along broadcast axes).
public func broadcastStrides(_ s: [Int], to: [Int]) -> [Int] {
    let r = to.count
    var strides = [Int](repeating: 0, count: r)
    var acc = 1
    for i in stride(from: s.count - 1, through: 0, by: -1) {
        let d = r - s.count + i
        strides[d] = s[i] == 1 ? 0 : acc
        acc *= s[i]
    }
    return strides
}

public func + (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .add) }
public func - (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .sub) }
public func * (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .mul) }
public func / (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .div) }

public func * (a: Tensor, s: Float) -> Tensor { var y = a; y.scale(by: s); return y }
public func + (a: Tensor, s: Float) -> Tensor {
    var y = a
    let n = y.count, p = y.mutablePointer
    for i in 0..<n { p[i] += s }
    return y
}

extension Tensor {
    /// self += other (same shape, or other broadcast along leading axes).
    public mutating func add(_ other: Tensor) {
        if other.shape == shape {
            let n = count, o = SendablePointer(mutablePointer), b = SendablePointer(other.pointer)
            parallelFor(n, minPerThread: 1 << 16) { r in for i in r { o.p[i] += b.p[i] } }
        } else {
            self = binary(self, other, .add)
        }
    }

    /// self += alpha * other (same shape).
    public mutating func addScaled(_ other: Tensor, _ alpha: Float) {
        precondition(other.count == count, "addScaled: \(shape) vs \(other.shape)")
        let n = count, o = SendablePointer(mutablePointer), b = SendablePointer(other.pointer)
        parallelFor(n, minPerThread: 1 << 16) { r in for i in r { o.p[i] += alpha * b.p[i] } }
    }

    public mutating func scale(by s: Float) {
        let n = count, o = SendablePointer(mutablePointer)
        parallelFor(n, minPerThread: 1 << 16) { r in for i in r { o.p[i] *= s } }
    }
}

/// Elementwise clamp.
public func clamp(_ x: Tensor, min lo: Float, max hi: Float) -> Tensor {
    var y = x
    let n = y.count, p = y.mutablePointer
    for i in 0..<n { p[i] = Swift.min(Swift.max(p[i], lo), hi) }
    return y
}
