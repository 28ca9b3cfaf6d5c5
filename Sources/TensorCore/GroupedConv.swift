// Grouped convolutions over [N, C, T, H, W] that im2col would waste work on: depthwise k x k x k
// (one filter per channel, DC-AE's LiteMLA aggregation and GLUMBConv) and grouped pointwise
// (1x1x1 with channel groups, one sgemm per group).

/// Depthwise conv with zero padding k/2 on every side: x: [N, C, T, H, W], weight: [C, 1, k, k, k],
/// bias: [C] or nil -> [N, C, T, H, W] (stride 1, odd k).
public func depthwiseConv3d(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?) -> Tensor {
    precondition(x.rank == 5, "depthwiseConv3d expects [N, C, T, H, W], got \(x.shape)")
    let (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let k = weight.shape.count == 5 ? weight.shape[2] : 0
    precondition(weight.shape == [c, 1, k, k, k] && k % 2 == 1, "depthwise weight \(weight.name) \(weight.shape) does not fit \(c) channels")
    let p = k / 2, (hp, wp) = (h + 2 * p, w + 2 * p)
    let wt = weight.toTensor(), bt = bias?.toTensor()
    var out = Tensor(uninitialized: x.shape)
    let xs = SendablePointer(x.pointer), os = SendablePointer(out.mutablePointer), ws = SendablePointer(wt.pointer)
    let bs = bt.map { SendablePointer($0.pointer) }
    parallelFor(n * c) { planes in
        // The plane with its spatial zero border; time borders are skipped taps.
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: t * hp * wp)
        defer { padded.deallocate() }
        for plane in planes {
            let ch = plane % c
            let src = xs.p + plane * t * h * w, dst = os.p + plane * t * h * w
            padded.update(repeating: 0, count: t * hp * wp)
            for ti in 0..<t { for hi in 0..<h { (padded + (ti * hp + hi + p) * wp + p).update(from: src + (ti * h + hi) * w, count: w) } }
            let b0 = bs?.p[ch] ?? 0
            dst.update(repeating: b0, count: t * h * w)
            let kw = ws.p + ch * k * k * k
            for ot in 0..<t {
                for dt in 0..<k {
                    let it = ot + dt - p
                    guard it >= 0 && it < t else { continue }
                    for oh in 0..<h {
                        let orow = dst + (ot * h + oh) * w
                        for dh in 0..<k {
                            let irow = padded + (it * hp + oh + dh) * wp
                            for dw in 0..<k {
                                let wv = kw[(dt * k + dh) * k + dw]
                                let s = irow + dw
                                for ow in 0..<w { orow[ow] = orow[ow].addingProduct(wv, s[ow]) }
                            }
                        }
                    }
                }
            }
        }
    }
    withExtendedLifetime((wt, bt)) {}
    return out
}

/// Pointwise conv with `groups` channel groups: x: [N, C, *], weight: [O, C/groups, 1, 1, 1]
/// (no bias) -> [N, O, *].
public func groupedPointwiseConv(_ x: Tensor, weight: WeightTensor, groups: Int) -> Tensor {
    let (n, c) = (x.shape[0], x.shape[1])
    let o = weight.shape[0], cg = c / max(groups, 1), og = o / max(groups, 1)
    precondition(groups > 0 && c % groups == 0 && o % groups == 0 && weight.count == o * cg,
                 "grouped conv \(weight.name) \(weight.shape) does not fit \(c) channels in \(groups) groups")
    let p = x.count / max(n * c, 1)
    var shape = x.shape
    shape[1] = o
    var out = Tensor(uninitialized: shape)
    let op = out.mutablePointer
    weight.withFloatPointer { wp in
        for ni in 0..<n {
            for g in 0..<groups {
                sgemm(m: og, n: p, k: cg, a: wp + g * og * cg, lda: cg, b: x.pointer + (ni * c + g * cg) * p, ldb: p,
                      c: op + (ni * o + g * og) * p, ldc: p)
            }
        }
    }
    return out
}
