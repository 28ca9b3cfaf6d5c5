// `opensora bench --component vae-v1.2-decode`: decode a latent with OpenSoraVAE_V1_2 built
// from random weights of the real shapes (in memory, no checkpoint needed).

import Foundation
import Pipeline
import TensorCore
import VAE
import Weights

enum VAEBench {
    /// latent "TxHxW" (latent frames x height/8 x width/8). Returns one JSON line.
    static func decodeV12(latent: String) throws -> String {
        let dims = try parseLatent(latent)
        HeapTuning.retainFreedMemory()
        let vae = try randomV12()
        let z = randomWeight([1, 4] + dims, normLike: false, seed: 99, scale: 1)
        let frames = defaultFrames(vae, latentFrames: dims[0])
        ConvCounters.shared.reset()
        let t0 = DispatchTime.now().uptimeNanoseconds, cpu0 = cpuSeconds()
        let video = try vae.decode(z, numFrames: frames)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - cpu0
        let gflop = ConvCounters.shared.flops / 1e9
        let s = video.shape
        return #"{"component":"vae-v1.2-decode","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"output":[\#(s[2]),\#(s[3]),\#(s[4])],"#
            + #""conv":"\#(Runtime.convolutionAlgorithm.rawValue)","seconds":\#(fmt(seconds)),"gflops":\#(fmt(gflop / seconds)),"conv_gflop":\#(fmt(gflop)),"#
            + #""conv_seconds":\#(fmt(ConvCounters.shared.seconds)),"cpu_seconds":\#(fmt(cpu)),"#
            + #""peak_rss_bytes":\#(peakRSSBytes()),\#(runtimeJSONFields)}"#
    }

    /// `--component vae-v1.2-numerics`: the same decode with im2col and with the fast
    /// convolutions; how far apart the videos are.
    static func compareConvolutions(latent: String) throws -> String {
        let dims = try parseLatent(latent)
        let vae = try randomV12()
        let z = randomWeight([1, 4] + dims, normLike: false, seed: 99, scale: 1)
        let frames = defaultFrames(vae, latentFrames: dims[0])
        let saved = Runtime.convolutionAlgorithm
        defer { Runtime.convolutionAlgorithm = saved }
        Runtime.convolutionAlgorithm = .im2col
        let exact = try vae.decode(z, numFrames: frames)
        Runtime.convolutionAlgorithm = .auto
        let fast = try vae.decode(z, numFrames: frames)
        let scale = exact.array.reduce(Float(0)) { max($0, abs($1)) }
        return #"{"component":"vae-v1.2-numerics","latent":[\#(dims[0]),\#(dims[1]),\#(dims[2])],"max_abs_output":\#(scale),"max_abs_diff_auto_vs_im2col":\#(fast.maxAbsDifference(exact))}"#
    }

    static func parseLatent(_ latent: String) throws -> [Int] { try parseLatentSize(latent) }

    /// OpenSoraVAE_V1_2 with random weights of the real shapes.
    static func randomV12() throws -> VideoVAE {
        var shapes = AutoencoderKLConfig.stableDiffusion.parameterShapes().map { ("spatial_vae.module." + $0.0, $0.1) }
        shapes += TemporalVAEConfig.openSoraV12.parameterShapes().map { ("temporal_vae." + $0.0, $0.1) }
        var tensors = Dictionary(uniqueKeysWithValues: shapes.enumerated().map { i, p in
            (p.0, randomWeight(p.1, normLike: isNormWeight(p.0), seed: UInt64(i + 1)))
        })
        tensors["shift"] = Tensor(shape: [1, 4, 1, 1, 1], data: VideoVAE.defaultShift)
        tensors["scale"] = Tensor(shape: [1, 4, 1, 1, 1], data: VideoVAE.defaultScale)
        return try VideoVAE(store: MemoryStore(tensors, description: "<random vae-v1.2>"))
    }

    /// Full chunks decode micro_frame_size frames (17 per 5 latent frames); a shorter last chunk
    /// decodes 4 frames per latent frame.
    static func defaultFrames(_ vae: VideoVAE, latentFrames t: Int) -> Int {
        let micro = vae.microLatentFrames ?? t
        return (t / micro) * (vae.microFrameSize ?? 0) + (t % micro) * vae.temporal.config.timeDownsampleFactor
    }

    static func isNormWeight(_ name: String) -> Bool {
        name.hasSuffix(".weight") && (name.contains("norm"))
    }

    /// Uniform in ±scale/sqrt(fan_in) (PyTorch's default conv/linear init), or 1 ± 0.1 for norm
    /// weights; filled in parallel with a counter-based hash so it takes about a second.
    static func randomWeight(_ shape: [Int], normLike: Bool, seed: UInt64, scale: Float? = nil) -> Tensor {
        var t = Tensor(uninitialized: shape)
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
        let bound = scale ?? 1 / Float(fanIn).squareRoot()
        let p = SendablePointer(t.mutablePointer)
        parallelFor(t.count, minPerThread: 1 << 16) { r in
            for i in r {
                var h = (UInt64(i) &+ seed &* 0x9E3779B97F4A7C15) &* 0xBF58476D1CE4E5B9
                h ^= h >> 31; h &*= 0x94D049BB133111EB; h ^= h >> 29
                let u = Float(h >> 40) / Float(1 << 24)            // [0, 1)
                p.p[i] = normLike ? 1 + 0.2 * (u - 0.5) : bound * (2 * u - 1)
            }
        }
        return t
    }

    static func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
}

/// User + system CPU time of this process so far.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

/// The thread settings every benchmark line reports: engine threads, who splits GEMMs, and how
/// long idle OpenBLAS workers spin (OPENBLAS_THREAD_TIMEOUT exponent; null: OpenBLAS's default).
var runtimeJSONFields: String {
    _ = Runtime.configured
    let timeout = BLAS.threadTimeout.map(String.init) ?? "null"
    return #""threads":\#(Runtime.threads),"blas_thread_timeout":\#(timeout),"engine":"\#(EngineVersion.number)""#
}

/// VmHWM (peak resident set) of this process, from /proc/self/status; 0 where unavailable.
func peakRSSBytes() -> Int { ResourceUsage.peakRSSBytes() }

extension VAEBench {
    /// `--component conv --shape N,C,O,T,H,W,kt`: one 3x3 (kt x 3 x 3 causal) convolution with
    /// every algorithm; time and max abs difference to im2col.
    static func convLab(shape: String, repeats: Int) throws -> [String] {
        let d = try InputLimits.shape(shape, count: 7, layout: "N,C,O,T,H,W,kt (conv)")
        let (n, c, o, t, h, w, kt) = (d[0], d[1], d[2], d[3], d[4], d[5], d[6])
        // Input, weights, the output of each algorithm and the im2col buffer (C*kt*9 per output position).
        try InputLimits.requireMemory(InputLimits.bytes([n, c, t, h, w]) + InputLimits.bytes([o, c, kt, 9])
                                      + 3 * InputLimits.bytes([n, o, t, h, w]) + InputLimits.bytes([n, c * kt * 9, t, h, w]),
                                      for: "--shape \(shape) (conv)")
        let x = randomWeight([n, c, t, h, w], normLike: false, seed: 5, scale: 1)
        let wt = WeightTensor(randomWeight([o, c, kt, 3, 3], normLike: false, seed: 6), name: "w")
        let bt = WeightTensor(randomWeight([o], normLike: false, seed: 7), name: "b")
        let pad = Padding3D.spatial(1, front: kt - 1)
        var lines: [String] = [], reference: Tensor?
        for alg in [ConvAlgorithm.im2col, .winograd2, .winograd4, .auto] {
            var best = Double.infinity, y = Tensor(zeros: [1])
            for _ in 0..<max(1, repeats) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                y = convolution(x, weight: wt, bias: bt, padding: pad, algorithm: alg)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            if reference == nil { reference = y }
            let flops = 2 * Double(y.count) * Double(c * kt * 9)
            lines.append(#"{"component":"conv","algorithm":"\#(alg.rawValue)","shape":[\#(n),\#(c),\#(o),\#(t),\#(h),\#(w),\#(kt)],"seconds":\#(String(format: "%.4f", best)),"gflops":\#(fmt(flops / best / 1e9)),"max_abs_diff":\#(y.maxAbsDifference(reference!))}"#)
        }
        return lines
    }
}
