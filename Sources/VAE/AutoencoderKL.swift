// diffusers AutoencoderKL (the SD / SDXL image VAE): encoder, decoder, quant convs.
// Frames are processed as [N, C, 1, H, W] (see Layers.swift). No latent scaling here: the
// 0.18215 factor belongs to the video wrapper (SpatialVideoVAE).

import TensorCore
import Weights

/// Stride-2 3x3 conv after padding right and bottom by one (diffusers Downsample2D, padding=0).
struct Downsample {
    let conv: Conv
    init(_ store: WeightStore, _ name: String, channels c: Int) throws {
        conv = try Conv(store, name + ".conv", in: c, out: c, kernel: [3, 3], stride: (1, 2, 2),
                        padding: Padding3D(top: 0, bottom: 1, left: 0, right: 1))
    }
    func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
}

/// Nearest 2x upsampling then a 3x3 conv (diffusers Upsample2D).
struct Upsample {
    let conv: Conv
    init(_ store: WeightStore, _ name: String, channels c: Int) throws {
        conv = try Conv(store, name + ".conv", in: c, out: c, kernel: [3, 3], padding: .spatial(1))
    }
    func callAsFunction(_ x: Tensor) -> Tensor { conv(upsampleNearest(x, scaleH: 2, scaleW: 2)) }
}

/// resnet, attention, resnet at the lowest resolution (UNetMidBlock2D).
struct MidBlock {
    let resnet0: ResidualBlock, attention: SpatialSelfAttention?, resnet1: ResidualBlock
    init(_ store: WeightStore, _ name: String, channels c: Int, attention: Bool, style: ResidualBlockStyle,
         names: AutoencoderKLNames, frameCausal: Bool = false) throws {
        let s = names.shortcut
        resnet0 = try ResidualBlock(store, names.midResnet(name, 0), in: c, out: c, style: style, convSuffix: style.convSuffix, shortcutName: s)
        self.attention = attention ? try SpatialSelfAttention(store, names.midAttention(name), channels: c, groups: style.groups,
                                                              names: names, frameCausal: frameCausal) : nil
        resnet1 = try ResidualBlock(store, names.midResnet(name, 1), in: c, out: c, style: style, convSuffix: style.convSuffix, shortcutName: s)
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnet0(x)
        if let attention { h = attention(h) }
        return resnet1(h)
    }
}

/// One resolution level: residual blocks, then an optional down- or upsampler.
struct Level {
    enum Resample { case none, down(Downsample), up(Upsample) }
    let resnets: [ResidualBlock]
    let resample: Resample
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for r in resnets { h = r(h) }
        switch resample {
        case .none: return h
        case let .down(d): return d(h)
        case let .up(u): return u(h)
        }
    }
}

public struct AutoencoderKL: Sendable {
    public let config: AutoencoderKLConfig
    let encConvIn: Conv, encLevels: [Level], encMid: MidBlock, encNormOut: GroupNorm, encConvOut: Conv
    let quantConv: Conv?, postQuantConv: Conv?
    let decConvIn: Conv, decMid: MidBlock, decLevels: [Level], decNormOut: GroupNorm, decConvOut: Conv

    /// Builds the model from tensors named as in diffusers ("encoder.conv_in.weight", ...),
    /// checking every name and shape first.
    public init(store: WeightStore, config: AutoencoderKLConfig) throws {
        self.config = config
        let ch = config.blockOutChannels, g = config.normGroups, names = config.names
        guard !ch.isEmpty else { throw VAEError.badInput("AutoencoderKL config has no levels") }
        let top = ch[ch.count - 1], style = ResidualBlockStyle.spatial(groups: g)
        func resnet(_ level: String, _ j: Int, _ i: Int, _ o: Int) throws -> ResidualBlock {
            try ResidualBlock(store, names.resnet(level, j), in: i, out: o, style: style, shortcutName: names.shortcut)
        }

        encConvIn = try Conv(store, "encoder.conv_in", in: config.inChannels, out: config.stemChannels, kernel: [3, 3], padding: .spatial(1))
        var levels: [Level] = []
        var c = config.stemChannels
        for (i, out) in ch.enumerated() {
            let level = names.encoderLevel(i)
            var resnets: [ResidualBlock] = []
            for j in 0..<config.layersPerBlock { resnets.append(try resnet(level, j, j == 0 ? c : out, out)) }
            c = out
            let down: Level.Resample = i < ch.count - 1 ? .down(try Downsample(store, names.downsampler(level), channels: c)) : .none
            levels.append(Level(resnets: resnets, resample: down))
        }
        encLevels = levels
        encMid = try MidBlock(store, names.mid("encoder"), channels: top, attention: config.midBlockAttention, style: style, names: names)
        encNormOut = try GroupNorm(store, names.normOut("encoder"), channels: top, groups: g, eps: 1e-6)
        encConvOut = try Conv(store, "encoder.conv_out", in: top, out: 2 * config.latentChannels, kernel: [3, 3], padding: .spatial(1))
        let lc = config.latentChannels
        quantConv = config.useQuantConv ? try Conv(store, "quant_conv", in: 2 * lc, out: 2 * lc, kernel: [1, 1]) : nil
        postQuantConv = config.usePostQuantConv ? try Conv(store, "post_quant_conv", in: lc, out: lc, kernel: [1, 1]) : nil

        decConvIn = try Conv(store, "decoder.conv_in", in: lc, out: top, kernel: [3, 3], padding: .spatial(1))
        decMid = try MidBlock(store, names.mid("decoder"), channels: top, attention: config.midBlockAttention, style: style, names: names)
        levels = []
        c = top
        for (i, out) in ch.reversed().enumerated() {
            let level = names.decoderLevel(i, of: ch.count)
            var resnets: [ResidualBlock] = []
            for j in 0...config.layersPerBlock { resnets.append(try resnet(level, j, j == 0 ? c : out, out)) }
            c = out
            let up: Level.Resample = i < ch.count - 1 ? .up(try Upsample(store, names.upsampler(level), channels: c)) : .none
            levels.append(Level(resnets: resnets, resample: up))
        }
        decLevels = levels
        decNormOut = try GroupNorm(store, names.normOut("decoder"), channels: ch[0], groups: g, eps: 1e-6)
        decConvOut = try Conv(store, "decoder.conv_out", in: ch[0], out: config.outChannels, kernel: [3, 3], padding: .spatial(1))
    }

    /// Infers the configuration from the tensors (normGroups as given) and builds the model.
    public init(store: WeightStore, normGroups: Int = 32) throws {
        try self.init(store: store, config: AutoencoderKLConfig.infer(from: store, normGroups: normGroups))
    }

    /// images: [N, inChannels, H, W] with H, W multiples of 8 -> posterior over [N, latent, H/8, W/8].
    public func encode(_ images: Tensor) throws -> DiagonalGaussian {
        guard images.rank == 4, images.shape[1] == config.inChannels else {
            throw VAEError.badInput("AutoencoderKL.encode expects [N, \(config.inChannels), H, W], got \(images.shape)")
        }
        let (n, h, w) = (images.shape[0], images.shape[2], images.shape[3])
        var x = encConvIn(images.reshaped([n, config.inChannels, 1, h, w]))
        for level in encLevels { x = level(x) }
        x = encConvOut(encNormOut(encMid(x), silu: true))
        if let quantConv { x = quantConv(x) }
        return DiagonalGaussian(moments: x.reshaped([n, x.shape[1], x.shape[3], x.shape[4]]))
    }

    /// latents: [N, latent, h, w] -> images [N, outChannels, 8h, 8w].
    public func decode(_ latents: Tensor) throws -> Tensor {
        guard latents.rank == 4, latents.shape[1] == config.latentChannels else {
            throw VAEError.badInput("AutoencoderKL.decode expects [N, \(config.latentChannels), h, w], got \(latents.shape)")
        }
        var x = latents.reshaped([latents.shape[0], latents.shape[1], 1, latents.shape[2], latents.shape[3]])
        if let postQuantConv { x = postQuantConv(x) }
        x = decMid(decConvIn(x))
        for level in decLevels { x = level(x) }
        x = decConvOut(decNormOut(x, silu: true))
        return x.reshaped([x.shape[0], x.shape[1], x.shape[3], x.shape[4]])
    }
}
