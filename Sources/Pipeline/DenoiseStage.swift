// Stage 2: noise -> latent video. Picks the configured family's denoiser adapter (Denoisers/)
// and the configured sampler; VideoGenerator runs one over the other.

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

enum DenoiseStage {
    static func loadModel(config: GenerationConfig) throws -> DenoisingModel {
        switch config.denoiser.type {
        case .stdit3: return try STDiT3Model(config: config)
        case .stdit2: return try STDiT2Model(config: config)
        case .stdit: return try STDiTV1Model(config: config)
        case .mmdit: throw PipelineError("model.denoiser.type mmdit runs in Open-Sora 2.0's pipeline (VideoGenerator.generateOpenSora2)")
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
        case .v2:
            preconditionFailure("the v2 sampler runs in Open-Sora 2.0's pipeline (validate() pairs it with the mmdit denoiser)")
        case .ddim:
            return DDIMSampler(steps: s.numSamplingSteps, eta: Float(s.eta), guidanceScale: Float(s.cfgScale),
                               guidanceChannels: s.cfgChannel, diffusionSteps: s.numTimesteps)
        }
    }
}
