// Golden checker for kind 'pipeline_e2e': the whole text-to-video chain through the same
// VideoGenerator the CLI uses: prompt suffix and cleaning, tokenizer, T5, rectified flow with
// STDiT3 and CFG, VAE decode. The case records its initial noise (its seed is not recorded).

import Foundation
import Pipeline
import Samplers
import STDiT
import T5
import TensorCore
import Weights

enum PipelineCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let config = try generationConfig(c)
        var checks: [OutputCheck] = []

        // Prompt preparation and text encoding, compared stage by stage.
        let prompts = try strings(c, "prompts")
        let prepared = prompts.map { TextStage.preparePrompt($0, config: config) }
        let expectedPrepared = try strings(c, "prompts_after_text_preprocessing")
        checks.append(OutputCheck(name: "prompts after preprocessing", got: prepared, expected: expectedPrepared))
        let text = try TextStage.run(prompts: prompts, config: config)
        let y = try c.tensor("y_cond_and_null")                                  // [2B, 1, L, C]
        let states = text.states.reshaped([text.states.shape[0], 1] + text.states.shape.dropFirst())   // [B, 1, L, C] as y is passed
        checks.append(OutputCheck(name: "text states (T5)", got: states, expected: y.slice(0..<prompts.count),
                                  tolerance: try c.t5Tolerance()))
        let recordedMask = try c.io().integers("attention_mask")
        let mask = text.masks.flatMap { $0.map { $0 ? 1 : 0 } }
        checks.append(OutputCheck(name: "attention_mask", got: mask, expected: recordedMask))

        // The full generator with the recorded initial noise.
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        generator.noiseSource = RecordedNoise([try c.tensor("z_init")], name: "\(c.name) z_init")
        let videos = try generator.generate(prompts: prompts)
        let samples = concat(videos.map { $0.latent.reshaped([1] + $0.latent.shape) }, axis: 0)
        let video = concat(videos.map { $0.frames.reshaped([1] + $0.frames.shape) }, axis: 0)
        checks.append(OutputCheck(name: "samples", got: samples, expected: try c.tensor("samples"), tolerance: c.tolerance(for: "samples")))
        checks.append(OutputCheck(name: "video", got: video, expected: try c.tensor("video"), tolerance: c.tolerance(for: "video")))
        return checks
    }

    static func strings(_ c: GoldenCase, _ key: String) throws -> [String] {
        guard let v = c.config[key] as? [String] else { throw GoldenError.badCase(path: c.path, detail: "config.\(key) missing") }
        return v
    }

    /// The generation config of the case, with model sizes read off the case's weight files and
    /// the VAE's norm groups from the VAE case it reuses.
    static func generationConfig(_ c: GoldenCase) throws -> GenerationConfig {
        let j = c.config
        guard let files = j["weights"] as? [String], files.count == 3,
              let size = [j["height"], j["width"]] as? [Int], let frames = j["num_frames"] as? Int,
              let sched = j["scheduler"] as? [String: Any], let maxLength = j["model_max_length"] as? Int else {
            throw GoldenError.badCase(path: c.path, detail: "config lacks weights/height/width/num_frames/scheduler/model_max_length")
        }
        return try generationConfig(c, weights: files, tokenizer: c.file("tokenizer.model"), size: size, frames: frames,
                                    scheduler: sched, maxLength: maxLength, fps: j["fps"] as? Int ?? 24, aes: j["aes"] as? Double ?? 6.5)
    }

    /// The generation config of a sampled run on the golden tiny models: weights [t5, stdit3, vae]
    /// (paths relative to the case), VAE settings from the VAE case those weights belong to.
    static func generationConfig(_ c: GoldenCase, weights files: [String], tokenizer: String, size: [Int], frames: Int,
                                 scheduler sched: [String: Any], maxLength: Int, fps: Int, aes: Double) throws -> GenerationConfig {
        guard let steps = sched["num_sampling_steps"] as? Int, let cfg = sched["cfg_scale"] as? Double else {
            throw GoldenError.badCase(path: c.path, detail: "scheduler lacks num_sampling_steps/cfg_scale")
        }
        let vaeCase = try GoldenCase(path: c.file((files[2] as NSString).replacingOccurrences(of: ".weights.safetensors", with: ".json")))
        guard let pipe = vaeCase.config["pipeline"] as? [String: Any], let temporal = pipe["vae_temporal"] as? [String: Any],
              let spatial = vaeCase.config["spatial_autoencoderkl"] as? [String: Any] else {
            throw GoldenError.badCase(path: vaeCase.path, detail: "config.pipeline / spatial_autoencoderkl missing")
        }
        let yaml = """
        model:
          text_encoder:
            path: \(c.file(files[0]))
            tokenizer: \(tokenizer)
            model_max_length: \(maxLength)
          denoiser:
            type: stdit3
            path: \(c.file(files[1]))
          vae:
            type: opensora-vae-v1.2
            path: \(c.file(files[2]))
            micro_frame_size: \(pipe["micro_frame_size"] as? Int ?? 17)
            micro_batch_size: \((pipe["vae_2d"] as? [String: Any])?["micro_batch_size"] as? Int ?? 4)
            spatial:
              norm_num_groups: \(spatial["norm_num_groups"] as? Int ?? 32)
            temporal:
              num_groups: \(temporal["num_groups"] as? Int ?? 32)
        scheduler:
          type: rflow
          num_sampling_steps: \(steps)
          cfg_scale: \(cfg)
          use_timestep_transform: \(sched["use_timestep_transform"] as? Bool ?? true)
        image_size: [\(size[0]), \(size[1])]
        num_frames: \(frames)
        fps: \(fps)
        batch_size: 2
        aes: \(aes)
        dtype: fp32
        """
        return try GenerationConfig.parse(yaml: yaml, source: c.path)
    }
}
