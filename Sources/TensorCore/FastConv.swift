// The convolution entry point for conv-heavy models (the VAEs): picks the fastest kernel for
// the shape, and counts what it did (nominal FLOPs, time) for benchmarks and profiles.

import Foundation

/// Running totals over every `convolution` call (thread-safe; reset with `reset()`).
public final class ConvCounters: @unchecked Sendable {
    public static let shared = ConvCounters()
    private let lock = NSLock()
    private var _flops: Double = 0, _seconds: Double = 0, _calls = 0

    /// Nominal FLOPs of direct convolution (2 * O * C * kt * kh * kw per output position),
    /// whatever algorithm ran.
    public var flops: Double { lock.lock(); defer { lock.unlock() }; return _flops }
    public var seconds: Double { lock.lock(); defer { lock.unlock() }; return _seconds }
    public var calls: Int { lock.lock(); defer { lock.unlock() }; return _calls }
    public func reset() { lock.lock(); _flops = 0; _seconds = 0; _calls = 0; lock.unlock() }
    func add(flops: Double, seconds: Double) { lock.lock(); _flops += flops; _seconds += seconds; _calls += 1; lock.unlock() }
}

public enum ConvAlgorithm: String, Sendable, CaseIterable {
    /// Winograd F(4x4, 3x3) where it applies and the channel counts make it pay, else im2col.
    case auto
    case im2col
    case winograd2, winograd4
}

extension Runtime {
    /// The algorithm `convolution` uses when the caller names none. Process-wide like `threads`:
    /// `.im2col` gives numbers closest to PyTorch's, `.auto` (Winograd on the VAEs' 3x3
    /// convolutions) is faster; both measured in docs/vae.md and docs/performance.md.
    nonisolated(unsafe) public static var convolutionAlgorithm: ConvAlgorithm = .auto
}

/// What out-of-range taps read.
public enum PaddingMode: Sendable {
    case zeros
    /// The nearest edge value (PyTorch F.pad mode 'replicate'; HunyuanVideo's CausalConv3d).
    case replicate
}

/// x: [N, C, T, H, W], weight: [O, C, kt, kh, kw], bias: [O] -> [N, O, T', H', W'].
/// Replicate padding is read in place by Winograd; the im2col path pads a copy first.
public func convolution(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, stride: (Int, Int, Int) = (1, 1, 1),
                        padding: Padding3D = Padding3D(), paddingMode: PaddingMode = .zeros,
                        algorithm: ConvAlgorithm? = nil) -> Tensor {
    let start = DispatchTime.now().uptimeNanoseconds
    let fits = winogradApplies(weightShape: weight.shape, stride: stride, padding: padding)
    var chosen = algorithm ?? Runtime.convolutionAlgorithm
    if chosen == .auto {
        // A handful of input channels (conv_in) is cheaper as im2col.
        chosen = fits && weight.shape[1] * weight.shape[2] >= 16 ? .winograd4 : .im2col
    }
    let y: Tensor
    switch chosen {
    case .winograd2 where fits:
        y = winogradConv(x, weight: weight, bias: bias, timeStride: stride.0, padding: padding, paddingMode: paddingMode, tile: 2)
    case .winograd4 where fits:
        y = winogradConv(x, weight: weight, bias: bias, timeStride: stride.0, padding: padding, paddingMode: paddingMode, tile: 4)
    default:
        y = paddingMode == .replicate && padding != Padding3D()
            ? im2colConv(pad(x, padding, replicate: true), weight: weight, bias: bias, stride: stride, padding: Padding3D())
            : im2colConv(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
    let macs = Double(y.count) * Double(weight.count / max(weight.shape[0], 1))
    ConvCounters.shared.add(flops: 2 * macs, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    return y
}

/// im2col + sgemm, with the column buffer filled a whole output row at a time (no per-element
/// index arithmetic). Pointwise convolutions go straight to sgemm (conv3d).
func im2colConv(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, stride: (Int, Int, Int), padding pd: Padding3D) -> Tensor {
    let (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let (o, kt, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3], weight.shape[4])
    if kt * kh * kw == 1 && stride == (1, 1, 1) && pd == Padding3D() {
        return conv3d(x, weight: weight, bias: bias, stride: stride, padding: pd)
    }
    precondition(x.rank == 5 && weight.shape[1] == c, "conv \(weight.name): input \(x.shape) does not match weight \(weight.shape)")
    let (st, sh, sw) = stride
    let to = (t + pd.front + pd.back - kt) / st + 1
    let ho = (h + pd.top + pd.bottom - kh) / sh + 1
    let wo = (w + pd.left + pd.right - kw) / sw + 1
    precondition(to > 0 && ho > 0 && wo > 0, "conv \(weight.name): input \(x.shape) too small for kernel \(weight.shape)")
    let rowsOut = to * ho, p = rowsOut * wo, ck = c * kt * kh * kw
    var out = Tensor(uninitialized: [n, o, to, ho, wo])
    let op = SendablePointer(out.mutablePointer)
    // Output rows per chunk so the column buffer stays near 16M floats.
    let rowsPerChunk = max(1, min(rowsOut, (16 << 20) / max(ck * wo, 1)))
    let biasT = bias.map { $0.toTensor() }
    ScratchArena.shared.withBuffer(count: ck * rowsPerChunk * wo) { col in
        let cs = SendablePointer(col)
        weight.withFloatPointer { wp in
            for ni in 0..<n {
                let xs = SendablePointer(x.pointer + ni * c * t * h * w)
                var r0 = 0
                while r0 < rowsOut {
                    let rows = min(rowsPerChunk, rowsOut - r0), pc = rows * wo, start = r0
                    parallelFor(ck * rows, minPerThread: 16) { items in
                        for item in items {
                            let row = item / rows, local = item % rows, outRow = start + local
                            let dw = row % kw, dh = (row / kw) % kh, dt = (row / (kw * kh)) % kt, ci = row / (kw * kh * kt)
                            let ot = outRow / ho, oh = outRow % ho
                            let it = ot * st - pd.front + dt, ih = oh * sh - pd.top + dh
                            let dst = cs.p + row * pc + local * wo
                            guard it >= 0 && it < t && ih >= 0 && ih < h else { dst.update(repeating: 0, count: wo); continue }
                            let src = xs.p + ((ci * t + it) * h + ih) * w
                            for q in 0..<wo {
                                let iw = q * sw - pd.left + dw
                                dst[q] = iw >= 0 && iw < w ? src[iw] : 0
                            }
                        }
                    }
                    sgemm(m: o, n: pc, k: ck, a: wp, lda: ck, b: col, ldb: pc, c: op.p + ni * o * p + start * wo, ldc: p)
                    r0 += rows
                }
            }
        }
    }
    if let biasT {
        let bp = SendablePointer(biasT.pointer)
        parallelFor(n * o) { r in
            for no in r { let v = bp.p[no % o]; let d = op.p + no * p; for i in 0..<p { d[i] += v } }
        }
    }
    return out
}
