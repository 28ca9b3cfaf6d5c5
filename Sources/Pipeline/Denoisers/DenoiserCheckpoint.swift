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
    /// The configured checkpoint, as stored (memory-mapped); an Open-Sora 2.0 MMDiT is refused.
    static func file(_ config: GenerationConfig) throws -> (store: WeightStore, path: String) {
        let path = try WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: config.denoiser.type),
                                             option: "model.denoiser.path")
        let file = try Checkpoint.open(path)
        if file.contains("img_in.weight") && file.contains("final_layer.adaLN_modulation.1.weight") {
            throw PipelineError("model.denoiser.path: \(path) is an Open-Sora 2.0 MMDiT checkpoint (it has img_in.weight), but model.denoiser.type is \(config.denoiser.type.rawValue): use mmdit (configs/opensora-v2.0-256px.yaml)")
        }
        if config.denoiser.noTemporalPosEmb {
            throw PipelineError("model.denoiser.no_temporal_pos_emb: true is not implemented (the reference's released checkpoints use the temporal position embedding)")
        }
        return (file, path)
    }

    /// The configured denoiser's architecture, read off its checkpoint (nothing is built).
    static func architecture(_ config: GenerationConfig) throws -> STDiTConfig {
        try architecture(try file(config).store, config)
    }

    /// The architecture of the denoiser in `store`, with the settings no tensor shows.
    static func architecture(_ store: WeightStore, _ config: GenerationConfig) throws -> STDiTConfig {
        let d = config.denoiser
        var c = try STDiTConfig.inferred(from: store, numHeads: d.numHeads, inputSqSize: d.inputSqSize)
        if d.type == .stdit2 { c.qkNormLegacy = d.qkNormLegacy }
        return c
    }

    /// Opens the configured checkpoint in the compute dtype and builds the model with `build`.
    /// -> (model, path, store)
    static func open<Model>(_ config: GenerationConfig, build: (_ store: WeightStore, _ path: String) throws -> Model)
        throws -> (model: Model, path: String, store: WeightStore) {
        let (file, path) = try file(config)
        // int8 linears are quantised from the file's own values (a bf16 copy would only add memory).
        let store = config.quantize == .int8 ? file : HalfPrecision.store(file, dtype: config.dtype)
        return (try build(store, path), path, store)
    }
}
