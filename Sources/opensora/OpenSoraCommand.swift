// The `opensora` command line: generate videos, check golden cases, inspect weights, benchmark.

import ArgumentParser
import Foundation

@main
struct OpenSoraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opensora",
        abstract: "Open-Sora text-to-video inference on the CPU.",
        discussion: """
        Runs the Open-Sora model family (v1.2: T5-XXL text encoder, STDiT3 denoiser, 3D VAE) with \
        real checkpoints. See docs/usage.md.
        """,
        subcommands: [GenerateCommand.self, GenerateImageCommand.self, DecodeCommand.self, CheckCommand.self, WeightsCommand.self,
                      BenchCommand.self, EncodeTextCommand.self, VAECommand.self])
}

/// Errors the CLI prints as one line and exits non-zero with.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs `body`, printing any error as one line on stderr and exiting with `code`.
func runReportingErrors(exitCode code: Int32 = 1, _ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(code)
    }
}
