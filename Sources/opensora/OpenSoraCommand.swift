// The `opensora` command line: generate videos, check golden cases, inspect weights, benchmark.

import ArgumentParser
import Foundation

@main
struct OpenSoraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opensora",
        abstract: "Open-Sora text-to-video inference on the CPU.",
        discussion: """
        Runs the Open-Sora family with its real checkpoints: v1.0, v1.1 and v1.2 (T5-XXL; STDiT, \
        STDiT2, STDiT3; the 2D sd-vae and v1.2's 3D VAE), 2.0 (T5-XXL + CLIP-L, the 11B MMDiT, \
        HunyuanVideo's VAE or the Video DC-AE), and DiT's class-conditional image models. See \
        docs/usage.md.
        """,
        version: VersionText.text,
        subcommands: [GenerateCommand.self, GenerateImageCommand.self, DecodeCommand.self, CheckCommand.self, WeightsCommand.self,
                      BenchCommand.self, EncodeTextCommand.self, VAECommand.self])

    /// Options that take several values (`--image-size H W`) stop at the first argument that starts
    /// with '-', so a negative value read as "Missing value"; attached as `--image-size=V`, each
    /// reaches the option and its range check names it.
    static let multiValueOptions: Set<String> = ["--image-size"]

    static func main() {
        var args: [String] = []
        var pending: (option: String, attached: Int)?     // a multi-value option and how many values it took
        for (i, arg) in CommandLine.arguments.dropFirst().enumerated() {
            if arg == "--" { args += CommandLine.arguments.dropFirst(i + 1); pending = nil; break }
            if let p = pending, Int(arg) != nil {
                args.append("\(p.option)=\(arg)")
                pending = (p.option, p.attached + 1)
                continue
            }
            if let p = pending, p.attached == 0 { args.append(p.option) }   // no value: the parser says so
            pending = multiValueOptions.contains(arg) ? (arg, 0) : nil
            if pending == nil { args.append(arg) }
        }
        if let p = pending, p.attached == 0 { args.append(p.option) }
        main(args)
    }
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
