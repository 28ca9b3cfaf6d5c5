import ArgumentParser
import Foundation
import Pipeline
import TensorCore
import VideoIO

struct GenerateImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-image",
        abstract: "Generate ImageNet-class images with DiT (facebookresearch/DiT's sample.py).",
        discussion: """
        Settings come from --model NAME (configs/NAME.yaml: dit-xl2-256, dit-xl2-512) or --config FILE; \
        each flag overrides its config key. The DiT checkpoint is the published .pt (see docs/dit.md), \
        the VAE stabilityai/sd-vae-ft-mse or -ema (./weights/sd-vae-ft-<vae>/ or the Hugging Face cache).

        Examples:
          opensora generate-image --model dit-xl2-256 --weights DiT-XL-2-256x256.pt -o grid.png
          opensora generate-image --model dit-xl2-256 --class-labels 207,360 --sampler ddim --num-sampling-steps 50 -o dogs.png
          opensora generate-image --model dit-xl2-512 --format png -o sample   (sample_0000.png, ...)
        """)

    @Option(name: .long, help: "Model preset: configs/NAME.yaml (dit-xl2-256, dit-xl2-512).")
    var model: String?
    @Option(name: .long, help: "YAML config file (instead of --model).")
    var config: String?
    @Option(name: .long, help: "DiT checkpoint (.pt state dict, train.py checkpoint, or .safetensors).")
    var weights: String?
    @Option(name: .long, help: "Comma-separated ImageNet class ids, one image each.")
    var classLabels: String?
    @Option(name: .long, help: "Classifier-free guidance scale.")
    var cfgScale: Double?
    @Option(name: .long, help: "Sampling steps (create_diffusion(str(N))).")
    var numSamplingSteps: Int?
    @Option(name: .long, help: "ddpm (p_sample_loop) or ddim (ddim_sample_loop).")
    var sampler: String?
    @Option(name: .long, help: "DDIM eta (ddim only).")
    var eta: Double?
    @Option(name: .long, help: "VAE: mse or ema (stabilityai/sd-vae-ft-<vae>).")
    var vae: String?
    @Option(name: .long, help: "VAE location: a path or Hugging Face repo id.")
    var vaeWeights: String?
    @Option(name: .long, help: "Image size in pixels (must match the checkpoint).")
    var imageSize: Int?
    @Option(name: .long, help: "Attention heads (not stored in checkpoints; default: the published model's).")
    var numHeads: Int?
    @Option(name: .long, help: "Random seed.")
    var seed: Int?
    @Option(name: .long, help: "Random number generator: torch (torch.manual_seed + torch.randn on the CPU) or native.")
    var rng: String?

    @Option(name: [.short, .long], help: "Output: the grid PNG, or the name stem with --format png.")
    var output: String = "sample.png"
    @Option(name: .long, help: "grid (one PNG like sample.py's save_image, 4 per row) or png (one PNG per image, <stem>_0000.png ...).")
    var format: String = "grid"
    @Flag(name: .long, help: "Replace existing output files.")
    var overwrite = false
    @OptionGroup var threads: ThreadsOption
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        try runReportingErrors {
            try threads.apply()
            guard ["grid", "png"].contains(format) else { throw CLIError("--format must be grid or png, got '\(format)'") }
            if format == "grid", !output.lowercased().hasSuffix(".png") {
                throw CLIError("-o \(output): the grid is a PNG; give a name ending in .png (or --format png for one file per image)")
            }
            let cfg = try resolvedConfig()
            let stem = output.lowercased().hasSuffix(".png") ? String(output.dropLast(4)) : output
            let outputs = format == "grid" ? [output] : PNGWriter.framePaths(base: stem, count: cfg.classLabels.count)
            for o in outputs {
                try FileChecks.checkOutput(o, inputs: [cfg.weights] + [cfg.vaeWeights].compactMap { $0 }, overwrite: overwrite, what: "-o")
            }

            InterruptHandler.install()
            HeapTuning.retainFreedMemory()
            let generator = try ImageGenerator(config: cfg)
            let progress = ProgressPrinter(enabled: !quiet && isatty(STDERR_FILENO) != 0)
            let start = DispatchTime.now().uptimeNanoseconds
            let images = try generator.generate { step, of in
                progress.step(step, of: of, batch: 1, batches: 1, elapsed: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            progress.finish()
            if format == "grid" {
                try PNGWriter.write(try RGBImage(grid: images, columns: 4), to: output, overwrite: overwrite)
                print("wrote \(output)")
            } else {
                let perImage = try (0..<images.shape[0]).map { i in
                    try RGBImage(perImageTensor: narrow(images, axis: 0, i..<(i + 1)).reshaped(Array(images.shape.dropFirst())))
                }
                let paths = try PNGWriter.writeFrames(try RGBVideo(frames: perImage), base: stem, overwrite: overwrite)
                print("wrote \(paths.count) images: \(paths.first!) ... \((paths.last! as NSString).lastPathComponent)")
            }
        }
    }

    /// configs/<model>.yaml or --config, then the flags.
    func resolvedConfig() throws -> ImageGenerationConfig {
        if model != nil && config != nil { throw CLIError("give --model or --config, not both") }
        var c: ImageGenerationConfig
        if let config {
            c = try ImageGenerationConfig.load(path: config)
        } else {
            let name = model ?? "dit-xl2-256"
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }),
                  let path = RepositoryFile.locate("configs/\(name).yaml") else {
                throw CLIError("--model \(name): no configs/\(name).yaml beside the engine (known: dit-xl2-256, dit-xl2-512); or pass --config FILE")
            }
            c = try ImageGenerationConfig.load(path: path)
        }
        if let weights { c.weights = weights }
        if let classLabels {
            c.classLabels = try classLabels.split(separator: ",", omittingEmptySubsequences: false).map { part in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
                    throw CLIError("--class-labels takes comma-separated integers, got '\(part)' in '\(classLabels)'")
                }
                return v
            }
        }
        if let cfgScale { c.cfgScale = cfgScale }
        if let numSamplingSteps { c.numSamplingSteps = numSamplingSteps }
        if let sampler {
            guard let k = ImageSamplerKind(rawValue: sampler.lowercased()) else { throw CLIError("--sampler must be ddpm or ddim, got '\(sampler)'") }
            c.sampler = k
        }
        if let eta { c.eta = eta }
        if let vae { c.vae = vae.lowercased() }
        if let vaeWeights { c.vaeWeights = vaeWeights }
        if let imageSize { c.imageSize = imageSize }
        if let numHeads { c.numHeads = numHeads }
        if let seed { c.seed = seed }
        if let rng {
            guard let k = RNGKind(rawValue: rng.lowercased()) else { throw CLIError("--rng must be torch or native, got '\(rng)'") }
            c.rng = k
        }
        try c.validate()
        return c
    }
}
