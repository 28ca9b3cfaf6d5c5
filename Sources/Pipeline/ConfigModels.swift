// The `model:` section: text encoder, denoiser and VAE. Unset values default to the official
// Open-Sora inference config of the chosen model family (v1.2: STDiT3-XL/2 + OpenSoraVAE_V1_2 +
// T5-v1.1-XXL). Sizes are not here: every model reads its architecture off its checkpoint, and
// the pipeline asks the loaded models (CheckpointSizes); only what no tensor shows is a key.

import MMDiT
import VAE

public enum TextEncoderType: String, Sendable, CaseIterable, ConfigName {
    case t5
    static let kind = "text encoder"
}

public struct TextEncoderConfig: Equatable, Sendable, Codable {
    public var type: TextEncoderType = .t5
    /// Local file/folder, or a Hugging Face repo id looked up in the local cache.
    public var path: String = "DeepFloyd/t5-v1_1-xxl"
    /// SentencePiece model; nil: `spiece.model` beside the weights.
    public var tokenizer: String?
    /// Tokens per prompt (padded/truncated); also sizes the denoiser's null caption.
    public var modelMaxLength = 300
    /// The two T5 settings no tensor shows (the widths, heads and layers are read off the weights).
    public var relativeAttentionMaxDistance = 128
    public var layerNormEpsilon = 1e-6

    public init() {}
}

/// Open-Sora 2.0's second text encoder (the reference's `clip = dict(...)`): CLIP-L's text tower,
/// pooled, as the MMDiT's vec input.
public struct CLIPConfig: Equatable, Sendable, Codable {
    /// Local file/folder, or a Hugging Face repo id looked up in the local cache.
    public var path = "./ckpts/openai/clip-vit-large-patch14"
    /// vocab.json + merges.txt (a folder or either file) or bpe_simple_vocab_16e6.txt.gz; nil: beside the weights.
    public var vocabulary: String?
    /// Tokens per prompt (77 in the released model).
    public var maxLength = 77
    /// Attention heads (no tensor shows them); nil: hidden size / 64 (CLIP-L: 12).
    public var numHeads: Int?

    public init() {}
}

public enum DenoiserType: String, Sendable, CaseIterable, ConfigName {
    case stdit3, stdit2, stdit
    /// Open-Sora 2.0's Flux-type MMDiT (the reference's `type="flux"`): its own sampler (scheduler
    /// `v2`), T5 + CLIP text, the HunyuanVideo VAE or the Video DC-AE (docs/opensora-v2.md).
    case mmdit
    static let kind = "denoiser"

    /// Open-Sora's registry names are accepted too ("STDiT3-XL/2", "flux", ...).
    init?(configName name: String) {
        switch name.lowercased() {
        case "stdit3", "stdit3-xl/2": self = .stdit3
        case "stdit2", "stdit2-xl/2": self = .stdit2
        case "stdit", "stdit-xl/2": self = .stdit
        case "mmdit", "flux": self = .mmdit
        default: return nil
        }
    }

    /// Open-Sora 2.0 (the MMDiT and everything around it) rather than 1.x.
    public var isOpenSora2: Bool { self == .mmdit }
    /// model_max_length of the text encoder in that family's official config.
    var defaultTextLength: Int { switch self { case .stdit3: 300; case .stdit2: 200; case .stdit: 120; case .mmdit: 512 } }
    var defaultPath: String {
        switch self {
        case .stdit3: "hpcai-tech/OpenSora-STDiT-v3"
        case .stdit2: "hpcai-tech/OpenSora-STDiT-v2-stage3"
        case .stdit: "hpcai-tech/Open-Sora"
        case .mmdit: "./ckpts/Open_Sora_v2.safetensors"
        }
    }
}

public struct DenoiserConfig: Equatable, Sendable, FamilySection {
    /// RoPE's settings of an MMDiT.
    var positional: MMDiTConfig.Positional { MMDiTConfig.Positional(axesDim: axesDim, theta: Float(theta)) }

    public var type: DenoiserType = .stdit3
    public var path: String = DenoiserType.stdit3.defaultPath
    /// Attention heads: nil reads them off the checkpoint (the q/k norm's or RoPE's width); v1.0's
    /// STDiT shows neither, so its family sets 16. The widths, depth, patch and channels are the checkpoint's.
    public var numHeads: Int?
    /// Side of the square the position embedding is scaled to (stdit3, stdit2).
    public var inputSqSize = 512
    /// stdit2: RoPE before the q/k norm (v1.1's order).
    public var qkNormLegacy = false
    /// stdit2, stdit: no temporal position embedding.
    public var noTemporalPosEmb = false
    /// stdit (v1.0): position-embedding scales.
    public var spaceScale = 1.0
    public var timeScale = 1.0
    /// mmdit: RoPE's per-axis widths (time, row, column; they sum to the head width) and base, the
    /// two sizes its tensors do not show (the released model: [16, 56, 56], 10000).
    public var axesDim = [16, 56, 56]
    public var theta = 10000.0
    /// mmdit: guidance branches run together in one forward (the reference: all 3). 1 holds a third
    /// of the activations (768px, 129 frames fits in 24 GiB); the GEMMs over fewer rows round
    /// differently in the last bits (1.5e-6 on the golden i2v case's final latent).
    public var branchesPerForward = 3

    public init() {}

    /// The official config of each family.
    init(family: DenoiserType) {
        self.init()
        type = family
        path = family.defaultPath
        qkNormLegacy = family == .stdit2
        numHeads = family == .stdit ? 16 : nil
    }

    /// The MMDiT reads its whole architecture off the checkpoint (MMDiTConfig.inferred) but RoPE's.
    static let familyKeys: KeyValuePairs<String, [DenoiserType]> = [
        "qk_norm_legacy": [.stdit2], "input_sq_size": [.stdit3, .stdit2],
        "no_temporal_pos_emb": [.stdit2, .stdit], "space_scale": [.stdit], "time_scale": [.stdit],
        "num_heads": [.stdit3, .stdit2, .stdit], "axes_dim": [.mmdit], "theta": [.mmdit], "branches_per_forward": [.mmdit],
    ]
}

public enum VAEType: String, Sendable, CaseIterable, ConfigName {
    /// OpenSoraVAE_V1_2: SDXL-style 2D VAE then a causal temporal VAE (4x in time).
    case openSoraV12 = "opensora-vae-v1.2"
    /// VideoAutoencoderKL: a Stable Diffusion 2D VAE applied per frame (v1.0, v1.1).
    case sdVAE = "sd-vae"
    /// Open-Sora 2.0's default autoencoder: HunyuanVideo's causal 3D VAE (4x time, 8x space, 16 channels).
    case hunyuanVAE = "hunyuan_vae"
    /// Open-Sora 2.0's high-compression Video DC-AE (dc-ae-f32t4c128: 4x time, 32x space, 128 channels).
    case dcAE = "dc_ae"
    static let kind = "VAE"

    init?(configName name: String) {
        switch name.lowercased() {
        case "opensora-vae-v1.2", "opensoravae_v1_2": self = .openSoraV12
        case "sd-vae", "videoautoencoderkl": self = .sdVAE
        case "hunyuan_vae", "hunyuan-vae": self = .hunyuanVAE
        case "dc_ae", "dc-ae": self = .dcAE
        default: return nil
        }
    }

    /// One of Open-Sora 2.0's autoencoders.
    public var isOpenSora2: Bool { self == .hunyuanVAE || self == .dcAE }
}

/// The 2D (diffusers AutoencoderKL) VAE's one setting no tensor shows.
public struct SpatialVAESettings: Equatable, Sendable, Codable {
    public var normNumGroups = 32
    public init() {}
}

/// Open-Sora's temporal VAE's one setting no tensor shows.
public struct TemporalVAESettings: Equatable, Sendable, Codable {
    public var numGroups = 32
    public init() {}
}

public struct VAEConfig: Equatable, Sendable, FamilySection {
    public var type: VAEType = .openSoraV12
    public var path: String = "hpcai-tech/OpenSora-VAE-v1.2"
    /// Frames encoded/decoded per temporal chunk (v1.2); nil: the whole clip at once.
    public var microFrameSize: Int? = 17
    /// Frames per 2D VAE batch.
    public var microBatchSize = 4
    public var spatial = SpatialVAESettings()
    /// nil for the 2D-only sd-vae.
    public var temporal: TemporalVAESettings? = TemporalVAESettings()
    /// hunyuan_vae, dc_ae: tile the frames in space / in time (the reference's use_spatial_tiling,
    /// use_temporal_tiling; tile sizes are the models' defaults: 256 px and 64 / 32 frames).
    public var useSpatialTiling = true
    public var useTemporalTiling = false
    /// hunyuan_vae: GroupNorm groups (32 in the released model; not visible in its tensors).
    public var normNumGroups = 32

    public init() {}

    init(family: VAEType) {
        self.init()
        type = family
        switch family {
        case .openSoraV12: break
        case .sdVAE:
            path = "stabilityai/sd-vae-ft-ema"
            temporal = nil
            microFrameSize = nil
        case .hunyuanVAE, .dcAE:
            path = family == .hunyuanVAE ? "./ckpts/hunyuan_vae.safetensors" : "./ckpts/F32T4C128_AE.safetensors"
            temporal = nil
            microFrameSize = nil
            useTemporalTiling = family == .dcAE
        }
    }

    static let familyKeys: KeyValuePairs<String, [VAEType]> = [
        "micro_frame_size": [.openSoraV12], "temporal": [.openSoraV12], "micro_batch_size": [.openSoraV12, .sdVAE],
        "spatial": [.openSoraV12, .sdVAE], "use_spatial_tiling": [.hunyuanVAE, .dcAE], "use_temporal_tiling": [.hunyuanVAE, .dcAE],
        "norm_num_groups": [.hunyuanVAE],
    ]

    /// Latent frames for `frames` pixel frames and pixels per latent pixel, by the VAE module's
    /// get_latent_size for the family's released architecture: for checks made before the VAE
    /// loads. The run asks the loaded VAE (VAEStage.latentShape), which reads its own checkpoint.
    public func latentFrames(_ frames: Int) -> Int {
        guard type == .openSoraV12 else { return frames }
        return VideoVAE.latentFrames(frames, microFrameSize: microFrameSize, temporal: .openSoraV12)
    }
    public var spatialDownsample: Int { type == .dcAE ? 32 : 8 }
}

// MARK: - checking

extension TextEncoderConfig {

    func validate(_ check: ConfigChecker) throws {
        try check.nonEmpty("model.text_encoder.path", path)
        if let tokenizer { try check.nonEmpty("model.text_encoder.tokenizer", tokenizer) }
        try check.range("model.text_encoder.model_max_length", modelMaxLength, 1...4096)
        try check.range("model.text_encoder.relative_attention_max_distance", relativeAttentionMaxDistance, 1...1_000_000)
        try check.range("model.text_encoder.layer_norm_epsilon", layerNormEpsilon, 1e-12...1e-1)
    }
}

extension CLIPConfig {

    func validate(_ check: ConfigChecker) throws {
        try check.nonEmpty("model.clip.path", path)
        if let vocabulary { try check.nonEmpty("model.clip.vocabulary", vocabulary) }
        try check.range("model.clip.max_length", maxLength, 2...4096)
        if let numHeads { try check.range("model.clip.num_heads", numHeads, 1...1024) }
    }
}

extension DenoiserConfig {

    func validate(_ check: ConfigChecker) throws {
        let k = "model.denoiser."
        try check.nonEmpty(k + "path", path)
        if let numHeads { try check.range(k + "num_heads", numHeads, 1...1024) }
        try check.range(k + "input_sq_size", inputSqSize, 1...65536)
        try check.range(k + "space_scale", spaceScale, 0.001...1000)
        try check.range(k + "time_scale", timeScale, 0.001...1000)
        guard axesDim.count == 3, axesDim.allSatisfy({ (2...4096).contains($0) && $0 % 2 == 0 }) else {
            throw check.error(k + "axes_dim", "expected three even widths (time, row, column), got \(axesDim)")
        }
        try check.range(k + "theta", theta, 1...1e9)
        try check.range(k + "branches_per_forward", branchesPerForward, 1...3)
    }
}

extension VAEConfig {

    func validate(_ check: ConfigChecker) throws {
        let k = "model.vae."
        try check.nonEmpty(k + "path", path)
        // Open-Sora 2.0's autoencoders read their sizes off the checkpoint.
        if type.isOpenSora2 { return try check.range(k + "norm_num_groups", normNumGroups, 1...65536) }
        if let microFrameSize { try check.range(k + "micro_frame_size", microFrameSize, 1...10000) }
        try check.range(k + "micro_batch_size", microBatchSize, 1...1024)
        try check.range(k + "spatial.norm_num_groups", spatial.normNumGroups, 1...65536)
        if let temporal { try check.range(k + "temporal.num_groups", temporal.numGroups, 1...65536) }
    }
}
