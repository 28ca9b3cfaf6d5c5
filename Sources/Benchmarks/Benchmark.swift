// `opensora bench`: one component benchmarked with random weights of the real shapes, one JSON
// object printed per run. The CLI parses the options into a Benchmark and calls run().

import Foundation
import Pipeline
import TensorCore
import T5
import Weights

public struct Benchmark {
    static let components = ["sgemm"] + PipelineBench.allCases.map(\.rawValue) + ["stdit3-xl2", "stdit2-xl2", "stdit-xl2",
                             "vae-v1.2-decode", "t5-xxl", "vae-v1.2-numerics", "conv", "attention", "dit-xl2",
                             "hunyuan-vae-decode", "dc-ae-decode",
                             "mmdit-v2", "int8-gemm"]

    // The options as given (nil: not given); `opensora bench --help` says what each does.
    public var component: String = "sgemm"
    public var shapeOption: String?
    var shape: String { shapeOption ?? "4500,1152,1152" }
    public var latentOption: String?
    var latent: String { latentOption ?? Self.defaultLatent[component] ?? "15x18x32" }
    static let defaultLatent = ["dit-xl2": "32x32", "hunyuan-vae-decode": "33,32,32", "dc-ae-decode": "33,8,8",
                                "mmdit-v2": "9,32,32"]
    public var batchOption: Int?
    var batch: Int { batchOption ?? 2 }
    public var captionTokens: Int?
    public var stepsOption: Int?
    var steps: Int { stepsOption ?? 1 }
    public var cacheOption: String?
    var cache: String { cacheOption ?? "none" }
    public var scheduleLatent: String?
    public var convOption: String?
    var conv: String { convOption ?? "auto" }
    public var dtypeOption: String?
    var dtype: String { dtypeOption ?? (component == "dit-xl2" ? "f32" : "bf16") }
    public var repeat_: Int?
    public var sgemmWindowOption: Double?
    var sgemmWindow: Double { sgemmWindowOption ?? 5 }
    public var blocks: Int?
    public var quantizeOption: String?
    public var threads: Int?

    /// The components, for the command's help.
    public static var componentNames: [String] { components }

    public init() {}

    /// Checks every option against the component, then runs it (errors name the option at fault).
    public func run() throws {
        do {
            try checkOptionsApply()
            if let threads {
                try InputLimits.require("--threads", threads, in: InputLimits.threads)
                Runtime.setThreads(threads)
            }
            try InputLimits.require("--sgemm-window", sgemmWindow, in: 0...3600)
            if let pipeline = PipelineBench(rawValue: component) {
                return try pipeline.run(latentSpec: latent, steps: steps, cache: cache, quantize: quantizeOption)
            }
            if component == BenchDenoiser.stdit3.rawValue && (steps > 1 || cache != "none" || scheduleLatent != nil) {
                guard repeat_ == nil else { throw BenchmarkError("--repeat applies to one forward; a sampling run (--steps, --cache, --schedule-latent) runs once") }
                let mode = quantizeOption ?? "none"
                guard !mode.contains(",") else { throw BenchmarkError("--quantize for a sampling run (--steps, --cache, --schedule-latent) takes one mode (none or int8), got '\(mode)'") }
                let quantization = try Quantization(option: mode)
                return try SamplingBench.run(latent: latent, scheduleLatent: scheduleLatent, steps: steps, cache: cache,
                                             captionTokens: captionTokens, quantization: quantization)
            }
            if let denoiser = BenchDenoiser(rawValue: component) {
                guard sgemmWindow > 0 else { throw BenchmarkError("--sgemm-window must be positive, got \(sgemmWindow)") }
                let modes = try (quantizeOption ?? "none").split(separator: ",").map { try Quantization(option: String($0)) }
                for mode in modes {
                    try DenoiserBench.run(denoiser, latent: latent, batch: batch, captionTokens: captionTokens,
                                          repeats: repeat_ ?? 1, sgemmWindow: sgemmWindow, quantization: mode)
                }
                return
            }
            switch component {
            case "sgemm":
                let dims = try InputLimits.shape(shape, count: 3, layout: "M,N,K")
                let (m, n, k) = (dims[0], dims[1], dims[2])
                try InputLimits.requireMemory(InputLimits.bytes([m, k]) + InputLimits.bytes([n, k]) + InputLimits.bytes([m, n]),
                                              for: "--shape \(shape) (sgemm)")
                let best = SGEMMBench.bestSeconds(m: m, n: n, k: k, repeats: repeat_ ?? 5)
                let gflops = 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9
                print(#"{"component":"sgemm","shape":[\#(m),\#(n),\#(k)],"seconds":\#(best),"gflops":\#(gflops),\#(runtimeJSONFields)}"#)
            case "t5-xxl":
                // Random bf16 T5-v1.1-XXL (names and shapes from the weights manifest), written to a
                // temporary folder (~9.5 GB) and removed afterwards.
                guard let mpath = WeightsManifest.locateDefault() else { throw BenchmarkError("weights-manifest.json not found (set OPENSORA_MANIFEST)") }
                guard let comp = try WeightsManifest(path: mpath).components["t5-v1_1-xxl"] else { throw BenchmarkError("\(mpath) has no t5-v1_1-xxl component") }
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opensora-bench").path
                guard let weightDType = DType(rawValue: dtype.uppercased()), weightDType == .bf16 || weightDType == .f32 else {
                    throw BenchmarkError("--dtype must be bf16 or f32, got '\(dtype)'")
                }
                let r = try T5Benchmark.run(tensors: comp.tensors, directory: dir, weightDType: weightDType) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
                print(r.json)
            case "vae-v1.2-decode":
                guard let alg = ConvAlgorithm(rawValue: conv) else { throw BenchmarkError("--conv must be one of auto, im2col, winograd2, winograd4, got '\(conv)'") }
                Runtime.convolutionAlgorithm = alg
                print(try VAEBench.decodeV12(latent: latent))
            case "vae-v1.2-numerics":
                print(try VAEBench.compareConvolutions(latent: latent))
            case "conv":
                for line in try VAEBench.convLab(shape: shape, repeats: repeat_ ?? 5) { print(line) }
            case "dit-xl2":
                try DiTBench.run(latent: latent, batch: batch, dtype: dtype, repeats: repeat_ ?? 1)
            case "int8-gemm":
                print(try Int8Bench.gemm(shape: shapeOption ?? "4320,1152,1152", repeats: repeat_ ?? 5))
            case "attention":
                let shapes = shapeOption.map { [(name: "custom", shape: $0)] } ?? SGEMMBench.stdit3AttentionShapes
                for (name, shape) in shapes { print(try SGEMMBench.attention(shape: shape, name: name, repeats: repeat_ ?? 5)) }
            case MMDiTBench.component:
                guard sgemmWindow > 0 else { throw BenchmarkError("--sgemm-window must be positive, got \(sgemmWindow)") }
                try MMDiTBench.run(latent: latent, blocks: blocks, sgemmWindow: sgemmWindow,
                                   quantizations: try (quantizeOption ?? "none").split(separator: ",").map { try Quantization(option: String($0)) })
            case "hunyuan-vae-decode", "dc-ae-decode":
                print(try V2VAEBench.decode(V2VAEBench.Model(rawValue: component)!, latent: latent))
            default:
                throw BenchmarkError("unknown component '\(component)' (available: \(Self.components.joined(separator: ", ")))")
            }
        }
    }
}

/// A benchmark option that does not fit, or a file a benchmark needs that is missing: one line.
struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Plain sgemm timings: the `sgemm` component, and the reference rate the denoiser benchmarks
/// report next to their own, measured in the same process so the ratio holds when the machine drifts.
enum SGEMMBench {
    /// Best of `repeats` calls of C[M,N] = A[M,K] B^T (B stored [N,K], as a Linear weight).
    static func bestSeconds(m: Int, n: Int, k: Int, repeats: Int) -> Double {
        let a = Tensor(repeating: 0.5, shape: [m, k]), b = Tensor(repeating: 0.25, shape: [n, k])
        var c = Tensor(zeros: [m, n])
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sgemm(transB: true, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: c.mutablePointer, ldc: n)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return best
    }

    /// Average GFLOP/s of plain sgemm cycling through `shapes` ([(N, K)] at M rows, one call each
    /// per cycle, so each shape weighs as its work) for at least `seconds` and one whole cycle.
    /// An average over a window, like the model's own figure, rather than a best burst: on a
    /// shared machine a one-second burst is often 15-20% faster than any minute-long run.
    static func rate(m: Int, shapes: [(n: Int, k: Int)], seconds: Double) -> Double {
        let operands = shapes.map { (n, k) in (a: Tensor(repeating: 0.5, shape: [m, k]), b: Tensor(repeating: 0.25, shape: [n, k])) }
        var c = Tensor(zeros: [m * (shapes.map(\.n).max() ?? 1)])
        var flops = 0.0
        let t0 = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            for (i, (n, k)) in shapes.enumerated() {
                sgemm(transB: true, m: m, n: n, k: k, a: operands[i].a.pointer, lda: k, b: operands[i].b.pointer, ldb: k,
                      c: c.mutablePointer, ldc: n)
                flops += 2 * Double(m) * Double(n) * Double(k)
            }
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        } while elapsed < seconds
        return flops / elapsed / 1e9
    }
}

extension SGEMMBench {
    /// `--component attention --shape B,Nq,Nk,H,D`: one `attention` call on random q, k, v
    /// ([B, N, H*D]); GFLOP/s over its two products (4 x B x H x Nq x Nk x D), next to plain
    /// sgemm on the same total work as one [B*Nq, Nk] x [Nk, H*D]-sized product.
    /// STDiT3-XL/2's attention calls in one forward with CFG batch 2 (16 heads of 72): spatial
    /// (frames x 2 sequences of H*W/4 tokens), temporal (places x 2 sequences of 15 frames) and
    /// cross (2 x all tokens vs 300 caption tokens), at 144p (latent 15x18x32: 9x16 patches) and
    /// 240p (15x30x53: 15x27 patches).
    static let stdit3AttentionShapes: [(name: String, shape: String)] = [
        ("stdit3-144p-spatial", "30,144,144,16,72"), ("stdit3-144p-temporal", "288,15,15,16,72"),
        ("stdit3-144p-cross", "2,2160,300,16,72"), ("stdit3-240p-spatial", "30,405,405,16,72"),
        ("stdit3-240p-temporal", "810,15,15,16,72"), ("stdit3-240p-cross", "2,6075,300,16,72"),
    ]

    static func attention(shape: String, name: String, repeats: Int) throws -> String {
        let d = try InputLimits.shape(shape, count: 5, layout: "B,Nq,Nk,heads,headDim (attention)")
        let (b, nq, nk, h, hd) = (d[0], d[1], d[2], d[3], d[4])
        // q, the output, k and v, and one [Nq, Nk] score block per worker thread.
        try InputLimits.requireMemory(2 * InputLimits.bytes([b, nq, h, hd]) + 2 * InputLimits.bytes([b, nk, h, hd])
                                      + Double(Runtime.threads) * InputLimits.bytes([nq, nk]), for: "--shape \(shape) (attention)")
        HeapTuning.retainFreedMemory()      // as in the models: the output buffer is reused, not re-faulted
        var rng = SplitMix64(seed: 5)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(Double(rng.next() >> 11) / 4503599627370496 - 1) })
        }
        let q = random([b, nq, h * hd]), k = random([b, nk, h * hd]), v = random([b, nk, h * hd])
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = TensorCore.attention(q: q, k: k, v: v, heads: h, scale: Float(1 / Double(hd).squareRoot()))
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let flops = 4.0 * Double(b * h * nq * nk * hd)
        return #"{"component":"attention","name":"\#(name)","shape":[\#(b),\#(nq),\#(nk),\#(h),\#(hd)],"seconds":\#(best),"gflops":\#(flops / best / 1e9),\#(runtimeJSONFields)}"#
    }
}
