// The small pieces every MMDiT part is made of besides the shared ParameterScope and Linear
// (Weights/ParameterScope.swift; int8 under `--quantize int8`: docs/quantization.md): adaLN modulation (shift, scale, gate chunks of Linear(SiLU(vec))) and its two uses.

import TensorCore
import Weights

/// Modulation.lin(SiLU(vec)) chunked: double blocks (shift1, scale1, gate1, shift2, scale2,
/// gate2), single blocks (shift, scale, gate), the final layer (shift, scale).
struct Modulation {
    let lin: Linear
    let chunks: Int

    init(_ p: ParameterScope, hidden: Int, chunks: Int) throws {
        // Float even under --quantize int8: it runs on B rows (no speed to gain), and its scale
        // and gate multiply every token of the block.
        lin = try Linear(p.quantized(.none), in: hidden, out: chunks * hidden)
        self.chunks = chunks
    }

    /// vec: [B, C] -> [B, chunks * C]
    func callAsFunction(_ vec: Tensor) -> Tensor { lin(silu(vec)) }
}

/// (1 + scale) * LayerNorm(x) + shift, LayerNorm eps 1e-6 without affine; shift and scale are
/// chunks of each sample's modulation. x: [B, S, C], mod: [B, k * C] -> [B, S, C]
func modulatedNorm(_ x: Tensor, _ mod: Tensor, shift: Int, scale: Int) -> Tensor {
    var y = layerNorm(x, eps: 1e-6)
    let (b, s, c) = (x.shape[0], x.shape[1], x.shape[2])
    let width = mod.shape[1]
    let yp = SendablePointer(y.mutablePointer), mp = SendablePointer(mod.pointer)
    parallelFor(b * s, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let m = mp.p + (row / s) * width
            let sh = m + shift * c, sc = m + scale * c, d = yp.p + row * c
            for j in 0..<c { d[j] = (1 + sc[j]) * d[j] + sh[j] }
        }
    }
    return y
}

/// x += gate * y with each sample's gate chunk. x, y: [B, S, C], mod: [B, k * C]
func addGated(_ x: inout Tensor, _ y: Tensor, _ mod: Tensor, gate: Int) {
    precondition(x.shape == y.shape, "addGated: \(x.shape) vs \(y.shape)")
    let (b, s, c) = (x.shape[0], x.shape[1], x.shape[2])
    let width = mod.shape[1]
    let xp = SendablePointer(x.mutablePointer), yp = SendablePointer(y.pointer), mp = SendablePointer(mod.pointer)
    parallelFor(b * s, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let g = mp.p + (row / s) * width + gate * c
            let src = yp.p + row * c, dst = xp.p + row * c
            for j in 0..<c { dst[j] += g[j] * src[j] }
        }
    }
}

/// dst[..., at ..< at + w] = src, w = src's last axis. src: [..., w], dst: [..., W] with the same rows
func writeColumns(_ src: Tensor, into dst: inout Tensor, at offset: Int) {
    let w = src.shape.last!, width = dst.shape.last!, rows = src.count / w
    precondition(dst.count / width == rows && offset + w <= width, "writeColumns: \(src.shape) into \(dst.shape) at \(offset)")
    let sp = SendablePointer(src.pointer), dp = SendablePointer(dst.mutablePointer)
    parallelFor(rows, minPerThread: max(1, 16384 / w)) { r in
        for row in r { (dp.p + row * width + offset).update(from: sp.p + row * w, count: w) }
    }
}
