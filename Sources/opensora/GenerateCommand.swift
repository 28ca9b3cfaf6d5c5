import ArgumentParser
import Foundation

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a video from a text prompt (text-to-video) or from an image (image-to-video).")

    @Option(name: .long, help: "Prompt text (repeatable).")
    var prompt: [String] = []

    func run() throws {
        FileHandle.standardError.write(Data("""
        error: generate is not implemented yet: the pipeline (T5 + STDiT3 + VAE + sampler) has not landed.
        Track it in the pipeline issue; `opensora check` runs the components that exist.

        """.utf8))
        throw ExitCode(2)
    }
}

struct EncodeTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-text",
        abstract: "Encode a prompt with the T5 encoder and print the embedding's shape and a checksum.")
    @Argument var text: String
    func run() throws {
        FileHandle.standardError.write(Data("error: encode-text is not implemented yet (T5 encoder pending)\n".utf8))
        throw ExitCode(2)
    }
}
