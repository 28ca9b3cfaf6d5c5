// What every denoiser adapter shares: the model protocol the denoise stage calls, opening and
// checking a checkpoint against the config, and the one classifier-free-guidance closure (the
// sampler doubles the latents and mixes the halves; the model side pairs each prompt's caption
// with the learned null caption, STDiT's `guidanceCaption`).

import Foundation
import TensorCore
import Weights
import STDiT
import Samplers

/// A loaded denoiser that can make a sampler closure for one batch of prompts.
protocol DenoisingModel {
    /// z: [B, C_in, T, H, W] for B prompts with text `text` -> the samplers' CFG closure.
    /// `cache`: the sampling run's step cache, which decides what each call computes (nil: all).
    func denoiser(text: TextEmbeddings, info: ResolutionInfo, cache: StepCache?) throws -> Denoiser
}

/// One forward of a denoiser on the guidance batch: x: [2B, C, T, H, W], timesteps [2B],
/// caption [2B, L, C_text] with its mask, frame mask rows [2B][T] -> [2B, C_out, T, H, W].
typealias GuidedForward = (_ x: Tensor, _ t: [Float], _ caption: Tensor, _ captionMask: [[Bool]]?, _ frameMask: [[Bool]]?) throws -> Tensor

/// The samplers' CFG closure: prompts' captions then the null caption, the frame mask as rows.
func guidedDenoiser(text: TextEmbeddings, null: WeightTensor, _ forward: @escaping GuidedForward) throws -> Denoiser {
    let guided = try guidanceCaption(text.states, mask: text.masks, null: null)
    return { x, t, frameMask in
        try forward(x, t, guided.caption, guided.mask, frameMaskRows(frameMask, frames: x.shape[2]))
    }
}

enum DenoiserCheckpoint {
    /// Opens the configured checkpoint in the compute dtype, builds the model with `build`, and
    /// checks the sizes it read off the weights against the config. -> (model, path, store)
    static func open<Model>(_ config: GenerationConfig, name: String, build: (_ store: WeightStore, _ path: String) throws -> Model,
                            sizes: (Model) -> STDiTConfig) throws -> (model: Model, path: String, store: WeightStore) {
        let path = try WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: config.denoiser.type),
                                             option: "model.denoiser.path")
        // int8 linears are quantised from the file's own values (a bf16 copy would only add memory).
        let file = try Checkpoint.open(path)
        if file.contains("img_in.weight") && file.contains("final_layer.adaLN_modulation.1.weight") {
            throw PipelineError("model.denoiser.path: \(path) is an Open-Sora 2.0 MMDiT checkpoint (it has img_in.weight), but model.denoiser.type is \(config.denoiser.type.rawValue): use mmdit (configs/opensora-v2.0-256px.yaml)")
        }
        let store = config.quantize == .int8 ? file : HalfPrecision.store(file, dtype: config.dtype)
        let model = try build(store, path)
        try checkSizes(sizes(model), path: path, name: name, config: config)
        return (model, path, store)
    }

    /// The checkpoint's sizes must be the configured ones, and its caption input the text encoder's output.
    static func checkSizes(_ c: STDiTConfig, path: String, name: String, config: GenerationConfig) throws {
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
}
