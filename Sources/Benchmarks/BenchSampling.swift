// `opensora bench --component stdit3-xl2 --steps N --cache METHOD`: the denoise stage alone, as
// `generate` runs it (rectified flow with the v1.2 timestep transform, guidance batch, one step
// cache per run), on random bf16 weights of the real shapes (the blocks' linears int8 with
// --quantize int8; the paired exact forward then runs int8 too, so the ratio is the cache's alone). `--schedule-latent` takes the
// timesteps of another latent's video size, so a smaller latent can be timed on the schedule of
// the size it stands in for (docs/caching.md). With a cache, every step also runs the exact
// forward on the same input right before the cached one, so the two totals see the same machine
// load (this machine is shared and drifts) and their ratio is the cache's speedup.

import Foundation
import Pipeline
import Samplers
import STDiT
import TensorCore

enum SamplingBench {
    static func run(latent spec: String, scheduleLatent: String?, steps: Int, cache spec2: String, captionTokens: Int?,
                    quantization: Quantization = .none) throws {
        let dims = try parseLatentSize(spec)
        let scheduleDims = try scheduleLatent.map(parseLatentSize) ?? dims
        guard steps >= 1 else { throw BenchmarkError("--steps must be at least 1, got \(steps)") }
        var cacheConfig = CacheConfig()
        try cacheConfig.apply(spec: spec2)
        let denoiser = BenchDenoiser.stdit3
        let config = denoiser.config
        let tokens = captionTokens ?? config.modelMaxLength
        guard (1...config.modelMaxLength).contains(tokens) else {
            throw BenchmarkError("--caption-tokens must be in 1...\(config.modelMaxLength), got \(tokens)")
        }
        // The video the schedule is for: 17 frames per 5 latent frames, 8 pixels per latent pixel.
        let video = VideoSize(height: 8 * scheduleDims[1], width: 8 * scheduleDims[2], frames: scheduleDims[0] / 5 * 17)
        guard video.frames >= 17 else { throw BenchmarkError("--schedule-latent needs at least 5 latent frames, got '\(scheduleLatent ?? spec)'") }

        HeapTuning.retainFreedMemory()
        let store = try RandomBF16Store(shapes: try denoiser.shapes(latent: dims), seed: 42)
        let model = try STDiT3(weights: store, config: config, quantization: quantization)
        let caption = BenchManifest.randomTensor([1, config.modelMaxLength, config.captionChannels], seed: 2, scale: 0.2)
        let mask = [(0..<config.modelMaxLength).map { $0 < tokens }]
        let guided = try guidanceCaption(caption, mask: mask, null: model.nullCaption)
        let cache = cacheConfig.stepCache(steps: steps, dtype: .bf16)         // the weights are bf16
        let info = (fps: Float(24), height: Float(video.height), width: Float(video.width))
        var exactSeconds = 0.0, exactCPU = 0.0, cachedSeconds = 0.0, cachedCPU = 0.0
        let forward: Denoiser = { x, t, frameMask in
            let input = STDiT3Input(latent: x, timesteps: t, caption: guided.caption, captionMask: guided.mask,
                                    frameMask: frameMaskRows(frameMask, frames: x.shape[2]), fps: [info.fps],
                                    height: info.height, width: info.width)
            if cache != nil {
                let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
                _ = try model(input)
                exactSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                exactCPU += cpuSeconds() - c0
            }
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            let out = try model(input, cache: cache)
            cachedSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            cachedCPU += cpuSeconds() - c0
            return out
        }
        let sampler = RectifiedFlowSampler(steps: steps, guidanceScale: 7)
        let z = BenchManifest.randomTensor([1, config.inChannels] + dims, seed: 1, scale: 1)
        let timesteps = try sampler.timesteps(sizes: [video], batch: 1).map { $0[0] }
        let out = try sampler.start(SamplingInputs(latent: z, sizes: [video]), model: forward, noise: NativeNoise(seed: 3)).finish()
        let paired = cache == nil ? "" : #""exact_seconds":\#(exactSeconds),"exact_cpu_seconds":\#(exactCPU),"speedup":\#(exactSeconds / cachedSeconds),"cpu_speedup":\#(exactCPU / cachedCPU),"#
        guard out.array.allSatisfy({ $0.isFinite }) else { throw BenchmarkError("stdit3-xl2 sampling produced non-finite values") }
        let schedule = timesteps.map { String(Int(bf16ToFloat(floatToBF16($0)))) }.joined(separator: ",")
        print(#"{"component":"stdit3-xl2","mode":"sampling","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"schedule_latent":[\#(scheduleDims[0]),\#(scheduleDims[1]),\#(scheduleDims[2])],"schedule_video":[\#(video.frames),\#(video.height),\#(video.width)],"timesteps":[\#(schedule)],"steps":\#(steps),"batch":2,"caption_tokens":\#(tokens),"weights":"bf16","quantize":"\#(quantization.rawValue)","seconds":\#(cachedSeconds),"seconds_per_step":\#(cachedSeconds / Double(steps)),"cpu_seconds":\#(cachedCPU),\#(paired)"cache":\#(cacheStatisticsJSON(cache?.statistics, method: spec2)),"peak_rss_bytes":\#(peakRSSBytes()),\#(runtimeJSONFields)}"#)
    }
}

/// The bench JSON's "cache" object.
func cacheStatisticsJSON(_ s: StepCacheStatistics?, method: String) -> String {
    let s = s ?? StepCacheStatistics()
    return #"{"method":"\#(method)","full_forwards":\#(s.fullForwards),"skipped_forwards":\#(s.skippedForwards),"computed_attention":\#(s.computedAttention),"reused_attention":\#(s.reusedAttention),"computed_cross_attention":\#(s.computedCrossAttention),"reused_cross_attention":\#(s.reusedCrossAttention),"reused_mlp":\#(s.reusedMLP),"peak_bytes":\#(s.peakBytes)}"#
}
