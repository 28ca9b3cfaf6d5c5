// `opensora bench --component pipeline-v1.2 | pipeline-v1.1`: a whole pipeline (T5-XXL, the
// denoiser, the VAE) through the same VideoGenerator as `generate`, with random bf16 weights of
// the real shapes written to a scratch folder (removed afterwards) and the fixtures' tokenizer.
// v1.2: STDiT3-XL/2 + VAE v1.2 (rectified flow, the built-in defaults); v1.1: STDiT2-XL/2 +
// sd-vae (IDDPM, configs/opensora-v1.1.yaml); v2: Open-Sora 2.0's 11B MMDiT + T5-XXL + CLIP-L +
// HunyuanVideo's VAE (configs/opensora-v2.0-256px.yaml, t2v). Reports each stage's seconds and
// peak RSS; --steps sets the sampling steps (the reference's 30 / 100 / 50 cost that many times
// the one-step denoise).

import Foundation
import Pipeline
import TensorCore
import Weights

enum PipelineBench: String, CaseIterable {
    case v12 = "pipeline-v1.2", v11 = "pipeline-v1.1", v2 = "pipeline-v2"

    /// nil = GenerationConfig.defaults (Open-Sora v1.2).
    var configFile: String? {
        switch self {
        case .v12: return nil
        case .v11: return "configs/opensora-v1.1.yaml"
        case .v2: return "configs/opensora-v2.0-256px.yaml"
        }
    }

    var denoiserManifest: String {
        switch self {
        case .v12: return "stdit3-xl2-v1.2.json"
        case .v11: return "stdit2-xl2-v1.1.json"
        case .v2: return "opensora-v2-mmdit.json"
        }
    }

    var vaeManifest: String {
        switch self {
        case .v12: return "vae-v1.2.json"
        case .v11: return "sd-vae-ft-ema.json"
        case .v2: return "hunyuan-vae.json"
        }
    }

    /// Video frames for T latent frames: the v1.2 VAE makes 17 of every 5, the 2D sd-vae one
    /// each, HunyuanVideo's causal VAE 1 + 4 (T - 1). 0: too few latent frames.
    func frames(latentFrames t: Int) -> Int {
        switch self {
        case .v12: return t / 5 * 17
        case .v11: return t
        case .v2: return 4 * (t - 1) + 1
        }
    }

    func run(latentSpec: String, steps: Int, cache: String, quantize: String?) throws {
        let dims = try parseLatentSize(latentSpec)
        guard steps >= 1 else { throw BenchmarkError("--steps must be at least 1, got \(steps)") }
        guard frames(latentFrames: dims[0]) > 0 else {
            throw BenchmarkError("--latent for \(rawValue) needs at least 5 latent frames (17 video frames per 5), got '\(latentSpec)'")
        }
        if self == .v2 && (dims[1] % 2 != 0 || dims[2] % 2 != 0) {
            throw BenchmarkError("--latent for \(rawValue) needs an even height and width (the MMDiT's 2x2 patches), got '\(latentSpec)'")
        }
        guard let tokenizer = RepositoryFile.locate("Tests/Fixtures/golden/tokenizer.model") else {
            throw BenchmarkError("Tests/Fixtures/golden/tokenizer.model not found (run from the repository root)")
        }
        var config = GenerationConfig.defaults
        if let file = configFile {
            guard let path = RepositoryFile.locate(file) else { throw BenchmarkError("\(file) not found (run from the repository root)") }
            config = try GenerationConfig.load(path: path)
        }
        // The whole config is checked before the weights (10+ GB) are written.
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("opensora-pipeline-bench-\(getpid())").path
        var o = ConfigOverrides()
        o.textEncoderPath = "\(dir)/t5.safetensors"
        o.tokenizer = tokenizer
        o.denoiserPath = "\(dir)/denoiser.safetensors"
        o.vaePath = "\(dir)/vae.safetensors"
        o.imageSize = [dims[1] * 8, dims[2] * 8]
        o.numFrames = String(frames(latentFrames: dims[0]))
        o.numSamplingSteps = steps
        if self != .v2 || cache != "none" { o.cache = cache }  // a v2 config refuses the key
        if let quantize {
            guard !quantize.contains(",") else { throw BenchmarkError("--quantize for \(rawValue) takes one mode (none or int8), got '\(quantize)'") }
            o.quantize = quantize
        }
        o.outputPath = "\(dir)/out.mp4"
        try config.apply(overrides: o)
        var weights = [("t5", "t5-v1_1-xxl.json"), ("denoiser", denoiserManifest), ("vae", vaeManifest)]
        if self == .v2 {
            guard let vocabulary = RepositoryFile.locate("Tests/Fixtures/golden/v2_text/bpe_simple_vocab_16e6.txt.gz") else {
                throw BenchmarkError("Tests/Fixtures/golden/v2_text/bpe_simple_vocab_16e6.txt.gz not found (run from the repository root)")
            }
            config.clip.path = "\(dir)/clip.safetensors"
            config.clip.vocabulary = vocabulary
            weights.append(("clip", "clip-vit-large-patch14.json"))
        }

        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        for (file, manifest) in weights {
            try BenchManifest.writeRandom(manifest, to: "\(dir)/\(file).safetensors", seed: 7)
        }
        // As `opensora generate` runs; only now, so the random tensors just written go back to
        // the system instead of staying in the heap.
        HeapTuning.retainFreedMemory()
        let generator = try VideoGenerator(config: config)
        ResourceUsage.resetPeak()
        let t0 = ResourceUsage.now()
        _ = try generator.generate(prompts: ["a red panda eating bamboo in the snow"])
        let total = ResourceUsage.now() - t0
        let stages = generator.reports.map { #"{"stage":"\#($0.name)","seconds":\#($0.seconds),"peak_rss_bytes":\#($0.peakRSSBytes)}"# }
        let peak = generator.reports.map(\.peakRSSBytes).max() ?? 0
        let cacheJSON = cacheStatisticsJSON(generator.cacheStatistics, method: config.cache.method.rawValue)
        print(#"{"component":"\#(rawValue)","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"frames":\#(config.numFrames),"steps":\#(steps),"weights":"bf16","quantize":"\#(config.quantize.rawValue)","seconds":\#(total),"peak_rss_bytes":\#(peak),"cache":\#(cacheJSON),"stages":[\#(stages.joined(separator: ","))],\#(runtimeJSONFields)}"#)
    }
}
