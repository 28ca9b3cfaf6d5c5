// The shape of Open-Sora's temporal VAE (VAE_Temporal; VAE_Temporal_SD in v1.2), read off a
// checkpoint's tensors.

import Weights

public struct TemporalVAEConfig: Sendable, Equatable {
    public var inOutChannels: Int            // channels of the spatial latent it compresses (4)
    public var latentEmbedDim: Int           // 4
    public var embedDim: Int                 // 4
    public var filters: Int                  // 128
    public var numResBlocks: Int             // 4
    public var channelMultipliers: [Int]     // [1, 2, 2, 4]
    public var temporalDownsample: [Bool]    // [false, true, true]: one entry per level but the last
    /// GroupNorm groups: not visible in tensor shapes; 32 in VAE_Temporal_SD.
    public var numGroups: Int

    public init(inOutChannels: Int = 4, latentEmbedDim: Int = 4, embedDim: Int = 4, filters: Int = 128,
                numResBlocks: Int = 4, channelMultipliers: [Int] = [1, 2, 2, 4],
                temporalDownsample: [Bool] = [false, true, true], numGroups: Int = 32) {
        self.inOutChannels = inOutChannels; self.latentEmbedDim = latentEmbedDim; self.embedDim = embedDim
        self.filters = filters; self.numResBlocks = numResBlocks; self.channelMultipliers = channelMultipliers
        self.temporalDownsample = temporalDownsample; self.numGroups = numGroups
    }

    /// VAE_Temporal_SD, the temporal half of OpenSoraVAE_V1_2.
    public static let openSoraV12 = TemporalVAEConfig()

    /// Frames per latent frame: 2^(number of temporal downsamples).
    public var timeDownsampleFactor: Int { 1 << temporalDownsample.filter { $0 }.count }

    /// Latent frames for `frames` input frames (the input is front-padded to a multiple of the factor).
    public func latentFrames(_ frames: Int) -> Int {
        let f = timeDownsampleFactor
        return (frames + (f - frames % f) % f) / f
    }

    /// Reads the configuration from tensor shapes (names relative to the temporal VAE, e.g.
    /// "encoder.conv_in.conv.weight"). `numGroups` cannot be inferred and is taken as given.
    public static func infer(from store: WeightStore, numGroups: Int = 32) throws -> TemporalVAEConfig {
        let convIn = try store.shape("encoder.conv_in.conv.weight")
        guard convIn.count == 5 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "encoder.conv_in.conv.weight",
                                         detail: "expected a 5-D conv weight, found \(convIn)")
        }
        let filters = convIn[0]
        var multipliers: [Int] = []
        while store.contains("encoder.block_res_blocks.\(multipliers.count).0.conv1.conv.weight") {
            let name = "encoder.block_res_blocks.\(multipliers.count).0.conv1.conv.weight"
            let out = try store.shape(name)[0]
            guard filters > 0, out % filters == 0 else {
                throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: name,
                                             detail: "\(out) output channels is not a multiple of conv_in's \(filters)")
            }
            multipliers.append(out / filters)
        }
        guard !multipliers.isEmpty else {
            throw WeightsError.missingTensor(name: "encoder.block_res_blocks.0.0.conv1.conv.weight", source: store.sourceDescription)
        }
        var resBlocks = 0
        while store.contains("encoder.block_res_blocks.0.\(resBlocks).conv1.conv.weight") { resBlocks += 1 }
        let downsample = (0..<(multipliers.count - 1)).map { store.contains("encoder.conv_blocks.\($0).conv.weight") }
        let postQuant = try store.shape("post_quant_conv.conv.weight")
        guard postQuant.count == 5 else {
            throw VAEError.badCheckpoint(source: store.sourceDescription, tensor: "post_quant_conv.conv.weight",
                                         detail: "expected a 5-D conv weight, found \(postQuant)")
        }
        return TemporalVAEConfig(inOutChannels: convIn[1], latentEmbedDim: postQuant[0], embedDim: postQuant[1],
                                 filters: filters, numResBlocks: resBlocks, channelMultipliers: multipliers,
                                 temporalDownsample: downsample, numGroups: numGroups)
    }

    /// Every parameter and its shape (random-weight benchmarks, the inference round-trip test).
    public func parameterShapes() -> [(String, [Int])] {
        var p: [(String, [Int])] = []
        func conv(_ n: String, _ i: Int, _ o: Int, _ k: Int, bias: Bool) {
            p.append((n + ".conv.weight", [o, i, k, k, k]))
            if bias { p.append((n + ".conv.bias", [o])) }
        }
        func norm(_ n: String, _ c: Int) { p.append((n + ".weight", [c])); p.append((n + ".bias", [c])) }
        func res(_ n: String, _ i: Int, _ o: Int) {
            norm(n + ".norm1", i); conv(n + ".conv1", i, o, 3, bias: false)
            norm(n + ".norm2", o); conv(n + ".conv2", o, o, 3, bias: false)
            if i != o { conv(n + ".conv3", i, o, 1, bias: false) }
        }
        let levels = channelMultipliers.count
        let top = filters * channelMultipliers[levels - 1]
        conv("encoder.conv_in", inOutChannels, filters, 3, bias: false)
        var prev = filters
        for i in 0..<levels {
            let f = filters * channelMultipliers[i]
            for j in 0..<numResBlocks { res("encoder.block_res_blocks.\(i).\(j)", prev, f); prev = f }
            if i < levels - 1 {
                if temporalDownsample[i] { conv("encoder.conv_blocks.\(i)", prev, f, 3, bias: true) }
                prev = f
            }
        }
        for j in 0..<numResBlocks { res("encoder.res_blocks.\(j)", prev, top); prev = top }
        norm("encoder.norm1", prev)
        conv("encoder.conv2", prev, 2 * latentEmbedDim, 1, bias: true)
        conv("quant_conv", 2 * latentEmbedDim, 2 * embedDim, 1, bias: true)
        conv("post_quant_conv", embedDim, latentEmbedDim, 1, bias: true)
        conv("decoder.conv1", latentEmbedDim, top, 3, bias: true)
        for j in 0..<numResBlocks { res("decoder.res_blocks.\(j)", top, top) }
        prev = top
        for i in stride(from: levels - 1, through: 0, by: -1) {
            let f = filters * channelMultipliers[i]
            for j in 0..<numResBlocks { res("decoder.block_res_blocks.\(i).\(j)", prev, f); prev = f }
            if i > 0 && temporalDownsample[i - 1] { conv("decoder.conv_blocks.\(i - 1)", prev, 2 * prev, 3, bias: true) }
        }
        norm("decoder.norm1", prev)
        conv("decoder.conv_out", prev, inOutChannels, 3, bias: true)
        return p
    }
}
