// The real denoiser for the iddpm / ddim cases: our T5 encodes the case's prompts (compared with
// the recorded text states), then STDiT (v1.0) or STDiT2 (v1.1) runs inside the sampler on
// cat(prompts, null caption), as forward_with_cfg calls it.

import Foundation
import Samplers
import STDiT
import T5
import TensorCore

enum LegacyDenoiserCheck {
    /// The model's own case ("stdit" or "stdit2") supplies the constructor arguments.
    static func modelCase(_ c: GoldenCase) throws -> GoldenCase {
        guard let weights = c.weightFiles.first, weights.hasSuffix(".weights.safetensors") else {
            throw GoldenError.badCase(path: c.path, detail: "weights_file does not name the model's weights first")
        }
        return try GoldenCase(path: c.file(String(weights.dropLast(".weights.safetensors".count)) + ".json"))
    }

    /// Text checks, and the denoiser the sampler calls.
    static func denoiser(_ c: GoldenCase, _ options: CheckOptions) throws -> ([OutputCheck], Denoiser) {
        let mc = try modelCase(c)
        let config = try STDiT3Check.config(mc)
        let weights = try c.modelWeights(override: options.weights)
        guard let prompts = c.config["prompts"] as? [String] else { throw GoldenError.badCase(path: c.path, detail: "config.prompts missing") }
        let tokenizer = try T5Tokenizer(modelPath: c.file("tokenizer.model"))
        let tokens = try tokenizer.encode(prompts, maxLength: config.modelMaxLength)
        let text = try T5Encoder(weights: c.weights(named: "t5_encoder.weights.safetensors")).encode(tokens)   // [B, L, C]
        let recorded = try c.tensor("y_cond_and_null")                                                      // [2B, 1, L, C]
        let recordedMask = try c.io().integers("text_mask")
        let gotMask = tokens.mask.flatMap { $0 }
        let checks = [
            OutputCheck(name: "y_cond (T5)", got: text, expected: recorded.slice(0..<prompts.count).reshaped(text.shape),  // [B, L, C]
                        tolerance: try c.t5Tolerance()),
            OutputCheck(name: "text_mask", got: gotMask, expected: recordedMask),
        ]
        let mask = tokens.mask.map { $0.map { $0 != 0 } }
        let model: Denoiser
        if mc.kind == "stdit2" {
            let stdit2 = try STDiT2(weights: weights, config: config)
            let guided = try guidanceCaption(text, mask: mask, null: stdit2.nullCaption)
            let r = { (name: String) throws -> [Float] in try c.tensor("additional_args." + name).array }
            let (numFrames, height, width, ar, fps) = (try r("num_frames"), try r("height"), try r("width"), try r("ar"), try r("fps"))
            model = { x, t, frameMask in
                try stdit2(STDiT2Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.mask,
                                       frameMask: frameMaskRows(frameMask, frames: x.shape[2]), numFrames: numFrames,
                                       height: height, width: width, aspectRatio: ar, fps: fps))
            }
        } else {
            let stdit = try STDiTV1(weights: weights, config: config)
            let guided = try guidanceCaption(text, mask: mask, null: stdit.nullCaption)
            model = { x, t, frameMask in
                try stdit(STDiTV1Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.mask,
                                       frameMask: frameMaskRows(frameMask, frames: x.shape[2])))
            }
        }
        return (checks, model)
    }
}
