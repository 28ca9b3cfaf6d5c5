// The building blocks both VAEs share. Everything runs on 5-D activations [N, C, T, H, W]:
// the spatial (2-D) VAE treats each frame as a sample with T = 1, so one convolution, one
// GroupNorm and one residual block serve both models.

import TensorCore
import Weights

/// A convolution over [N, C, T, H, W] with explicit per-side padding. 2-D checkpoint weights
/// [O, C, kh, kw] are viewed as [O, C, 1, kh, kw].
struct Conv {
    let weight: WeightTensor          // [O, C, kt, kh, kw]
    let bias: WeightTensor?           // [O]
    let stride: (Int, Int, Int)
    let padding: Padding3D
    /// Pad with copies of the edge values (HunyuanVideo's CausalConv3d) instead of zeros.
    let replicate: Bool

    /// Loads `name.weight` (and `name.bias` when `bias`), checking the shape [out, in, *kernel].
    /// `kernel` has 2 entries for a spatial conv (stored 4-D) or 3 for a video conv (5-D).
    init(_ store: WeightStore, _ name: String, in inC: Int, out outC: Int, kernel: [Int], bias: Bool = true,
         stride: (Int, Int, Int) = (1, 1, 1), padding: Padding3D = Padding3D(), replicate: Bool = false) throws {
        let w = try store.weight(name + ".weight", shape: [outC, inC] + kernel)
        weight = kernel.count == 2 ? w.reshaped([outC, inC, 1] + kernel) : w
        self.bias = bias ? try store.weight(name + ".bias", shape: [outC]) : nil
        self.stride = stride
        self.padding = padding
        self.replicate = replicate
    }

    /// x: [N, C, T, H, W] -> [N, O, T', H', W'].
    func callAsFunction(_ x: Tensor) -> Tensor {
        convolution(x, weight: weight, bias: bias, stride: stride, padding: padding, paddingMode: replicate ? .replicate : .zeros)
    }
}

/// GroupNorm with optional fused SiLU (every GroupNorm in these VAEs except attention's is
/// followed by SiLU).
struct GroupNorm {
    let weight: WeightTensor
    let bias: WeightTensor
    let groups: Int
    let eps: Float

    init(_ store: WeightStore, _ name: String, channels: Int, groups: Int, eps: Float) throws {
        guard groups > 0, channels % groups == 0 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: name + ".weight",
                                         detail: "\(channels) channels cannot be split into \(groups) norm groups (the group count is a setting, not stored in checkpoints: this one needs a divisor of \(channels))")
        }
        weight = try store.weight(name + ".weight", shape: [channels])
        bias = try store.weight(name + ".bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    /// x: [N, C, ...] -> same shape.
    func callAsFunction(_ x: Tensor, silu: Bool) -> Tensor {
        groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }

    /// The same, over x's own buffer when x is its only owner (one activation less at the peak).
    func apply(_ x: inout Tensor, silu: Bool) {
        groupNormInPlace(&x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }
}

/// How a model's residual blocks are built: the spatial VAE (diffusers ResnetBlock2D: biased
/// 3x3 convs, eps 1e-6, biased 1x1 shortcut) or the temporal VAE (MAGVIT ResBlock: causal
/// 3x3x3 convs without bias, eps 1e-5, unbiased 1x1x1 shortcut).
struct ResidualBlockStyle {
    let kernel: [Int]
    let padding: Padding3D
    let bias: Bool
    let eps: Float
    let groups: Int
    var replicate = false
    /// Appended to conv names ("conv1" + ".conv" where convs are wrapped modules).
    var convSuffix = ""

    static func spatial(groups: Int) -> ResidualBlockStyle {
        ResidualBlockStyle(kernel: [3, 3], padding: .spatial(1), bias: true, eps: 1e-6, groups: groups)
    }
    static func causal(groups: Int) -> ResidualBlockStyle {
        ResidualBlockStyle(kernel: [3, 3, 3], padding: .spatial(1, front: 2), bias: false, eps: 1e-5, groups: groups, convSuffix: ".conv")
    }
    /// HunyuanVideo's ResnetBlockCausal3D: biased causal 3x3x3 convs with replicate padding, eps 1e-6.
    static func causalReplicate(groups: Int) -> ResidualBlockStyle {
        ResidualBlockStyle(kernel: [3, 3, 3], padding: .spatial(1, front: 2), bias: true, eps: 1e-6, groups: groups,
                           replicate: true, convSuffix: ".conv")
    }
    var pointwiseKernel: [Int] { [Int](repeating: 1, count: kernel.count) }
}

/// norm1 → SiLU → conv1 → norm2 → SiLU → conv2, plus the input (through a 1x1 conv when the
/// channel count changes).
struct ResidualBlock {
    let norm1: GroupNorm, conv1: Conv, norm2: GroupNorm, conv2: Conv
    let shortcut: Conv?

    /// `shortcutName` is the checkpoint's name for the 1x1 projection ("conv_shortcut" or "conv3").
    init(_ store: WeightStore, _ name: String, in inC: Int, out outC: Int, style s: ResidualBlockStyle,
         convSuffix: String = "", shortcutName: String) throws {
        norm1 = try GroupNorm(store, name + ".norm1", channels: inC, groups: s.groups, eps: s.eps)
        conv1 = try Conv(store, name + ".conv1" + convSuffix, in: inC, out: outC, kernel: s.kernel, bias: s.bias, padding: s.padding,
                         replicate: s.replicate)
        norm2 = try GroupNorm(store, name + ".norm2", channels: outC, groups: s.groups, eps: s.eps)
        conv2 = try Conv(store, name + ".conv2" + convSuffix, in: outC, out: outC, kernel: s.kernel, bias: s.bias, padding: s.padding,
                         replicate: s.replicate)
        shortcut = inC == outC ? nil
            : try Conv(store, name + "." + shortcutName + convSuffix, in: inC, out: outC, kernel: s.pointwiseKernel, bias: s.bias)
    }

    /// x: [N, Cin, T, H, W] -> [N, Cout, T, H, W]. A caller that passes its last reference
    /// (`consume`) lets the block normalise x in place when x is not the residual (at 256 px and
    /// 65 frames each activation of the last decoder levels is 2-4 GB).
    func callAsFunction(_ input: consuming Tensor) -> Tensor {
        var x = input
        let residual: Tensor
        var h: Tensor
        if let shortcut {
            residual = shortcut(x)
            norm1.apply(&x, silu: true)
            h = conv1(consume x)
        } else {
            residual = x
            h = conv1(norm1(x, silu: true))
        }
        norm2.apply(&h, silu: true)
        h = conv2(consume h)
        h.add(residual)
        return h
    }
}

/// The VAE mid-block attention: GroupNorm, one head of width C over all positions, output
/// projection, residual. Accepts diffusers' modern (to_q, to_out.0) and legacy (query,
/// proj_attn) key names and the LDM ones (q, proj_out), with Linear [C, C] or 1x1-conv
/// [C, C, 1, 1] weights. `frameCausal` (HunyuanVideo): positions are frame-major and a
/// position of frame f attends only to the positions of frames <= f.
struct SpatialSelfAttention {
    let norm: GroupNorm
    let q: (WeightTensor, WeightTensor), k: (WeightTensor, WeightTensor)
    let v: (WeightTensor, WeightTensor), out: (WeightTensor, WeightTensor)
    let frameCausal: Bool

    init(_ store: WeightStore, _ name: String, channels c: Int, groups: Int, names: AutoencoderKLNames = .diffusers,
         frameCausal: Bool = false) throws {
        let parts = names.attentionParts
        self.frameCausal = frameCausal
        norm = try GroupNorm(store, name + "." + parts.norm, channels: c, groups: groups, eps: 1e-6)
        func projection(_ modern: String, _ legacy: String) throws -> (WeightTensor, WeightTensor) {
            let base = store.contains("\(name).\(modern).weight") || !store.contains("\(name).\(legacy).weight")
                ? "\(name).\(modern)" : "\(name).\(legacy)"
            let shape = try store.shape(base + ".weight")
            guard shape == [c, c] || shape == [c, c, 1, 1] else {
                throw WeightsError.shapeMismatch(name: base + ".weight", source: store.sourceDescription, expected: [c, c], found: shape)
            }
            let w = try store.weight(base + ".weight", shape: shape).reshaped([c, c])
            return (w, try store.weight(base + ".bias", shape: [c]))
        }
        q = try projection(parts.q, "query")
        k = try projection(parts.k, "key")
        v = try projection(parts.v, "value")
        out = try projection(parts.out, "proj_attn")
    }

    /// x: [N, C, T, H, W] -> same shape (T = 1 unless frame-causal).
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        let hw = x.count / max(n * c, 1)
        // [N, C, HW] -> [N, HW, C] so the projections are plain Linear layers.
        let tokens = permute(norm(x, silu: false).reshaped([n, c, hw]), [0, 2, 1])
        let qt = linear(tokens, weight: q.0, bias: q.1)
        let kt = linear(tokens, weight: k.0, bias: k.1)
        let vt = linear(tokens, weight: v.0, bias: v.1)
        let scale = 1 / Float(c).squareRoot()
        let a = frameCausal ? causalAttention(qt, kt, vt, frames: x.shape[2], scale: scale)
            : attention(q: qt, k: kt, v: vt, heads: 1, scale: scale)
        let o = linear(a, weight: out.0, bias: out.1)
        var y = permute(o, [0, 2, 1]).reshaped(x.shape)
        y.add(x)
        return y
    }
}

/// Single-head attention where the queries of frame f see the keys of frames 0...f: per sample
/// and query frame, an unmasked attention over the key prefix (views, no copies).
/// q, k, v: [N, frames * P, C] frame-major -> [N, frames * P, C].
func causalAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, frames: Int, scale: Float) -> Tensor {
    let (n, tokens, c) = (q.shape[0], q.shape[1], q.shape[2])
    let perFrame = tokens / max(frames, 1)
    var out = Tensor(uninitialized: q.shape)
    let op = out.mutablePointer
    for b in 0..<n {
        let (qb, kb, vb) = (q[b], k[b], v[b])          // [tokens, C]
        for f in 0..<frames {
            let rows = (f * perFrame)..<((f + 1) * perFrame), seen = 0..<((f + 1) * perFrame)
            let a = attention(q: qb.slice(rows).reshaped([1, perFrame, c]), k: kb.slice(seen).reshaped([1, seen.count, c]),
                              v: vb.slice(seen).reshaped([1, seen.count, c]), heads: 1, scale: scale)
            (op + (b * tokens + rows.lowerBound) * c).update(from: a.pointer, count: perFrame * c)
        }
    }
    return out
}
