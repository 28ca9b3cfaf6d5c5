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
        if let found = family(of: file), found.type != config.denoiser.type {
            let remedy = found.type.map { "set model.denoiser.type: \($0.rawValue) (\(found.config))" } ?? "use \(found.config)"
            throw PipelineError("model.denoiser.path: \(path) is \(found.what) checkpoint (it has \(found.tensor)), but model.denoiser.type is \(config.denoiser.type.rawValue): \(remedy)")
        }
        if config.denoiser.noTemporalPosEmb {
            throw PipelineError("model.denoiser.no_temporal_pos_emb: true is not implemented (the reference's released checkpoints use the temporal position embedding)")
        }
        return (file, path)
    }

    /// What a checkpoint is, told by a tensor only that family has (as stable-diffusion.cpp tells
    /// its models apart); nil for none of these. `type` nil: not a video denoiser.
    static func family(of store: WeightStore) -> (type: DenoiserType?, what: String, tensor: String, config: String)? {
        let signatures: [(tensor: String, type: DenoiserType?, what: String, config: String)] = [
            ("img_in.weight", .mmdit, "an Open-Sora 2.0 MMDiT", "configs/opensora-v2.0-256px.yaml"),
            ("spatial_blocks.0.scale_shift_table", .stdit3, "an STDiT3 (Open-Sora v1.2)", "configs/opensora-v1.2.yaml"),
            // STDiT2 before STDiT: both have temporal attention, only STDiT2 its own modulation table.
            ("blocks.0.scale_shift_table_temporal", .stdit2, "an STDiT2 (Open-Sora v1.1)", "configs/opensora-v1.1.yaml"),
            ("blocks.0.attn_temp.qkv.weight", .stdit, "an STDiT (Open-Sora v1.0)", "configs/opensora-v1.0.yaml"),
            ("y_embedder.embedding_table.weight", nil, "a DiT class-conditional image", "opensora generate-image (docs/dit.md)"),
        ]
        return signatures.first { store.contains($0.tensor) }.map { ($0.type, $0.what, $0.tensor, $0.config) }
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
