// HunyuanVideo's causal 3D VAE (AutoencoderKLCausal3D, Open-Sora 2.0's default autoencoder):
// the diffusers VAE layout with every conv a causal 3x3x3 (replicate padding, time padded at the
// front only), 4x time and 8x space compression, frame-causal mid-block attention, and the
// latent scaling inside the model. Optional spatial and temporal tiling (VAETiling.swift).
//
//   encode: x [B, 3, T, H, W] -> conv_in -> down blocks (space /2 for i < 3, time /2 for i in
//           1...2) -> mid (resnet, causal attention, resnet) -> norm, SiLU, conv_out -> quant_conv
//           -> moments [B, 2z, (T-1)/4+1, ceil(H/8), ceil(W/8)] -> z = scale * (latent - shift)
//   decode: z -> z / scale + shift -> post_quant_conv -> conv_in -> mid -> up blocks (first
//           frame upsampled in space only) -> norm, SiLU, conv_out -> [B, 3, 4(t-1)+1, 8h, 8w]

import TensorCore
import Weights

public struct HunyuanVAEConfig: Sendable, Equatable {
    public var inChannels = 3, outChannels = 3, latentChannels = 16
    public var blockOutChannels = [128, 256, 512, 512]
    public var layersPerBlock = 2
    /// Not visible in tensor shapes: 32 in the released model.
    public var normGroups = 32
    public var timeCompression = 4, spatialCompression = 8
    public var midBlockAttention = true
    /// encode returns scale * (z - shift), decode starts with z / scale + shift.
    public var scaleFactor: Float = 0.476986, shiftFactor: Float = 0
    /// Tiling (AutoEncoder3DConfig): spatial tiles of `sampleSize` pixels, temporal tiles of
    /// `sampleTSize` frames, overlapping by `tileOverlap`.
    public var sampleSize = 256, sampleTSize = 64
    public var useSpatialTiling = true, useTemporalTiling = false
    public var tileOverlap = 0.25

    public init() {}

    /// Open-Sora 2.0's hunyuan_vae (hunyuan_vae.safetensors) with the 256px inference settings.
    public static let openSora2 = HunyuanVAEConfig()

    var spatialDownsamples: Int { Int.bitWidth - 1 - spatialCompression.leadingZeroBitCount }
    var timeDownsamples: Int { Int.bitWidth - 1 - timeCompression.leadingZeroBitCount }
    /// Encoder block i halves space / time (the decoder's block i doubles them).
    func downsamplesSpace(_ i: Int) -> Bool { i < spatialDownsamples && i < blockOutChannels.count - 1 }
    func downsamplesTime(_ i: Int) -> Bool { i >= blockOutChannels.count - 1 - timeDownsamples && i < blockOutChannels.count - 1 }

    var tileLatentSize: Int { sampleSize / (1 << (blockOutChannels.count - 1)) }
    var tileLatentTSize: Int { sampleTSize / timeCompression }

    /// Latent [t, h, w] for a clip: t = (T-1)/4 + 1, h = ceil(H/8).
    public func latentSize(frames: Int, height: Int, width: Int) -> [Int] {
        [(frames - 1) / timeCompression + 1, (height + spatialCompression - 1) / spatialCompression,
         (width + spatialCompression - 1) / spatialCompression]
    }

    /// Reads the shapes from the checkpoint (names as in AutoencoderKLCausal3D); groups, scaling
    /// and tiling are not in the tensors and are taken from `base`.
    public static func infer(from store: WeightStore, base: HunyuanVAEConfig = .openSora2) throws -> HunyuanVAEConfig {
        var c = base
        var channels: [Int] = []
        while store.contains("encoder.down_blocks.\(channels.count).resnets.0.conv1.conv.weight") {
            channels.append(try store.shape("encoder.down_blocks.\(channels.count).resnets.0.conv1.conv.weight")[0])
        }
        guard !channels.isEmpty else {
            throw WeightsError.missingTensor(name: "encoder.down_blocks.0.resnets.0.conv1.conv.weight", source: store.sourceDescription)
        }
        var layers = 0
        while store.contains("encoder.down_blocks.0.resnets.\(layers).conv1.conv.weight") { layers += 1 }
        let convIn = try store.shape("encoder.conv_in.conv.weight"), convOut = try store.shape("decoder.conv_out.conv.weight")
        let postQuant = try store.shape("post_quant_conv.weight")
        guard convIn.count == 5, convOut.count == 5, postQuant.count == 5 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "encoder.conv_in.conv.weight",
                                         detail: "expected 5-D conv weights (a causal 3D VAE), found \(convIn)")
        }
        c.blockOutChannels = channels
        c.layersPerBlock = layers
        c.inChannels = convIn[1]
        c.outChannels = convOut[0]
        c.latentChannels = postQuant[0]
        c.midBlockAttention = store.contains("encoder.mid_block.attentions.0.group_norm.weight")
        return c
    }

    /// Every parameter and its shape (manifests, random-weight benchmarks).
    public func parameterShapes() -> [(String, [Int])] {
        var p: [(String, [Int])] = []
        func conv(_ n: String, _ i: Int, _ o: Int, _ k: Int) { p.append((n + ".conv.weight", [o, i, k, k, k])); p.append((n + ".conv.bias", [o])) }
        func norm(_ n: String, _ c: Int) { p.append((n + ".weight", [c])); p.append((n + ".bias", [c])) }
        func resnet(_ n: String, _ i: Int, _ o: Int) {
            norm(n + ".norm1", i); conv(n + ".conv1", i, o, 3); norm(n + ".norm2", o); conv(n + ".conv2", o, o, 3)
            if i != o { conv(n + ".conv_shortcut", i, o, 1) }
        }
        func mid(_ n: String, _ c: Int) {
            resnet(n + ".resnets.0", c, c)
            if midBlockAttention {
                norm(n + ".attentions.0.group_norm", c)
                for proj in ["to_q", "to_k", "to_v", "to_out.0"] { p.append(("\(n).attentions.0.\(proj).weight", [c, c])); p.append(("\(n).attentions.0.\(proj).bias", [c])) }
            }
            resnet(n + ".resnets.1", c, c)
        }
        let ch = blockOutChannels, top = ch[ch.count - 1]
        conv("encoder.conv_in", inChannels, ch[0], 3)
        var c = ch[0]
        for (i, out) in ch.enumerated() {
            for j in 0..<layersPerBlock { resnet("encoder.down_blocks.\(i).resnets.\(j)", j == 0 ? c : out, out) }
            c = out
            if i < ch.count - 1 { conv("encoder.down_blocks.\(i).downsamplers.0.conv", c, c, 3) }
        }
        mid("encoder.mid_block", top)
        norm("encoder.conv_norm_out", top)
        conv("encoder.conv_out", top, 2 * latentChannels, 3)
        conv("decoder.conv_in", latentChannels, top, 3)
        mid("decoder.mid_block", top)
        c = top
        for (i, out) in ch.reversed().enumerated() {
            for j in 0...layersPerBlock { resnet("decoder.up_blocks.\(i).resnets.\(j)", j == 0 ? c : out, out) }
            c = out
            if i < ch.count - 1 { conv("decoder.up_blocks.\(i).upsamplers.0.conv", c, c, 3) }
        }
        norm("decoder.conv_norm_out", ch[0])
        conv("decoder.conv_out", ch[0], outChannels, 3)
        p.append(("quant_conv.weight", [2 * latentChannels, 2 * latentChannels, 1, 1, 1])); p.append(("quant_conv.bias", [2 * latentChannels]))
        p.append(("post_quant_conv.weight", [latentChannels, latentChannels, 1, 1, 1])); p.append(("post_quant_conv.bias", [latentChannels]))
        return p
    }
}

/// CausalConv3d: kernel k, replicate padding k/2 in H, W and k-1 frames at the front.
private func causalReplicateConv(_ store: WeightStore, _ name: String, in i: Int, out o: Int, kernel k: Int = 3,
                                 stride: (Int, Int, Int) = (1, 1, 1)) throws -> Conv {
    try Conv(store, name + ".conv", in: i, out: o, kernel: [k, k, k], stride: stride, padding: .spatial(k / 2, front: k - 1),
             replicate: true)
}

/// Frames after `upsampleCausal`: every frame but the first doubled with `time` (T -> 2T - 1).
func upsampledFrames(_ t: Int, time: Bool) -> Int { time && t > 1 ? 2 * t - 1 : t }

/// Nearest 2x upsampling in H, W, and with `time` in T for every frame but the first
/// (T -> 2T - 1); `frames`: only those output frames. x: [B, C, T, H, W] -> [B, C, T', 2H, 2W].
func upsampleCausal(_ x: Tensor, time: Bool, frames range: Range<Int>? = nil) -> Tensor {
    let (planes, t, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let r = range ?? 0..<upsampledFrames(t, time: time)
    let (oh, ow) = (2 * h, 2 * w)
    var out = Tensor(uninitialized: [x.shape[0], x.shape[1], r.count, oh, ow])
    let src = SendablePointer(x.pointer), dst = SendablePointer(out.mutablePointer)
    let doubled = time && t > 1
    parallelFor(planes * r.count) { items in
        for item in items {
            let (p, i) = (item / r.count, item % r.count)
            let ot = r.lowerBound + i
            let it = doubled && ot > 0 ? (ot - 1) / 2 + 1 : ot
            let s = src.p + (p * t + it) * h * w, d = dst.p + (p * r.count + i) * oh * ow
            for row in 0..<oh {
                let srow = s + (row / 2) * w, drow = d + row * ow
                for j in 0..<ow { drow[j] = srow[j / 2] }
            }
        }
    }
    return out
}

struct HunyuanLevel {
    let resnets: [ResidualBlock]
    let resample: Conv?
    let space: Bool, time: Bool
}

public struct HunyuanVAE: VideoAutoencoder {
    public let config: HunyuanVAEConfig
    let encConvIn: Conv, encLevels: [HunyuanLevel], encMid: MidBlock, encNormOut: GroupNorm, encConvOut: Conv
    let quantConv: Conv, postQuantConv: Conv
    let decConvIn: Conv, decMid: MidBlock, decLevels: [HunyuanLevel], decNormOut: GroupNorm, decConvOut: Conv

    public init(store: WeightStore, config c: HunyuanVAEConfig) throws {
        let ch = c.blockOutChannels
        guard !ch.isEmpty, c.scaleFactor != 0, c.sampleSize >= 1 << (ch.count - 1), c.sampleTSize >= c.timeCompression,
              c.tileOverlap >= 0, c.tileOverlap < 1 else {
            throw VAEError.badInput("Hunyuan VAE config: need levels, a non-zero scale, tiles at least one latent in size and an overlap in [0, 1)")
        }
        config = c
        let style = ResidualBlockStyle.causalReplicate(groups: c.normGroups)
        let top = ch[ch.count - 1], lc = c.latentChannels
        func resnet(_ n: String, _ i: Int, _ o: Int) throws -> ResidualBlock {
            try ResidualBlock(store, n, in: i, out: o, style: style, convSuffix: ".conv", shortcutName: "conv_shortcut")
        }
        encConvIn = try causalReplicateConv(store, "encoder.conv_in", in: c.inChannels, out: ch[0])
        var levels: [HunyuanLevel] = []
        var prev = ch[0]
        for (i, out) in ch.enumerated() {
            let name = "encoder.down_blocks.\(i)"
            let resnets = try (0..<c.layersPerBlock).map { j in try resnet("\(name).resnets.\(j)", j == 0 ? prev : out, out) }
            prev = out
            let (space, time) = (c.downsamplesSpace(i), c.downsamplesTime(i))
            let down = space || time
                ? try causalReplicateConv(store, name + ".downsamplers.0.conv", in: out, out: out, stride: (time ? 2 : 1, space ? 2 : 1, space ? 2 : 1))
                : nil
            levels.append(HunyuanLevel(resnets: resnets, resample: down, space: space, time: time))
        }
        encLevels = levels
        encMid = try MidBlock(store, "encoder.mid_block", channels: top, attention: c.midBlockAttention, style: style,
                              names: .diffusers, frameCausal: true)
        encNormOut = try GroupNorm(store, "encoder.conv_norm_out", channels: top, groups: c.normGroups, eps: 1e-6)
        encConvOut = try causalReplicateConv(store, "encoder.conv_out", in: top, out: 2 * lc)
        quantConv = try Conv(store, "quant_conv", in: 2 * lc, out: 2 * lc, kernel: [1, 1, 1])
        postQuantConv = try Conv(store, "post_quant_conv", in: lc, out: lc, kernel: [1, 1, 1])

        decConvIn = try causalReplicateConv(store, "decoder.conv_in", in: lc, out: top)
        decMid = try MidBlock(store, "decoder.mid_block", channels: top, attention: c.midBlockAttention, style: style,
                              names: .diffusers, frameCausal: true)
        levels = []
        prev = top
        for (i, out) in ch.reversed().enumerated() {
            let name = "decoder.up_blocks.\(i)"
            let resnets = try (0...c.layersPerBlock).map { j in try resnet("\(name).resnets.\(j)", j == 0 ? prev : out, out) }
            prev = out
            let (space, time) = (c.downsamplesSpace(i), c.downsamplesTime(i))
            let up = space || time ? try causalReplicateConv(store, name + ".upsamplers.0.conv", in: out, out: out) : nil
            levels.append(HunyuanLevel(resnets: resnets, resample: up, space: space, time: time))
        }
        decLevels = levels
        decNormOut = try GroupNorm(store, "decoder.conv_norm_out", channels: ch[0], groups: c.normGroups, eps: 1e-6)
        decConvOut = try causalReplicateConv(store, "decoder.conv_out", in: ch[0], out: c.outChannels)
    }

    /// Shapes from the checkpoint, everything else from `base`.
    public init(store: WeightStore, base: HunyuanVAEConfig = .openSora2) throws {
        try self.init(store: store, config: HunyuanVAEConfig.infer(from: store, base: base))
    }

    public var latentChannels: Int { config.latentChannels }
    public func latentSize(frames: Int, height: Int, width: Int) -> [Int] { config.latentSize(frames: frames, height: height, width: width) }

    // MARK: the networks

    /// x: [B, 3, T, H, W] -> moments [B, 2z, t, h, w] (encoder + quant_conv, one tile).
    func moments(_ x: Tensor) -> Tensor {
        var h = encConvIn(x)
        for level in encLevels {
            for r in level.resnets { h = r(h) }
            if let d = level.resample { h = d(h) }
        }
        h = encConvOut(encNormOut(encMid(h), silu: true))
        return quantConv(h)
    }

    /// z: [B, z, t, h, w] unscaled -> [B, 3, 4(t-1)+1, 8h, 8w] (post_quant_conv + decoder, one tile).
    /// Activations above `chunkBytes` run a few frames at a time (FrameStreaming); the heap's
    /// freed blocks go back to the kernel after each layer (each level's tensors are larger than
    /// the last's, so they would not be reused).
    func decodeTile(_ z: Tensor, chunkBytes: Int = FrameStreaming.chunkBytes) -> Tensor {
        var h = decMid(decConvIn(postQuantConv(z)))
        for level in decLevels {
            for r in level.resnets {
                if let chunk = FrameStreaming.chunkFrames(h, chunkBytes: chunkBytes) {
                    h = r.streamed(consume h, chunk: chunk)
                } else {
                    h = r(consume h)
                }
                HeapTuning.returnFreedMemory()
            }
            guard let u = level.resample else { continue }
            if let chunk = FrameStreaming.chunkFrames(h, spatialScale: 4, chunkBytes: chunkBytes) {
                h = upsampleCausalThenConv(consume h, time: level.time, conv: u, chunk: chunk)
            } else {
                h = u(upsampleCausal(consume h, time: level.time))
            }
            HeapTuning.returnFreedMemory()
        }
        decNormOut.apply(&h, silu: true)
        return decConvOut(h)
    }

    // MARK: tiling (the reference's spatial_tiled_encode / temporal_tiled_encode and decode)

    private var overlapKeep: Double { 1 - config.tileOverlap }

    func encodeSpatialTiles(_ x: Tensor) -> Tensor {
        let c = config
        guard c.useSpatialTiling, x.shape[3] > c.sampleSize || x.shape[4] > c.sampleSize else { return moments(x) }
        let extent = Int(Double(c.tileLatentSize) * c.tileOverlap)
        return tiledSpatial(x, tile: c.sampleSize, stride: Int(Double(c.sampleSize) * overlapKeep), blend: extent,
                            keep: c.tileLatentSize - extent, moments)
    }

    /// x: [B, 3, T, H, W] -> moments [B, 2z, t, h, w], tiled as configured.
    public func encodeMoments(_ x: Tensor) -> Tensor {
        let c = config
        guard c.useTemporalTiling, x.shape[2] > c.sampleTSize else { return encodeSpatialTiles(x) }
        let extent = Int(Double(c.tileLatentTSize) * c.tileOverlap)
        let tiling = TemporalTiling(take: c.sampleTSize + 1, stride: Int(Double(c.sampleTSize) * overlapKeep), blend: extent,
                                    keep: c.tileLatentTSize - extent, firstExtra: 1, dropFirst: true)
        return tiledTemporal(x, tiling, encodeSpatialTiles)
    }

    func decodeSpatialTiles(_ z: Tensor) -> Tensor {
        let c = config, lt = c.tileLatentSize
        guard c.useSpatialTiling, z.shape[3] > lt || z.shape[4] > lt else { return decodeTile(z) }
        let extent = Int(Double(c.sampleSize) * c.tileOverlap)
        return tiledSpatial(z, tile: lt, stride: Int(Double(lt) * overlapKeep), blend: extent, keep: c.sampleSize - extent) { decodeTile($0) }
    }

    /// z: unscaled latent [B, z, t, h, w] -> [B, 3, 4(t-1)+1, 8h, 8w], tiled as configured.
    func decodeUnscaled(_ z: Tensor) -> Tensor {
        let c = config, lt = c.tileLatentTSize
        guard c.useTemporalTiling, z.shape[2] > lt else { return decodeSpatialTiles(z) }
        let extent = Int(Double(c.sampleTSize) * c.tileOverlap)
        let tiling = TemporalTiling(take: lt + 1, stride: Int(Double(lt) * overlapKeep), blend: extent,
                                    keep: c.sampleTSize - extent, firstExtra: 1, dropFirst: true)
        return tiledTemporal(z, tiling, decodeSpatialTiles)
    }

    // MARK: public API

    /// A clip this VAE reconstructs frame for frame: 4k+1 frames (decode gives 4(t-1)+1) and
    /// H, W multiples of 8. The error names the frame counts it takes.
    public func checkVideo(frames: Int, height: Int, width: Int) throws {
        let (ft, fs) = (config.timeCompression, config.spatialCompression)
        guard frames > 0, (frames - 1) % ft == 0 else {
            let below = (max(frames, 1) - 1) / ft * ft + 1
            throw VAEError.badInput("the Hunyuan VAE takes \(ft)k+1 frames (1, \(ft + 1), \(2 * ft + 1), ...), got \(frames) (\(below) would fit)")
        }
        guard height % fs == 0, width % fs == 0, height > 0, width > 0 else {
            throw VAEError.badInput("the Hunyuan VAE takes heights and widths that are multiples of \(fs), got \(width) x \(height)")
        }
    }

    /// x: [B, 3, T, H, W] in [-1, 1] -> the posterior over the unscaled latent.
    public func posterior(_ x: Tensor) throws -> DiagonalGaussian {
        guard x.rank == 5, x.shape[1] == config.inChannels, x.shape[0] > 0, x.shape[2] > 0, x.shape[3] > 0, x.shape[4] > 0 else {
            throw VAEError.badInput("Hunyuan VAE encode expects [B, \(config.inChannels), T, H, W], got \(x.shape)")
        }
        return DiagonalGaussian(moments: encodeMoments(x))
    }

    /// x -> z = scale * (latent - shift) (the reference samples by default: pass `.sample`).
    public func encode(_ x: Tensor, sampling: LatentSampling) throws -> Tensor {
        var z = try posterior(x).latent(sampling)
        let (s, sh) = (config.scaleFactor, config.shiftFactor)
        mapInPlace(&z) { s * ($0 - sh) }
        return z
    }

    /// z: [B, z, t, h, w] -> video [B, 3, 4(t-1)+1, 8h, 8w].
    public func decode(_ z: Tensor) throws -> Tensor {
        guard z.rank == 5, z.shape[1] == config.latentChannels, z.shape[0] > 0, z.shape[2] > 0, z.shape[3] > 0, z.shape[4] > 0 else {
            throw VAEError.badInput("Hunyuan VAE decode expects a latent [B, \(config.latentChannels), t, h, w], got \(z.shape)")
        }
        return decodeUnscaled(unscale(z))
    }

    /// z / scale + shift (decode's first step).
    public func unscale(_ z: Tensor) -> Tensor {
        var u = z
        let (s, sh) = (config.scaleFactor, config.shiftFactor)
        mapInPlace(&u) { $0 / s + sh }
        return u
    }

    /// Decodes 4(t-1)+1 frames and keeps the first `numFrames` (the pipeline's crop).
    public func decode(_ z: Tensor, numFrames: Int) throws -> Tensor {
        let t = z.rank == 5 ? z.shape[2] : 0
        let produced = (t - 1) * config.timeCompression + 1
        guard t > 0, numFrames > 0, numFrames <= produced else {
            throw VAEError.badInput("Hunyuan VAE: \(t) latent frames decode to \(max(produced, 0)) frames, cannot keep \(numFrames)")
        }
        let x = try decode(z)
        return numFrames == x.shape[2] ? x : narrow(x, axis: 2, 0..<numFrames)
    }
}
