// `--threads N`, the same for every command that computes: the engine's loops and GEMM slices
// run on N workers; the output bytes are the same at any N (docs/configuration.md).

import ArgumentParser
import Pipeline
import TensorCore

struct ThreadsOption: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Threads (default: all cores; the output is the same at any count).")
    var threads: Int?

    /// Checks the count and applies it; call first in `run()`.
    func apply() throws {
        guard let threads else { return }
        try InputLimits.require("--threads", threads, in: InputLimits.threads)
        Runtime.setThreads(threads)
    }
}
