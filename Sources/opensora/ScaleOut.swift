// `generate` over many machines: --shard, resumable runs with a manifest, --save-latents
// (docs/scale-out.md). The work lives in Pipeline (RunPlan, RunManifest, LatentFile); this file
// turns the flags into a selection of videos and the hooks that record them.

import ArgumentParser
import Foundation
import Pipeline
import TensorCore

struct ScaleOutOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Make only shard I of N (0-based) of the videos; 'auto' reads a Slurm array or Kubernetes Indexed Job index (docs/scale-out.md).", valueName: "I/N|auto|auto/N"))
    var shard: String?
    @Flag(name: .long, help: "Keep a manifest next to the outputs so that rerunning the same command makes only the missing videos (implied by --shard and --save-latents).")
    var resumable = false
    @Flag(name: .long, help: "Make again, replacing them, the videos a manifest records under another config or prompt (instead of refusing).")
    var discardOtherConfig = false
    @Flag(name: .long, help: "Also write each denoised latent (NAME.latent.safetensors) before decoding; `opensora decode` turns it into a video.")
    var saveLatents = false

    /// Checks the flags and the folder's manifests, and narrows the run to what this process must
    /// make. May set `overwrite` on `config` (the unrecorded outputs of an earlier run of this same
    /// config are partial and are replaced). nil: a plain run, no manifest.
    func prepare(_ config: inout GenerationConfig, prompts: [String], note: (String) -> Void) throws -> ScaleOutRun? {
        let shard = try shard.map { try ShardSpec.parse($0) }
        guard resumable || shard != nil || saveLatents else {
            if discardOtherConfig { throw CLIError("--discard-other-config applies to runs with a manifest (--resumable, --shard or --save-latents)") }
            return nil
        }
        if config.resolvedOutputFormat == .png && (config.numFrames > 1 || config.loop > 1) {
            throw CLIError("--shard, --resumable and --save-latents record one file per video: use --format mp4 (or one-frame PNGs), not PNG frame sequences")
        }
        let manifest = RunManifest(config: config, shard: shard)
        let batches = config.videoBatches(promptCount: prompts.count)
        let mine = shard.map { Array(batches[$0.range(of: batches.count)]) } ?? batches
        let myVideos = mine.flatMap { $0 }
        let total = prompts.count * max(1, config.numSample)
        let c = config
        let outputPath = { (job: VideoJob) in c.outputPath(index: job.promptIndex, sample: job.sample, count: prompts.count) }
        // --overwrite: make every video again, whatever the manifests say.
        var plan = try manifest.plan(prompts: prompts, outputPath: outputPath, discardOther: discardOtherConfig || config.output.overwrite)
        if config.output.overwrite { plan = ResumePlan() }
        if plan.resumed || discardOtherConfig { config.output.overwrite = true }

        let todo = myVideos.filter { !plan.finished.contains($0.index) }
        var latents: [Int: Tensor] = [:]
        for job in todo {
            guard let file = plan.latentFiles[job.index] else { continue }
            latents[job.index] = try LatentFile.read(file).latent
        }
        let who = shard.map { "shard \($0) has videos \(myVideos.first.map { "\($0.index)" } ?? "-")..\(myVideos.last.map { "\($0.index)" } ?? "-") of \(total)" }
            ?? "\(total) video\(total == 1 ? "" : "s")"
        let finished = myVideos.count - todo.count
        note("\(who): \(finished) finished earlier, \(todo.count) to make (\(latents.count) from saved latents); manifest \(manifest.path)")

        var run = ManifestRecord(event: "run", configDigest: manifest.digest)
        run.shard = shard?.description
        run.seed = UInt64(truncatingIfNeeded: config.seed)
        run.engine = EngineVersion.number
        if !todo.isEmpty { try manifest.append(run) }
        return ScaleOutRun(manifest: manifest, selection: Set(todo.map { $0.index }), latents: latents, saveLatents: saveLatents,
                           outputPath: outputPath, prompts: prompts)
    }
}

/// The selection and the manifest hooks of one scaled-out run.
struct ScaleOutRun {
    let manifest: RunManifest
    let selection: Set<Int>
    let latents: [Int: Tensor]
    let saveLatents: Bool
    let outputPath: (VideoJob) -> String
    let prompts: [String]

    func attach(to generator: VideoGenerator) {
        generator.selection = selection
        generator.latents = latents
        let manifest = manifest, outputPath = outputPath, prompts = prompts
        if saveLatents {
            generator.latentDenoised = { [weak generator] job, latent in
                guard let generator else { return }
                let path = LatentFile.path(forOutput: outputPath(job))
                try LatentFile.write(latent, job: job, prompt: prompts[job.promptIndex], config: generator.config, to: path)
                try manifest.append(try manifest.fileRecord(event: "latent", job: job, prompt: prompts[job.promptIndex], file: path))
            }
        }
        generator.videoWritten = { [weak generator] video in
            guard let path = video.outputPath else { return }
            var record = try manifest.fileRecord(event: "video", job: video.job, prompt: video.prompt, file: path)
            var seconds = video.stageSeconds
            if let text = generator?.reports.first(where: { $0.name == "text-encoder" }) { seconds["text-encoder (run)"] = text.seconds }
            record.seconds = seconds
            try manifest.append(record)
        }
    }
}
