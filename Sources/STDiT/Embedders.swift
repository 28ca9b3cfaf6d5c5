// Embedders: timestep / size sinusoids and their MLPs, the 3D patch embedder, the caption
// projection and the 2D sin-cos position embedding. Float32 arithmetic follows the reference
// op by op where its rounding shows (sinusoid arguments reach ~1000 radians).

import Foundation
import TensorCore
import Weights

/// TimestepEmbedder / SizeEmbedder: 256 sinusoid features -> Linear -> SiLU -> Linear.
struct TimestepEmbedder {
    let fc1: Linear, fc2: Linear
    static let frequencyDim = 256

    init(_ p: ParameterScope, hidden: Int) throws {
        fc1 = try Linear(p.scope("mlp.0"), in: Self.frequencyDim, out: hidden)
        fc2 = try Linear(p.scope("mlp.2"), in: hidden, out: hidden)
    }

    /// values: N scalars -> [N, hidden]
    func callAsFunction(_ values: [Float]) -> Tensor {
        var h = fc1(sinusoidalEmbedding(values, dim: Self.frequencyDim))
        siluInPlace(&h)
        return fc2(h)
    }
}

/// Conv3d with stride = kernel = patch, as one GEMM over gathered patches. Pads H, W and T at
/// the end with zeros up to multiples of the patch.
struct PatchEmbed3D {
    let weight: WeightTensor      // [hidden, Cin * pt * ph * pw] (the conv kernel flattened)
    let bias: WeightTensor
    let patch: [Int]
    let inChannels: Int

    init(_ p: ParameterScope, inChannels: Int, hidden: Int, patch: [Int]) throws {
        weight = try p("proj.weight", [hidden, inChannels] + patch).reshaped([hidden, inChannels * patch.reduce(1, *)])
        bias = try p("proj.bias", [hidden])
        self.patch = patch
        self.inChannels = inChannels
    }

    /// A 2D patch conv (DiT's timm PatchEmbed, weight [hidden, Cin, p, p]) as this embedder with a
    /// time patch of 1: the flattened kernel has the same (c, h, w) order.
    init(_ p: ParameterScope, inChannels: Int, hidden: Int, patch2D: Int) throws {
        weight = try p("proj.weight", [hidden, inChannels, patch2D, patch2D]).reshaped([hidden, inChannels * patch2D * patch2D])
        bias = try p("proj.bias", [hidden])
        patch = [1, patch2D, patch2D]
        self.inChannels = inChannels
    }

    /// x: [B, Cin, T, H, W] -> [B, T' * H' * W', hidden] with T' = ceil(T / pt) etc.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let (pt, ph, pw) = (patch[0], patch[1], patch[2])
        let (gt, gh, gw) = ((t + pt - 1) / pt, (h + ph - 1) / ph, (w + pw - 1) / pw)
        let k = c * pt * ph * pw
        var patches = Tensor(uninitialized: [b, gt * gh * gw, k])
        let src = SendablePointer(x.pointer), dst = SendablePointer(patches.mutablePointer)
        parallelFor(b * gt) { r in
            for bt in r {
                let bi = bt / gt, ti = bt % gt
                for hi in 0..<gh {
                    for wi in 0..<gw {
                        let row = dst.p + ((bt * gh + hi) * gw + wi) * k
                        var j = 0
                        for ci in 0..<c {
                            for dt in 0..<pt {
                                for dh in 0..<ph {
                                    for dw in 0..<pw {
                                        let tt = ti * pt + dt, hh = hi * ph + dh, ww = wi * pw + dw
                                        row[j] = (tt < t && hh < h && ww < w)
                                            ? src.p[(((bi * c + ci) * t + tt) * h + hh) * w + ww] : 0
                                        j += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return linear(patches, weight: weight, bias: bias)
    }
}

/// CaptionEmbedder: projects text-encoder states to the hidden size; holds the null caption.
struct CaptionEmbedder {
    let projection: MLP
    /// The learned "empty prompt" used for classifier-free guidance. [modelMaxLength, captionChannels]
    let nullCaption: WeightTensor

    init(_ p: ParameterScope, captionChannels: Int, hidden: Int, tokens: Int) throws {
        projection = try MLP(p.scope("y_proj"), in: captionChannels, hidden: hidden, out: hidden)
        nullCaption = try p("y_embedding", [tokens, captionChannels])
    }
}

/// PositionEmbedding2D of the reference: token s = row * w + col gets
/// [sin(x f), cos(x f), sin(y f), cos(y f)] with x = col / scale * baseSize / w,
/// y = row / scale * baseSize / h and f_i = 1 / 10000^(4i / dim), i < dim / 4.
/// (The reference names the grids the other way round; the values are these.) -> [h * w, dim]
func positionEmbedding2D(dim: Int, h: Int, w: Int, scale: Double, baseSize: Int?) -> Tensor {
    let quarter = dim / 4, half = dim / 2
    let invFreq: [Float] = (0..<quarter).map { i in
        1 / Float(Foundation.pow(10000.0, Double(Float(2 * i) / Float(half))))
    }
    func grid(_ n: Int) -> [Float] {
        (0..<n).map { i in
            var v = Float(i) / Float(scale)
            if let baseSize { v *= Float(Double(baseSize) / Double(n)) }
            return v
        }
    }
    let ys = grid(h), xs = grid(w)
    var out = Tensor(uninitialized: [h * w, dim])
    let p = out.mutablePointer
    for row in 0..<h {
        for col in 0..<w {
            let e = p + (row * w + col) * dim
            for i in 0..<quarter {
                let ax = Double(xs[col] * invFreq[i]), ay = Double(ys[row] * invFreq[i])
                e[i] = Float(Foundation.sin(ax))
                e[quarter + i] = Float(Foundation.cos(ax))
                e[half + i] = Float(Foundation.sin(ay))
                e[half + quarter + i] = Float(Foundation.cos(ay))
            }
        }
    }
    return out
}

/// Rotary embedding tables for positions 0..<count: angle = position * freqs[i] (float32),
/// applied to interleaved pairs (2i, 2i+1) as in rotary-embedding-torch.
struct RotaryTable: Sendable {
    let cos: Tensor, sin: Tensor      // [count, pairs]
    let pairs: Int, count: Int

    init(freqs: [Float], count: Int) {
        pairs = freqs.count
        self.count = count
        var c = Tensor(uninitialized: [count, pairs]), s = Tensor(uninitialized: [count, pairs])
        let cp = c.mutablePointer, sp = s.mutablePointer
        for t in 0..<count {
            for i in 0..<pairs {
                let a = Double(Float(t) * freqs[i])
                cp[t * pairs + i] = Float(Foundation.cos(a))
                sp[t * pairs + i] = Float(Foundation.sin(a))
            }
        }
        cos = c; sin = s
    }
}
