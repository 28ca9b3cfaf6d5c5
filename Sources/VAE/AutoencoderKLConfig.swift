// The shape of a diffusers AutoencoderKL (SD / SDXL VAE), read off a checkpoint's tensors.

import Weights

public struct AutoencoderKLConfig: Sendable, Equatable {
    public var inChannels: Int              // image channels (3)
    public var outChannels: Int             // decoded channels (3)
    public var latentChannels: Int          // 4
    public var blockOutChannels: [Int]      // per level, e.g. [128, 256, 512, 512]
    public var layersPerBlock: Int          // resnets per encoder level (decoder has one more)
    public var midBlockAttention: Bool
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    /// GroupNorm groups: not visible in tensor shapes; 32 in every released SD/SDXL VAE.
    public var normGroups: Int

    public init(inChannels: Int = 3, outChannels: Int = 3, latentChannels: Int = 4,
                blockOutChannels: [Int] = [128, 256, 512, 512], layersPerBlock: Int = 2,
                midBlockAttention: Bool = true, useQuantConv: Bool = true, usePostQuantConv: Bool = true,
                normGroups: Int = 32) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.latentChannels = latentChannels
        self.blockOutChannels = blockOutChannels; self.layersPerBlock = layersPerBlock
        self.midBlockAttention = midBlockAttention; self.useQuantConv = useQuantConv
        self.usePostQuantConv = usePostQuantConv; self.normGroups = normGroups
    }

    /// The SD / SDXL VAE (sd-vae-ft-ema, the SDXL VAE used by Open-Sora v1.2).
    public static let stableDiffusion = AutoencoderKLConfig()

    /// Spatial downsampling factor (8 for four levels).
    public var downsampleFactor: Int { 1 << max(blockOutChannels.count - 1, 0) }

    /// Reads the configuration from tensor shapes (names relative to the VAE, e.g.
    /// "encoder.conv_in.weight"). `normGroups` cannot be inferred and is taken as given.
    public static func infer(from store: WeightStore, normGroups: Int = 32) throws -> AutoencoderKLConfig {
        let convIn = try store.shape("encoder.conv_in.weight")
        var channels: [Int] = []
        while store.contains("encoder.down_blocks.\(channels.count).resnets.0.conv1.weight") {
            channels.append(try store.shape("encoder.down_blocks.\(channels.count).resnets.0.conv1.weight")[0])
        }
        guard !channels.isEmpty else {
            throw WeightsError.missingTensor(name: "encoder.down_blocks.0.resnets.0.conv1.weight", source: store.sourceDescription)
        }
        var layers = 0
        while store.contains("encoder.down_blocks.0.resnets.\(layers).conv1.weight") { layers += 1 }
        let decIn = try store.shape("decoder.conv_in.weight")
        let decOut = try store.shape("decoder.conv_out.weight")
        guard convIn.count == 4, decIn.count == 4, decOut.count == 4 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "encoder.conv_in.weight",
                                         detail: "expected 4-D conv weights, found \(convIn)")
        }
        return AutoencoderKLConfig(inChannels: convIn[1], outChannels: decOut[0], latentChannels: decIn[1],
                                   blockOutChannels: channels, layersPerBlock: layers,
                                   midBlockAttention: store.contains("encoder.mid_block.attentions.0.group_norm.weight"),
                                   useQuantConv: store.contains("quant_conv.weight"),
                                   usePostQuantConv: store.contains("post_quant_conv.weight"),
                                   normGroups: normGroups)
    }

    /// Every parameter (modern diffusers names) and its shape: random-weight benchmarks and
    /// the inference round-trip test use it.
    public func parameterShapes() -> [(String, [Int])] {
        var p: [(String, [Int])] = []
        func conv(_ n: String, _ i: Int, _ o: Int, _ k: Int) { p.append((n + ".weight", [o, i, k, k])); p.append((n + ".bias", [o])) }
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
        let levels = blockOutChannels.count, top = blockOutChannels[levels - 1]
        conv("encoder.conv_in", inChannels, blockOutChannels[0], 3)
        var c = blockOutChannels[0]
        for (i, out) in blockOutChannels.enumerated() {
            for j in 0..<layersPerBlock { resnet("encoder.down_blocks.\(i).resnets.\(j)", j == 0 ? c : out, out) }
            c = out
            if i < levels - 1 { conv("encoder.down_blocks.\(i).downsamplers.0.conv", c, c, 3) }
        }
        mid("encoder.mid_block", top)
        norm("encoder.conv_norm_out", top)
        conv("encoder.conv_out", top, 2 * latentChannels, 3)
        conv("decoder.conv_in", latentChannels, top, 3)
        mid("decoder.mid_block", top)
        c = top
        for (i, out) in blockOutChannels.reversed().enumerated() {
            for j in 0...layersPerBlock { resnet("decoder.up_blocks.\(i).resnets.\(j)", j == 0 ? c : out, out) }
            c = out
            if i < levels - 1 { conv("decoder.up_blocks.\(i).upsamplers.0.conv", c, c, 3) }
        }
        norm("decoder.conv_norm_out", blockOutChannels[0])
        conv("decoder.conv_out", blockOutChannels[0], outChannels, 3)
        if useQuantConv { conv("quant_conv", 2 * latentChannels, 2 * latentChannels, 1) }
        if usePostQuantConv { conv("post_quant_conv", latentChannels, latentChannels, 1) }
        return p
    }
}
