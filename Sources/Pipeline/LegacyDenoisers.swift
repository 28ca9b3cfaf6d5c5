// The Open-Sora v1.0 (STDiT) and v1.1 (STDiT2) denoisers behind the pipeline's DenoisingModel:
// both are sampled with IDDPM/DDIM on cat(prompts, null caption), as forward_with_cfg does.

import Foundation
import TensorCore
import Weights
import STDiT
import Samplers

/// Opens the configured checkpoint in the compute dtype.
private func openDenoiserWeights(_ config: GenerationConfig) throws -> (path: String, store: WeightStore) {
    let path = try WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: config.denoiser.type),
                                         option: "model.denoiser.path")
    return (path, HalfPrecision.store(try Checkpoint.open(path), dtype: config.dtype))
}

/// The checkpoint's sizes must be the configured ones, and its caption input the text encoder's output.
private func checkSizes(_ s: LegacySTDiTSizes, path: String, name: String, config: GenerationConfig) throws {
    let d = config.denoiser
    if s.hiddenSize != d.hiddenSize || s.depth != d.depth || s.captionChannels != d.captionChannels || s.inChannels != d.inChannels {
        throw PipelineError("\(path): checkpoint is \(name) with hidden \(s.hiddenSize), depth \(s.depth), caption channels \(s.captionChannels), in channels \(s.inChannels); the config expects \(d.hiddenSize), \(d.depth), \(d.captionChannels), \(d.inChannels) (model.denoiser)")
    }
    if config.textEncoder.modelMaxLength != s.modelMaxLength || config.textEncoder.dModel != s.captionChannels {
        throw PipelineError("model.text_encoder: model_max_length \(config.textEncoder.modelMaxLength) / d_model \(config.textEncoder.dModel) do not match the denoiser's caption input (\(s.modelMaxLength) tokens of \(s.captionChannels))")
    }
}

/// The guided caption batch for B prompts: [2B, L, C] and its masks.
private func guidedCaption(_ text: TextEmbeddings, nullCaption: WeightTensor) throws -> LegacySTDiTInput {
    let b = text.states.shape[0]
    let cond = LegacySTDiTInput(latent: Tensor(zeros: [b, 1, 1, 1, 1]), timesteps: [Float](repeating: 0, count: b),
                                caption: text.states, captionMask: text.masks)
    return try cond.doubledForGuidance(nullCaption: nullCaption.toTensor())
}

/// The sampler's flat [2B * T] frame mask as rows.
private func frameRows(_ m: [Bool]?, frames: Int) -> [[Bool]]? {
    m.map { m in stride(from: 0, to: m.count, by: frames).map { Array(m[$0..<($0 + frames)]) } }
}

struct STDiTV1Model: DenoisingModel {
    let model: STDiTV1

    init(config: GenerationConfig) throws {
        let (path, store) = try openDenoiserWeights(config)
        let d = config.denoiser
        let inferred = try STDiTV1Config.inferred(from: store, numHeads: d.numHeads)
        let latent = config.latentSize
        model = try STDiTV1(weights: store, config: STDiTV1Config(sizes: inferred.sizes, inputSize: latent))
        try checkSizes(model.config.sizes, path: path, name: "STDiT (v1.0)", config: config)
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo) throws -> Denoiser {
        let guided = try guidedCaption(text, nullCaption: model.nullCaption)
        let model = self.model
        return { x, t, frameMask in
            try model(LegacySTDiTInput(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.captionMask,
                                       frameMask: frameRows(frameMask, frames: x.shape[2])))
        }
    }
}

struct STDiT2Model: DenoisingModel {
    let model: STDiT2

    init(config: GenerationConfig) throws {
        let (path, store) = try openDenoiserWeights(config)
        let d = config.denoiser
        var c = try STDiT2Config.inferred(from: store, inputSqSize: d.inputSqSize, qkNormLegacy: d.qkNormLegacy)
        if c.qkNorm != d.qkNorm {
            throw PipelineError("\(path): checkpoint \(c.qkNorm ? "has" : "has no") q/k norm weights, but model.denoiser.qk_norm is \(d.qkNorm)")
        }
        c.inputSqSize = d.inputSqSize
        model = try STDiT2(weights: store, config: c)
        try checkSizes(model.config.sizes, path: path, name: "STDiT2 (v1.1)", config: config)
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo) throws -> Denoiser {
        let guided = try guidedCaption(text, nullCaption: model.nullCaption)
        let resolution = MultiResolutionInfo(height: [info.height], width: [info.width], aspectRatio: [info.aspectRatio],
                                             numFrames: [info.frames], fps: [info.fps])
        let model = self.model
        return { x, t, frameMask in
            try model(LegacySTDiTInput(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.captionMask,
                                       frameMask: frameRows(frameMask, frames: x.shape[2])), resolution: resolution)
        }
    }
}
