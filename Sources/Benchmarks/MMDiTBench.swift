// `opensora bench --component mmdit-v2 --latent T,H,W [--blocks N]`: one forward of Open-Sora
// 2.0's MMDiT on the three guidance branches (batch 3: text + image cond, "" + image cond,
// "" + zero cond) with 512 T5 rows, random bf16 weights of the real shapes
// (configs/manifests/opensora-v2-mmdit.json), held in memory.
//
// The whole 11B model (57 blocks, ~17 s each at 256px 33 frames on 2 cores) takes ~16 minutes a
// forward here, so `--blocks N` builds the real width with N double + N single blocks, times
// every block, and extrapolates: embedders + final layer + 19 x mean double + 38 x mean single.
// Plain sgemm on the blocks' linear shapes, timed in the same process before and after the
// forward, gives the reference rate (`fraction_of_sgemm`), since this shared machine's speed drifts.

import Foundation
import MMDiT
import Pipeline
import TensorCore
import Weights

enum MMDiTBench {
    static let component = "mmdit-v2"
    static let manifest = "opensora-v2-mmdit.json"
    /// T5 rows the v2 text encoder always produces (max_length 512, padding included).
    static let textTokens = 512
    /// Guidance branches the v2 sampler always evaluates.
    static let branches = 3

    /// latent "T,H,W": latent frames x latent height x latent width (the VAE's; packing halves H and W).
    static func run(latent spec: String, blocks: Int?, sgemmWindow: Double) throws {
        let dims = spec.split(whereSeparator: { $0 == "," || $0 == "x" }).map { Int($0) }
        guard dims.count == 3, let t = dims[0], let h = dims[1], let w = dims[2], t > 0, h > 0, w > 0 else {
            throw BenchmarkError("--latent must be T,H,W with positive integers (latent frames, latent height, latent width), got '\(spec)'")
        }
        for d in [t, h, w] { try InputLimits.require("--latent (each side)", d, in: InputLimits.latentSide) }
        try InputLimits.require("--latent positions", t * h * w, in: 1...InputLimits.latentPositions)
        let full = MMDiTConfig.openSora2
        let p = full.patchSize
        guard h % p == 0, w % p == 0 else { throw BenchmarkError("--latent height and width must be even (patch \(p)), got \(h)x\(w)") }
        if let blocks {
            try InputLimits.require("--blocks", blocks, in: 1...max(full.depth, full.depthSingleBlocks))
        }
        var config = full
        config.depth = min(blocks ?? full.depth, full.depth)
        config.depthSingleBlocks = min(blocks ?? full.depthSingleBlocks, full.depthSingleBlocks)

        let grid = (t: t, h: h / p, w: w / p)
        let imageTokens = grid.t * grid.h * grid.w, b = branches
        // The blocks built (bf16, in memory) and the forward's activations.
        let weightBytes = Double(config.parameterCount) * 2
        let activationBytes = full.activationBytes(batch: b, imageTokens: imageTokens, textTokens: textTokens)
        try InputLimits.requireMemory(weightBytes + activationBytes, for: "--latent \(spec) (mmdit-v2, \(config.depth)+\(config.depthSingleBlocks) blocks)")

        HeapTuning.retainFreedMemory()
        let names = Set(config.parameterShapes().map(\.0))
        let store = try RandomBF16Store(shapes: try BenchManifest.shapes(manifest).filter { names.contains($0.0) }, seed: 42)
        let model = try MMDiT(weights: store, config: config)

        let z = BenchManifest.randomTensor([b, full.inChannels / (p * p), t, h, w], seed: 1, scale: 1)
        let prepared = try Packing.prepareIds(latent: z, t5: BenchManifest.randomTensor([b, textTokens, full.contextInDim], seed: 2, scale: 0.2),
                                              clip: BenchManifest.randomTensor([b, full.vecInDim], seed: 3, scale: 0.5), patchSize: p)
        let input = MMDiTInput(img: prepared.img, imgIds: prepared.imgIds, txt: prepared.txt, txtIds: prepared.txtIds,
                               timesteps: [Float](repeating: 0.9, count: b), yVec: prepared.yVec,
                               cond: BenchManifest.randomTensor([b, imageTokens, full.condChannels], seed: 4, scale: 0.5))

        // The reference rate: plain sgemm on the blocks' main linear shapes at the forward's row
        // count, over a window before and after it (this machine's speed drifts), so the model's
        // rate is also reported as a fraction of what sgemm reaches in the same process.
        let rows = b * (imageTokens + textTokens), (c, m) = (full.hiddenSize, full.mlpHidden)
        let linearShapes = [(n: c, k: c), (n: m, k: c), (n: c, k: m)]
        let sgemmBefore = SGEMMBench.rate(m: rows, shapes: linearShapes, seconds: sgemmWindow)

        // Timestamps at each block's end (the observer sees every stage as it completes).
        var marks: [(MMDiT.Stage, UInt64)] = []
        let t0 = DispatchTime.now().uptimeNanoseconds, cpu0 = cpuSeconds()
        let out = try model(input) { stage, _ in
            switch stage {
            case .ropeSin, .doubleOutput(_, "txt"), .singleOutput, .output: marks.append((stage, DispatchTime.now().uptimeNanoseconds))
            default: break
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - cpu0
        guard out.array.allSatisfy({ $0.isFinite }) else { throw BenchmarkError("mmdit-v2 produced non-finite values") }
        let sgemmRate = (sgemmBefore + SGEMMBench.rate(m: rows, shapes: linearShapes, seconds: sgemmWindow)) / 2
        let runGFLOPs = config.forwardFLOPs(batch: b, imageTokens: imageTokens, textTokens: textTokens) / seconds / 1e9

        var previous = t0
        var (embed, final) = (0.0, 0.0)
        var doubles: [Double] = [], singles: [Double] = []
        for (stage, time) in marks {
            let s = Double(time - previous) / 1e9
            previous = time
            switch stage {
            case .ropeSin: embed = s
            case .doubleOutput: doubles.append(s)
            case .singleOutput: singles.append(s)
            default: final = s
            }
        }
        let mean = { (x: [Double]) in x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }
        let estimate = embed + final + Double(full.depth) * mean(doubles) + Double(full.depthSingleBlocks) * mean(singles)
        let flops = full.forwardFLOPs(batch: b, imageTokens: imageTokens, textTokens: textTokens)
        let perBlock = full.blockFLOPs(batch: b, imageTokens: imageTokens, textTokens: textTokens)
        let f = VAEBench.fmt
        let list = { (x: [Double]) in x.map(f).joined(separator: ",") }
        print(#"{"component":"\#(component)","latent":[\#(t),\#(h),\#(w)],"image_tokens":\#(imageTokens),"text_tokens":\#(textTokens),"#
            + #""branches":\#(b),"weights":"bf16","blocks_run":[\#(config.depth),\#(config.depthSingleBlocks)],"#
            + #""seconds_run":\#(f(seconds)),"cpu_seconds_run":\#(f(cpu)),"embed_seconds":\#(f(embed)),"final_seconds":\#(f(final)),"#
            + #""double_block_seconds":[\#(list(doubles))],"single_block_seconds":[\#(list(singles))],"#
            + #""double_block_gflops":\#(f(perBlock.double / max(mean(doubles), 1e-9) / 1e9)),"#
            + #""single_block_gflops":\#(f(perBlock.single / max(mean(singles), 1e-9) / 1e9)),"#
            + #""full_model_seconds\#(blocks == nil ? "" : "_extrapolated")":\#(f(estimate)),"tflop":\#(f(flops / 1e12)),"#
            + #""gflops":\#(f(flops / estimate / 1e9)),"gflops_run":\#(f(runGFLOPs)),"sgemm_gflops":\#(f(sgemmRate)),"#
            + #""fraction_of_sgemm":\#(f(runGFLOPs / sgemmRate)),"peak_rss_bytes":\#(peakRSSBytes()),\#(runtimeJSONFields)}"#)
    }
}
