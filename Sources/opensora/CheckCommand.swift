import ArgumentParser
import Foundation
import GoldenCheck
import TensorCore

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run golden reference cases and compare the engine's outputs with PyTorch's.",
        discussion: """
        Each CASE is a .json file from the golden set (with its .io.safetensors and weights beside it). \
        For every output the command prints max abs and max relative error and PASS/FAIL against the \
        case's tolerance. Exit status 0 only if every output of every case passes.
        """)

    @Argument(help: "Case files (NAME.json).")
    var cases: [String]

    @Flag(help: "Sampler cases: feed the sampler the recorded model outputs instead of running the model.")
    var replay = false

    @Option(help: "Read the model weights from this file, folder or index instead of the case's own weights.")
    var weights: String?

    @Option(help: "stdit3, stdit2, stdit, mmdit cases: run the blocks' linears as none (float32, default) or int8; int8 outputs pass on relative L2 error <= 5e-2 (docs/quantization.md).")
    var quantize: String?

    @Flag(help: "Also print a digest of each engine output's bytes (FNV-1a of its float32 bits): runs at other --threads or on other machines give the same digests.")
    var digests = false

    @OptionGroup var threads: ThreadsOption

    func run() throws {
        var quantization = Quantization.none
        try runReportingErrors(exitCode: 2) {
            try threads.apply()
            quantization = try Quantization(option: quantize ?? "none")
        }
        var allPassed = true
        for path in cases {
            do {
                let c = try GoldenCase(path: path)
                print("\(c.name) (\(c.kind))\(replay ? " [replay]" : "")\(quantization == .none ? "" : " [\(quantization.rawValue)]")")
                let results = try GoldenRunner.run(c, options: CheckOptions(replay: replay, weights: weights, quantization: quantization))
                for r in results { print(digests ? "\(r) digest=\(r.digestText)" : "\(r)") }
                let ok = results.allSatisfy(\.passed)
                print(ok ? "PASS \(c.name)" : "FAIL \(c.name)")
                allPassed = allPassed && ok
            } catch {
                print("FAIL \(path): \(error)")
                allPassed = false
            }
        }
        if !allPassed { throw ExitCode(1) }
    }
}
