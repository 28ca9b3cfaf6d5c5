// A denoised latent on disk, with what it takes to decode it later or elsewhere
// (`opensora generate --save-latents`, then `opensora decode`).
//
// safetensors: one float32 tensor "latent" [C, T', h, w] (exact: decoding it gives the same
// bytes as the run that saved it), and metadata: the resolved config (YAML: the VAE's type,
// weights and shape, frames, fps, size, output format), the VAE weights' identity, the video's
// place in its run (prompt, index, seed) and the run's config digest.

import Foundation
import TensorCore
import Weights

public struct LatentFile {
    public static let format = "opensora-latent/1"
    /// [C, T', h, w]
    public var latent: Tensor
    public var config: GenerationConfig
    public var metadata: [String: String]

    /// `out/v_0001.mp4` -> `out/v_0001.latent.safetensors`.
    public static func path(forOutput output: String) -> String {
        var stem = output
        for ext in [".mp4", ".png"] where stem.lowercased().hasSuffix(ext) { stem = String(stem.dropLast(ext.count)) }
        return stem + ".latent.safetensors"
    }

    /// Writes `latent` for video `job` of a run (atomically: a temporary name, then renamed).
    public static func write(_ latent: Tensor, job: VideoJob, prompt: String, config: GenerationConfig, to path: String) throws {
        let runDigest = config.runDigest
        var vaePath = (try? WeightLocator.resolve(config.vae.path, component: WeightLocator.component(for: config.vae.type), option: "")) ?? config.vae.path
        if !vaePath.hasPrefix("/") { vaePath = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(vaePath) }
        var config = config
        config.vae.path = (vaePath as NSString).standardizingPath      // decodable from any folder
        let vaeBytes = (try? FileManager.default.attributesOfItem(atPath: vaePath)[.size] as? NSNumber)?.intValue
        let metadata: [String: String] = [
            "format": format,
            "config": config.yamlText(),
            "config_digest": runDigest,
            "denoiser": "\(config.denoiser.type.rawValue) \(config.denoiser.path)",
            "vae_type": config.vae.type.rawValue,
            "vae_path": vaePath,
            "vae_bytes": vaeBytes.map(String.init) ?? "unknown",
            "shape": latent.shape.map(String.init).joined(separator: ","),
            "num_frames": "\(config.numFrames)",
            "height": "\(config.height)", "width": "\(config.width)",
            "fps": "\(config.fps)", "save_fps": "\(config.saveFPS)",
            "prompt": prompt, "prompt_index": "\(job.promptIndex)", "sample": "\(job.sample)",
            "index": "\(job.index)", "seed": "\(job.seed)",
        ]
        try SafetensorsWriter().write([SafetensorsWriter.item("latent", latent)], to: path, metadata: metadata)
    }

    /// Reads and checks a latent file written by `write`.
    public static func read(_ path: String) throws -> LatentFile {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["format"] == format, let yaml = file.metadata["config"] else {
            throw PipelineError("\(path): not a latent saved by `opensora generate --save-latents` (no '\(format)' metadata)")
        }
        let config = try GenerationConfig.parse(yaml: yaml, source: "\(path) (metadata 'config')")
        let latent = try file.tensor("latent")
        if config.denoiser.type.isOpenSora2 {
            // Open-Sora 2.0's channels and spatial size are the checkpoints' (the VAE checks them); the
            // config gives the latent frames: (frames - 1) // 4 + 1.
            let frames = (config.numFrames - 1) / 4 + 1
            guard latent.rank == 4, latent.shape[1] == frames else {
                throw PipelineError("\(path): latent has shape \(latent.shape), its config (num_frames \(config.numFrames)) decodes [C, \(frames), h, w]")
            }
        } else {
            // The channels are the VAE's (checkVAE); the config gives the latent's frames and size.
            guard latent.rank == 4, Array(latent.shape.dropFirst()) == config.latentSize else {
                throw PipelineError("\(path): latent has shape \(latent.shape), its config decodes [C, \(config.latentSize.map(String.init).joined(separator: ", "))]")
            }
        }
        return LatentFile(latent: latent, config: config, metadata: file.metadata)
    }
}

extension LatentFile {
    /// The VAE weights `config` names have the size of those the latent was made for.
    public func checkVAE(config: GenerationConfig, latentPath: String) throws {
        let weights = try WeightLocator.resolve(config.vae.path, component: WeightLocator.component(for: config.vae.type), option: "--vae")
        if !config.denoiser.type.isOpenSora2 {
            let channels = try VAEStage.latentShape(config: config)[0]
            guard latent.shape[0] == channels else {
                throw PipelineError("\(latentPath): a \(latent.shape[0])-channel latent, but the VAE '\(weights)' decodes \(channels)-channel ones; pass --vae with the weights it was made for")
            }
        }
        guard let recorded = metadata["vae_bytes"].flatMap({ Int($0) }),
              let size = (try? FileManager.default.attributesOfItem(atPath: weights)[.size] as? NSNumber)?.intValue else { return }
        if size != recorded {
            throw PipelineError("\(latentPath): made for VAE weights of \(recorded) bytes (\(metadata["vae_path"] ?? "?")), but '\(weights)' has \(size) bytes; pass --vae with the weights it was made for")
        }
    }
}

extension VideoGenerator {
    /// Decodes saved latents and writes each to its path, as `generate` would have (one at a time:
    /// the same bytes as a run with batch_size 1). latents: [C, T', h, w] each.
    public func decodeAndWrite(_ items: [(latent: Tensor, output: String)], events: (GenerationEvent) -> Void = { _ in }) throws {
        let outputs = try planOutputs(items.map(\.output))
        let (_, r) = try measureStage("vae-decode", events) {
            let vae = try VAEStage.load(config: config)
            try writingOutputs(outputs) {
                for (item, path) in zip(items, outputs) {
                    let frames = try vae.decode(item.latent.reshaped([1] + item.latent.shape), numFrames: config.numFrames)   // [1, 3, T, H, W]
                    try write(frames[0], to: path)
                    events(.wroteOutput(path: path))
                }
            }
        }
        reports = [r]
    }
}
