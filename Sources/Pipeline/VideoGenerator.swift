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
    /// Its place in the run (global index, seed).
    public let job: VideoJob
    /// Seconds of the stages that made it (denoise and decode: its whole batch; write).
    public let stageSeconds: [String: Double]
}

public final class VideoGenerator {
    public let config: GenerationConfig
    /// Stage reports of the last `generate` call.
    public internal(set) var reports: [StageReport] = []
    /// What the step cache did in the last `generate` call, over all batches and samples (nil: no cache).
    public private(set) var cacheStatistics: StepCacheStatistics?
    /// Write outputs (set false to only return frames).
    public var writeOutputs = true
    /// Checked between sampling steps; return true to stop (throws CancellationError).
    public var isCancelled: () -> Bool = { false }
    /// Where random draws come from; nil = a generator seeded with `config.seed` (`config.rng`).
    /// Tests inject recorded draws here.
    public var noiseSource: NoiseSource?
    /// Global video indexes (RunPlan) to make; nil = every video of the prompt list.
    public var selection: Set<Int>?
    /// Denoised latents [C, T', h, w] by global video index (saved earlier): decoded, not denoised.
    public var latents: [Int: Tensor] = [:]
    /// Called with each video's denoised latent [C, T', h, w] as soon as its batch is done.
    public var latentDenoised: ((VideoJob, Tensor) throws -> Void)?
    /// Frames to use for these reference video paths instead of decoding the files (golden cases
    /// supply the frames the reference's decoder gave).
    public var decodedReferenceVideos: [String: RGBVideo] = [:]
    /// Open-Sora 2.0: VAE latents [C, t, h, w] to use for these reference paths instead of encoding
    /// the files (golden cases supply the reference's latents).
    public var referenceLatents: [String: Tensor] = [:]
    /// Reference files the prompts' conditioning reads (JSON options included), for the output checks.
    var conditioningInputs: [String] = []
    /// Called after each video is written.
    public var videoWritten: ((GeneratedVideo) throws -> Void)?
    /// Open-Sora 2.0: model forwards (one guidance branch over a batch) the last `generate` call
    /// made, and the reference's 3 per step (the branches with zero weight are skipped).
    public internal(set) var forwards: (made: Int, reference: Int)?

    public init(config: GenerationConfig) throws {
        try config.validate()
        self.config = config
    }

    /// Makes the run's videos (`selection`: only those global indexes; `latents`: these denoised
    /// latents instead of denoising). Each video's noise comes from its own generator (RunPlan).
    /// The unit of work is a batch: batch_size consecutive videos of the run, computed together
    /// (results depend on what shares a batch, in the last bits), so a video made by a shard or a
    /// resumed run went through the same batch as in one uninterrupted run.
    public func generate(prompts: [String], events: (GenerationEvent) -> Void = { _ in }) throws -> [GeneratedVideo] {
        guard !prompts.isEmpty else { throw PipelineError("no prompt given (use --prompt or --prompt-path)") }
        reports = []
        cacheStatistics = nil
        forwards = nil
        if config.denoiser.type.isOpenSora2 { return try generateOpenSora2(prompts: prompts, events: events) }
        let wanted = selection ?? Set(0..<(prompts.count * max(1, config.numSample)))
        // Batches holding a wanted video, whole; the wanted ones among them are written.
        let batchesToMake = config.videoBatches(promptCount: prompts.count).filter { $0.contains { wanted.contains($0.index) } }
        let jobs = batchesToMake.flatMap { $0 }.filter { wanted.contains($0.index) }
        if jobs.isEmpty { return [] }
        // Each prompt's JSON options, loop texts, references and mask strategy, checked up front.
        let plans = try config.conditioning(prompts: prompts) { path in
            try self.decodedReferenceVideos[path]?.frameCount ?? VideoReader.read(path).video.frameCount
        }
        conditioningInputs = plans.flatMap(\.referencePaths)
        if config.loop > 1 && (latentDenoised != nil || !latents.isEmpty) {
            throw PipelineError("loop: saved latents hold one latent per video, but with loop = \(config.loop) a video is \(config.loop) loops' latents (drop --save-latents / --resumable, or use loop 1)")
        }
        let batches = batchesToMake.filter { $0.contains { latents[$0.index] == nil } }
        // The models' sizes off their checkpoints, before any compute (a run that only decodes
        // saved latents needs no text encoder or denoiser: it checks what it can).
        let sizes = batches.isEmpty ? try? CheckpointSizes(config: config) : try CheckpointSizes(config: config)
        if let sizes { try checkMemory(videos: jobs.count, sizes: sizes) }
        let outputs = writeOutputs ? try planOutputs(jobs.map { config.outputPath(index: $0.promptIndex, sample: $0.sample, count: prompts.count) })
                                   : []
        let toDenoise = batches.flatMap { $0 }
        let promptIndexes = Array(Set(toDenoise.map(\.promptIndex))).sorted()
        let promptSlot = Dictionary(uniqueKeysWithValues: promptIndexes.enumerated().map { ($1, $0) })
        let loops = config.loop

        // Stage: text, one row per video to denoise and loop (batch by batch, loop by loop).
        var text = TextEmbeddings(states: Tensor(zeros: [0]), masks: [])
        if !toDenoise.isEmpty {
            let rows = batches.flatMap { batch in (0..<loops).flatMap { l in batch.map { plans[$0.promptIndex].loopPrompts[l] } } }
            let (t, r1) = try measureStage("text-encoder", events) { try TextStage.run(preparedPrompts: rows, config: config) }
            text = t
            reports.append(r1)
        }

        // Stage: references (images and videos) through the VAE.
        let strategies = promptIndexes.map { plans[$0].maskStrategy }
        // Draws in the reference's order: reference posteriors first, then per loop [the previous
        // loop's re-encode], the initial noise, the sampler's own draws. An injected source serves
        // every draw in order; otherwise each video has its generator, and a prompt's reference
        // posterior is drawn from the generator of its first sample.
        var generators: [Int: NoiseSource] = [:]
        for job in toDenoise where noiseSource == nil { generators[job.index] = makeNoise(seed: job.seed) }
        var references = [[Tensor]](repeating: [], count: promptIndexes.count)
        if promptIndexes.contains(where: { !plans[$0].referencePaths.isEmpty }) {
            let (refs, r) = try measureStage("reference-encode", events) {
                try encodeReferences(promptIndexes.map { plans[$0].referencePaths }) { slot in
                    if let shared = noiseSource { return shared }
                    let first = promptIndexes[slot] * max(1, config.numSample)
                    return generators[first] ?? makeNoise(seed: config.videoSeed(index: first))
                }
            }
            references = refs
            reports.append(r)
        }

        // Stage: denoise every batch; a batch's latents are handed to `latentDenoised` at once.
        // With loop > 1 each loop is decoded at once (the next one conditions on its end), so
        // the VAE stays loaded beside the denoiser and the videos come out of this stage whole.
        let info = ResolutionInfo(config: config)
        let sampler = DenoiseStage.sampler(config: config)
        var denoised = latents                                   // index -> [C, T', h, w]
        var loopVideos: [Int: Tensor] = [:]                      // index -> [3, totalFrames, H, W]
        var seconds: [Int: [String: Double]] = [:]
        if !batches.isEmpty {
            let (_, r3) = try measureStage("denoise", events) {
                let latentShape = sizes!.latentShape                             // [C, T', h, w]: the VAE's answer
                let model = try DenoiseStage.loadModel(config: config)
                let loopVAE = loops > 1 ? try VAEStage.load(config: config) : nil
                var textRow = 0
                for (bi, batch) in batches.enumerated() {
                    let t0 = ResourceUsage.now()
                    let slots = batch.map { promptSlot[$0.promptIndex]! }
                    var refs = slots.map { references[$0] }
                    var rowStrategies = slots.map { strategies[$0] }
                    var clips = [[Tensor]](repeating: [], count: batch.count)     // [row][loop]: [3, T, H, W]
                    let noise = noiseSource ?? RowwiseNoise(batch.map { generators[$0.index]! })
                    var out = Tensor(zeros: [0])
                    for loopIndex in 0..<loops {
                        if loopIndex > 0, let vae = loopVAE {
                            // append_generated: the previous loop, re-encoded, becomes each row's newest reference.
                            for (row, job) in batch.enumerated() {
                                let source = noiseSource ?? generators[job.index]!
                                let previous = clips[row][loopIndex - 1]
                                let z = try vae.encode(previous.reshaped([1] + previous.shape), sampling: .sample(noise: { try source.standardNormal($0) }))
                                refs[row].append(z[0])
                                rowStrategies[row] = MaskStrategy.appendGenerated(rowStrategies[row], loop: loopIndex, referenceIndex: refs[row].count - 1,
                                                                                  conditionFrameLength: config.conditionFrameLength,
                                                                                  conditionFrameEdit: config.conditionFrameEdit)
                            }
                        }
                        // One step cache per sampling run: nothing carries over between batches or loops.
                        let cache = config.cache.stepCache(steps: sampler.stepCount, dtype: config.dtype)
                        let denoiser = try model.denoiser(text: text.rows(textRow..<(textRow + batch.count)), info: info, cache: cache)
                        textRow += batch.count
                        var z = try noise.standardNormal([batch.count] + latentShape)
                        let mask = try applyMaskStrategy(&z, references: refs, strategies: try rowStrategies.map { try MaskStrategy.parse($0) },
                                                         loop: loopIndex, align: config.align)
                        let run = try sampler.start(SamplingInputs(latent: z, frameMask: mask, sizes: [info.videoSize]),
                                                    model: denoiser, noise: noise)
                        for step in run {
                            events(.samplingStep(step: step.index + 1, of: step.count, batch: bi + 1,
                                                 batches: batches.count, elapsed: ResourceUsage.now() - t0))
                            if isCancelled() { throw CancellationError() }
                        }
                        out = try run.finish()                       // [b, C, T', h, w]
                        if let cache {
                            var total = cacheStatistics ?? StepCacheStatistics()
                            total.merge(cache.statistics)
                            cacheStatistics = total
                        }
                        if let vae = loopVAE {
                            let frames = try vae.decode(out, numFrames: config.numFrames)      // [b, 3, T, H, W]
                            for row in 0..<batch.count { clips[row].append(frames[row]) }
                        }
                    }
                    let elapsed = ResourceUsage.now() - t0
                    for (j, job) in batch.enumerated() {
                        denoised[job.index] = out[j]
                        seconds[job.index, default: [:]]["denoise"] = elapsed
                        if loops > 1 {
                            loopVideos[job.index] = try joinLoops(clips[j])
                        } else {
                            try latentDenoised?(job, out[j])
                        }
                    }
                }
                ScratchArena.shared.releaseAll()
            }
            reports.append(r3)
        }

        return try decodeAndWrite(batchesToMake, prompts: prompts, wanted: wanted, denoised: denoised, loopVideos: loopVideos,
                                  seconds: seconds, outputs: outputs, events: events)
    }

    /// The last stages of every run: decode the denoised latents (in batches; `loopVideos`: videos
    /// already decoded loop by loop), then write each wanted video to its output.
    /// denoised: index -> [C, T', h, w]; loopVideos: index -> [3, T, H, W].
    func decodeAndWrite(_ batchesToMake: [[VideoJob]], prompts: [String], wanted: Set<Int>, denoised: [Int: Tensor],
                        loopVideos: [Int: Tensor], seconds: [Int: [String: Double]], outputs: [String],
                        events: (GenerationEvent) -> Void) throws -> [GeneratedVideo] {
        var seconds = seconds
        // Stage: decode (in batches), then write.
        var videos: [GeneratedVideo] = []
        let (_, r4) = try measureStage("vae-decode", events) {
            let vae = loopVideos.isEmpty ? try VAEStage.load(config: config) : nil
            for batch in batchesToMake {
                let t0 = ResourceUsage.now()
                let z = concat(batch.map { denoised[$0.index]!.reshaped([1] + denoised[$0.index]!.shape) }, axis: 0)   // [b, C, T', h, w]
                // Loops were decoded as they were made (the last loop's latent is what `latent` holds).
                let frames = loopVideos.isEmpty ? try vae!.decode(z, numFrames: config.numFrames)       // [b, 3, T, H, W]
                                                : concat(batch.map { loopVideos[$0.index]!.reshaped([1] + loopVideos[$0.index]!.shape) }, axis: 0)
                for (j, job) in batch.enumerated() where wanted.contains(job.index) {
                    seconds[job.index, default: [:]]["decode"] = ResourceUsage.now() - t0
                    videos.append(GeneratedVideo(prompt: prompts[job.promptIndex], index: job.promptIndex, sample: job.sample,
                                                 latent: z[j], frames: frames[j], outputPath: nil, job: job,
                                                 stageSeconds: seconds[job.index] ?? [:]))
                }
            }
        }
        reports.append(r4)
        ScratchArena.shared.releaseAll()
        if writeOutputs {
            let (written, r5) = try measureStage("write", events) {
                try writingOutputs(outputs) {
                    try videos.enumerated().map { n, v -> GeneratedVideo in
                        let path = outputs[n]
                        let t0 = ResourceUsage.now()
                        try write(v.frames, to: path)
                        var stageSeconds = v.stageSeconds
                        stageSeconds["write"] = ResourceUsage.now() - t0
                        let done = GeneratedVideo(prompt: v.prompt, index: v.index, sample: v.sample, latent: v.latent, frames: v.frames,
                                                  outputPath: path, job: v.job, stageSeconds: stageSeconds)
                        events(.wroteOutput(path: path))
                        try videoWritten?(done)
                        return done
                    }
                }
            }
            videos = written
            reports.append(r5)
        }
        return videos
    }

    func makeNoise(seed: UInt64) -> NoiseSource {
        config.rng == .torch ? TorchNoise(seed: seed) : NativeNoise(seed: seed)
    }

    /// Refuses requests whose estimated peak exceeds the machine's memory.
    func checkMemory(videos: Int, sizes: CheckpointSizes) throws {
        guard let total = MemoryEstimate.physicalMemoryBytes else { return }
        let dit = (try? WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: config.denoiser.type), option: "")) ?? ""
        let vae = (try? WeightLocator.resolve(config.vae.path, component: WeightLocator.component(for: config.vae.type), option: "")) ?? ""
        func estimate(_ config: GenerationConfig) -> MemoryEstimate {
            MemoryEstimate(config: config, videos: videos, sizes: sizes, denoiserWeightBytes: MemoryEstimate.bytesOnDisk(dit),
                           vaeWeightBytes: MemoryEstimate.bytesOnDisk(vae))
        }
        let whole = estimate(config)
        if whole.peakBytes > total * 0.9 && config.loop > 1 {
            var one = config
            one.loop = 1
            if estimate(one).peakBytes <= total * 0.9 {
                throw PipelineError(String(format: "loop: %d loops make a video of %d frames, which needs %@ but the machine has %.1f GiB: lower loop (or num_frames, the resolution, batch_size)",
                                           config.loop, config.totalFrames, whole.description, total / 1_073_741_824))
            }
        }
        if whole.peakBytes > total * 0.9 {
            throw PipelineError(String(format: "this request needs %@ but the machine has %.1f GiB: lower num_frames, the resolution, batch_size or the number of prompts",
                                       whole.description, total / 1_073_741_824))
        }
    }

    // MARK: outputs

    /// Output paths for every (prompt, sample), checked before any compute: the folder, or the
    /// nearest existing one above a folder still to be made (at write time), must be a writable
    /// folder; existing files need `overwrite`; no output may be one of the run's input files.
    func planOutputs(_ paths: [String]) throws -> [String] {
        let fm = FileManager.default
        let inputs = inputFiles
        for p in paths {
            var folder = (p as NSString).deletingLastPathComponent
            if folder.isEmpty { folder = "." }
            while !fm.fileExists(atPath: folder) && folder != "/" && folder != "." {
                let up = (folder as NSString).deletingLastPathComponent
                folder = up.isEmpty ? "." : up
            }
            var isDir: ObjCBool = false
            if !fm.fileExists(atPath: folder, isDirectory: &isDir) || !isDir.boolValue {
                throw PipelineError("output.path: '\(folder)' is not a folder")
            }
            if !fm.isWritableFile(atPath: folder) { throw PipelineError("output.path: folder '\(folder)' is not writable") }
            let existing = config.resolvedOutputFormat == .png && config.numFrames > 1 ? PNGWriter.framePaths(base: p, count: config.totalFrames) : [p]
            for e in existing {
                do { try FileChecks.checkOutput(e, inputs: inputs, overwrite: true, what: "output.path") } catch let err as FileCheckError {
                    throw PipelineError("output.path: \(err)")
                }
            }
            if !config.output.overwrite, let e = existing.first(where: { fm.fileExists(atPath: $0) }) {
                throw PipelineError("output.path: '\(e)' already exists (pass --overwrite to replace it)")
            }
        }
        return paths
    }

    /// Runs `body`, which writes `outputs`, after making their folders: folders are made only when
    /// there is something to put in them, and on a failure those still empty go again (a finished
    /// earlier output stays, with its folder).
    func writingOutputs<T>(_ outputs: [String], _ body: () throws -> T) throws -> T {
        do {
            for dir in Set(outputs.map { ($0 as NSString).deletingLastPathComponent }) where !dir.isEmpty {
                do { try PendingOutputs.createFolder(dir) } catch {
                    throw PipelineError("output.path: cannot create folder '\(dir)': \(error.localizedDescription)")
                }
            }
            let result = try body()
            PendingOutputs.keepFolders()
            return result
        } catch {
            PendingOutputs.removeEmptyFolders()
            throw error
        }
    }

    /// Every file this run reads: reference images, the prompt file, weights and tokenizer.
    var inputFiles: [String] {
        config.referencePaths.flatMap { config.referenceImagePaths($0) } + conditioningInputs + [config.promptPath].compactMap { $0 }
            + [config.textEncoder.path, config.textEncoder.tokenizer, config.denoiser.path, config.vae.path].compactMap { $0 }
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

    /// VAE latents of each prompt's references (images and videos). -> [prompt][ref]: [C, Tr, h, w]
    /// The posterior is sampled, as the reference's `vae.encode` does, with draws from `noise(slot)`.
    func encodeReferences(_ pathsPerPrompt: [[String]], noise: (Int) -> NoiseSource) throws -> [[Tensor]] {
        let vae = try VAEStage.load(config: config)
        return try pathsPerPrompt.enumerated().map { slot, paths in
            if paths.isEmpty { return [] }
            let source = noise(slot)
            return try paths.map { path in
                let x = try ReferenceLoader.load(path: path, height: config.height, width: config.width,
                                                 decoded: decodedReferenceVideos[path])              // [3, T, H, W]
                let z = try vae.encode(x.reshaped([1] + x.shape), sampling: .sample(noise: { try source.standardNormal($0) }))   // [1, C, Tr, h, w]
                return z[0]
            }
        }
    }

    /// The final video of a looped run: loop 0 whole, then each later loop without the
    /// dframe_to_frame(condition_frame_length) frames it re-made from the previous loop's end.
    /// clips[loop]: [3, T, H, W] -> [3, totalFrames, H, W]
    func joinLoops(_ clips: [Tensor]) throws -> Tensor {
        let drop = try MaskStrategy.pixelFrames(latentFrames: config.conditionFrameLength)
        let parts = clips.enumerated().map { i, clip -> Tensor in
            guard i > 0 else { return clip }
            let (c, t, h, w) = (clip.shape[0], clip.shape[1], clip.shape[2], clip.shape[3])
            let keep = max(0, t - drop)
            var part = Tensor(uninitialized: [c, keep, h, w])
            for ch in 0..<c {
                (part.mutablePointer + ch * keep * h * w).update(from: clip.pointer + (ch * t + (t - keep)) * h * w, count: keep * h * w)
            }
            return part
        }
        return concat(parts, axis: 1)
    }
}

extension GenerationConfig {
    /// The image files of one prompt's `reference_path`: Open-Sora's "a.png;b.png" list, unless
    /// the whole text names an existing file (a path may itself contain ';').
    func referenceImagePaths(_ spec: String) -> [String] {
        if spec.isEmpty { return [] }
        if FileManager.default.fileExists(atPath: spec) || !spec.contains(";") { return [spec] }
        return spec.split(separator: ";").map(String.init)
    }
}
