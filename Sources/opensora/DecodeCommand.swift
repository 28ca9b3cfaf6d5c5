import ArgumentParser
import Foundation
import Pipeline
import TensorCore

/// `opensora decode`: latents saved by `generate --save-latents` to videos, later or on another machine.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode latents saved by `generate --save-latents` into videos.",
        discussion: """
        Each latent file carries the config that made it (the VAE, frames, size, fps, output format), \
        so decoding needs only the VAE weights: the path recorded in the file, or --vae. \
        See docs/scale-out.md.

        Examples:
          opensora decode out/v_0003.latent.safetensors -o v_0003.mp4
          opensora decode out/*.latent.safetensors --vae /data/weights/vae
        """)

    @Argument(help: "Latent files (NAME.latent.safetensors).")
    var latents: [String]
    @Option(name: [.short, .long], help: "Output file (one latent only; default: the latent's name with .mp4, or .png for one frame).")
    var output: String?
    @Option(name: .long, help: "VAE weights to use instead of the path recorded in the latent file.")
    var vae: String?
    @Flag(name: .long, help: "Replace existing output files.")
    var overwrite = false
    @OptionGroup var threads: ThreadsOption

    func run() throws {
        try runReportingErrors {
            try threads.apply()
            guard !latents.isEmpty else { throw CLIError("no latent file given") }
            if output != nil && latents.count > 1 { throw CLIError("--output names one file; \(latents.count) latent files were given (leave -o out to name each after its latent)") }
            if let output { try FileChecks.checkOutput(output, inputs: latents, overwrite: true, what: "--output") }   // existing files: planOutputs
            // Read and check every file before decoding any.
            var jobs: [(config: GenerationConfig, latent: Tensor, output: String)] = []
            for path in latents {
                let file = try LatentFile.read(path)
                var config = file.config
                if let vae { config.vae.path = vae }
                try file.checkVAE(config: config, latentPath: path)
                let out = output ?? Self.defaultOutput(latent: path, config: config)
                config.output.path = out
                config.output.overwrite = overwrite
                jobs.append((config, file.latent, out))
            }
            for job in jobs {
                let generator = try VideoGenerator(config: job.config)
                try generator.decodeAndWrite([(job.latent, job.output)])
                print("wrote \(job.output)")
            }
        }
    }

    static func defaultOutput(latent path: String, config: GenerationConfig) -> String {
        var stem = path
        if stem.hasSuffix(".latent.safetensors") { stem = String(stem.dropLast(".latent.safetensors".count)) }
        else if stem.hasSuffix(".safetensors") { stem = String(stem.dropLast(".safetensors".count)) }
        return stem + (config.resolvedOutputFormat == .png && config.numFrames == 1 ? ".png" : ".mp4")
    }
}
