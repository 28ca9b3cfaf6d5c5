// `opensora bench --component stdit3-xl2 | stdit2-xl2 | stdit-xl2`: one forward of the v1.2,
// v1.1 or v1.0 XL/2 denoiser with random bf16 weights of the real shapes
// (configs/manifests/*.json), held in memory.

import Foundation
import Pipeline
import STDiT
import TensorCore
import Weights

/// The denoisers the benchmark can run: which weights, which sizes, how to call, how to count.
enum BenchDenoiser: String, CaseIterable {
    case stdit3 = "stdit3-xl2", stdit2 = "stdit2-xl2", stditV1 = "stdit-xl2"

    var manifest: String {
        switch self {
        case .stdit3: return "stdit3-xl2-v1.2.json"
        case .stdit2: return "stdit2-xl2-v1.1.json"
        case .stditV1: return "stdit-xl2-v1.0.json"
        }
    }

    var config: STDiTConfig {
        switch self {
        case .stdit3: return .xl2
        case .stdit2: return .stdit2XL2
        case .stditV1: return .stditXL2
        }
    }

    /// The manifest's tensors, with v1.0's fixed position tables (checkpoint buffers, made for
    /// 16x64x64) resized to the latent's patch grid: [1, S, C] and [1, T, C].
    func shapes(latent: [Int]) throws -> [(String, [Int])] {
        let shapes = try BenchManifest.shapes(manifest)
        guard self == .stditV1 else { return shapes }
        let c = config, p = c.patchSize
        let (t, s) = ((latent[0] + p[0] - 1) / p[0], ((latent[1] + p[1] - 1) / p[1]) * ((latent[2] + p[2] - 1) / p[2]))
        return shapes.map { name, shape in
            switch name {
            case "pos_embed": return (name, [1, s, c.hiddenSize])
            case "pos_embed_temporal": return (name, [1, t, c.hiddenSize])
            default: return (name, shape)
            }
        }
    }

    /// Builds the model over `store` and returns one forward call on these inputs.
    /// latent: [B, C_in, T, H, W]; caption: [B, L, C_cap] with B = the batch after guidance.
    func forward(store: WeightStore, latent: Tensor, timesteps: [Float], caption: Tensor,
                 mask: [[Bool]], quantization: Quantization = .none) throws -> () throws -> Tensor {
        let (t, h, w) = (latent.shape[2], latent.shape[3], latent.shape[4])
        let (height, width) = (Float(8 * h), Float(8 * w))
        switch self {
        case .stdit3:
            let model = try STDiT3(weights: store, config: config, quantization: quantization)
            let input = STDiT3Input(latent: latent, timesteps: timesteps, caption: caption, captionMask: mask,
                                    fps: [24], height: height, width: width)
            return { try model(input) }
        case .stdit2:
            let model = try STDiT2(weights: store, config: config, quantization: quantization)
            let input = STDiT2Input(latent: latent, timesteps: timesteps, caption: caption, captionMask: mask,
                                    numFrames: [Float(t)], height: [height], width: [width],
                                    aspectRatio: [height / width], fps: [24])
            return { try model(input) }
        case .stditV1:
            let model = try STDiTV1(weights: store, config: config, quantization: quantization)
            let input = STDiTV1Input(latent: latent, timesteps: timesteps, caption: caption, captionMask: mask)
            return { try model(input) }
        }
    }

    /// The null caption of the built weights, for the guidance batch. [L, C_cap]
    func nullCaption(_ store: WeightStore) throws -> WeightTensor {
        try store.weight("y_embedder.y_embedding", shape: [config.modelMaxLength, config.captionChannels])
    }

    func flops(batch: Int, latent d: [Int], captionTokens: Int) -> Double {
        switch self {
        case .stdit3: return config.forwardFLOPs(batch: batch, frames: d[0], height: d[1], width: d[2], captionTokens: captionTokens)
        case .stdit2: return config.stdit2ForwardFLOPs(batch: batch, frames: d[0], height: d[1], width: d[2], captionTokens: captionTokens)
        case .stditV1: return config.stditV1ForwardFLOPs(batch: batch, frames: d[0], height: d[1], width: d[2], captionTokens: captionTokens)
        }
    }
}

enum DenoiserBench {
    /// Prints one JSON line: component, latent, batch, caption_tokens, seconds (best of `repeats`),
    /// cpu_seconds, gflops (the model's FLOP count / seconds), tflop, sgemm_gflops (plain sgemm
    /// on the model's linear shapes at all its token rows, averaged over `sgemmWindow` seconds
    /// before and after the reported forward), fraction_of_sgemm, peak_rss_bytes (VmHWM), threads.
    /// `captionTokens` nil = all of the model's caption length.
    /// With `quantization` .int8 the blocks' linears run int8 (docs/quantization.md) and the line
    /// gains quantize and int8_linear_gops (the int8 linear, quantise + GEMM + dequantise, on the
    /// same shapes, measured right after the forward).
    static func run(_ denoiser: BenchDenoiser, latent spec: String, batch: Int, captionTokens: Int?, repeats: Int,
                    sgemmWindow: Double = 5, quantization: Quantization = .none) throws {
        let dims = try parseLatentSize(spec)
        guard batch >= 1 else { throw BenchmarkError("--batch must be at least 1, got \(batch)") }
        try InputLimits.require("--batch", batch, in: 1...64)
        let config = denoiser.config
        let tokens = captionTokens ?? config.modelMaxLength
        guard (1...config.modelMaxLength).contains(tokens) else {
            throw BenchmarkError("--caption-tokens must be in 1...\(config.modelMaxLength) for \(denoiser.rawValue), got \(tokens)")
        }
        HeapTuning.retainFreedMemory()      // as `opensora generate` runs: per-block buffers reused, not re-faulted
        let store = try RandomBF16Store(shapes: try denoiser.shapes(latent: dims), seed: 42)

        // Conditional caption with `tokens` real tokens; batch 2 is the guidance batch (cond +
        // null caption, the mask reused), as the samplers call it.
        let condBatch = batch == 2 ? 1 : batch
        var latent = BenchManifest.randomTensor([condBatch, config.inChannels] + dims, seed: 1, scale: 1)
        var caption = BenchManifest.randomTensor([condBatch, config.modelMaxLength, config.captionChannels], seed: 2, scale: 0.2)
        var mask = [[Bool]](repeating: (0..<config.modelMaxLength).map { $0 < tokens }, count: condBatch)
        if batch == 2 {
            let guided = try guidanceCaption(caption, mask: mask, null: try denoiser.nullCaption(store))
            (caption, mask) = (guided.caption, guided.mask ?? mask + mask)
            latent = concat([latent, latent], axis: 0)
        }
        let forward = try denoiser.forward(store: store, latent: latent, timesteps: [Float](repeating: 900, count: batch),
                                           caption: caption, mask: mask, quantization: quantization)

        // The goal is a fraction of what plain sgemm reaches, and this machine's speed drifts by
        // +-15% over minutes: average plain sgemm on the model's own linear shapes over a window
        // right before and right after every forward, and compare each forward with the mean of
        // its two windows. The reported repeat is the fastest forward.
        let tokenRows = batch * zip(dims, config.patchSize).map { ($0 + $1 - 1) / $1 }.reduce(1, *)
        let c = config.hiddenSize
        let linearShapes = [(n: 3 * c, k: c), (n: c, k: c), (n: config.mlpHidden, k: c), (n: c, k: config.mlpHidden)]
        var before = SGEMMBench.rate(m: tokenRows, shapes: linearShapes, seconds: sgemmWindow)
        var best = Double.infinity, bestCPU = Double.infinity, sgemmRate = before
        var out = Tensor(zeros: [0])
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            out = try forward()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - c0
            let after = SGEMMBench.rate(m: tokenRows, shapes: linearShapes, seconds: sgemmWindow)
            if seconds < best { (best, sgemmRate) = (seconds, (before + after) / 2) }
            bestCPU = min(bestCPU, cpu)
            before = after
        }
        guard out.array.allSatisfy({ $0.isFinite }) else { throw BenchmarkError("\(denoiser.rawValue) produced non-finite values") }
        let flops = denoiser.flops(batch: batch, latent: dims, captionTokens: tokens)
        let gflops = flops / best / 1e9
        let int8Fields = quantization == .int8
            ? #","quantize":"int8","int8_linear_gops":\#(Int8Bench.linearRate(m: tokenRows, shapes: linearShapes, seconds: sgemmWindow))"#
            : #","quantize":"none""#
        print(#"{"component":"\#(denoiser.rawValue)","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"batch":\#(batch),"caption_tokens":\#(tokens),"weights":"bf16"\#(int8Fields),"seconds":\#(best),"cpu_seconds":\#(bestCPU),"gflops":\#(gflops),"tflop":\#(flops / 1e12),"sgemm_gflops":\#(sgemmRate),"fraction_of_sgemm":\#(gflops / sgemmRate),"peak_rss_bytes":\#(peakRSSBytes()),\#(runtimeJSONFields)}"#)
    }
}
