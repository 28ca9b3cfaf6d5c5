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
                             "vae-v1.2-decode", "t5-xxl", "vae-v1.2-numerics", "conv"]

    @Option(help: "Component: \(components.joined(separator: ", ")).")
    var component: String = "sgemm"
    @Option(help: "sgemm: M,N,K; conv: N,C,O,T,H,W,kt.")
    var shape: String = "4500,1152,1152"
    @Option(help: ArgumentHelp("Latent size TxHxW (latent frames x height/8 x width/8) for stdit*-xl2, pipeline-*, vae-v1.2-*.",
                               discussion: "Standard runs: stdit3-xl2 and pipeline-v1.2 15x18x32 (144p 2s), stdit2-xl2 and pipeline-v1.1 51x30x53 (240p 2s, 2D VAE: one latent frame per frame), stdit-xl2 16x64x64 (the v1.0 checkpoint's 16x512x512; its position tables are sized to the latent)."))
    var latent: String = "15x18x32"
    @Option(help: "stdit*-xl2: batch (2 = the guidance batch: cond + null caption).")
    var batch: Int = 2
    @Option(help: "stdit*-xl2: real caption tokens per sample (default: all; 300 for stdit3, 200 for stdit2, 120 for stdit).")
    var captionTokens: Int?
    @Option(help: "pipeline-*: sampling steps.")
    var steps: Int = 1
    @Option(help: "vae-v1.2-decode: convolution algorithm (auto, im2col, winograd2, winograd4).")
    var conv: String = "auto"
    @Option(help: "t5-xxl: dtype of the random checkpoint it writes (bf16 or f32).")
    var dtype: String = "bf16"
    @Option(name: .customLong("repeat"), help: "Repeats (best is reported; default 5 for sgemm and conv, 1 for models).")
    var repeat_: Int?
    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func run() throws {
        try runReportingErrors {
            if let threads { Runtime.setThreads(threads) }
            if let pipeline = PipelineBench(rawValue: component) {
                return try pipeline.run(latentSpec: latent, steps: steps)
            }
            if let denoiser = BenchDenoiser(rawValue: component) {
                return try DenoiserBench.run(denoiser, latent: latent, batch: batch, captionTokens: captionTokens, repeats: repeat_ ?? 1)
            }
            switch component {
            case "sgemm":
                let dims = shape.split(separator: ",").compactMap { Int($0) }
                guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else { throw CLIError("--shape must be M,N,K with positive integers, got '\(shape)'") }
                let (m, n, k) = (dims[0], dims[1], dims[2])
                let a = Tensor(repeating: 0.5, shape: [m, k]), b = Tensor(repeating: 0.25, shape: [n, k])
                var c = Tensor(zeros: [m, n])
                var best = Double.infinity
                for _ in 0..<max(1, repeat_ ?? 5) {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    sgemm(transB: true, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: c.mutablePointer, ldc: n)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                let gflops = 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9
                print(#"{"component":"sgemm","shape":[\#(m),\#(n),\#(k)],"seconds":\#(best),"gflops":\#(gflops),"threads":\#(Runtime.threads),"gemm_threading":"\#(Runtime.gemmThreading.rawValue)"}"#)
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
            default:
                throw CLIError("unknown component '\(component)' (available: \(Self.components.joined(separator: ", ")))")
            }
        }
    }
}
