// Text-to-video and image-to-video, as Open-Sora v1.2's scripts/inference.py runs them, in
// stages that each load what they need and release it before the next:
//
//   prompts ─▶ [text]      T5 hidden states for every prompt          (T5 released)
//   images  ─▶ [reference] VAE latents of the conditioning images     (VAE released)
//   noise   ─▶ [denoise]   sampler ⇄ STDiT3 with CFG, batch by batch  (STDiT3 released)
//   latents ─▶ [decode]    VAE decode to frames                        (VAE released)
//   frames  ─▶ [write]     MP4 or PNG, atomically
//
// So peak memory is that of the largest stage, not the sum of the models.

import Foundation
import TensorCore
import Samplers
import STDiT
import VAE
import VideoIO

public struct GeneratedVideo: Sendable {
    /// The prompt as given (before suffixes and cleaning).
    public let prompt: String
    /// Index of the prompt and the sample number for it.
    public let index: Int, sample: Int
    /// The denoised latent. [C, T', H/8, W/8]
    public let latent: Tensor
    /// Decoded frames in [-1, 1] (not clamped). [3, T, H, W]
    public let frames: Tensor
    /// Where it was written (nil if the caller asked for no output).
    public let outputPath: String?
}

public final class VideoGenerator {
    public let config: GenerationConfig
    /// Stage reports of the last `generate` call.
    public private(set) var reports: [StageReport] = []
    /// What the step cache did in the last `generate` call, over all batches and samples (nil: no cache).
    public private(set) var cacheStatistics: StepCacheStatistics?
    /// Write outputs (set false to only return frames).
    public var writeOutputs = true
    /// Checked between sampling steps; return true to stop (throws CancellationError).
    public var isCancelled: () -> Bool = { false }
    /// Where random draws come from; nil = a generator seeded with `config.seed` (`config.rng`).
    /// Tests inject recorded draws here.
    public var noiseSource: NoiseSource?

    public init(config: GenerationConfig) throws {
        try config.validate()
        self.config = config
    }

    public func generate(prompts: [String], events: (GenerationEvent) -> Void = { _ in }) throws -> [GeneratedVideo] {
        guard !prompts.isEmpty else { throw PipelineError("no prompt given (use --prompt or --prompt-path)") }
        reports = []
        cacheStatistics = nil
        try checkMemory()
        let outputs = writeOutputs ? try planOutputs(count: prompts.count) : []

        // Stage: text.
        let (text, r1) = try measureStage("text-encoder", events) { try TextStage.run(prompts: prompts, config: config) }
        reports.append(r1)

        // Stage: reference images (image-to-video).
        let strategies = try (0..<prompts.count).map { i -> [MaskCondition] in
            let s = i < config.maskStrategies.count ? config.maskStrategies[i] : ""
            return try GenerationConfig.parseMaskStrategy(s)
        }
        // One generator, seeded once, for every draw in the reference's order: reference-image
        // posteriors first, then each batch's initial noise, then the sampler's own draws.
        let noise: NoiseSource = noiseSource ?? (config.rng == .torch ? TorchNoise(seed: UInt64(truncatingIfNeeded: config.seed))
                                                                       : NativeNoise(seed: UInt64(truncatingIfNeeded: config.seed)))
        var references = [[Tensor]](repeating: [], count: prompts.count)
        if config.referencePaths.contains(where: { !$0.isEmpty }) {
            let (refs, r) = try measureStage("reference-encode", events) { try encodeReferences(count: prompts.count, noise: noise) }
            references = refs
            reports.append(r)
        }

        // Stage: denoise every batch.
        let latentSize = config.latentSize
        let info = ResolutionInfo(config: config)
        let sampler = DenoiseStage.sampler(config: config)
        let batches = stride(from: 0, to: prompts.count, by: max(1, config.batchSize)).map { $0..<min($0 + max(1, config.batchSize), prompts.count) }
        var latents: [(range: Range<Int>, sample: Int, z: Tensor)] = []
        let (_, r3) = try measureStage("denoise", events) {
            let model = try DenoiseStage.loadModel(config: config)
            let channels = config.denoiser.inChannels
            for (bi, range) in batches.enumerated() {
                for k in 0..<config.numSample {
                    // One step cache per sampling run: nothing carries over between prompts, batches or samples.
                    let cache = config.cache.stepCache(steps: sampler.stepCount, dtype: config.dtype)
                    let denoiser = try model.denoiser(text: text.rows(range), info: info, cache: cache)
                    var z = try noise.standardNormal([range.count, channels] + latentSize)
                    let mask = try applyMaskStrategy(&z, references: Array(references[range]), strategies: Array(strategies[range]),
                                                     align: config.align)
                    let run = try sampler.start(SamplingInputs(latent: z, frameMask: mask, sizes: [info.videoSize]),
                                                model: denoiser, noise: noise)
                    let t0 = ResourceUsage.now()
                    for step in run {
                        events(.samplingStep(step: step.index + 1, of: step.count, batch: bi * config.numSample + k + 1,
                                             batches: batches.count * config.numSample, elapsed: ResourceUsage.now() - t0))
                        if isCancelled() { throw CancellationError() }
                    }
                    latents.append((range, k, try run.finish()))
                    if let cache {
                        var total = cacheStatistics ?? StepCacheStatistics()
                        total.merge(cache.statistics)
                        cacheStatistics = total
                    }
                }
            }
            ScratchArena.shared.releaseAll()
        }
        reports.append(r3)

        // Stage: decode, then write.
        var videos: [GeneratedVideo] = []
        let (_, r4) = try measureStage("vae-decode", events) {
            let vae = try VAEStage.load(config: config)
            for item in latents {
                let frames = try vae.decode(item.z, numFrames: config.numFrames)       // [b, 3, T, H, W]
                for (j, i) in item.range.enumerated() {
                    videos.append(GeneratedVideo(prompt: prompts[i], index: i, sample: item.sample, latent: item.z[j],
                                                 frames: frames[j], outputPath: nil))
                }
            }
        }
        reports.append(r4)
        ScratchArena.shared.releaseAll()
        if writeOutputs {
            let (written, r5) = try measureStage("write", events) {
                try videos.map { v -> GeneratedVideo in
                    let path = outputs[v.index * config.numSample + v.sample]
                    try write(v.frames, to: path)
                    events(.wroteOutput(path: path))
                    return GeneratedVideo(prompt: v.prompt, index: v.index, sample: v.sample, latent: v.latent, frames: v.frames, outputPath: path)
                }
            }
            videos = written
            reports.append(r5)
        }
        return videos
    }

    /// Refuses requests whose estimated peak exceeds the machine's memory.
    func checkMemory() throws {
        guard let total = MemoryEstimate.physicalMemoryBytes else { return }
        let dit = (try? WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: config.denoiser.type), option: "")) ?? ""
        let vae = (try? WeightLocator.resolve(config.vae.path, component: WeightLocator.component(for: config.vae.type), option: "")) ?? ""
        let estimate = MemoryEstimate(config: config, denoiserWeightBytes: MemoryEstimate.bytesOnDisk(dit),
                                      vaeWeightBytes: MemoryEstimate.bytesOnDisk(vae))
        if estimate.peakBytes > total * 0.9 {
            throw PipelineError(String(format: "this request needs %@ but the machine has %.1f GiB: lower num_frames, the resolution or batch_size",
                                       estimate.description, total / 1_073_741_824))
        }
    }

    // MARK: outputs

    /// Output paths for every (prompt, sample), checked before any compute: the folder is created
    /// if missing and must be writable, and existing files need `overwrite`.
    func planOutputs(count: Int) throws -> [String] {
        var paths: [String] = []
        for i in 0..<count { for k in 0..<config.numSample { paths.append(config.outputPath(index: i, sample: k, count: count)) } }
        let fm = FileManager.default
        for p in paths {
            let dir = (p as NSString).deletingLastPathComponent
            if !dir.isEmpty && !fm.fileExists(atPath: dir) {
                do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                    throw PipelineError("output.path: cannot create folder '\(dir)': \(error.localizedDescription)")
                }
            }
            let folder = dir.isEmpty ? "." : dir
            var isDir: ObjCBool = false
            if !fm.fileExists(atPath: folder, isDirectory: &isDir) || !isDir.boolValue {
                throw PipelineError("output.path: '\(folder)' is not a folder")
            }
            if !fm.isWritableFile(atPath: folder) { throw PipelineError("output.path: folder '\(folder)' is not writable") }
            let existing = config.resolvedOutputFormat == .png && config.numFrames > 1 ? PNGWriter.framePaths(base: p, count: config.numFrames) : [p]
            if !config.output.overwrite, let e = existing.first(where: { fm.fileExists(atPath: $0) }) {
                throw PipelineError("output.path: '\(e)' already exists (pass --overwrite to replace it)")
            }
        }
        return paths
    }

    /// frames: [3, T, H, W] in [-1, 1].
    func write(_ frames: Tensor, to path: String) throws {
        switch config.resolvedOutputFormat {
        case .png:
            let video = try RGBVideo(tensor: frames)
            if video.frameCount == 1 && path.hasSuffix(".png") {
                try PNGWriter.write(video.frame(0), to: path, overwrite: config.output.overwrite)
            } else {
                _ = try PNGWriter.writeFrames(video, base: path, overwrite: config.output.overwrite)
            }
        case .mp4, .auto:
            _ = try MP4Writer.write(tensor: frames, to: path, options: MP4Writer.Options(fps: config.saveFPS, overwrite: config.output.overwrite))
        }
    }

    // MARK: references

    /// VAE latents of each prompt's reference images ("a.png;b.png"). -> [prompt][ref]: [C, Tr, h, w]
    /// The posterior is sampled, as the reference's `vae.encode` does, with draws from `noise`.
    func encodeReferences(count: Int, noise: NoiseSource) throws -> [[Tensor]] {
        let vae = try VAEStage.load(config: config)
        return try (0..<count).map { i in
            let spec = i < config.referencePaths.count ? config.referencePaths[i] : ""
            if spec.isEmpty { return [] }
            return try spec.split(separator: ";").map { path in
                let image = try loadReferenceImage(path: String(path), height: config.height, width: config.width)   // [3, H, W]
                let x = image.reshaped([1, 3, 1, config.height, config.width])
                let z = try vae.encode(x, sampling: .sample(noise: { try noise.standardNormal($0) }))                // [1, C, 1, h, w]
                return z[0]
            }
        }
    }
}
