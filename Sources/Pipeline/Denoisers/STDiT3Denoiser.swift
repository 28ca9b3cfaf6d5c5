// Open-Sora v1.2's STDiT3 behind the denoise stage: conditioned on fps and the pixel size.

import TensorCore
import STDiT
import Samplers

struct STDiT3Model: DenoisingModel {
    let model: STDiT3

    init(config: GenerationConfig) throws {
        model = try DenoiserCheckpoint.open(config, build: { store, _ in
            try STDiT3(weights: store, config: try DenoiserCheckpoint.architecture(store, config), quantization: config.quantize)
        }).model
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo, cache: StepCache?) throws -> Denoiser {
        let model = self.model
        return try guidedDenoiser(text: text, null: model.nullCaption) { x, t, caption, captionMask, frameMask in
            try model(STDiT3Input(latent: x, timesteps: t, caption: caption, captionMask: captionMask, frameMask: frameMask,
                                  fps: [info.fps], height: info.height, width: info.width), cache: cache)
        }
    }
}
