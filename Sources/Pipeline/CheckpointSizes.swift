// What an Open-Sora 1.x run needs to know of its models before anything computes, asked of the
// checkpoints (tensor shapes only: the weights are memory-mapped, not read), so the pipeline keeps
// no copy of a model's architecture. The memory estimate and the checks that the three models fit
// together (caption width and length, latent channels, cfg_channel) use these.

import TensorCore
import Weights
import STDiT
import T5

public struct CheckpointSizes: Sendable {
    /// The text encoder's architecture; its d_model is the width of the captions it makes.
    public var text: T5Config
    /// The denoiser's architecture.
    public var denoiser: STDiTConfig
    /// One video's latent, as the VAE makes it. [C, T', h, w]
    public var latentShape: [Int]
    /// Channels of the VAE decoder's full-resolution feature maps.
    public var decoderWidth: Int

    public init(text: T5Config, denoiser: STDiTConfig, latentShape: [Int], decoderWidth: Int) {
        self.text = text
        self.denoiser = denoiser
        self.latentShape = latentShape
        self.decoderWidth = decoderWidth
    }

    /// Reads the configured checkpoints' sizes and checks that they fit together.
    public init(config: GenerationConfig) throws {
        let (latentShape, decoderWidth) = try VAEStage.sizes(config: config)
        self.init(text: try TextStage.architecture(config: config), denoiser: try DenoiserCheckpoint.architecture(config),
                  latentShape: latentShape, decoderWidth: decoderWidth)
        try checkFit(config)
    }

    /// The text encoder's captions are what the denoiser takes, the VAE's latents too, and the
    /// run's settings are within the models' sizes.
    public func checkFit(_ config: GenerationConfig) throws {
        let d = denoiser
        guard text.dModel == d.captionChannels else {
            throw PipelineError("model.text_encoder.path: its T5 makes \(text.dModel)-wide captions, but the denoiser (model.denoiser.path) takes \(d.captionChannels)-wide ones")
        }
        guard config.textEncoder.modelMaxLength == d.modelMaxLength else {
            throw PipelineError("model.text_encoder.model_max_length: \(config.textEncoder.modelMaxLength) tokens, but the denoiser's null caption (model.denoiser.path) has \(d.modelMaxLength)")
        }
        guard latentShape[0] == d.inChannels else {
            throw PipelineError("model.vae.path: its VAE makes \(latentShape[0])-channel latents, but the denoiser (model.denoiser.path) takes \(d.inChannels)")
        }
        if let g = config.scheduler.cfgChannel, g > d.inChannels {
            throw PipelineError("scheduler.cfg_channel: \(g), but the latents have \(d.inChannels) channels")
        }
    }
}
