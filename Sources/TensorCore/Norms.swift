// Normalisations: LayerNorm, RMSNorm (T5LayerNorm), GroupNorm. Statistics in float32 with
// 8-lane accumulators (two passes: mean, then variance of the centred values).

@inlinable @inline(__always)
func sumRow(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

@inlinable @inline(__always)
func sumSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    let m = SIMD8<Float>(repeating: mean)
    var i = 0
    while i + 8 <= n {
        let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m
        acc += d * d
        i += 8
    }
    var s = acc.sum()
    while i < n { let d = p[i] - mean; s += d * d; i += 1 }
    return s
}

/// LayerNorm over the last axis. x: [..., C]; weight, bias: [C] or nil (no affine).
public func layerNorm(_ x: Tensor, weight: WeightTensor? = nil, bias: WeightTensor? = nil, eps: Float = 1e-5) -> Tensor {
    let c = x.shape.last ?? 1
    let rows = x.count / max(c, 1)
    var out = Tensor(uninitialized: x.shape)
    let wt = weight?.toTensor(), bt = bias?.toTensor()
    if let wt { precondition(wt.count == c, "layerNorm weight \(weight!.name) has \(wt.count) elements, expected \(c)") }
    if let bt { precondition(bt.count == c, "layerNorm bias \(bias!.name) has \(bt.count) elements, expected \(c)") }
    let xp = SendablePointer(x.pointer), op = SendablePointer(out.mutablePointer)
    let wp = wt.map { SendablePointer($0.pointer) }, bp = bt.map { SendablePointer($0.pointer) }
    parallelFor(rows, minPerThread: max(1, 4096 / max(c, 1))) { r in
        for row in r {
            let src = UnsafePointer(xp.p + row * c), dst = op.p + row * c
            let mean = sumRow(src, c) / Float(c)
            let variance = sumSquaredDeviation(src, c, mean: mean) / Float(c)
            let inv = 1 / (variance + eps).squareRoot()
            switch (wp, bp) {
            case let (w?, b?): for j in 0..<c { dst[j] = (src[j] - mean) * inv * w.p[j] + b.p[j] }
            case let (w?, nil): for j in 0..<c { dst[j] = (src[j] - mean) * inv * w.p[j] }
            default: for j in 0..<c { dst[j] = (src[j] - mean) * inv }
            }
        }
    }
    withExtendedLifetime((wt, bt)) {}
    return out
}

/// RMSNorm over the last axis (T5LayerNorm / STDiT qk-norm): x / sqrt(mean(x^2) + eps) * weight.
public func rmsNorm(_ x: Tensor, weight: WeightTensor?, eps: Float = 1e-6) -> Tensor {
    let c = x.shape.last ?? 1
    let rows = x.count / max(c, 1)
    var out = Tensor(uninitialized: x.shape)
    let wt = weight?.toTensor()
    if let wt { precondition(wt.count == c, "rmsNorm weight \(weight!.name) has \(wt.count) elements, expected \(c)") }
    let xp = SendablePointer(x.pointer), op = SendablePointer(out.mutablePointer)
    let wp = wt.map { SendablePointer($0.pointer) }
    parallelFor(rows, minPerThread: max(1, 4096 / max(c, 1))) { r in
        for row in r {
            let src = UnsafePointer(xp.p + row * c), dst = op.p + row * c
            let ms = sumSquaredDeviation(src, c, mean: 0) / Float(c)
            let inv = 1 / (ms + eps).squareRoot()
            if let w = wp { for j in 0..<c { dst[j] = src[j] * inv * w.p[j] } } else { for j in 0..<c { dst[j] = src[j] * inv } }
        }
    }
    withExtendedLifetime(wt) {}
    return out
}

/// RMSNorm over the channel axis of x: [N, C, *] (DC-AE's RMSNorm3d): every position is divided
/// by sqrt(mean over channels of x^2 + eps), then scaled by weight[c] and shifted by bias[c].
public func rmsNormChannels(_ x: Tensor, weight: WeightTensor?, bias: WeightTensor?, eps: Float) -> Tensor {
    precondition(x.rank >= 2, "rmsNormChannels expects [N, C, ...], got \(x.shape)")
    let (n, c) = (x.shape[0], x.shape[1])
    let p = x.count / max(n * c, 1)
    let wt = weight?.toTensor(), bt = bias?.toTensor()
    if let wt { precondition(wt.count == c, "rmsNorm weight \(weight!.name) has \(wt.count) elements, expected \(c)") }
    if let bt { precondition(bt.count == c, "rmsNorm bias \(bias!.name) has \(bt.count) elements, expected \(c)") }
    var out = Tensor(uninitialized: x.shape)
    let xp = SendablePointer(x.pointer), op = SendablePointer(out.mutablePointer)
    let wp = wt.map { SendablePointer($0.pointer) }, bp = bt.map { SendablePointer($0.pointer) }
    let block = 256
    let blocks = (p + block - 1) / block
    parallelFor(n * blocks) { r in
        let inv = UnsafeMutablePointer<Float>.allocate(capacity: block)
        defer { inv.deallocate() }
        for job in r {
            let (ni, start) = (job / blocks, (job % blocks) * block)
            let len = min(block, p - start)
            inv.update(repeating: 0, count: len)
            for ch in 0..<c {
                let s = xp.p + (ni * c + ch) * p + start
                for i in 0..<len { inv[i] = inv[i].addingProduct(s[i], s[i]) }
            }
            for i in 0..<len { inv[i] = 1 / (inv[i] / Float(c) + eps).squareRoot() }
            for ch in 0..<c {
                let s = xp.p + (ni * c + ch) * p + start, d = op.p + (ni * c + ch) * p + start
                let (wv, bv) = (wp?.p[ch] ?? 1, bp?.p[ch] ?? 0)
                for i in 0..<len { d[i] = s[i] * inv[i] * wv + bv }
            }
        }
    }
    withExtendedLifetime((wt, bt)) {}
    return out
}

/// GroupNorm. x: [N, C, *] (any trailing spatial axes); weight, bias: [C].
/// With `silu: true` the SiLU that follows almost every GroupNorm in the VAE is fused in.
public func groupNorm(_ x: Tensor, groups: Int, weight: WeightTensor?, bias: WeightTensor?, eps: Float = 1e-6, silu: Bool = false) -> Tensor {
    var out = Tensor(uninitialized: x.shape)
    groupNorm(x, into: &out, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    return out
}

/// The same GroupNorm written over `x` itself when nothing else holds its buffer (same numbers,
/// one activation less at the peak); otherwise into a new buffer, as `groupNorm(_:)`.
public func groupNormInPlace(_ x: inout Tensor, groups: Int, weight: WeightTensor?, bias: WeightTensor?, eps: Float = 1e-6, silu: Bool = false) {
    guard x.isUniquelyOwned else {
        x = groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
        return
    }
    let source = x          // shares the buffer for reading; every element is read before it is written
    groupNorm(source, into: &x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu, sharesBuffer: true)
}

/// `out` has x's shape; with `sharesBuffer` it is x's own buffer (written through without a copy).
private func groupNorm(_ x: Tensor, into out: inout Tensor, groups: Int, weight: WeightTensor?, bias: WeightTensor?, eps: Float,
                       silu: Bool, sharesBuffer: Bool = false) {
    let affine = groupNormAffine(x, groups: groups, weight: weight, bias: bias, eps: eps)
    let op = sharesBuffer ? UnsafeMutablePointer(mutating: x.pointer) : out.mutablePointer
    affine.apply(from: x.pointer, to: op, count: x.count, silu: silu)
    withExtendedLifetime(x) {}
}

/// A GroupNorm reduced to one affine map per (sample, channel), y = x * scale + shift, with the
/// statistics taken over all of x: a caller can then normalise x a piece at a time (a range of
/// frames) with the same numbers as `groupNorm`, which is this map applied to the whole tensor.
public struct ChannelAffine: Sendable {
    /// [N * C] each.
    public let scale: [Float], shift: [Float]

    /// x: [N, C, *] laid out as the tensor the statistics came from (any trailing length).
    public func apply(_ x: inout Tensor, silu: Bool) {
        let n = x.count
        apply(from: x.pointer, to: x.mutablePointer, count: n, silu: silu)
    }

    /// `count` elements of [N, C, *] from `src` to `dst` (which may be `src`).
    func apply(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int, silu: Bool) {
        let planes = scale.count
        precondition(planes > 0 && count % planes == 0, "ChannelAffine of \(planes) channels applied to \(count) values")
        let spatial = count / planes
        let sp = SendablePointer(UnsafeMutablePointer(mutating: src)), dp = SendablePointer(dst)
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                let (scp, shp) = (SendablePointer(UnsafeMutablePointer(mutating: sc.baseAddress!)),
                                  SendablePointer(UnsafeMutablePointer(mutating: sh.baseAddress!)))
                parallelFor(planes) { r in
                    for plane in r {
                        let (a, b) = (scp.p[plane], shp.p[plane])
                        let s = sp.p + plane * spatial, d = dp.p + plane * spatial
                        if silu {
                            for j in 0..<spatial { let v = s[j] * a + b; d[j] = v / (1 + expApprox(-v)) }
                        } else {
                            for j in 0..<spatial { d[j] = s[j] * a + b }
                        }
                    }
                }
            }
        }
    }
}

/// GroupNorm's statistics over x: [N, C, *] as a per-channel affine map (weight, bias: [C]).
public func groupNormAffine(_ x: Tensor, groups: Int, weight: WeightTensor?, bias: WeightTensor?, eps: Float = 1e-6) -> ChannelAffine {
    precondition(x.rank >= 2, "groupNorm expects [N, C, ...], got \(x.shape)")
    let n = x.shape[0], c = x.shape[1]
    precondition(groups > 0 && c % groups == 0, "groupNorm: \(c) channels not divisible into \(groups) groups")
    let spatial = x.count / max(n * c, 1)
    let cpg = c / groups
    let wt = weight?.toTensor(), bt = bias?.toTensor()
    let xp = SendablePointer(UnsafeMutablePointer(mutating: x.pointer))
    let wp = wt.map { SendablePointer($0.pointer) }, bp = bt.map { SendablePointer($0.pointer) }
    var scale = [Float](repeating: 0, count: n * c), shift = [Float](repeating: 0, count: n * c)
    scale.withUnsafeMutableBufferPointer { sc in
        shift.withUnsafeMutableBufferPointer { sh in
            let (scp, shp) = (SendablePointer(sc.baseAddress!), SendablePointer(sh.baseAddress!))
            parallelFor(n * groups) { r in
                for ng in r {
                    let len = cpg * spatial
                    let src = UnsafePointer(xp.p + ng * len)
                    let mean = sumRow(src, len) / Float(len)
                    let variance = sumSquaredDeviation(src, len, mean: mean) / Float(len)
                    let inv = 1 / (variance + eps).squareRoot()
                    let g = ng % groups
                    for ci in 0..<cpg {
                        let ch = g * cpg + ci
                        let a = inv * (wp?.p[ch] ?? 1)
                        scp.p[ng * cpg + ci] = a
                        shp.p[ng * cpg + ci] = (bp?.p[ch] ?? 0) - mean * a
                    }
                }
            }
        }
    }
    withExtendedLifetime((x, wt, bt)) {}
    return ChannelAffine(scale: scale, shift: shift)
}
