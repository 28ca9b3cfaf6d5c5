// Open-Sora v1.0's STDiT behind the denoise stage. Its position tables are fixed sin-cos tables
// in the checkpoint, so the config's space_scale / time_scale are checked against them.

import Foundation
import TensorCore
import Weights
import STDiT
import Samplers

struct STDiTV1Model: DenoisingModel {
    let model: STDiTV1

    init(config: GenerationConfig) throws {
        let d = config.denoiser
        let (model, path, store) = try DenoiserCheckpoint.open(config, build: { store, _ in
            try STDiTV1(weights: store, config: try DenoiserCheckpoint.architecture(store, config), quantization: config.quantize)
        })
        try checkPositionScale(store, table: "pos_embed", scale: d.spaceScale, key: "space_scale", path: path)
        try checkPositionScale(store, table: "pos_embed_temporal", scale: d.timeScale, key: "time_scale", path: path)
        self.model = model
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo, cache: StepCache?) throws -> Denoiser {
        let model = self.model
        return try guidedDenoiser(text: text, null: model.nullCaption) { x, t, caption, captionMask, frameMask in
            try model(STDiTV1Input(latent: x, timesteps: t, caption: caption, captionMask: captionMask, frameMask: frameMask), cache: cache)
        }
    }
}

/// v1.0's tables are built with space_scale / time_scale: position 1's first entry is sin(1 / scale).
/// The engine uses the tables as stored, so the config's scale is checked rather than applied. table: [1, N, C]
func checkPositionScale(_ store: WeightStore, table: String, scale: Double, key: String, path: String) throws {
    let t = try store.tensor(table)
    guard t.rank == 3, t.shape[1] >= 2 else { return }   // a single position shows no scale
    let stored = Double(t[flat: t.shape[2]]), expected = sin(1 / scale)
    guard abs(stored - expected) <= 1e-2 else {        // bf16 tables hold ~3 digits; scales 1 and 0.5 differ by 0.07
        throw PipelineError("model.denoiser.\(key): \(scale) does not match \(path): its \(table) table was built with another scale (position 1 starts with \(String(format: "%.4f", stored)); scale \(scale) gives \(String(format: "%.4f", expected)))")
    }
}
