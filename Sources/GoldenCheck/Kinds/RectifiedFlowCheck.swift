// Golden checker for kind 'rflow': RFLOW.sample with STDiT3 (recorded model calls with --replay).

import Foundation
import Samplers
import STDiT
import T5
import TensorCore

enum RectifiedFlowCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        guard options.replay else { return try runWithModels(c, options) }
        let replay = ReplayedModel(c, inputName: "z_in", tolerance: c.tolerance(for: "z_final"))
        var checks = try check(c, model: replay.callAsFunction)
        checks.insert(contentsOf: replay.checks, at: 0)
        checks.append(replay.callCountCheck())
        return checks
    }

    /// The whole chain: our T5 encodes the case's prompts (compared with the recorded text
    /// states), then STDiT3 denoises with that text and the null caption.
    static func runWithModels(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let stdit = try STDiT3(weights: c.modelWeights(override: options.weights))
        guard let prompts = c.config["prompts"] as? [String], let maxLength = c.config["model_max_length"] as? Int else {
            throw GoldenError.badCase(path: c.path, detail: "config.prompts / config.model_max_length missing")
        }
        let tokenizer = try T5Tokenizer(modelPath: c.file("tokenizer.model"))
        let tokens = try tokenizer.encode(prompts, maxLength: maxLength)
        let t5 = try T5Encoder(weights: c.weights(named: "t5_encoder.weights.safetensors"))
        let text = try t5.encode(tokens)                                                  // [B, L, C]
        let recorded = try c.tensor("y_cond_and_null")                                   // [2B, 1, L, C]
        var checks = [OutputCheck(name: "y_cond (T5)", got: text.reshaped([text.shape[0], 1] + text.shape.dropFirst()),  // [B, 1, L, C]
                                  expected: recorded.slice(0..<prompts.count), tolerance: try c.t5Tolerance())]
        let mask = tokens.mask.map { $0.map { $0 != 0 } }
        let recordedFPS = try c.tensor("additional_args.fps").array                    // one value, or one per prompt
        let fps = recordedFPS.count == 1 ? recordedFPS : recordedFPS + recordedFPS      // the guidance batch's rows
        let height = try c.tensor("additional_args.height")[flat: 0], width = try c.tensor("additional_args.width")[flat: 0]
        let guided = try guidanceCaption(text, mask: mask, null: stdit.nullCaption)
        let model: Denoiser = { x, t, frameMask in
            try stdit(STDiT3Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.mask,
                                  frameMask: frameMaskRows(frameMask, frames: x.shape[2]), fps: fps, height: height, width: width))
        }
        checks += try check(c, model: model)
        return checks
    }

    static func sampler(_ c: GoldenCase) throws -> RectifiedFlowSampler {
        RectifiedFlowSampler(steps: try SamplerCaseFields.int(c, "num_sampling_steps"),
                             guidanceScale: try SamplerCaseFields.float(c, "cfg_scale"),
                             useTimestepTransform: SamplerCaseFields.bool(c, "use_timestep_transform", default: false),
                             useDiscreteTimesteps: SamplerCaseFields.bool(c, "use_discrete_timesteps", default: false),
                             numTimesteps: try SamplerCaseFields.int(c, "num_timesteps"))
    }

    /// Samples the case with `model` (recorded or real) and the case's recorded noise draws, and
    /// compares the timesteps and the final latent. `model` sees y = cat(prompt, null) implicitly.
    static func check(_ c: GoldenCase, model: @escaping Denoiser) throws -> [OutputCheck] {
        let s = try sampler(c)
        let z = try c.tensor("z_init")
        let heights = try c.tensor("additional_args.height").array
        let widths = try c.tensor("additional_args.width").array
        let frames = try c.tensor("additional_args.num_frames").array
        let sizes = (0..<heights.count).map { VideoSize(height: Int(heights[$0]), width: Int(widths[$0]), frames: Int(frames[$0])) }
        let mask = SamplerCaseFields.has(c, "mask") ? try c.tensor("mask") : nil
        let inputs = SamplingInputs(latent: z, frameMask: mask, sizes: sizes)

        let timesteps = try s.timesteps(sizes: sizes, batch: z.shape[0])
        var checks = [OutputCheck(name: "timesteps", got: Tensor(shape: [timesteps.count, z.shape[0]], data: timesteps.flatMap { $0 }),
                                  expected: try c.tensor("timesteps"), tolerance: 0)]
        let noise = RecordedNoise(try SamplerCaseFields.numbered(c, "noise_draw"), name: "\(c.name) noise_draw*")
        let result = try s.start(inputs, model: model, noise: noise).finish()
        checks.append(OutputCheck(name: "z_final", got: result, expected: try c.tensor("z_final"), tolerance: c.tolerance(for: "z_final")))
        checks.append(OutputCheck(name: "noise draws used (\(noise.used))", mismatches: noise.remaining, total: noise.used + noise.remaining))
        return checks
    }
}
