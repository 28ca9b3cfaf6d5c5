// Stage 2: noise -> latent video. Builds the denoiser (STDiT3 for v1.2), wraps it as the
// samplers' `Denoiser` closure with the classifier-free-guidance batch, and runs the sampler.

import Foundation
import TensorCore
import Weights
import STDiT
import Samplers

/// The multi-resolution conditioning v1.2 passes to the model and to the timestep transform
/// (prepare_multi_resolution_info), rounded to the compute dtype as the reference builds them.
struct ResolutionInfo {
    let height: Float, width: Float, frames: Float, fps: Float
    /// height / width (STDiT2's ar), computed in double precision then rounded like the others.
    let aspectRatio: Float

    init(config: GenerationConfig) {
        let round: (Float) -> Float
        switch config.dtype {
        case .bf16: round = { bf16ToFloat(floatToBF16($0)) }
        case .fp16: round = { f16ToFloat(floatToF16($0)) }
        case .fp32: round = { $0 }
        }
        height = round(Float(config.height))
        width = round(Float(config.width))
        frames = round(Float(config.numFrames))
        fps = round(Float(config.conditioningFPS))
        aspectRatio = round(Float(Double(config.height) / Double(config.width)))
    }

    var videoSize: VideoSize { VideoSize(height: Int(height), width: Int(width), frames: Int(frames)) }
}

/// A loaded denoiser that can make a sampler closure for one batch of prompts.
protocol DenoisingModel {
    /// z: [B, C_in, T, H, W] for B prompts with text `text` -> the samplers' CFG closure.
    func denoiser(text: TextEmbeddings, info: ResolutionInfo) throws -> Denoiser
}

struct STDiT3Model: DenoisingModel {
    let model: STDiT3

    init(config: GenerationConfig) throws {
        let path = try WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: .stdit3),
                                             option: "model.denoiser.path")
        let store = try HalfPrecision.store(try Checkpoint.open(path), dtype: config.dtype)
        model = try STDiT3(weights: store)
        let d = config.denoiser
        let c = model.config
        if c.hiddenSize != d.hiddenSize || c.depth != d.depth || c.captionChannels != d.captionChannels {
            throw PipelineError("\(path): checkpoint is STDiT3 with hidden \(c.hiddenSize), depth \(c.depth), caption channels \(c.captionChannels); the config expects \(d.hiddenSize), \(d.depth), \(d.captionChannels) (model.denoiser)")
        }
        if config.textEncoder.modelMaxLength != c.modelMaxLength || config.textEncoder.dModel != c.captionChannels {
            throw PipelineError("model.text_encoder: model_max_length \(config.textEncoder.modelMaxLength) / d_model \(config.textEncoder.dModel) do not match the denoiser's caption input (\(c.modelMaxLength) tokens of \(c.captionChannels))")
        }
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo) throws -> Denoiser {
        let b = text.states.shape[0]
        // Conditional rows then null-caption rows; the null half reuses the prompt's mask.
        let cond = STDiT3Input(latent: Tensor(zeros: [b, 1, 1, 1, 1]), timesteps: [Float](repeating: 0, count: b),
                               caption: text.states, captionMask: text.masks, fps: [info.fps],
                               height: info.height, width: info.width)
        let guided = try model.guidanceInput(cond)
        let model = self.model
        return { x, t, frameMask in
            let frames = x.shape[2]
            let perRow = frameMask.map { m in stride(from: 0, to: m.count, by: frames).map { Array(m[$0..<($0 + frames)]) } }
            let input = STDiT3Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.captionMask,
                                    frameMask: perRow, fps: [info.fps], height: info.height, width: info.width)
            return try model(input)
        }
    }
}

enum DenoiseStage {
    static func loadModel(config: GenerationConfig) throws -> DenoisingModel {
        switch config.denoiser.type {
        case .stdit3: return try STDiT3Model(config: config)
        case .stdit2: return try STDiT2Model(config: config)
        case .stdit: return try STDiTV1Model(config: config)
        }
    }

    static func sampler(config: GenerationConfig) -> Sampler {
        let s = config.scheduler
        switch s.type {
        case .rflow:
            return RectifiedFlowSampler(steps: s.numSamplingSteps, guidanceScale: Float(s.cfgScale),
                                        useTimestepTransform: s.useTimestepTransform, useDiscreteTimesteps: s.useDiscreteTimesteps,
                                        numTimesteps: s.numTimesteps)
        case .iddpm:
            return IDDPMSampler(steps: s.numSamplingSteps, guidanceScale: Float(s.cfgScale), guidanceChannels: s.cfgChannel,
                                diffusionSteps: s.numTimesteps)
        case .ddim:
            return DDIMSampler(steps: s.numSamplingSteps, eta: Float(s.eta), guidanceScale: Float(s.cfgScale),
                               guidanceChannels: s.cfgChannel, diffusionSteps: s.numTimesteps)
        }
    }
}
