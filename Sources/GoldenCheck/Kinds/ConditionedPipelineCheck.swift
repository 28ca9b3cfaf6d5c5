// Golden checker for kinds 'pipeline_mask' and 'pipeline_loop': v1.2's scripts/inference.py with
// references and mask strategies (and loops), replayed through the same VideoGenerator the CLI
// uses with every random draw the reference made, in its order. Checked: the prompt text of each
// loop, each reference as the VAE receives it and its latent, the last loop's latent, the float
// video (the loops joined as the script joins them) and the uint8 frames save_sample would write.

import Foundation
import Pipeline
import Samplers
import TensorCore
import VideoIO

enum ConditionedPipelineCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let j = c.config
        guard let rawPrompts = j["prompts"] as? [String], let files = j["reference_files"] as? [String],
              let batch = j["batch_size"] as? Int, let loops = j["loop"] as? Int,
              let parsed = c.json["parsed"] as? [String: Any], let perLoop = parsed["per_loop"] as? [[String: Any]] else {
            throw GoldenError.badCase(path: c.path, detail: "config lacks prompts/reference_files/batch_size/loop or parsed.per_loop")
        }
        // weights_file: "../t5.safetensors; ../stdit3.safetensors; ../vae.safetensors; ../tokenizer.model"
        let named = c.weightFiles
        guard named.count == 4, let size = j["image_size"] as? [Int], let frames = j["num_frames"] as? Int,
              let sched = j["scheduler"] as? [String: Any], let models = j["models"] as? [String: Any],
              let maxLength = models["model_max_length"] as? Int else {
            throw GoldenError.badCase(path: c.path, detail: "weights_file (4 files) / image_size / num_frames / scheduler / models.model_max_length missing")
        }
        var config = try PipelineCheck.generationConfig(c, weights: Array(named.prefix(3)), tokenizer: c.file(named[3]), size: size, frames: frames,
                                                        scheduler: sched, maxLength: maxLength, fps: j["fps"] as? Int ?? 24,
                                                        aes: j["aes"] as? Double ?? 6.5)
        config.batchSize = batch
        config.loop = loops
        config.conditionFrameLength = j["condition_frame_length"] as? Int ?? 5
        config.conditionFrameEdit = j["condition_frame_edit"] as? Double ?? 0
        config.align = j["align"] as? Int
        // The prompts name their references relative to the case's folder.
        let prompts = rawPrompts.map { p in files.reduce(p) { $0.replacingOccurrences(of: $1, with: c.file($1)) } }
        var checks: [OutputCheck] = []

        // References: decoded pixels (the MP4 decoder is not part of the contract) -> resize/crop -> [-1, 1].
        var decoded: [String: RGBVideo] = [:]
        for (k, name) in files.enumerated() {
            let u8 = try c.tensor("ref\(k).decoded_uint8")                                    // [T, H, W, 3], 0 ... 255
            let video = try RGBVideo(frameCount: u8.shape[0], height: u8.shape[1], width: u8.shape[2],
                                     pixels: u8.array.map { UInt8(clamping: Int($0.rounded())) })
            if ReferenceLoader.kind(of: name) == .video { decoded[c.file(name)] = video }
            let x = try ReferenceLoader.load(path: c.file(name), height: config.height, width: config.width, decoded: decoded[c.file(name)])
            checks.append(OutputCheck(name: "ref\(k).vae_in", got: x, expected: try c.tensor("ref\(k).vae_in"), tolerance: 1e-6))
        }

        // Each loop's prompts as encoded.
        let plans = try config.conditioning(prompts: prompts) { path in decoded[path]?.frameCount ?? 0 }
        for entry in perLoop {
            let loop = entry["loop"] as? Int ?? -1
            checks.append(OutputCheck(name: "loop\(loop) prompts", got: plans.map { $0.loopPrompts[loop] }, expected: entry["prompts"] as? [String] ?? []))
        }

        // The whole run with the recorded draws.
        let draws = try (0..<10_000).prefix { (try? c.tensor(String(format: "draw%03d", $0))) != nil }.map { try c.tensor(String(format: "draw%03d", $0)) }
        let noise = RecordedNoise(draws, name: "\(c.name) draw*")
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        generator.noiseSource = noise
        generator.decodedReferenceVideos = decoded
        let videos = try generator.generate(prompts: prompts)
        checks.append(OutputCheck(name: "random draws used", got: [noise.used], expected: [draws.count]))
        let last = loops - 1
        let latents = concat(videos.map { $0.latent.reshaped([1] + $0.latent.shape) }, axis: 0)
        checks.append(OutputCheck(name: "loop\(last).samples", got: latents, expected: try c.tensor("loop\(last).samples"),
                                  tolerance: c.tolerance(for: "latents")))
        let drop = loops > 1 ? try MaskStrategy.pixelFrames(latentFrames: config.conditionFrameLength) : 0
        for (b, v) in videos.enumerated() {
            // The script's join: loop 0 whole, later loops without their first dframe_to_frame(cfl) frames.
            let parts = try (0..<loops).map { l -> Tensor in
                let clip = try c.tensor("loop\(l).video")[b]                                   // [3, T, H, W]
                return l == 0 ? clip : Self.framesFrom(clip, drop)
            }
            checks.append(OutputCheck(name: "video\(b) (loops joined)", got: v.frames, expected: concat(parts, axis: 1),
                                      tolerance: c.tolerance(for: "video")))
            let u8 = try c.tensor("final_video\(b).uint8")                                      // [T, H, W, 3]
            checks.append(OutputCheck(name: "final_video\(b).uint8 (+-1)", got: savedFrames(v.frames), expected: u8, tolerance: 1))
        }
        return checks
    }

    /// clip[:, from:] of [C, T, H, W].
    static func framesFrom(_ clip: Tensor, _ start: Int) -> Tensor {
        let (ch, t, h, w) = (clip.shape[0], clip.shape[1], clip.shape[2], clip.shape[3])
        var out = Tensor(uninitialized: [ch, t - start, h, w])
        for k in 0..<ch {
            (out.mutablePointer + k * (t - start) * h * w).update(from: clip.pointer + (k * t + start) * h * w, count: (t - start) * h * w)
        }
        return out
    }

    /// save_sample's uint8: (clamp(x, -1, 1) + 1) / 2 * 255 + 0.5, truncated; [3, T, H, W] -> [T, H, W, 3].
    static func savedFrames(_ x: Tensor) -> Tensor {
        let (t, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor(uninitialized: [t, h, w, 3])
        let plane = t * h * w
        for i in 0..<plane {
            for ch in 0..<3 {
                let v = (min(max(x.pointer[ch * plane + i], -1), 1) + 1) / 2
                out.mutablePointer[i * 3 + ch] = min(max((v * 255 + 0.5).rounded(.down), 0), 255)
            }
        }
        return out
    }
}
