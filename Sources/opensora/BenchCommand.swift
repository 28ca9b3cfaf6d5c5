import ArgumentParser
import Foundation
import TensorCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark components with random weights of the real shapes; prints one JSON object per run.")

    @Option(help: "Component: sgemm, stdit3-xl2.")
    var component: String = "sgemm"
    @Option(help: "Matrix sizes for sgemm as M,N,K.")
    var shape: String = "4500,1152,1152"
    @Option(help: "Latent size TxHxW for stdit3-xl2.")
    var latent: String = "15x18x32"
    @Option(help: "Batch for stdit3-xl2 (2 = the guidance batch: cond + null caption).")
    var batch: Int = 2
    @Option(help: "Real caption tokens per sample for stdit3-xl2 (of 300).")
    var captionTokens: Int = 300
    @Option(name: .customLong("repeat"), help: "Repeats (best is reported; default 5 for sgemm, 1 for models).")
    var repeat_: Int?
    @Option(help: "Threads (default: all cores).")
    var threads: Int?


    func run() throws {
        try runReportingErrors {
            if let threads { Runtime.setThreads(threads) }
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
                print(#"{"component":"sgemm","shape":[\#(m),\#(n),\#(k)],"seconds":\#(best),"gflops":\#(gflops),"threads":\#(Runtime.threads)}"#)
            case "stdit3-xl2":
                try STDiT3Bench.run(latent: latent, batch: batch, captionTokens: captionTokens, repeats: repeat_ ?? 1)
            default:
                throw CLIError("unknown component '\(component)' (available: sgemm, stdit3-xl2)")
            }
        }
    }
}
