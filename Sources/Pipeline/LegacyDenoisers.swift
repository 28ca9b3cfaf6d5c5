// The Open-Sora v1.0 (STDiT) and v1.1 (STDiT2) denoisers behind the pipeline's DenoisingModel:
// both are sampled with IDDPM/DDIM on cat(prompts, null caption), as forward_with_cfg does.

import Foundation
import TensorCore
import Weights
import STDiT
import Samplers

/// Opens the configured checkpoint in the compute dtype.
func openDenoiserWeights(_ config: GenerationConfig) throws -> (path: String, store: WeightStore) {
    let path = try WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: config.denoiser.type),
                                         option: "model.denoiser.path")
    // int8 linears are quantised from the file's own values (a bf16 copy would only add memory).
    let store = try Checkpoint.open(path)
    return (path, config.quantize == .int8 ? store : HalfPrecision.store(store, dtype: config.dtype))
}

/// The checkpoint's sizes must be the configured ones, and its caption input the text encoder's output.
func checkDenoiserSizes(_ c: STDiTConfig, path: String, name: String, config: GenerationConfig) throws {
    let d = config.denoiser
    if c.hiddenSize != d.hiddenSize || c.depth != d.depth || c.captionChannels != d.captionChannels || c.inChannels != d.inChannels {
        throw PipelineError("\(path): checkpoint is \(name) with hidden \(c.hiddenSize), depth \(c.depth), caption channels \(c.captionChannels), in channels \(c.inChannels); the config expects \(d.hiddenSize), \(d.depth), \(d.captionChannels), \(d.inChannels) (model.denoiser)")
    }
    // The other architecture keys are read off the checkpoint too; a config that says otherwise
    // is refused rather than silently overruled.
    let mlpHidden = Int(Double(d.hiddenSize) * d.mlpRatio)
    if c.patchSize != d.patchSize || c.mlpHidden != mlpHidden || c.outChannels != d.outChannels || c.qkNorm != d.qkNorm {
        throw PipelineError("\(path): checkpoint is \(name) with patch_size \(c.patchSize), MLP width \(c.mlpHidden), \(c.outChannels) output channels, q/k norm \(c.qkNorm); the config expects patch_size \(d.patchSize), mlp_ratio \(d.mlpRatio) (MLP width \(mlpHidden)), pred_sigma \(d.predSigma) (\(d.outChannels) outputs), qk_norm \(d.qkNorm) (model.denoiser)")
    }
    if d.noTemporalPosEmb {
        throw PipelineError("model.denoiser.no_temporal_pos_emb: true is not implemented (the reference's released checkpoints use the temporal position embedding)")
    }
    if config.textEncoder.modelMaxLength != c.modelMaxLength || config.textEncoder.dModel != c.captionChannels {
        throw PipelineError("model.text_encoder: model_max_length \(config.textEncoder.modelMaxLength) / d_model \(config.textEncoder.dModel) do not match the denoiser's caption input (\(c.modelMaxLength) tokens of \(c.captionChannels))")
    }
}

/// v1.0's position tables are fixed sin-cos tables in the checkpoint, built with space_scale /
/// time_scale: position 1's first entry is sin(1 / scale). The engine uses the tables as stored,
/// so the config's scale is checked against them rather than applied. table: [1, N, C]
func checkPositionScale(_ store: WeightStore, table: String, scale: Double, key: String, path: String) throws {
    let t = try store.tensor(table)
    guard t.rank == 3, t.shape[1] >= 2 else { return }   // a single position shows no scale
    let stored = Double(t[flat: t.shape[2]]), expected = sin(1 / scale)
    guard abs(stored - expected) <= 1e-2 else {        // bf16 tables hold ~3 digits; scales 1 and 0.5 differ by 0.07
        throw PipelineError("model.denoiser.\(key): \(scale) does not match \(path): its \(table) table was built with another scale (position 1 starts with \(String(format: "%.4f", stored)); scale \(scale) gives \(String(format: "%.4f", expected)))")
    }
}

struct STDiTV1Model: DenoisingModel {
    let model: STDiTV1

    init(config: GenerationConfig) throws {
        let (path, store) = try openDenoiserWeights(config)
        model = try STDiTV1(weights: store, numHeads: config.denoiser.numHeads, quantization: config.quantize)
        try checkDenoiserSizes(model.config, path: path, name: "STDiT (v1.0)", config: config)
        try checkPositionScale(store, table: "pos_embed", scale: config.denoiser.spaceScale, key: "space_scale", path: path)
        try checkPositionScale(store, table: "pos_embed_temporal", scale: config.denoiser.timeScale, key: "time_scale", path: path)
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo, cache: StepCache?) throws -> Denoiser {
        let guided = try guidanceCaption(text.states, mask: text.masks, null: model.nullCaption)
        let model = self.model
        return { x, t, frameMask in
            try model(STDiTV1Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.mask,
                                   frameMask: frameMaskRows(frameMask, frames: x.shape[2])), cache: cache)
        }
    }
}

struct STDiT2Model: DenoisingModel {
    let model: STDiT2

    init(config: GenerationConfig) throws {
        let (path, store) = try openDenoiserWeights(config)
        let d = config.denoiser
        var c = try STDiTConfig.inferred(from: store, numHeads: d.numHeads, inputSqSize: d.inputSqSize)
        if c.qkNorm != d.qkNorm {
            throw PipelineError("\(path): checkpoint \(c.qkNorm ? "has" : "has no") q/k norm weights, but model.denoiser.qk_norm is \(d.qkNorm)")
        }
        c.qkNormLegacy = d.qkNormLegacy
        model = try STDiT2(weights: store, config: c, quantization: config.quantize)
        try checkDenoiserSizes(model.config, path: path, name: "STDiT2 (v1.1)", config: config)
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo, cache: StepCache?) throws -> Denoiser {
        let guided = try guidanceCaption(text.states, mask: text.masks, null: model.nullCaption)
        let model = self.model
        return { x, t, frameMask in
            try model(STDiT2Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.mask,
                                  frameMask: frameMaskRows(frameMask, frames: x.shape[2]), numFrames: [info.frames],
                                  height: [info.height], width: [info.width], aspectRatio: [info.aspectRatio], fps: [info.fps]), cache: cache)
        }
    }
}
