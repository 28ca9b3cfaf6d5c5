// Open-Sora's temporal VAE (vae_temporal.py): causal 3-D convolutions that compress the
// spatial latents 4x in time. Inputs are [B, C, T, H, W] spatial latents.

import TensorCore
import Weights

/// CausalConv3d: zero padding in time only at the front, by (kt - 1) + (1 - stride) frames,
/// and kh/2, kw/2 on each spatial side. Checkpoint name: "<name>.conv.weight".
func causalConv(_ store: WeightStore, _ name: String, in inC: Int, out outC: Int, kernel k: Int,
                bias: Bool, timeStride: Int = 1) throws -> Conv {
    try Conv(store, name + ".conv", in: inC, out: outC, kernel: [k, k, k], bias: bias, stride: (timeStride, 1, 1),
             padding: causalPadding(kernel: k, timeStride: timeStride))
}

/// The padding CausalConv3d applies for a cubic kernel `kernel` and time stride `timeStride`.
public func causalPadding(kernel: Int, timeStride: Int) -> Padding3D {
    .spatial(kernel / 2, front: (kernel - 1) + (1 - timeStride))
}

/// "B (C s) T H W -> B C (T s) H W": channel c*s + i becomes frame t*s + i of channel c.
func depthToTime(_ x: Tensor, factor s: Int) -> Tensor {
    let (b, cs, t) = (x.shape[0], x.shape[1], x.shape[2])
    let hw = x.count / max(b * cs * t, 1), c = cs / s
    var out = Tensor(uninitialized: [b, c, t * s, x.shape[3], x.shape[4]])
    let src = x.pointer, dst = out.mutablePointer
    for bi in 0..<b { for ci in 0..<c { for i in 0..<s { for ti in 0..<t {
        let from = src + (((bi * cs + ci * s + i) * t + ti) * hw)
        (dst + (((bi * c + ci) * t * s + ti * s + i) * hw)).update(from: from, count: hw)
    } } } }
    return out
}

struct TemporalEncoder {
    let convIn: Conv
    let levels: [[ResidualBlock]]
    let downsamplers: [Conv?]                  // one per level but the last
    let resBlocks: [ResidualBlock]
    let normOut: GroupNorm
    let convOut: Conv

    init(_ store: WeightStore, _ c: TemporalVAEConfig) throws {
        let style = ResidualBlockStyle.causal(groups: c.numGroups)
        convIn = try causalConv(store, "encoder.conv_in", in: c.inOutChannels, out: c.filters, kernel: 3, bias: false)
        var prev = c.filters
        var levels: [[ResidualBlock]] = [], down: [Conv?] = []
        for (i, m) in c.channelMultipliers.enumerated() {
            let f = c.filters * m
            var blocks: [ResidualBlock] = []
            for j in 0..<c.numResBlocks {
                blocks.append(try ResidualBlock(store, "encoder.block_res_blocks.\(i).\(j)", in: prev, out: f, style: style,
                                                convSuffix: ".conv", shortcutName: "conv3"))
                prev = f
            }
            levels.append(blocks)
            if i < c.channelMultipliers.count - 1 {
                down.append(c.temporalDownsample[i]
                    ? try causalConv(store, "encoder.conv_blocks.\(i)", in: prev, out: f, kernel: 3, bias: true, timeStride: 2) : nil)
            }
        }
        self.levels = levels
        downsamplers = down
        let top = c.filters * c.channelMultipliers[c.channelMultipliers.count - 1]
        var res: [ResidualBlock] = []
        for j in 0..<c.numResBlocks {
            res.append(try ResidualBlock(store, "encoder.res_blocks.\(j)", in: prev, out: top, style: style, convSuffix: ".conv", shortcutName: "conv3"))
            prev = top
        }
        resBlocks = res
        normOut = try GroupNorm(store, "encoder.norm1", channels: prev, groups: c.numGroups, eps: 1e-5)
        convOut = try causalConv(store, "encoder.conv2", in: prev, out: 2 * c.latentEmbedDim, kernel: 1, bias: true)
    }

    /// x: [B, Cin, T, H, W] (T a multiple of the downsample factor) -> [B, 2*latent, T/f, H, W].
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convIn(x)
        for (i, blocks) in levels.enumerated() {
            for b in blocks { h = b(h) }
            if i < downsamplers.count, let d = downsamplers[i] { h = d(h) }
        }
        for b in resBlocks { h = b(h) }
        return convOut(normOut(h, silu: true))
    }
}

struct TemporalDecoder {
    let convIn: Conv
    let resBlocks: [ResidualBlock]
    let levels: [[ResidualBlock]]              // indexed like the checkpoint: level 0 is the finest
    let upsamplers: [Conv?]                    // upsamplers[i - 1] runs after level i
    let normOut: GroupNorm
    let convOut: Conv

    init(_ store: WeightStore, _ c: TemporalVAEConfig) throws {
        let style = ResidualBlockStyle.causal(groups: c.numGroups)
        let n = c.channelMultipliers.count
        let top = c.filters * c.channelMultipliers[n - 1]
        convIn = try causalConv(store, "decoder.conv1", in: c.latentEmbedDim, out: top, kernel: 3, bias: true)
        resBlocks = try (0..<c.numResBlocks).map {
            try ResidualBlock(store, "decoder.res_blocks.\($0)", in: top, out: top, style: style, convSuffix: ".conv", shortcutName: "conv3")
        }
        var prev = top
        var levels = [[ResidualBlock]](repeating: [], count: n)
        var up = [Conv?](repeating: nil, count: n - 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let f = c.filters * c.channelMultipliers[i]
            for j in 0..<c.numResBlocks {
                levels[i].append(try ResidualBlock(store, "decoder.block_res_blocks.\(i).\(j)", in: prev, out: f, style: style,
                                                   convSuffix: ".conv", shortcutName: "conv3"))
                prev = f
            }
            if i > 0 && c.temporalDownsample[i - 1] {
                up[i - 1] = try causalConv(store, "decoder.conv_blocks.\(i - 1)", in: prev, out: 2 * prev, kernel: 3, bias: true)
            }
        }
        self.levels = levels
        upsamplers = up
        normOut = try GroupNorm(store, "decoder.norm1", channels: prev, groups: c.numGroups, eps: 1e-5)
        convOut = try causalConv(store, "decoder.conv_out", in: prev, out: c.inOutChannels, kernel: 3, bias: true)
    }

    /// z: [B, latent, T, H, W] -> [B, Cout, T*f, H, W].
    func callAsFunction(_ z: Tensor) -> Tensor {
        var h = convIn(z)
        for b in resBlocks { h = b(h) }
        for i in stride(from: levels.count - 1, through: 0, by: -1) {
            for b in levels[i] { h = b(h) }
            // Upsampling: conv to 2C channels, then the channel pairs become consecutive frames.
            if i > 0, let u = upsamplers[i - 1] { h = depthToTime(u(h), factor: 2) }
        }
        return convOut(normOut(h, silu: true))
    }
}

public struct TemporalVAE: Sendable {
    public let config: TemporalVAEConfig
    let encoder: TemporalEncoder, decoder: TemporalDecoder
    let quantConv: Conv, postQuantConv: Conv

    /// Builds the model from tensors named as in vae_temporal.py ("encoder.conv_in.conv.weight", ...).
    public init(store: WeightStore, config c: TemporalVAEConfig) throws {
        guard !c.channelMultipliers.isEmpty, c.temporalDownsample.count == c.channelMultipliers.count - 1 else {
            throw VAEError.badInput("temporal VAE config needs one temporal_downsample flag per level but the last")
        }
        config = c
        encoder = try TemporalEncoder(store, c)
        decoder = try TemporalDecoder(store, c)
        quantConv = try causalConv(store, "quant_conv", in: 2 * c.latentEmbedDim, out: 2 * c.embedDim, kernel: 1, bias: true)
        postQuantConv = try causalConv(store, "post_quant_conv", in: c.embedDim, out: c.latentEmbedDim, kernel: 1, bias: true)
    }

    public init(store: WeightStore, numGroups: Int = 32) throws {
        try self.init(store: store, config: TemporalVAEConfig.infer(from: store, numGroups: numGroups))
    }

    /// Zero frames encode puts in front of `frames` frames (to a multiple of the factor); decode
    /// drops as many from the front of its output.
    public func timePadding(frames: Int) -> Int {
        let f = config.timeDownsampleFactor
        return (f - frames % f) % f
    }

    /// x: [B, C, T, H, W] spatial latents -> posterior over [B, embed, ceil(T/f), H, W].
    public func encode(_ x: Tensor) throws -> DiagonalGaussian {
        guard x.rank == 5, x.shape[1] == config.inOutChannels, x.shape[2] > 0 else {
            throw VAEError.badInput("temporal VAE encode expects [B, \(config.inOutChannels), T>0, H, W], got \(x.shape)")
        }
        let padded = pad(x, axis: 2, before: timePadding(frames: x.shape[2]), after: 0)
        return DiagonalGaussian(moments: quantConv(encoder(padded)))
    }

    /// z: [B, embed, t, H, W] -> [B, C, t*f - pad, H, W], where pad = timePadding(numFrames).
    /// The reference decodes t*f frames and drops the front padding of `numFrames`.
    public func decode(_ z: Tensor, numFrames: Int) throws -> Tensor {
        guard z.rank == 5, z.shape[1] == config.embedDim, z.shape[2] > 0 else {
            throw VAEError.badInput("temporal VAE decode expects [B, \(config.embedDim), t>0, H, W], got \(z.shape)")
        }
        let produced = z.shape[2] * config.timeDownsampleFactor
        let drop = timePadding(frames: numFrames)
        guard numFrames > 0, drop < produced else {
            throw VAEError.badInput("temporal VAE decode: num_frames \(numFrames) does not fit \(z.shape[2]) latent frames")
        }
        let x = decoder(postQuantConv(z))
        return drop == 0 ? x : narrow(x, axis: 2, drop..<produced)
    }
}
