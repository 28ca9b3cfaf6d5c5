// `opensora bench --component dit-xl2 --latent 32x32 --batch 8`: one DiT-XL/2 forward on the
// classifier-free-guidance batch (2 x batch rows, as sample.py calls it) with random weights of
// the real shapes (configs/manifests/dit-xl2-256.json, pos_embed sized to the latent), in memory,
// float32 like the published checkpoints or bf16.

import Foundation
import Pipeline
import STDiT
import TensorCore
import Weights

enum DiTBench {
    /// "HxW" (or "1xHxW") latent size -> side; DiT runs on square latents only.
    static func latentSide(_ spec: String) throws -> Int {
        let dims = spec.lowercased().split(separator: "x").map { Int($0) }
        let hw = dims.count == 3 && dims[0] == 1 ? Array(dims.dropFirst()) : dims
        guard hw.count == 2, let h = hw[0], let w = hw[1], h > 0, h == w, h % 2 == 0 else {
            throw BenchmarkError("--latent for dit-xl2 must be SxS (square, even; 32x32 for 256x256 images, 64x64 for 512x512), got '\(spec)'")
        }
        try InputLimits.require("--latent", h, in: InputLimits.latentSide)
        return h
    }

    /// One forward's floating-point operations (multiply-adds count 2). batch: model rows.
    static func flops(_ c: DiTConfig, batch: Int) -> Double {
        let (n, d) = (Double(c.tokens), Double(c.hiddenSize))
        let p2 = Double(c.patchSize * c.patchSize)
        let block = 2 * n * d * (4 * d + 2 * Double(c.mlpHidden)) + 4 * n * n * d + 2 * d * 6 * d
        let edges = 2 * n * d * Double(c.inChannels) * p2 + 2 * n * d * p2 * Double(c.outChannels) + 2 * d * 2 * d
            + 2 * 256 * d + 2 * d * d
        return Double(batch) * (Double(c.depth) * block + edges)
    }

    /// Prints one JSON line: component, latent, batch (images), model_batch (the guidance batch),
    /// weights, seconds (best of `repeats`), cpu_seconds, gflops, tflop, peak_rss_bytes, threads.
    static func run(latent spec: String, batch: Int, dtype: String, repeats: Int) throws {
        let side = try latentSide(spec)
        try InputLimits.require("--batch", batch, in: 1...64)
        guard dtype == "f32" || dtype == "bf16" else { throw BenchmarkError("--dtype for dit-xl2 must be f32 or bf16, got '\(dtype)'") }
        var config = DiTConfig.xl2_256
        config.inputSize = side
        HeapTuning.retainFreedMemory()
        let shapes = try BenchManifest.shapes("dit-xl2-256.json").map { name, shape in
            (name, name == "pos_embed" ? [1, config.tokens, config.hiddenSize] : shape)
        }
        let store: WeightStore
        if dtype == "bf16" {
            store = try RandomBF16Store(shapes: shapes, seed: 42)
        } else {
            var tensors: [String: Tensor] = [:]
            for (i, (name, shape)) in shapes.enumerated() {
                let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 0
                tensors[name] = BenchManifest.randomTensor(shape, seed: 42 &+ UInt64(i), scale: fanIn > 0 ? (3 / Float(fanIn)).squareRoot() : 0.05)
            }
            tensors["pos_embed"] = config.positionTable().reshaped([1, config.tokens, config.hiddenSize])
            store = MemoryStore(tensors, description: "<random f32 weights>")
        }
        let model = try DiT(weights: store, config: config)

        // The guidance batch: the same latents twice, labels then the null class.
        let half = BenchManifest.randomTensor([batch, config.inChannels, side, side], seed: 1, scale: 1)
        let x = concat([half, half], axis: 0)
        let labels = (0..<batch).map { ($0 * 97) % config.numClasses } + [Int](repeating: config.nullClass, count: batch)
        let timesteps = [Float](repeating: 500, count: 2 * batch)
        var best = Double.infinity, bestCPU = Double.infinity
        var out = Tensor(zeros: [0])
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            out = try model(x, timesteps: timesteps, labels: labels)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            bestCPU = min(bestCPU, cpuSeconds() - c0)
        }
        guard out.array.allSatisfy({ $0.isFinite }) else { throw BenchmarkError("dit-xl2 produced non-finite values") }
        let f = flops(config, batch: 2 * batch)
        print(#"{"component":"dit-xl2","latent":[\#(side),\#(side)],"batch":\#(batch),"model_batch":\#(2 * batch),"weights":"\#(dtype)","seconds":\#(best),"cpu_seconds":\#(bestCPU),"gflops":\#(f / best / 1e9),"tflop":\#(f / 1e12),"peak_rss_bytes":\#(peakRSSBytes()),\#(runtimeJSONFields)}"#)
    }
}
