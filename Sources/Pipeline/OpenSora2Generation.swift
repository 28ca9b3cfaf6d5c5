// Open-Sora 2.0 text/image-to-video (scripts/diffusion/inference.py and api_fn in
// opensora/utils/sampling.py on hpcaitech/Open-Sora main), in stages that each load what they need
// and release it before the next:
//
//   prompts ─▶ [text]       T5 (512 tokens, pads attended) and CLIP (pooled) of every prompt and of ""
//   ref     ─▶ [reference]  VAE latents of the i2v / v2v references
//   noise   ─▶ [denoise]    V2Sampler ⇄ MMDiT (three guidance branches), batch by batch
//   latents ─▶ [decode]     HunyuanVideo VAE or DC-AE, then MP4 / PNG (shared with 1.x: decodeAndWrite)
//
// Everything a run reads is found and checked first (OpenSora2Plan: checkpoints' sizes against each
// other, frame count, references), so a bad input costs no compute.
// Each video's generator (seed + its index, RunPlan) draws its initial noise first, as the
// reference's get_noise does from a fresh generator; a prompt's reference posterior is drawn next,
// from the generator of its first sample (the reference draws it from torch's global generator).

import Foundation
import TensorCore
import Weights
import T5
import CLIP
import MMDiT
import VAE
import Samplers
import VideoIO

/// A run's settings resolved against its checkpoints (headers only: nothing is loaded).
struct OpenSora2Plan {
    let geometry: V2LatentGeometry
    let condition: V2ConditionType
    let sampler: V2Sampler
    let mmdit: MMDiTConfig
    /// The T5's architecture, read off its weights.
    let t5: T5Config
    let clipPath: String, clipVocabulary: String
    /// For the memory estimate: the files, the MMDiT's stored bytes per parameter, the VAE's
    /// widest decoder level and its decode tile (pixels, frames).
    let mmditPath: String, t5Path: String, vaePath: String
    let mmditBytesPerParameter: Double, mmditQuantizedAtLoad: Bool
    let vaeWidest: Int, vaeTile: (pixels: Int, frames: Int)
    /// Per prompt, the reference files its condition reads (empty for t2v), and their frames
    /// resized and cropped to the video's size (read here, so a bad file fails before any compute).
    let references: [[String]]
    let referenceFrames: [String: Tensor]

    /// - Parameter decoded: reference videos' frames given instead of their files (VideoGenerator.decodedReferenceVideos).
    init(config c: GenerationConfig, promptCount: Int, decoded: [String: RGBVideo] = [:]) throws {
        condition = try V2ConditionType(option: c.condType)
        let s = c.scheduler
        sampler = V2Sampler(steps: s.numSamplingSteps,
                            guidance: V2Guidance(text: Float(s.guidance), image: Float(s.guidanceImg), textOscillation: s.textOsci,
                                                 imageOscillation: s.imageOsci, temporalImageGuidance: s.scaleTemporalOsci),
                            shift: s.shift, shiftAlpha: s.flowShift)

        // The denoiser: a 1.x checkpoint is refused here, naming the file and the tensor.
        let mmditPath = try WeightLocator.resolve(c.denoiser.path, component: WeightLocator.component(for: .mmdit), option: "model.denoiser.path")
        let mmditStore = try Checkpoint.open(mmditPath)
        mmdit = try MMDiTConfig.inferred(from: mmditStore, positional: c.denoiser.positional)
        do { try mmdit.validate() } catch { throw PipelineError("model.denoiser.axes_dim / theta: \(error) (\(mmditPath))") }
        self.mmditPath = mmditPath
        let stored = mmditStore.info("double_blocks.0.img_mlp.0.weight")?.dtype
        mmditBytesPerParameter = c.quantize == .int8 || stored == .i8 ? 1.1 : (stored == .f32 && c.dtype == .fp32 ? 4 : 2)
        mmditQuantizedAtLoad = c.quantize == .int8 && stored != .i8

        // The autoencoder's latent channels and spatial factor.
        let vaePath = try WeightLocator.resolve(c.vae.path, component: WeightLocator.component(for: c.vae.type), option: "model.vae.path")
        let vaeStore = try Checkpoint.open(vaePath)
        self.vaePath = vaePath
        let (latentChannels, vaeSpatial): (Int, Int)
        if c.vae.type == .dcAE {
            let v = try VideoDCAEConfig.infer(from: vaeStore)
            (latentChannels, vaeSpatial, vaeWidest) = (v.latentChannels, v.spatialCompression, v.widths[0])
            vaeTile = (min(c.height, v.spatialTileSize) * min(c.width, v.spatialTileSize), c.vae.useTemporalTiling ? v.temporalTileSize : c.numFrames)
        } else {
            let v = try HunyuanVAEConfig.infer(from: vaeStore)
            (latentChannels, vaeSpatial, vaeWidest) = (v.latentChannels, v.spatialCompression, v.blockOutChannels[0])
            vaeTile = (min(c.height, v.sampleSize) * min(c.width, v.sampleSize), c.vae.useTemporalTiling ? v.sampleTSize + 1 : c.numFrames)
        }
        let p = mmdit.patchSize
        guard mmdit.inChannels == latentChannels * p * p else {
            throw PipelineError("model.denoiser.path: \(mmditPath) takes \(mmdit.inChannels / (p * p))-channel latents (in_channels \(mmdit.inChannels), patch \(p)) but the \(c.vae.type.rawValue) \(vaePath) makes \(latentChannels)-channel latents")
        }
        geometry = try V2LatentGeometry(height: c.height, width: c.width, frames: c.numFrames, packedChannels: mmdit.inChannels,
                                        patchSize: p, spatialCompression: vaeSpatial * p, causalVAE: c.vae.type == .hunyuanVAE)

        // Text encoders: their widths are the MMDiT's inputs.
        t5Path = try TextStage.weightsPath(config: c)
        t5 = try TextStage.architecture(config: c)
        guard t5.dModel == mmdit.contextInDim else {
            throw PipelineError("model.text_encoder.path: \(t5Path) makes \(t5.dModel)-wide T5 states, but \(mmditPath) takes \(mmdit.contextInDim)-wide ones (txt_in)")
        }
        if c.textEncoder.tokenizer == nil { _ = try TextStage.locateTokenizer(near: t5Path) }
        clipPath = try WeightLocator.resolve(c.clip.path, component: "clip-vit-large-patch14", option: "model.clip.path")
        let clipConfig = try CLIPTextConfig.infer(from: try Checkpoint.open(clipPath), heads: c.clip.numHeads)
        guard clipConfig.hidden == mmdit.vecInDim else {
            throw PipelineError("model.clip.path: \(clipPath) pools \(clipConfig.hidden)-wide vectors, but \(mmditPath) takes \(mmdit.vecInDim) (vector_in)")
        }
        clipVocabulary = try c.clip.vocabulary ?? Self.locateVocabulary(near: clipPath)
        if !FileManager.default.fileExists(atPath: clipVocabulary) {
            throw PipelineError("model.clip.vocabulary: '\(clipVocabulary)' does not exist (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt)")
        }

        // References: one spec for every prompt or one per prompt; i2v_loop reads "first;last".
        let specs = c.ref.count == 1 ? [String](repeating: c.ref[0], count: promptCount) : c.ref
        let condition = self.condition
        references = condition == .t2v ? [[String]](repeating: [], count: promptCount) : try specs.map { spec in
            let paths = c.referenceImagePaths(spec)
            for path in paths {
                if let why = FileChecks.notRegularFile(path) { throw PipelineError("--ref \(path): \(why)") }
                guard let kind = ReferenceLoader.kind(of: path) else {
                    throw PipelineError("--ref \(path): not an image or video file (images: png, jpg, ...; videos: mp4, avi, mov, mkv)")
                }
                if kind == .image && !condition.isImageToVideo {
                    throw PipelineError("--ref \(path): cond_type \(condition.rawValue) continues a video; give a video file")
                }
            }
            return paths
        }
        var frames: [String: Tensor] = [:]
        for path in references.flatMap({ $0 }) where decoded[path] == nil && frames[path] == nil {
            do {
                frames[path] = try ReferenceLoader.load(path: path, height: geometry.height, width: geometry.width)   // [3, T, H, W]
            } catch {
                throw PipelineError("--ref \(path): cannot be read: \(error)")
            }
        }
        referenceFrames = frames
    }

    /// vocab.json + merges.txt (Hugging Face's CLIP folder) or bpe_simple_vocab_16e6.txt.gz beside the weights.
    static func locateVocabulary(near weights: String) throws -> String {
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: weights, isDirectory: &isDir)
        let dir = isDir.boolValue ? weights : ((weights as NSString).deletingLastPathComponent as String)
        let folder = dir.isEmpty ? "." : dir
        for name in ["vocab.json", "bpe_simple_vocab_16e6.txt.gz"] where FileManager.default.fileExists(atPath: folder + "/" + name) {
            return name == "vocab.json" ? folder : folder + "/" + name
        }
        throw PipelineError("model.clip.vocabulary: no CLIP vocabulary (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz) beside '\(weights)'; set model.clip.vocabulary")
    }
}

extension VideoGenerator {
    /// `generate` for an Open-Sora 2.0 config (model.denoiser.type mmdit).
    func generateOpenSora2(prompts: [String], events: (GenerationEvent) -> Void) throws -> [GeneratedVideo] {
        let wanted = selection ?? Set(0..<(prompts.count * max(1, config.numSample)))
        let batchesToMake = config.videoBatches(promptCount: prompts.count).filter { $0.contains { wanted.contains($0.index) } }
        let jobs = batchesToMake.flatMap { $0 }.filter { wanted.contains($0.index) }
        if jobs.isEmpty { return [] }
        let plan = try OpenSora2Plan(config: config, promptCount: prompts.count, decoded: decodedReferenceVideos)
        conditioningInputs = plan.references.flatMap { $0 } + [plan.clipPath, plan.clipVocabulary]
        try checkMemoryOpenSora2(plan, videos: jobs.count)
        let outputs = writeOutputs ? try planOutputs(jobs.map { config.outputPath(index: $0.promptIndex, sample: $0.sample, count: prompts.count) })
                                   : []
        let batches = batchesToMake.filter { $0.contains { latents[$0.index] == nil } }
        let toDenoise = batches.flatMap { $0 }
        let promptIndexes = Array(Set(toDenoise.map(\.promptIndex))).sorted()
        let latentShape = plan.geometry.latentShape                                    // [C, T, h, w]

        // Stage: text. Rows: the prompts to denoise, then "" (the guidance branches' text).
        var text: (txt: Tensor, yVec: Tensor) = (Tensor(zeros: [0]), Tensor(zeros: [0]))
        if !toDenoise.isEmpty {
            let prepared = try promptIndexes.map { try V2Prompt.conditioned(prompts[$0], fps: config.saveFPS, motionScore: config.motionScore.map(String.init)) }
            let (t, r) = try measureStage("text-encoder", events) { try encodeText(prepared + [""], plan: plan) }
            text = t
            reports.append(r)
        }
        let textRow = Dictionary(uniqueKeysWithValues: promptIndexes.enumerated().map { ($1, $0) })
        let empty = (txt: text.txt.slice(promptIndexes.count..<(promptIndexes.count + 1)), yVec: text.yVec.slice(promptIndexes.count..<(promptIndexes.count + 1)))

        // Stage: references through the VAE (per prompt).
        var references: [Int: [Tensor]] = [:]                                          // prompt -> latents [C, t, h, w]
        if plan.condition != .t2v, !toDenoise.isEmpty {
            let (refs, r) = try measureStage("reference-encode", events) { try encodeOpenSora2References(promptIndexes, plan: plan) }
            references = refs
            reports.append(r)
        }

        // Stage: denoise, batch by batch.
        var denoised = latents                                                         // index -> [C, T, h, w]
        var seconds: [Int: [String: Double]] = [:]
        if !batches.isEmpty {
            var made = 0
            let (_, r) = try measureStage("denoise", events) {
                let model = try MMDiTDenoiser(config: config)
                for (bi, batch) in batches.enumerated() {
                    let t0 = ResourceUsage.now()
                    let noise = try (noiseSource ?? RowwiseNoise(batch.map { makeNoise(seed: $0.seed) })).standardNormal([batch.count] + latentShape)
                    let refs = batch.map { references[$0.promptIndex] ?? [] }
                    let condition = try V2Condition(plan.condition, latentShape: noise.shape, references: refs)
                    let rows = batch.map { textRow[$0.promptIndex]! }
                    let conditioning = V2TextConditioning(prompts: (concat(rows.map { text.txt.slice($0..<($0 + 1)) }, axis: 0),
                                                                    concat(rows.map { text.yVec.slice($0..<($0 + 1)) }, axis: 0)),
                                                          empty: empty)
                    let forward = try model.denoiser(text: conditioning, condition: condition)
                    var step = 0
                    let out = try plan.sampler.denoise(noise: noise, geometry: plan.geometry, condition: condition) { x, t, branches in
                        let v = try forward(x, t, branches)
                        made += branches.count
                        step += 1
                        events(.samplingStep(step: step, of: plan.sampler.steps, batch: bi + 1, batches: batches.count, elapsed: ResourceUsage.now() - t0))
                        if self.isCancelled() { throw CancellationError() }
                        return v
                    }                                                                  // [b, C, T, h, w]
                    let elapsed = ResourceUsage.now() - t0
                    for (j, job) in batch.enumerated() {
                        // api_fn writes the reference frames back into the first video of its batch
                        // only; here every video gets its own (a batch of one is the reference's run).
                        var video = out.slice(j..<(j + 1))
                        try V2Condition(plan.condition, latentShape: video.shape, references: [refs[j]]).writeBack(into: &video)
                        denoised[job.index] = video[0]
                        seconds[job.index, default: [:]]["denoise"] = elapsed
                        try latentDenoised?(job, video[0])
                    }
                }
                ScratchArena.shared.releaseAll()
            }
            reports.append(r)
            let reference = 3 * plan.sampler.steps * batches.count
            forwards = (made, reference)
            events(.note("denoise: \(made) of the reference's \(reference) model forwards (\(reference - made) skipped: guidance branches whose weight is zero)"))
        }
        return try decodeAndWrite(batchesToMake, prompts: prompts, wanted: wanted, denoised: denoised, loopVideos: [:],
                                  seconds: seconds, outputs: outputs, events: events)
    }

    /// Refuses a run whose estimated peak exceeds 90% of the machine's memory, before anything loads.
    func checkMemoryOpenSora2(_ plan: OpenSora2Plan, videos: Int) throws {
        guard let total = MemoryEstimate.physicalMemoryBytes else { return }
        let te = config.textEncoder, g = plan.geometry
        let estimate = OpenSora2MemoryEstimate(
            mmdit: plan.mmdit, mmditBytesPerParameter: plan.mmditBytesPerParameter, quantizedAtLoad: plan.mmditQuantizedAtLoad,
            batch: config.batchSize,
            branchesPerForward: config.denoiser.branchesPerForward,
            videos: videos, latent: g.latentShape, patch: g.patchSize,
            frames: [config.numFrames, g.height, g.width], textLength: te.modelMaxLength,
            t5: (MemoryEstimate.bytesOnDisk(plan.t5Path), plan.t5.layers, plan.t5.dModel, plan.t5.dFF, plan.t5.heads),
            vae: (MemoryEstimate.bytesOnDisk(plan.vaePath), plan.vaeWidest, plan.vaeTile.pixels, plan.vaeTile.frames))
        if estimate.peakBytes > total * 0.9 {
            let int8 = estimate.denoiseBytes == estimate.peakBytes && config.quantize == .none ? ", or use --quantize int8" : ""
            throw PipelineError(String(format: "this request needs %@ but the machine has %.1f GiB: lower num_frames, the resolution or batch_size%@",
                                       estimate.description, total / 1_073_741_824, int8))
        }
    }

    /// T5 then CLIP over `texts`, in groups of batch_size; each model is released before the next
    /// loads. -> txt [N, L, D], yVec [N, V]
    func encodeText(_ texts: [String], plan: OpenSora2Plan) throws -> (txt: Tensor, yVec: Tensor) {
        let group = max(1, config.batchSize)
        let chunks = stride(from: 0, to: texts.count, by: group).map { Array(texts[$0..<min($0 + group, texts.count)]) }
        let txt = try {
            let (tokenizer, encoder) = try TextStage.openT5(config: config)
            let t5 = try T5TextEmbedder(tokenizer: tokenizer, encoder: encoder, maxLength: config.textEncoder.modelMaxLength)
            return concat(try chunks.map { try t5($0) }, axis: 0)
        }()
        ScratchArena.shared.releaseAll()
        let yVec = try {
            let clip = try CLIPTextEmbedder(tokenizer: try CLIPTokenizer(vocabularyPath: plan.clipVocabulary),
                                            model: try CLIPTextModel(weights: try Checkpoint.open(plan.clipPath), heads: config.clip.numHeads),
                                            maxLength: config.clip.maxLength)
            return concat(try chunks.map { try clip($0) }, axis: 0)
        }()
        ScratchArena.shared.releaseAll()
        return (txt, yVec)
    }

    /// The VAE latents of each prompt's references, as collect_references_batch takes them: i2v
    /// the first (head) / last (tail) frame of the first / last file, i2v_loop both; v2v the first /
    /// last 33 frames of the video (65 for *_easy when it has them). -> prompt: [[C, t, h, w]]
    func encodeOpenSora2References(_ promptIndexes: [Int], plan: OpenSora2Plan) throws -> [Int: [Tensor]] {
        let vae = try VAEStage.load(config: config)
        let (h, w) = (plan.geometry.height, plan.geometry.width)                      // rounded up to multiples of 16, as sanitize_sampling_option
        var out: [Int: [Tensor]] = [:]
        for p in promptIndexes {
            let paths = plan.references[p]
            guard !paths.isEmpty else { continue }
            // The posterior's draws come after the first sample's initial noise in its generator.
            let first = p * max(1, config.numSample)
            let source = noiseSource ?? makeNoise(seed: config.videoSeed(index: first))
            if noiseSource == nil { _ = try source.standardNormal([1] + plan.geometry.latentShape) }
            let sampling: LatentSampling = config.vae.type == .dcAE ? .mode : .sample(noise: { try source.standardNormal($0) })
            func encode(_ path: String, frames: (Int) throws -> Range<Int>) throws -> Tensor {
                if let given = referenceLatents[path] { return given }
                let x = try plan.referenceFrames[path] ?? ReferenceLoader.load(path: path, height: h, width: w, decoded: decodedReferenceVideos[path])   // [3, T, H, W]
                let clip = narrow(x, axis: 1, try frames(x.shape[1]))
                return try vae.encode(clip.reshaped([1] + clip.shape), sampling: sampling)[0]
            }
            switch plan.condition {
            case .t2v: break
            case .i2vHead: out[p] = [try encode(paths[0]) { _ in 0..<1 }]
            case .i2vTail: out[p] = [try encode(paths[paths.count - 1]) { ($0 - 1)..<$0 }]
            case .i2vLoop: out[p] = [try encode(paths[0]) { _ in 0..<1 }, try encode(paths[paths.count - 1]) { ($0 - 1)..<$0 }]
            case .v2vHead, .v2vTail, .v2vHeadEasy, .v2vTailEasy:
                let easy = plan.condition == .v2vHeadEasy || plan.condition == .v2vTailEasy
                let head = plan.condition == .v2vHead || plan.condition == .v2vHeadEasy
                out[p] = [try encode(paths[0]) { n in
                    let target = (n >= 64 && easy ? 64 : 32) + 1                       // + 1: the causal VAE's first frame
                    guard n >= target else { throw PipelineError("--ref \(paths[0]): cond_type \(plan.condition.rawValue) needs at least \(target) frames, the video has \(n)") }
                    return head ? 0..<target : (n - target)..<n
                }]
            }
        }
        return out
    }
}
