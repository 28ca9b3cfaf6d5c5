// The `model:` section: text encoder, denoiser and VAE. Unset values default to the official
// Open-Sora inference config of the chosen model family (v1.2: STDiT3-XL/2 + OpenSoraVAE_V1_2 +
// T5-v1.1-XXL). Architecture numbers are what the model builders check the checkpoint against.

import VAE

public enum TextEncoderType: String, Sendable, CaseIterable { case t5 }

public struct TextEncoderConfig: Equatable, Sendable {
    public var type: TextEncoderType = .t5
    /// Local file/folder, or a Hugging Face repo id looked up in the local cache.
    public var path: String = "DeepFloyd/t5-v1_1-xxl"
    /// SentencePiece model; nil: `spiece.model` beside the weights.
    public var tokenizer: String?
    /// Tokens per prompt (padded/truncated); also sizes the denoiser's null caption.
    public var modelMaxLength = 300
    // T5-v1.1-XXL encoder architecture.
    public var dModel = 4096
    public var numLayers = 24
    public var numHeads = 64
    public var dKV = 64
    public var dFF = 10240
    public var vocabSize = 32128
    public var relativeAttentionNumBuckets = 32
    public var relativeAttentionMaxDistance = 128
    public var layerNormEpsilon = 1e-6

    public init() {}
}

public enum DenoiserType: String, Sendable, CaseIterable {
    case stdit3, stdit2, stdit

    /// Open-Sora's registry names are accepted too ("STDiT3-XL/2", ...).
    init?(name: String) {
        switch name.lowercased() {
        case "stdit3", "stdit3-xl/2": self = .stdit3
        case "stdit2", "stdit2-xl/2": self = .stdit2
        case "stdit", "stdit-xl/2": self = .stdit
        default: return nil
        }
    }

    /// model_max_length of the text encoder in that family's official config.
    var defaultTextLength: Int { switch self { case .stdit3: 300; case .stdit2: 200; case .stdit: 120 } }
    var defaultPath: String {
        switch self {
        case .stdit3: "hpcai-tech/OpenSora-STDiT-v3"
        case .stdit2: "hpcai-tech/OpenSora-STDiT-v2-stage3"
        case .stdit: "hpcai-tech/Open-Sora"
        }
    }
}

public struct DenoiserConfig: Equatable, Sendable {
    public var type: DenoiserType = .stdit3
    public var path: String = DenoiserType.stdit3.defaultPath
    // XL/2 architecture.
    public var hiddenSize = 1152
    public var depth = 28
    public var numHeads = 16
    public var patchSize = [1, 2, 2]
    public var mlpRatio = 4.0
    public var inChannels = 4
    public var captionChannels = 4096
    /// Also predicts the variance: 2 * in_channels outputs (rectified flow uses the first half).
    public var predSigma = true
    /// RMSNorm on q and k (stdit3, stdit2).
    public var qkNorm = true
    /// stdit2: RoPE before the q/k norm (v1.1's order).
    public var qkNormLegacy = false
    /// Side of the square the position embedding is scaled to (stdit3, stdit2).
    public var inputSqSize = 512
    /// stdit2, stdit: no temporal position embedding.
    public var noTemporalPosEmb = false
    /// stdit (v1.0): position-embedding scales.
    public var spaceScale = 1.0
    public var timeScale = 1.0

    public init() {}

    /// Output channels: in_channels, doubled when the model predicts sigma.
    public var outChannels: Int { predSigma ? 2 * inChannels : inChannels }
}

public enum VAEType: String, Sendable, CaseIterable {
    /// OpenSoraVAE_V1_2: SDXL-style 2D VAE then a causal temporal VAE (4x in time).
    case openSoraV12 = "opensora-vae-v1.2"
    /// VideoAutoencoderKL: a Stable Diffusion 2D VAE applied per frame (v1.0, v1.1).
    case sdVAE = "sd-vae"

    init?(name: String) {
        switch name.lowercased() {
        case "opensora-vae-v1.2", "opensoravae_v1_2": self = .openSoraV12
        case "sd-vae", "videoautoencoderkl": self = .sdVAE
        default: return nil
        }
    }
}

/// diffusers AutoencoderKL architecture (SDXL / SD VAE).
public struct SpatialVAEConfig: Equatable, Sendable {
    public var blockOutChannels = [128, 256, 512, 512]
    public var layersPerBlock = 2
    public var normNumGroups = 32
    public var latentChannels = 4

    public init() {}

    /// Pixels per latent along H and W: one 2x downsample between blocks.
    public var downsample: Int { 1 << (blockOutChannels.count - 1) }
}

/// Open-Sora's VAE_Temporal_SD architecture.
public struct TemporalVAEConfig: Equatable, Sendable {
    public var filters = 128
    public var channelMultipliers = [1, 2, 2, 4]
    public var numResBlocks = 4
    public var numGroups = 32
    /// Per downsampling level: halve the frame count there.
    public var temporalDownsample = [false, true, true]
    public var latentChannels = 4

    public init() {}

    /// Frames per latent frame.
    public var downsample: Int { VAE.TemporalVAEConfig(temporalDownsample: temporalDownsample).timeDownsampleFactor }
}

public struct VAEConfig: Equatable, Sendable {
    public var type: VAEType = .openSoraV12
    public var path: String = "hpcai-tech/OpenSora-VAE-v1.2"
    /// Frames encoded/decoded per temporal chunk (v1.2); nil: the whole clip at once.
    public var microFrameSize: Int? = 17
    /// Frames per 2D VAE batch.
    public var microBatchSize = 4
    public var spatial = SpatialVAEConfig()
    /// nil for the 2D-only sd-vae.
    public var temporal: TemporalVAEConfig? = TemporalVAEConfig()

    public init() {}

    /// Latent frames for `frames` pixel frames, by the VAE module's get_latent_size (for checks
    /// and estimates made before the VAE loads; the run asks the loaded VAE).
    public func latentFrames(_ frames: Int) -> Int {
        guard let temporal else { return frames }
        return VideoVAE.latentFrames(frames, microFrameSize: microFrameSize,
                                     temporal: VAE.TemporalVAEConfig(temporalDownsample: temporal.temporalDownsample))
    }

    /// Latent channels the denoiser sees.
    public var latentChannels: Int { temporal?.latentChannels ?? spatial.latentChannels }
}

// MARK: - parsing

extension TextEncoderConfig {
    static func parse(_ s: YAMLSection?, family: DenoiserType) throws -> TextEncoderConfig {
        var c = TextEncoderConfig()
        c.modelMaxLength = family.defaultTextLength
        guard let s else { return c }
        if let name = try s.string("type").or(nil) {
            guard let t = TextEncoderType(rawValue: name.lowercased()) else { throw s.error("type", "unknown text encoder '\(name)' (known: t5)") }
            c.type = t
        }
        c.path = try s.string("path").or(c.path) ?? c.path
        c.tokenizer = try s.string("tokenizer").or(nil)
        c.modelMaxLength = try s.int("model_max_length").or(c.modelMaxLength) ?? c.modelMaxLength
        c.dModel = try s.int("d_model").or(c.dModel) ?? c.dModel
        c.numLayers = try s.int("num_layers").or(c.numLayers) ?? c.numLayers
        c.numHeads = try s.int("num_heads").or(c.numHeads) ?? c.numHeads
        c.dKV = try s.int("d_kv").or(c.dKV) ?? c.dKV
        c.dFF = try s.int("d_ff").or(c.dFF) ?? c.dFF
        c.vocabSize = try s.int("vocab_size").or(c.vocabSize) ?? c.vocabSize
        c.relativeAttentionNumBuckets = try s.int("relative_attention_num_buckets").or(c.relativeAttentionNumBuckets) ?? c.relativeAttentionNumBuckets
        c.relativeAttentionMaxDistance = try s.int("relative_attention_max_distance").or(c.relativeAttentionMaxDistance) ?? c.relativeAttentionMaxDistance
        c.layerNormEpsilon = try s.double("layer_norm_epsilon").or(c.layerNormEpsilon) ?? c.layerNormEpsilon
        try s.finish()
        return c
    }

    func validate(_ check: ConfigChecker) throws {
        try check.nonEmpty("model.text_encoder.path", path)
        if let tokenizer { try check.nonEmpty("model.text_encoder.tokenizer", tokenizer) }
        try check.range("model.text_encoder.model_max_length", modelMaxLength, 1...4096)
        for (key, v) in [("d_model", dModel), ("num_layers", numLayers), ("num_heads", numHeads), ("d_kv", dKV), ("d_ff", dFF),
                         ("vocab_size", vocabSize), ("relative_attention_num_buckets", relativeAttentionNumBuckets),
                         ("relative_attention_max_distance", relativeAttentionMaxDistance)] {
            try check.range("model.text_encoder." + key, v, 1...1_000_000)
        }
        try check.range("model.text_encoder.layer_norm_epsilon", layerNormEpsilon, 1e-12...1e-1)
    }
}

extension DenoiserConfig {
    static func parse(_ s: YAMLSection?) throws -> DenoiserConfig {
        var c = DenoiserConfig()
        guard let s else { return c }
        if let name = try s.string("type").or(nil) {
            guard let t = DenoiserType(name: name) else { throw s.error("type", "unknown denoiser '\(name)' (known: stdit3, stdit2, stdit)") }
            c.type = t
            c.path = t.defaultPath
            switch t {  // the official configs of each family
            case .stdit3: break
            case .stdit2: c.qkNorm = true; c.qkNormLegacy = true
            case .stdit: c.qkNorm = false
            }
        }
        c.path = try s.string("path").or(c.path) ?? c.path
        c.hiddenSize = try s.int("hidden_size").or(c.hiddenSize) ?? c.hiddenSize
        c.depth = try s.int("depth").or(c.depth) ?? c.depth
        c.numHeads = try s.int("num_heads").or(c.numHeads) ?? c.numHeads
        c.patchSize = try s.ints("patch_size").or(c.patchSize) ?? c.patchSize
        c.mlpRatio = try s.double("mlp_ratio").or(c.mlpRatio) ?? c.mlpRatio
        c.inChannels = try s.int("in_channels").or(c.inChannels) ?? c.inChannels
        c.captionChannels = try s.int("caption_channels").or(c.captionChannels) ?? c.captionChannels
        c.predSigma = try s.bool("pred_sigma").or(c.predSigma) ?? c.predSigma
        // Keys that exist only for some families.
        let only: [(String, [DenoiserType])] = [("qk_norm", [.stdit3, .stdit2]), ("qk_norm_legacy", [.stdit2]), ("input_sq_size", [.stdit3, .stdit2]),
                                                ("no_temporal_pos_emb", [.stdit2, .stdit]), ("space_scale", [.stdit]), ("time_scale", [.stdit])]
        for (key, types) in only where s.has(key) && !types.contains(c.type) {
            throw s.error(key, "applies only to \(types.map(\.rawValue).joined(separator: ", ")), not \(c.type.rawValue)")
        }
        c.qkNorm = try s.bool("qk_norm").or(c.qkNorm) ?? c.qkNorm
        c.qkNormLegacy = try s.bool("qk_norm_legacy").or(c.qkNormLegacy) ?? c.qkNormLegacy
        c.inputSqSize = try s.int("input_sq_size").or(c.inputSqSize) ?? c.inputSqSize
        c.noTemporalPosEmb = try s.bool("no_temporal_pos_emb").or(c.noTemporalPosEmb) ?? c.noTemporalPosEmb
        c.spaceScale = try s.double("space_scale").or(c.spaceScale) ?? c.spaceScale
        c.timeScale = try s.double("time_scale").or(c.timeScale) ?? c.timeScale
        try s.finish()
        return c
    }

    func validate(_ check: ConfigChecker) throws {
        let k = "model.denoiser."
        try check.nonEmpty(k + "path", path)
        try check.range(k + "hidden_size", hiddenSize, 1...65536)
        try check.range(k + "depth", depth, 1...1000)
        try check.range(k + "num_heads", numHeads, 1...1024)
        guard hiddenSize % numHeads == 0 else { throw check.error(k + "num_heads", "hidden_size \(hiddenSize) is not a multiple of num_heads \(numHeads)") }
        guard patchSize.count == 3, patchSize.allSatisfy({ (1...64).contains($0) }) else {
            throw check.error(k + "patch_size", "expected three sizes [T, H, W] of 1 ... 64, got \(patchSize)")
        }
        try check.range(k + "mlp_ratio", mlpRatio, 0.01...64)
        try check.range(k + "in_channels", inChannels, 1...1024)
        try check.range(k + "caption_channels", captionChannels, 1...65536)
        try check.range(k + "input_sq_size", inputSqSize, 1...65536)
        try check.range(k + "space_scale", spaceScale, 0.001...1000)
        try check.range(k + "time_scale", timeScale, 0.001...1000)
    }
}

extension VAEConfig {
    static func parse(_ s: YAMLSection?) throws -> VAEConfig {
        var c = VAEConfig()
        guard let s else { return c }
        if let name = try s.string("type").or(nil) {
            guard let t = VAEType(name: name) else { throw s.error("type", "unknown VAE '\(name)' (known: opensora-vae-v1.2, sd-vae)") }
            c.type = t
            if t == .sdVAE {
                c.path = "stabilityai/sd-vae-ft-ema"
                c.temporal = nil
                c.microFrameSize = nil
            }
        }
        c.path = try s.string("path").or(c.path) ?? c.path
        c.microBatchSize = try s.int("micro_batch_size").or(c.microBatchSize) ?? c.microBatchSize
        if c.type == .sdVAE {
            for key in ["micro_frame_size", "temporal"] where s.has(key) {
                throw s.error(key, "applies only to opensora-vae-v1.2, not sd-vae")
            }
        }
        c.microFrameSize = try s.int("micro_frame_size").or(c.microFrameSize)
        if let sp = try s.section("spatial") {
            c.spatial.blockOutChannels = try sp.ints("block_out_channels").or(c.spatial.blockOutChannels) ?? c.spatial.blockOutChannels
            c.spatial.layersPerBlock = try sp.int("layers_per_block").or(c.spatial.layersPerBlock) ?? c.spatial.layersPerBlock
            c.spatial.normNumGroups = try sp.int("norm_num_groups").or(c.spatial.normNumGroups) ?? c.spatial.normNumGroups
            c.spatial.latentChannels = try sp.int("latent_channels").or(c.spatial.latentChannels) ?? c.spatial.latentChannels
            try sp.finish()
        }
        if let tp = try s.section("temporal"), var t = c.temporal {
            t.filters = try tp.int("filters").or(t.filters) ?? t.filters
            t.channelMultipliers = try tp.ints("channel_multipliers").or(t.channelMultipliers) ?? t.channelMultipliers
            t.numResBlocks = try tp.int("num_res_blocks").or(t.numResBlocks) ?? t.numResBlocks
            t.numGroups = try tp.int("num_groups").or(t.numGroups) ?? t.numGroups
            t.temporalDownsample = try tp.bools("temporal_downsample").or(t.temporalDownsample) ?? t.temporalDownsample
            t.latentChannels = try tp.int("latent_channels").or(t.latentChannels) ?? t.latentChannels
            try tp.finish()
            c.temporal = t
        }
        try s.finish()
        return c
    }

    func validate(_ check: ConfigChecker) throws {
        let k = "model.vae."
        try check.nonEmpty(k + "path", path)
        if let microFrameSize { try check.range(k + "micro_frame_size", microFrameSize, 1...10000) }
        try check.range(k + "micro_batch_size", microBatchSize, 1...1024)
        let sp = spatial
        guard !sp.blockOutChannels.isEmpty, sp.blockOutChannels.count <= 8, sp.blockOutChannels.allSatisfy({ (1...65536).contains($0) }) else {
            throw check.error(k + "spatial.block_out_channels", "expected 1 ... 8 positive channel counts, got \(sp.blockOutChannels)")
        }
        try check.range(k + "spatial.layers_per_block", sp.layersPerBlock, 1...64)
        try check.range(k + "spatial.norm_num_groups", sp.normNumGroups, 1...65536)
        guard sp.blockOutChannels.allSatisfy({ $0 % sp.normNumGroups == 0 }) else {
            throw check.error(k + "spatial.norm_num_groups", "\(sp.normNumGroups) does not divide every block_out_channels entry \(sp.blockOutChannels)")
        }
        try check.range(k + "spatial.latent_channels", sp.latentChannels, 1...1024)
        guard let t = temporal else { return }
        try check.range(k + "temporal.filters", t.filters, 1...65536)
        guard !t.channelMultipliers.isEmpty, t.channelMultipliers.count <= 8, t.channelMultipliers.allSatisfy({ (1...64).contains($0) }) else {
            throw check.error(k + "temporal.channel_multipliers", "expected 1 ... 8 multipliers of 1 ... 64, got \(t.channelMultipliers)")
        }
        try check.range(k + "temporal.num_res_blocks", t.numResBlocks, 1...64)
        try check.range(k + "temporal.num_groups", t.numGroups, 1...65536)
        guard t.channelMultipliers.allSatisfy({ ($0 * t.filters) % t.numGroups == 0 }) else {
            throw check.error(k + "temporal.num_groups", "\(t.numGroups) does not divide every level's channels (filters x channel_multipliers)")
        }
        guard t.temporalDownsample.count == t.channelMultipliers.count - 1 else {
            throw check.error(k + "temporal.temporal_downsample", "needs one entry per downsampling level (\(t.channelMultipliers.count - 1)), got \(t.temporalDownsample.count)")
        }
        try check.range(k + "temporal.latent_channels", t.latentChannels, 1...1024)
    }
}
