// `opensora bench --component hunyuan-vae-decode | dc-ae-decode --latent T,H,W`: decode a random
// latent with Open-Sora 2.0's autoencoders built from random weights of the real shapes (float32
// in memory), with the inference tiling of configs/vae/inference (spatial and temporal tiles).

import Foundation
import Pipeline
import TensorCore
import VAE
import Weights

enum V2VAEBench {
    enum Model: String { case hunyuan = "hunyuan-vae-decode", dcAE = "dc-ae-decode" }

    /// latent "T,H,W" or "TxHxW" (latent frames x height / compression x width / compression).
    static func decode(_ model: Model, latent: String) throws -> String {
        let dims = latent.split(whereSeparator: { $0 == "," || $0 == "x" }).compactMap { Int($0) }
        guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else {
            throw BenchmarkError("--latent must be T,H,W with positive integers (latent frames, height and width), got '\(latent)'")
        }
        for d in dims { try InputLimits.require("--latent", d, in: InputLimits.latentSide) }
        try InputLimits.require("--latent positions", dims.reduce(1, *), in: 1...InputLimits.latentPositions)
        HeapTuning.retainFreedMemory()
        let vae: any VideoAutoencoder
        let shapes: [(String, [Int])]
        switch model {
        case .hunyuan:
            var c = HunyuanVAEConfig.openSora2
            c.useTemporalTiling = true
            shapes = c.parameterShapes()
            vae = try HunyuanVAE(store: randomStore(shapes), config: c)
        case .dcAE:
            let c = VideoDCAEConfig.openSora2
            shapes = c.parameterShapes()
            vae = try VideoDCAE(store: randomStore(shapes), config: VideoDCAEConfig.infer(from: randomStore(shapes.filter { $0.0.hasPrefix("encoder.") || $0.0.hasPrefix("decoder.") }), base: c))
        }
        let z = VAEBench.randomWeight([1, vae.latentChannels] + dims, normLike: false, seed: 99, scale: 1)
        ConvCounters.shared.reset()
        let t0 = DispatchTime.now().uptimeNanoseconds, cpu0 = cpuSeconds()
        let video: Tensor
        switch vae {
        case let h as HunyuanVAE: video = try h.decode(z)
        case let d as VideoDCAE: video = try d.decode(z)
        default: throw BenchmarkError("no benchmark for \(type(of: vae))")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - cpu0
        let gflop = ConvCounters.shared.flops / 1e9
        let s = video.shape
        return #"{"component":"\#(model.rawValue)","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"output":[\#(s[2]),\#(s[3]),\#(s[4])],"#
            + #""tiling":"spatial+temporal","seconds":\#(VAEBench.fmt(seconds)),"conv_gflop":\#(VAEBench.fmt(gflop)),"#
            + #""conv_seconds":\#(VAEBench.fmt(ConvCounters.shared.seconds)),"cpu_seconds":\#(VAEBench.fmt(cpu)),"#
            + #""peak_rss_bytes":\#(peakRSSBytes()),\#(runtimeJSONFields)}"#
    }

    static func randomStore(_ shapes: [(String, [Int])]) -> MemoryStore {
        MemoryStore(Dictionary(uniqueKeysWithValues: shapes.enumerated().map { i, p in
            (p.0, VAEBench.randomWeight(p.1, normLike: VAEBench.isNormWeight(p.0), seed: UInt64(i + 1)))
        }), description: "<random weights>")
    }
}
