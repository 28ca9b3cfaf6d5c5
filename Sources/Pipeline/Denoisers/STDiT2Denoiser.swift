// Open-Sora v1.1's STDiT2 behind the denoise stage: conditioned on frame count, size, aspect
// ratio and fps; q/k-norm order (`qk_norm_legacy`) is the one setting the weights cannot tell.

import TensorCore
import STDiT
import Samplers

struct STDiT2Model: DenoisingModel {
    let model: STDiT2

    init(config: GenerationConfig) throws {
        model = try DenoiserCheckpoint.open(config, build: { store, _ in
            try STDiT2(weights: store, config: try DenoiserCheckpoint.architecture(store, config), quantization: config.quantize)
        }).model
    }

    func denoiser(text: TextEmbeddings, info: ResolutionInfo, cache: StepCache?) throws -> Denoiser {
        let model = self.model
        return try guidedDenoiser(text: text, null: model.nullCaption) { x, t, caption, captionMask, frameMask in
            try model(STDiT2Input(latent: x, timesteps: t, caption: caption, captionMask: captionMask, frameMask: frameMask,
                                  numFrames: [info.frames], height: [info.height], width: [info.width],
                                  aspectRatio: [info.aspectRatio], fps: [info.fps]), cache: cache)
        }
    }
}
