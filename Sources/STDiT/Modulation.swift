// adaLN-single modulation kernels. Hidden states are x: [B, T, S, C] stored as rows
// r = (b * T + t) * S + s. Shift / scale / gate vectors are chosen per frame (b, t), which
// covers both the plain call (every frame of a sample uses its t) and x_mask (conditioning
// frames use the t = 0 vectors) with one code path.

import TensorCore

/// The token grid of the hidden states.
struct TokenGrid: Equatable {
    let batch: Int, frames: Int, spatial: Int
    var tokens: Int { batch * frames * spatial }
    var frameCount: Int { batch * frames }
}

/// Which tokens attend to each other: the S tokens of one frame, or the T tokens of one place.
enum AttentionAxis {
    case spatial, temporal

    /// Number of sequences and their length in the attention layout
    /// (spatial: [B*T, S, C], the storage order; temporal: [B*S, T, C]).
    func sequences(_ g: TokenGrid) -> (count: Int, length: Int) {
        switch self {
        case .spatial: return (g.batch * g.frames, g.spatial)
        case .temporal: return (g.batch * g.spatial, g.frames)
        }
    }

    /// Row of token r in the attention layout.
    @inline(__always)
    func attentionRow(_ r: Int, _ g: TokenGrid) -> Int {
        switch self {
        case .spatial: return r
        case .temporal:
            let s = r % g.spatial, bt = r / g.spatial
            let t = bt % g.frames, b = bt / g.frames
            return (b * g.spatial + s) * g.frames + t
        }
    }
}

/// Per-frame modulation vectors: for frame (b, t), chunk k:
/// table[k] + (frameMask[b, t] ? conditioning[b] : zeroConditioning[b])[k].
struct FrameModulation {
    let values: Tensor          // [B * T, chunks * C]
    let chunks: Int, channels: Int

    /// - table: [chunks, C] (a block's scale_shift_table)
    /// - conditioning, zeroConditioning: [B, chunks * C], or [B, C] added to every chunk
    /// - frameMask: B * T flags, false = conditioning frame (uses zeroConditioning); nil = all true.
    init(table: WeightTensor, conditioning: Tensor, zeroConditioning: Tensor?, frameMask: [Bool]?, frames: Int) {
        chunks = table.shape[0]; channels = table.shape[1]
        let b = conditioning.shape[0], width = chunks * channels
        let condWidth = conditioning.count / b
        precondition(condWidth == width || condWidth == channels, "modulation \(table.name): conditioning \(conditioning.shape) vs table \(table.shape)")
        let tab = table.toTensor()
        var v = Tensor(uninitialized: [b * frames, width])
        let vp = v.mutablePointer, tp = tab.pointer
        for bi in 0..<b {
            for t in 0..<frames {
                let useZero = frameMask.map { !$0[bi * frames + t] } ?? false
                let src = (useZero ? zeroConditioning! : conditioning).pointer + bi * condWidth
                let dst = vp + (bi * frames + t) * width
                for j in 0..<width { dst[j] = tp[j] + src[condWidth == width ? j : j % channels] }
            }
        }
        withExtendedLifetime(tab) {}
        values = v
    }

    /// Vectors the model computed per sample (DiT's adaLN_modulation(c)), one frame per sample.
    /// values: [B, chunks * C]
    init(perSample values: Tensor, chunks: Int) {
        precondition(values.rank == 2 && values.shape[1] % chunks == 0, "modulation: \(values.shape) is not [B, \(chunks) * C]")
        self.values = values
        self.chunks = chunks
        channels = values.shape[1] / chunks
    }

    var frameCount: Int { values.shape[0] }

    @inline(__always)
    func chunk(_ k: Int, frame f: Int) -> UnsafePointer<Float> { values.pointer + (f * chunks + k) * channels }
}

@inline(__always)
private func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n { acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self); i += 8 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

@inline(__always)
private func rowSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, _ mean: Float) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    let m = SIMD8<Float>(repeating: mean)
    var i = 0
    while i + 8 <= n { let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m; acc += d * d; i += 8 }
    var s = acc.sum()
    while i < n { let d = p[i] - mean; s += d * d; i += 1 }
    return s
}

/// Mean of squares of n floats (RMSNorm statistics).
@inline(__always)
func meanSquare(_ p: UnsafePointer<Float>, _ n: Int) -> Float { rowSquaredDeviation(p, n, 0) / Float(n) }

/// t2i_modulate(LayerNorm(x), shift, scale) = LN(x) * (1 + scale) + shift, LayerNorm without
/// affine, eps 1e-6, shift/scale of each row's frame. x: [R, C] -> [R, C]
func modulatedLayerNorm(_ x: Tensor, _ mod: FrameModulation, shift: Int, scale: Int, tokensPerFrame: Int,
                        eps: Float = 1e-6) -> Tensor {
    let c = mod.channels
    let rows = x.count / c
    precondition(rows == mod.frameCount * tokensPerFrame, "modulatedLayerNorm: \(rows) rows vs \(mod.frameCount) frames x \(tokensPerFrame)")
    var out = Tensor(uninitialized: x.shape)
    let xp = SendablePointer(x.pointer), op = SendablePointer(out.mutablePointer)
    parallelFor(rows, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let f = row / tokensPerFrame
            let sh = mod.chunk(shift, frame: f), sc = mod.chunk(scale, frame: f)
            let src = UnsafePointer(xp.p + row * c), dst = op.p + row * c
            let mean = rowSum(src, c) / Float(c)
            let inv = 1 / (rowSquaredDeviation(src, c, mean) / Float(c) + eps).squareRoot()
            for j in 0..<c { dst[j] = ((src[j] - mean) * inv) * (1 + sc[j]) + sh[j] }
        }
    }
    return out
}

/// x += gate * y, the gate of each row's frame; y is in `axis`'s attention layout. x, y: [R, C]
/// `keep` (the step cache's) receives gate * y in token order.
func addGated(_ x: inout Tensor, _ y: Tensor, _ mod: FrameModulation, gate: Int, grid: TokenGrid, axis: AttentionAxis = .spatial,
              keep: ((Tensor) -> Void)? = nil) {
    let c = mod.channels
    precondition(x.count == grid.tokens * c && y.count == x.count, "addGated: \(x.shape) vs \(y.shape) for \(grid)")
    var kept = keep == nil ? nil : Tensor(uninitialized: x.shape)
    let xp = SendablePointer(x.mutablePointer), yp = SendablePointer(y.pointer)
    let kp = kept == nil ? nil : SendablePointer(kept!.mutablePointer)
    parallelFor(grid.tokens, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let g = mod.chunk(gate, frame: row / grid.spatial)
            let src = UnsafePointer(yp.p + axis.attentionRow(row, grid) * c), dst = xp.p + row * c
            if let kp {
                let k = kp.p + row * c
                for j in 0..<c { let v = g[j] * src[j]; k[j] = v; dst[j] += v }
            } else {
                for j in 0..<c { dst[j] += g[j] * src[j] }
            }
        }
    }
    if let keep, let kept { keep(kept) }
}
