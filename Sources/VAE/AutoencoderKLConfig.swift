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
    /// encoder.conv_in's output width: blockOutChannels[0] in diffusers, `ch` in LDM / Flux
    /// (where level 0 may be wider, e.g. ch_mult [2, 1, 1, 1]).
    public var stemChannels: Int
    /// How the checkpoint spells the tensor names.
    public var names: AutoencoderKLNames

    public init(inChannels: Int = 3, outChannels: Int = 3, latentChannels: Int = 4,
                blockOutChannels: [Int] = [128, 256, 512, 512], layersPerBlock: Int = 2,
                midBlockAttention: Bool = true, useQuantConv: Bool = true, usePostQuantConv: Bool = true,
                normGroups: Int = 32, stemChannels: Int? = nil, names: AutoencoderKLNames = .diffusers) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.latentChannels = latentChannels
        self.blockOutChannels = blockOutChannels; self.layersPerBlock = layersPerBlock
        self.midBlockAttention = midBlockAttention; self.useQuantConv = useQuantConv
        self.usePostQuantConv = usePostQuantConv; self.normGroups = normGroups
        self.stemChannels = stemChannels ?? blockOutChannels.first ?? 0
        self.names = names
    }

    /// Flux's autoencoder (flux1-dev ae.safetensors, Open-Sora 2.0's image path): LDM names,
    /// ch 128, ch_mult [1, 2, 4, 4], 2 resnets per level, 16 latent channels, no quant convs.
    public static let flux = AutoencoderKLConfig(latentChannels: 16, useQuantConv: false, usePostQuantConv: false, names: .ldm)

    /// The SD / SDXL VAE (sd-vae-ft-ema, the SDXL VAE used by Open-Sora v1.2).
    public static let stableDiffusion = AutoencoderKLConfig()

    /// Spatial downsampling factor (8 for four levels).
    public var downsampleFactor: Int { 1 << max(blockOutChannels.count - 1, 0) }

    /// Reads the configuration from tensor shapes (names relative to the VAE, e.g.
    /// "encoder.conv_in.weight"). `normGroups` cannot be inferred and is taken as given.
    public static func infer(from store: WeightStore, normGroups: Int = 32) throws -> AutoencoderKLConfig {
        let names = AutoencoderKLNames.detect(in: store)
        let convIn = try store.shape("encoder.conv_in.weight")
        var channels: [Int] = []
        while store.contains(names.resnet(names.encoderLevel(channels.count), 0) + ".conv1.weight") {
            channels.append(try store.shape(names.resnet(names.encoderLevel(channels.count), 0) + ".conv1.weight")[0])
        }
        guard !channels.isEmpty else {
            throw WeightsError.missingTensor(name: names.resnet(names.encoderLevel(0), 0) + ".conv1.weight", source: store.sourceDescription)
        }
        var layers = 0
        while store.contains(names.resnet(names.encoderLevel(0), layers) + ".conv1.weight") { layers += 1 }
        let decIn = try store.shape("decoder.conv_in.weight")
        let decOut = try store.shape("decoder.conv_out.weight")
        guard convIn.count == 4, decIn.count == 4, decOut.count == 4 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "encoder.conv_in.weight",
                                         detail: "expected 4-D conv weights, found \(convIn)")
        }
        return AutoencoderKLConfig(inChannels: convIn[1], outChannels: decOut[0], latentChannels: decIn[1],
                                   blockOutChannels: channels, layersPerBlock: layers,
                                   midBlockAttention: store.contains(names.midAttention(names.mid("encoder")) + "." + names.attentionParts.norm + ".weight"),
                                   useQuantConv: store.contains("quant_conv.weight"),
                                   usePostQuantConv: store.contains("post_quant_conv.weight"),
                                   normGroups: normGroups, stemChannels: convIn[0], names: names)
    }

    /// Every parameter (in this config's spelling) and its shape: random-weight benchmarks and
    /// the inference round-trip test use it.
    public func parameterShapes() -> [(String, [Int])] {
        var p: [(String, [Int])] = []
        func conv(_ n: String, _ i: Int, _ o: Int, _ k: Int) { p.append((n + ".weight", [o, i, k, k])); p.append((n + ".bias", [o])) }
        func norm(_ n: String, _ c: Int) { p.append((n + ".weight", [c])); p.append((n + ".bias", [c])) }
        func resnet(_ n: String, _ i: Int, _ o: Int) {
            norm(n + ".norm1", i); conv(n + ".conv1", i, o, 3); norm(n + ".norm2", o); conv(n + ".conv2", o, o, 3)
            if i != o { conv(n + "." + names.shortcut, i, o, 1) }
        }
        func mid(_ n: String, _ c: Int) {
            resnet(names.midResnet(n, 0), c, c)
            if midBlockAttention {
                let a = names.midAttention(n), parts = names.attentionParts
                norm(a + "." + parts.norm, c)
                for proj in [parts.q, parts.k, parts.v, parts.out] {
                    p.append(("\(a).\(proj).weight", names == .diffusers ? [c, c] : [c, c, 1, 1])); p.append(("\(a).\(proj).bias", [c]))
                }
            }
            resnet(names.midResnet(n, 1), c, c)
        }
        let levels = blockOutChannels.count, top = blockOutChannels[levels - 1]
        conv("encoder.conv_in", inChannels, stemChannels, 3)
        var c = stemChannels
        for (i, out) in blockOutChannels.enumerated() {
            for j in 0..<layersPerBlock { resnet(names.resnet(names.encoderLevel(i), j), j == 0 ? c : out, out) }
            c = out
            if i < levels - 1 { conv(names.downsampler(names.encoderLevel(i)) + ".conv", c, c, 3) }
        }
        mid(names.mid("encoder"), top)
        norm(names.normOut("encoder"), top)
        conv("encoder.conv_out", top, 2 * latentChannels, 3)
        conv("decoder.conv_in", latentChannels, top, 3)
        mid(names.mid("decoder"), top)
        c = top
        for (i, out) in blockOutChannels.reversed().enumerated() {
            let level = names.decoderLevel(i, of: levels)
            for j in 0...layersPerBlock { resnet(names.resnet(level, j), j == 0 ? c : out, out) }
            c = out
            if i < levels - 1 { conv(names.upsampler(level) + ".conv", c, c, 3) }
        }
        norm(names.normOut("decoder"), blockOutChannels[0])
        conv("decoder.conv_out", blockOutChannels[0], outChannels, 3)
        if useQuantConv { conv("quant_conv", 2 * latentChannels, 2 * latentChannels, 1) }
        if usePostQuantConv { conv("post_quant_conv", latentChannels, latentChannels, 1) }
        return p
    }
}
