// Layout ops that copy: permute, concat, narrow, pad, nearest upsampling.

/// Reorders axes: out.shape[i] = x.shape[order[i]].
public func permute(_ x: Tensor, _ order: [Int]) -> Tensor {
    precondition(order.sorted() == Array(0..<x.rank), "permute order \(order) invalid for rank \(x.rank)")
    let outShape = order.map { x.shape[$0] }
    var out = Tensor(uninitialized: outShape)
    if x.count == 0 { return out }
    var inStrides = [Int](repeating: 1, count: x.rank)
    for i in stride(from: x.rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * x.shape[i + 1] }
    let s = order.map { inStrides[$0] }
    let r = outShape.count
    let src = SendablePointer(x.pointer), dst = SendablePointer(out.mutablePointer)
    // Parallel over the leading output axis; innermost axis copied in a tight loop.
    let inner = outShape[r - 1], innerStride = s[r - 1]
    let outerCount = x.count / max(inner, 1)
    parallelFor(outerCount, minPerThread: max(1, 16384 / max(inner, 1))) { rows in
        var idx = [Int](repeating: 0, count: r)
        var rem = rows.lowerBound
        for d in stride(from: r - 2, through: 0, by: -1) { idx[d] = rem % outShape[d]; rem /= outShape[d] }
        for row in rows {
            var off = 0
            for d in 0..<(r - 1) { off += idx[d] * s[d] }
            let o = dst.p + row * inner
            if innerStride == 1 { o.update(from: src.p + off, count: inner) } else { for j in 0..<inner { o[j] = src.p[off + j * innerStride] } }
            var d = r - 2
            while d >= 0 { idx[d] += 1; if idx[d] < outShape[d] { break }; idx[d] = 0; d -= 1 }
        }
    }
    return out
}

/// Concatenates along `axis`; other axes must agree.
public func concat(_ xs: [Tensor], axis: Int) -> Tensor {
    precondition(!xs.isEmpty, "concat of nothing")
    let r = xs[0].rank
    let ax = axis < 0 ? axis + r : axis
    for t in xs {
        precondition(t.rank == r, "concat ranks differ")
        for d in 0..<r where d != ax { precondition(t.shape[d] == xs[0].shape[d], "concat shapes differ: \(xs.map(\.shape)) on axis \(ax)") }
    }
    var shape = xs[0].shape
    shape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
    var out = Tensor(uninitialized: shape)
    let outer = shape[..<ax].reduce(1, *)
    let innerOut = shape[ax...].reduce(1, *)
    let op = out.mutablePointer
    var col = 0
    for t in xs {
        let innerT = t.shape[ax...].reduce(1, *)
        let tp = t.pointer
        for o in 0..<outer { (op + o * innerOut + col).update(from: tp + o * innerT, count: innerT) }
        col += innerT
    }
    return out
}

/// Elements `range` along `axis` (a copy).
public func narrow(_ x: Tensor, axis: Int, _ range: Range<Int>) -> Tensor {
    let ax = axis < 0 ? axis + x.rank : axis
    precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[ax], "narrow \(range) out of axis \(ax) of \(x.shape)")
    if ax == 0 { return x.slice(range) }
    var shape = x.shape
    shape[ax] = range.count
    var out = Tensor(uninitialized: shape)
    let outer = x.shape[..<ax].reduce(1, *)
    let after = x.shape[(ax + 1)...].reduce(1, *)
    let inInner = x.shape[ax] * after, outInner = range.count * after
    let xp = x.pointer, op = out.mutablePointer
    for o in 0..<outer { (op + o * outInner).update(from: xp + o * inInner + range.lowerBound * after, count: outInner) }
    return out
}

/// Pads `axis` with `before`/`after` copies of `value` (or of the edge element with `replicate`).
public func pad(_ x: Tensor, axis: Int, before: Int, after: Int, value: Float = 0, replicate: Bool = false) -> Tensor {
    let ax = axis < 0 ? axis + x.rank : axis
    var shape = x.shape
    let n = x.shape[ax]
    shape[ax] = n + before + after
    var out = Tensor(uninitialized: shape)
    let outer = x.shape[..<ax].reduce(1, *)
    let after_ = x.shape[(ax + 1)...].reduce(1, *)
    let xp = x.pointer, op = out.mutablePointer
    for o in 0..<outer {
        let src = xp + o * n * after_, dst = op + o * shape[ax] * after_
        for i in 0..<shape[ax] {
            let j = i - before
            let d = dst + i * after_
            if j >= 0 && j < n { d.update(from: src + j * after_, count: after_) }
            else if replicate && n > 0 { d.update(from: src + Swift.min(Swift.max(j, 0), n - 1) * after_, count: after_) }
            else { d.update(repeating: value, count: after_) }
        }
    }
    return out
}

/// Pads the last three axes of x: [N, C, T, H, W] on every side as `p` says, with zeros or, with
/// `replicate`, copies of the nearest edge element (PyTorch F.pad mode 'replicate').
public func pad(_ x: Tensor, _ p: Padding3D, replicate: Bool) -> Tensor {
    precondition(x.rank == 5, "pad expects [N, C, T, H, W], got \(x.shape)")
    let (t, h, w) = (x.shape[2], x.shape[3], x.shape[4])
    let (to, ho, wo) = (t + p.front + p.back, h + p.top + p.bottom, w + p.left + p.right)
    var out = Tensor(uninitialized: [x.shape[0], x.shape[1], to, ho, wo])
    let src = SendablePointer(x.pointer), dst = SendablePointer(out.mutablePointer)
    parallelFor(x.shape[0] * x.shape[1] * to) { r in
        @inline(__always) func clampIndex(_ i: Int, _ n: Int) -> Int { Swift.min(Swift.max(i, 0), n - 1) }
        for row in r {
            let plane = row / to, ot = row % to
            let it = ot - p.front
            let d = dst.p + row * ho * wo
            guard replicate || (it >= 0 && it < t) else { d.update(repeating: 0, count: ho * wo); continue }
            let s = src.p + (plane * t + clampIndex(it, t)) * h * w
            for oh in 0..<ho {
                let ih = oh - p.top, drow = d + oh * wo
                guard replicate || (ih >= 0 && ih < h) else { drow.update(repeating: 0, count: wo); continue }
                let srow = s + clampIndex(ih, h) * w
                for ow in 0..<p.left { drow[ow] = replicate ? srow[0] : 0 }
                (drow + p.left).update(from: srow, count: w)
                for ow in (p.left + w)..<wo { drow[ow] = replicate ? srow[w - 1] : 0 }
            }
        }
    }
    return out
}

/// Nearest-neighbour upsampling of the last two axes by integer factors. x: [..., H, W].
public func upsampleNearest(_ x: Tensor, scaleH: Int = 2, scaleW: Int = 2) -> Tensor {
    precondition(x.rank >= 2, "upsampleNearest needs at least 2 axes")
    let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
    let planes = x.count / max(h * w, 1)
    var shape = x.shape
    shape[x.rank - 2] = h * scaleH; shape[x.rank - 1] = w * scaleW
    var out = Tensor(uninitialized: shape)
    let xp = SendablePointer(x.pointer), op = SendablePointer(out.mutablePointer)
    let oh = h * scaleH, ow = w * scaleW
    parallelFor(planes) { r in
        for pl in r {
            let s = xp.p + pl * h * w, d = op.p + pl * oh * ow
            for i in 0..<oh {
                let srow = s + (i / scaleH) * w, drow = d + i * ow
                for j in 0..<ow { drow[j] = srow[j / scaleW] }
            }
        }
    }
    return out
}
