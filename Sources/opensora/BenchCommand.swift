import ArgumentParser
import Foundation
import TensorCore
import T5
import Weights

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark components with random weights of the real shapes; prints one JSON object per run.")

    static let components = ["sgemm", "pipeline-v1.2", "pipeline-v1.1", "stdit3-xl2", "stdit2-xl2", "stdit-xl2",
                             "vae-v1.2-decode", "t5-xxl", "vae-v1.2-numerics", "conv", "attention", "dit-xl2",
                             "hunyuan-vae-decode", "dc-ae-decode",
                             "mmdit-v2", "int8-gemm"]

    @Option(help: "Component: \(components.joined(separator: ", ")).")
    var component: String = "sgemm"
    @Option(name: .customLong("shape"), help: "sgemm: M,N,K (default 4500,1152,1152); conv: N,C,O,T,H,W,kt; attention: B,Nq,Nk,heads,headDim (default: STDiT3's spatial, temporal and cross attention at 144p and 240p).")
    var shapeOption: String?
    var shape: String { shapeOption ?? "4500,1152,1152" }
    @Option(name: .customLong("latent"), help: ArgumentHelp("Latent size TxHxW (latent frames x height/8 x width/8) for stdit*-xl2, pipeline-*, vae-v1.2-* (default 15x18x32); SxS for dit-xl2 (default 32x32); T,H,W for hunyuan-vae-decode (default 33,32,32: 129 frames of 256px) and dc-ae-decode (default 33,8,8); T,H,W latent frames x latent height x width for mmdit-v2 (default 9,32,32: 33 frames of 256px).",
                               discussion: "Standard runs: stdit3-xl2 and pipeline-v1.2 15x18x32 (144p 2s), stdit2-xl2 and pipeline-v1.1 51x30x53 (240p 2s, 2D VAE: one latent frame per frame), stdit-xl2 16x64x64 (the v1.0 checkpoint's 16x512x512; its position tables are sized to the latent)."))
    var latentOption: String?
    var latent: String { latentOption ?? Self.defaultLatent[component] ?? "15x18x32" }
    static let defaultLatent = ["dit-xl2": "32x32", "hunyuan-vae-decode": "33,32,32", "dc-ae-decode": "33,8,8",
                                "mmdit-v2": "9,32,32"]
    @Option(name: .customLong("batch"), parsing: .unconditional, help: "stdit*-xl2: batch (default 2 = the guidance batch: cond + null caption); dit-xl2: images (the model runs on twice as many rows).")
    var batchOption: Int?
    var batch: Int { batchOption ?? 2 }
    @Option(parsing: .unconditional, help: "stdit*-xl2: real caption tokens per sample (default: all; 300 for stdit3, 200 for stdit2, 120 for stdit).")
    var captionTokens: Int?
    @Option(name: .customLong("steps"), parsing: .unconditional, help: "pipeline-*: sampling steps (default 1); stdit3-xl2: steps of a denoise-only sampling run (rectified flow, guidance batch) instead of one forward.")
    var stepsOption: Int?
    var steps: Int { stepsOption ?? 1 }
    @Option(name: .customLong("cache"), help: "pipeline-*, stdit3-xl2 with --steps: step caching, none, teacache[:THRESHOLD] or pab (default none; docs/caching.md).")
    var cacheOption: String?
    var cache: String { cacheOption ?? "none" }
    @Option(help: "stdit3-xl2 with --steps: take the timesteps of this latent's video size (TxHxW) instead of --latent's.")
    var scheduleLatent: String?
    @Option(name: .customLong("conv"), help: "vae-v1.2-decode: convolution algorithm (auto, im2col, winograd2, winograd4; default auto).")
    var convOption: String?
    var conv: String { convOption ?? "auto" }
    @Option(name: .customLong("dtype"), help: "t5-xxl: dtype of the random checkpoint it writes (bf16 or f32; default bf16); dit-xl2: of its random weights (f32, as published, or bf16; default f32).")
    var dtypeOption: String?
    var dtype: String { dtypeOption ?? (component == "dit-xl2" ? "f32" : "bf16") }
    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "Repeats (best is reported; default 5 for sgemm and conv, 1 for models).")
    var repeat_: Int?
    @Option(name: .customLong("sgemm-window"), parsing: .unconditional, help: "stdit*-xl2, mmdit-v2: seconds of plain sgemm on the model's linear shapes measured before and after each forward (the reference rate; default 5).")
    var sgemmWindowOption: Double?
    var sgemmWindow: Double { sgemmWindowOption ?? 5 }
    @Option(parsing: .unconditional, help: "mmdit-v2: run N double + N single blocks of the real width and extrapolate the 19 + 38 (default: all).")
    var blocks: Int?
    @Option(name: .customLong("quantize"), help: "stdit*-xl2: the blocks' linears as none (float32, default) or int8; a comma list (none,int8) runs each in turn, one JSON line each (docs/quantization.md).")
    var quantizeOption: String?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?

    func run() throws {
        try runReportingErrors {
            try checkOptionsApply()
            if let threads {
                try InputLimits.require("--threads", threads, in: InputLimits.threads)
                Runtime.setThreads(threads)
            }
            try InputLimits.require("--sgemm-window", sgemmWindow, in: 0...3600)
            if let pipeline = PipelineBench(rawValue: component) {
                return try pipeline.run(latentSpec: latent, steps: steps, cache: cache)
            }
            if component == BenchDenoiser.stdit3.rawValue && (steps > 1 || cache != "none" || scheduleLatent != nil) {
                guard repeat_ == nil else { throw CLIError("--repeat applies to one forward; a sampling run (--steps, --cache, --schedule-latent) runs once") }
                guard quantizeOption == nil else { throw CLIError("--quantize applies to one forward; a sampling run (--steps, --cache, --schedule-latent) is float32 only") }
                return try SamplingBench.run(latent: latent, scheduleLatent: scheduleLatent, steps: steps, cache: cache, captionTokens: captionTokens)
            }
            if let denoiser = BenchDenoiser(rawValue: component) {
                guard sgemmWindow > 0 else { throw CLIError("--sgemm-window must be positive, got \(sgemmWindow)") }
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
                guard let mpath = WeightsManifest.locateDefault() else { throw CLIError("weights-manifest.json not found (set OPENSORA_MANIFEST)") }
                guard let comp = try WeightsManifest(path: mpath).components["t5-v1_1-xxl"] else { throw CLIError("\(mpath) has no t5-v1_1-xxl component") }
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opensora-bench").path
                guard let weightDType = DType(rawValue: dtype.uppercased()), weightDType == .bf16 || weightDType == .f32 else {
                    throw CLIError("--dtype must be bf16 or f32, got '\(dtype)'")
                }
                let r = try T5Benchmark.run(tensors: comp.tensors, directory: dir, weightDType: weightDType) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
                print(r.json)
            case "vae-v1.2-decode":
                guard let alg = ConvAlgorithm(rawValue: conv) else { throw CLIError("--conv must be one of auto, im2col, winograd2, winograd4, got '\(conv)'") }
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
                guard sgemmWindow > 0 else { throw CLIError("--sgemm-window must be positive, got \(sgemmWindow)") }
                try MMDiTBench.run(latent: latent, blocks: blocks, sgemmWindow: sgemmWindow)
            case "hunyuan-vae-decode", "dc-ae-decode":
                print(try V2VAEBench.decode(V2VAEBench.Model(rawValue: component)!, latent: latent))
            default:
                throw CLIError("unknown component '\(component)' (available: \(Self.components.joined(separator: ", ")))")
            }
        }
    }
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
