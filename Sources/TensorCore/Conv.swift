// Convolutions as im2col + sgemm. conv3d is the general case; conv2d views its input as T = 1.
// Padding is explicit per side so causal (front-only) time padding needs no extra copy.

public struct Padding3D: Sendable, Equatable {
    public var front, back, top, bottom, left, right: Int
    public init(front: Int = 0, back: Int = 0, top: Int = 0, bottom: Int = 0, left: Int = 0, right: Int = 0) {
        self.front = front; self.back = back; self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }
    /// Symmetric spatial padding p, time padding (front, back).
    public static func spatial(_ p: Int, front: Int = 0, back: Int = 0) -> Padding3D {
        Padding3D(front: front, back: back, top: p, bottom: p, left: p, right: p)
    }
}

/// x: [N, C, T, H, W], weight: [O, C, kt, kh, kw], bias: [O] -> [N, O, T', H', W'].
/// Out-of-range taps read zero.
public func conv3d(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, stride: (Int, Int, Int) = (1, 1, 1),
                   padding: Padding3D = Padding3D()) -> Tensor {
    precondition(x.rank == 5 && weight.shape.count == 5, "conv3d expects x [N,C,T,H,W] and weight [O,C,kt,kh,kw]; got \(x.shape), \(weight.name) \(weight.shape)")
    let (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let (o, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
    precondition(weight.shape[1] == c, "conv weight \(weight.name) expects \(weight.shape[1]) input channels, input has \(c)")
    let (st, sh, sw) = stride
    let to = (t + padding.front + padding.back - kt) / st + 1
    let ho = (h + padding.top + padding.bottom - kh) / sh + 1
    let wo = (w + padding.left + padding.right - kw) / sw + 1
    precondition(to > 0 && ho > 0 && wo > 0, "conv \(weight.name): input \(x.shape) too small for kernel \(weight.shape)")
    let p = to * ho * wo
    let ck = c * kt * kh * kw
    var out = Tensor(uninitialized: [n, o, to, ho, wo])
    let outp = out.mutablePointer
    let pointwise = kt == 1 && kh == 1 && kw == 1 && stride == (1, 1, 1) && padding == Padding3D()

    weight.withFloatPointer { wp in
        if pointwise {
            for ni in 0..<n {
                sgemm(m: o, n: p, k: c, a: wp, lda: c, b: x.pointer + ni * c * p, ldb: p, c: outp + ni * o * p, ldc: p)
            }
        } else {
            // Columns in chunks of output positions so the im2col buffer stays under ~64 MB.
            let chunk = max(wo, min(p, (16 << 20) / max(ck, 1)))
            let col = UnsafeMutablePointer<Float>.allocate(capacity: ck * min(chunk, p))
            defer { col.deallocate() }
            let colS = SendablePointer(col)
            for ni in 0..<n {
                let xs = SendablePointer(x.pointer + ni * c * t * h * w)
                var p0 = 0
                while p0 < p {
                    let pc = min(chunk, p - p0)
                    let start = p0
                    parallelFor(ck, minPerThread: max(1, 4096 / max(pc, 1))) { rows in
                        for row in rows {
                            let dw = row % kw, dh = (row / kw) % kh, dt = (row / (kw * kh)) % kt, ci = row / (kw * kh * kt)
                            let dst = colS.p + row * pc
                            let src = xs.p + ci * t * h * w
                            for q in 0..<pc {
                                let pos = start + q
                                let ow = pos % wo, oh = (pos / wo) % ho, ot = pos / (wo * ho)
                                let it = ot * st - padding.front + dt
                                let ih = oh * sh - padding.top + dh
                                let iw = ow * sw - padding.left + dw
                                dst[q] = (it >= 0 && it < t && ih >= 0 && ih < h && iw >= 0 && iw < w) ? src[(it * h + ih) * w + iw] : 0
                            }
                        }
                    }
                    sgemm(m: o, n: pc, k: ck, a: wp, lda: ck, b: col, ldb: pc, c: outp + ni * o * p + start, ldc: p)
                    p0 += pc
                }
            }
        }
    }
    if let bias {
        precondition(bias.count == o, "conv bias \(bias.name) has \(bias.count) elements, expected \(o)")
        let bt = bias.toTensor()
        let bp = SendablePointer(bt.pointer), op = SendablePointer(outp)
        parallelFor(n * o) { r in
            for no in r { let v = bp.p[no % o]; let d = op.p + no * p; for i in 0..<p { d[i] += v } }
        }
    }
    return out
}

/// x: [N, C, H, W], weight: [O, C, kh, kw] -> [N, O, H', W']. padding: (top, bottom, left, right).
public func conv2d(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, stride: Int = 1,
                   padding: (top: Int, bottom: Int, left: Int, right: Int) = (0, 0, 0, 0)) -> Tensor {
    precondition(x.rank == 4 && weight.shape.count == 4, "conv2d expects x [N,C,H,W] and weight [O,C,kh,kw]; got \(x.shape), \(weight.name) \(weight.shape)")
    let x5 = x.reshaped([x.shape[0], x.shape[1], 1, x.shape[2], x.shape[3]])
    let w5 = weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2], weight.shape[3]])
    let y = conv3d(x5, weight: w5, bias: bias, stride: (1, stride, stride),
                   padding: Padding3D(top: padding.top, bottom: padding.bottom, left: padding.left, right: padding.right))
    return y.reshaped([y.shape[0], y.shape[1], y.shape[3], y.shape[4]])
}

/// Convenience: symmetric padding.
public func conv2d(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, stride: Int = 1, padding: Int) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: (padding, padding, padding, padding))
}
