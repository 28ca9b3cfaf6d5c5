// Class-conditional image generation with DiT, as facebookresearch/DiT's sample.py does it:
// z = randn(n, 4, S, S); sample cat([z, z]) with labels cat([labels, null]) through
// forward_with_cfg (guidance on 3 channels) with IDDPM ("N" steps, float64 tables) or DDIM;
// keep the first half; vae.decode(samples / 0.18215).

import Foundation
import Samplers
import STDiT
import TensorCore
import VAE
import Weights
import Yams

public enum ImageSamplerKind: String, Sendable, CaseIterable, ConfigName {
    static let kind = ""
    /// p_sample_loop: ancestral IDDPM with the learned variance (sample.py's default).
    case ddpm
    /// ddim_sample_loop with `eta`.
    case ddim
}

/// Settings of one `generate-image` run; each declared once, read from YAML and overridden by flags.
public struct ImageGenerationConfig: Sendable, Equatable, Codable {
    /// DiT checkpoint: a published .pt state dict, a train.py checkpoint (its 'ema' weights), or safetensors.
    public var weights = "DiT-XL-2-256x256.pt"
    /// Not stored in checkpoints; nil = the published model of the checkpoint's width (DiT-XL: 16).
    public var numHeads: Int?
    /// Pixel size; must be 8x the latent size the checkpoint's pos_embed was built for.
    public var imageSize = 256
    /// sd-vae-ft-mse (sample.py's default) or sd-vae-ft-ema.
    public var vae = "mse"
    /// Where the VAE is: a path or a Hugging Face repo id; nil = stabilityai/sd-vae-ft-<vae>.
    public var vaeWeights: String?
    /// GroupNorm groups of the VAE (its diffusers config's norm_num_groups; not in the weights).
    public var vaeNormGroups = 32
    public var classLabels = [207, 360, 387, 974, 88, 979, 417, 279]
    public var cfgScale = 4.0
    public var numSamplingSteps = 250
    public var sampler = ImageSamplerKind.ddpm
    /// DDIM only.
    public var eta = 0.0
    public var seed = 0
    public var rng = RNGKind.torch

    public init() {}

    public var vaeLocation: String { vaeWeights ?? "stabilityai/sd-vae-ft-\(vae)" }

    public static func load(path: String) throws -> ImageGenerationConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(source: path, key: nil, "cannot read the config file")
        }
        var c = try parse(yaml: text, source: path)
        // Relative model paths are relative to the config's folder when they exist there.
        let dir = (path as NSString).deletingLastPathComponent
        if !c.weights.hasPrefix("/"), !FileManager.default.fileExists(atPath: c.weights),
           FileManager.default.fileExists(atPath: dir + "/" + c.weights) {
            c.weights = dir + "/" + c.weights
        }
        return c
    }

    public static func parse(yaml: String, source: String) throws -> ImageGenerationConfig {
        try GenerationConfig.checkSize(yaml, source: source)
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw ConfigError(source: source, key: nil, "not valid YAML: \(error)")
        }
        let top = try YAMLSection(source: source, path: "", node: root)
        let c = try ConfigCoding.decode(ImageGenerationConfig.self, from: top, defaults: ImageGenerationConfig())
        try c.validate(source: source)
        return c
    }

    /// Checks what can be checked without the checkpoint (labels against the model come later).
    public func validate(source: String = "command line") throws {
        func bad(_ key: String, _ m: String) -> ConfigError { ConfigError(source: source, key: key, m) }
        guard imageSize > 0, imageSize % 8 == 0 else { throw bad("image_size", "must be a positive multiple of 8 (the VAE's factor), got \(imageSize)") }
        guard ["mse", "ema"].contains(vae) else { throw bad("vae", "expected mse or ema, got '\(vae)'") }
        guard !classLabels.isEmpty else { throw bad("class_labels", "give at least one class label") }
        guard classLabels.count <= 1024 else { throw bad("class_labels", "at most 1024 images per run, got \(classLabels.count)") }
        if let l = classLabels.first(where: { $0 < 0 }) { throw bad("class_labels", "class labels are >= 0, got \(l)") }
        guard cfgScale >= 1, cfgScale <= 50 else { throw bad("cfg_scale", "must be 1 ... 50, got \(cfgScale)") }
        guard (1...1000).contains(numSamplingSteps) else { throw bad("num_sampling_steps", "must be 1 ... 1000, got \(numSamplingSteps)") }
        guard eta >= 0, eta <= 1 else { throw bad("eta", "must be 0 ... 1, got \(eta)") }
        if eta != 0 && sampler != .ddim { throw bad("eta", "applies to the ddim sampler only (sampler is \(sampler.rawValue))") }
        guard vaeNormGroups > 0 else { throw bad("vae_norm_groups", "must be positive, got \(vaeNormGroups)") }
        if let h = numHeads, h <= 0 { throw bad("num_heads", "must be positive, got \(h)") }
    }
}

public final class ImageGenerator {
    public let config: ImageGenerationConfig
    /// Replaces the seeded generator (golden checks, tests).
    public var noiseSource: NoiseSource?

    public init(config: ImageGenerationConfig) throws {
        try config.validate()
        self.config = config
    }

    /// The DiT checkpoint's tensors: a train.py checkpoint's 'ema' weights, else the state dict itself.
    public static func openDiTWeights(_ path: String) throws -> WeightStore {
        let store = try Checkpoint.open(path)
        if !store.contains("x_embedder.proj.weight"), store.contains("ema.x_embedder.proj.weight") {
            return PrefixedStore(store, prefix: "ema.")
        }
        return store
    }

    /// The sampler sample.py builds: `create_diffusion(str(steps))` (float64 tables, even spacing),
    /// guidance on DiT's 3 channels.
    public static func sampler(_ c: ImageGenerationConfig) -> Sampler {
        switch c.sampler {
        case .ddpm:
            return IDDPMSampler(steps: c.numSamplingSteps, guidanceScale: Float(c.cfgScale), guidanceChannels: DiTConfig.guidedChannels,
                                respacing: .even, tables: .float64)
        case .ddim:
            return DDIMSampler(steps: c.numSamplingSteps, eta: Float(c.eta), guidanceScale: Float(c.cfgScale),
                               guidanceChannels: DiTConfig.guidedChannels, respacing: .even, tables: .float64)
        }
    }

    /// The sampler's denoiser over DiT: rows 0..<n carry `labels`, rows n..<2n the null class.
    /// x: [2n, C, 1, S, S] -> [2n, C_out, 1, S, S]
    public static func denoiser(_ model: DiT, labels: [Int]) -> Denoiser {
        let all = labels + [Int](repeating: model.config.nullClass, count: labels.count)
        return { x, t, _ in
            let (b, c, s) = (x.shape[0], x.shape[1], x.shape[4])
            let out = try model(x.reshaped([b, c, s, s]), timesteps: t, labels: all)
            return out.reshaped([b, out.shape[1], 1, s, s])
        }
    }

    /// vae.decode(samples / 0.18215). latents: [n, 4, h, w] -> images [n, 3, 8h, 8w] (not clamped).
    public static func decode(_ latents: Tensor, vae: SpatialVideoVAE) throws -> Tensor {
        let (n, c, h, w) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3])
        let video = try vae.decode(latents.reshaped([n, c, 1, h, w]))
        return video.reshaped([n, video.shape[1], video.shape[3], video.shape[4]])
    }

    /// Samples the configured labels and decodes them. `progress(step, of)` after each step.
    /// Everything that can be wrong is checked before the first model call; the DiT is released
    /// before the VAE is built (models load in turn). -> images [n, 3, H, W] in about [-1, 1]
    public func generate(progress: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        let c = config
        guard FileManager.default.fileExists(atPath: c.weights) else {
            throw PipelineError("weights: DiT checkpoint '\(c.weights)' not found; the published ones are at https://dl.fbaipublicfiles.com/DiT/models/ (docs/dit.md); pass --weights PATH")
        }
        let vaePath = try WeightLocator.resolve(c.vaeLocation, component: "sd-vae-ft-\(c.vae)", option: "vae_weights")
        let vaeStore = try Checkpoint.open(vaePath)
        let vaeLatentChannels = try vaeStore.shape("decoder.conv_in.weight")[1]
        let latents = try sample(vaePath: vaePath, vaeLatentChannels: vaeLatentChannels, progress: progress)
        // One image per decoder call.
        let vae = try SpatialVideoVAE(store: vaeStore, normGroups: c.vaeNormGroups, microBatchSize: 1)
        return try Self.decode(latents, vae: vae)
    }

    /// The DiT stage: checks the checkpoint against the settings, then samples. -> [n, C, S, S]
    func sample(vaePath: String, vaeLatentChannels: Int, progress: (Int, Int) -> Void) throws -> Tensor {
        let c = config
        let store = try Self.openDiTWeights(c.weights)
        let model = try DiT(weights: store, config: DiTConfig.inferred(from: store, numHeads: c.numHeads))
        let (side, channels) = (model.config.inputSize, model.config.inChannels)
        guard c.imageSize == side * 8 else {
            throw PipelineError("image_size \(c.imageSize): the checkpoint \(c.weights) generates \(side * 8)x\(side * 8) images (pos_embed for a \(side)x\(side) latent)")
        }
        if let bad = c.classLabels.first(where: { $0 >= model.config.numClasses }) {
            throw PipelineError("class label \(bad) is out of range: \(c.weights) has classes 0..<\(model.config.numClasses)")
        }
        guard vaeLatentChannels == channels else {
            throw PipelineError("\(vaePath): the VAE has \(vaeLatentChannels) latent channels, the DiT takes \(channels)")
        }

        let n = c.classLabels.count
        let noise: NoiseSource = noiseSource ?? (c.rng == .torch ? TorchNoise(seed: UInt64(truncatingIfNeeded: c.seed))
                                                                 : NativeNoise(seed: UInt64(truncatingIfNeeded: c.seed)))
        let z = try noise.standardNormal([n, channels, 1, side, side])       // torch.randn(n, 4, S, S)
        let run = try Self.sampler(c).start(SamplingInputs(latent: z), model: Self.denoiser(model, labels: c.classLabels), noise: noise)
        for step in run { progress(step.index + 1, step.count) }
        return try run.finish().reshaped([n, channels, side, side])
    }
}
