import ArgumentParser
import Dispatch
import Foundation
import Pipeline
import TensorCore
import VideoIO

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate videos from text prompts (text-to-video) or from an image (image-to-video).",
        discussion: """
        Settings come from --config (YAML, see docs/configuration.md); every flag below overrides its \
        config field and uses Open-Sora's own option name. Without --config the engine uses the \
        Open-Sora v1.2 defaults when the real weights are found (a path in the config, ./weights/, \
        or the Hugging Face cache), and otherwise the embedded demo model of configs/demo.yaml (64x64, \
        17 frames, simple shapes and motions; docs/demo.md), saying so.

        Examples:
          opensora generate --prompt "a yellow square moving up on a purple background"
          opensora generate --prompt "a red ball bouncing on a beach" --resolution 144p --num-frames 2s
          opensora generate --config configs/tiny.yaml --prompt "a red ball" --output out.mp4
          opensora generate --prompt "waves" --image first-frame.png --output waves.mp4
          opensora generate --prompt "a car" --reference-path "a.png;b.png" --mask-strategy "0;0,1,0,-1,1" --loop 2
          opensora generate --config configs/opensora-v2.0-256px.yaml --prompt "a red ball" --num-frames 33
          opensora generate --config configs/opensora-v2.0-256px.yaml --prompt "waves" --cond-type i2v_head --ref first.png
        """)

    @Option(name: .long, parsing: .unconditionalSingleValue, help: "Prompt (repeatable); taken as given, even when it starts with -.")
    var prompt: [String] = []
    @Option(name: .long, help: "Text file with one prompt per line; - reads them from standard input.")
    var promptPath: String?
    @Option(name: .long, help: "YAML config file (default: v1.2 defaults with real weights, else configs/demo.yaml).")
    var config: String?

    @Option(name: .long, help: "Resolution preset: 144p, 240p, 360p, 480p, 720p, ...")
    var resolution: String?
    @Option(name: .long, help: "Aspect ratio, height:width (9:16, 16:9, 1:1, ...).")
    var aspectRatio: String?
    @Option(name: .long, parsing: .upToNextOption, help: "Explicit size: --image-size H W.")
    var imageSize: [Int] = []
    @Option(name: .long, parsing: .unconditional, help: "Frames: a count, or 2s / 4s / 8s / 16s.")
    var numFrames: String?
    @Option(name: .long, parsing: .unconditional, help: "Frame rate the model is conditioned on.")
    var fps: Int?
    @Option(name: .long, parsing: .unconditional, help: "Frame rate of the written video.")
    var saveFps: Int?
    @Option(name: .long, parsing: .unconditional, help: "Random seed; -1 picks one at random and prints it.")
    var seed: Int?
    @Option(name: .long, help: "Random number generator: torch (bit-exact with torch.randn on the CPU) or native.")
    var rng: String?
    @Option(name: .long, parsing: .unconditional, help: "Denoising steps.")
    var numSamplingSteps: Int?
    @Option(name: .long, parsing: .unconditional, help: "Classifier-free guidance scale.")
    var cfgScale: Double?
    @Option(name: .long, parsing: .unconditional, help: "Aesthetic score appended to the prompt (v1.2), or 'none'.")
    var aes: String?
    @Option(name: .long, parsing: .unconditional, help: "Motion score appended to the prompt, or 'none'.")
    var flow: String?
    @Option(name: .long, help: "Camera motion appended to the prompt (pan right, zoom in, static, ...).")
    var cameraMotion: String?
    @Option(name: .long, parsing: .unconditional, help: "Prompts denoised together.")
    var batchSize: Int?
    @Option(name: .long, parsing: .unconditional, help: "Videos per prompt.")
    var numSample: Int?
    @Option(name: .long, help: "Weight precision for STDiT and the VAE: fp32, bf16, fp16.")
    var dtype: String?
    @Option(name: .long, help: "Step caching: none (exact, default), teacache[:THRESHOLD] (default 0.1) or pab (docs/caching.md).")
    var cache: String?
    @Option(name: .long, help: "The denoiser blocks' linears: none (float32, exact, default) or int8 (W8A8, ~2-5x faster linears, rel. L2 error ~1e-2 per forward; docs/quantization.md).")
    var quantize: String?

    @Option(name: .long, help: "Reference image (PNG or JPEG) for image-to-video: it becomes the first frame.")
    var image: String?
    @Option(name: .long, help: "Open-Sora reference_path of a prompt: ';'-separated images and/or videos (repeatable: one per prompt, or one for all).")
    var referencePath: [String] = []
    @Option(name: .long, help: "Open-Sora mask_strategy of a prompt: 'loop,ref,ref_start,target_start,length,edit_ratio;...' in latent frames (repeatable like --reference-path; default with --image: \"0\").")
    var maskStrategy: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Loops: each later loop continues the video from the previous one's last --condition-frame-length latent frames.")
    var loop: Int?
    @Option(name: .long, parsing: .unconditional, help: "Latent frames carried from one loop to the next (5, 10, ...; default 5).")
    var conditionFrameLength: Int?
    @Option(name: .long, parsing: .unconditional, help: "edit_ratio of the carried frames: 0 keeps them (default), up to 1 re-generates them.")
    var conditionFrameEdit: Double?
    @Option(name: .long, help: "Snap mask_strategy starts to multiples of this many latent frames (v1.2: 5), or 'none'.")
    var align: String?

    @Option(name: .long, help: "Open-Sora 2.0: t2v, i2v_head, i2v_tail, i2v_loop, v2v_head, v2v_tail, v2v_head_easy or v2v_tail_easy.")
    var condType: String?
    @Option(name: .long, help: "Open-Sora 2.0: the image or video the --cond-type conditions on (repeatable: one per prompt, or one for all; i2v_loop: \"first.png;last.png\").")
    var ref: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Open-Sora 2.0: motion score appended to the prompt (the configs use 4), or 'none'.")
    var motionScore: String?
    @Option(name: .long, parsing: .unconditional, help: "Open-Sora 2.0: text guidance scale (7.5).")
    var guidance: Double?
    @Option(name: .long, parsing: .unconditional, help: "Open-Sora 2.0: image guidance scale (3.0).")
    var guidanceImg: Double?

    @Option(name: [.short, .long], help: "Output file (.mp4, .png) or name stem.")
    var output: String?
    @Option(name: .long, help: "Output format: mp4, png (numbered frames), or auto.")
    var format: String?
    @Flag(name: .long, help: "Replace existing output files.")
    var overwrite = false
    @OptionGroup(title: "Scale-out")
    var scaleOut: ScaleOutOptions

    @OptionGroup var threads: ThreadsOption
    @Flag(name: .long, help: "No progress output.")
    var quiet = false
    @Flag(name: .long, help: "Print per-stage time and peak memory.")
    var verbose = false
    @Flag(name: .long, help: "Print the resolved config (YAML, every key) and exit.")
    var printConfig = false

    func run() throws {
        try runReportingErrors {
            try threads.apply()
            var cfg = try loadConfig()
            if cfg.denoiser.type.isOpenSora2, let image {
                throw CLIError("--image \(image): Open-Sora 1.x's image-to-video; with an Open-Sora 2.0 config use --cond-type i2v_head --ref \(image)")
            }
            try cfg.apply(overrides: try overrides())
            if printConfig {
                print(cfg.yamlText(), terminator: "")
                return
            }
            let prompts = try collectPrompts(cfg)
            // One --reference-path / --mask-strategy for a whole prompt file: the same for every prompt.
            if cfg.referencePaths.count == 1 && prompts.count > 1 { cfg.referencePaths = Array(repeating: cfg.referencePaths[0], count: prompts.count) }
            if cfg.maskStrategies.count == 1 && prompts.count > 1 { cfg.maskStrategies = Array(repeating: cfg.maskStrategies[0], count: prompts.count) }
            let scaled = try scaleOut.prepare(&cfg, prompts: prompts) { text in
                if !quiet { FileHandle.standardError.write(Data("note: \(text)\n".utf8)) }
            }
            let generator = try VideoGenerator(config: cfg)
            scaled?.attach(to: generator)
            InterruptHandler.install()
            HeapTuning.retainFreedMemory()      // large per-layer buffers are reused, not unmapped (~15% faster)

            let progress = ProgressPrinter(enabled: !quiet && isatty(STDERR_FILENO) != 0)
            _ = try generator.generate(prompts: prompts) { event in
                switch event {
                case let .samplingStep(step, of, batch, batches, elapsed):
                    progress.step(step, of: of, batch: batch, batches: batches, elapsed: elapsed)
                case let .stageStarted(name):
                    progress.stage(name)
                case let .note(text):
                    if !quiet { FileHandle.standardError.write(Data("note: \(text)\n".utf8)) }
                case let .wroteOutput(path):
                    // Said as each file is finished, so a later failure still reports the ones kept.
                    progress.finish()
                    reportWritten(path, frames: cfg.numFrames)
                default: break
                }
            }
            progress.finish()
            if verbose {
                FileHandle.standardError.write(Data("stage               seconds   peak RSS\n".utf8))
                for r in generator.reports {
                    let name = r.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    let line = name + String(format: " %9.2f %7.2f GiB\n", r.seconds, Double(r.peakRSSBytes) / 1_073_741_824)
                    FileHandle.standardError.write(Data(line.utf8))
                }
                if let s = generator.cacheStatistics {
                    FileHandle.standardError.write(Data((cacheSummary(s, method: cfg.cache.method.rawValue) + "\n").utf8))
                }
            }
        }
    }

    /// One "wrote" line, written unbuffered so that it is out before any later failure.
    func reportWritten(_ p: String, frames: Int) {
        var line = "wrote \(p)\n"
        if !(p.hasSuffix(".mp4") || p.hasSuffix(".png")) {
            let names = PNGWriter.framePaths(base: p, count: frames)
            line = "wrote \(frames) frames: \(names.first!) ... \((names.last! as NSString).lastPathComponent)\n"
        }
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    /// --config, or the v1.2 defaults when their weights are here, or the embedded demo model.
    func loadConfig() throws -> GenerationConfig {
        if let config { return try GenerationConfig.load(path: config) }
        let defaults = GenerationConfig.defaults
        if let missing = DefaultWeights.missingComponent(defaults) {
            guard let demo = RepositoryFile.locate("configs/demo.yaml") else {
                throw CLIError("no --config given, the Open-Sora v1.2 weights were not found (\(missing)), and configs/demo.yaml is not beside the engine; run `opensora weights download` or pass --config")
            }
            var c = try GenerationConfig.load(path: demo)
            c.prompts = []
            FileHandle.standardError.write(Data("""
            note: Open-Sora v1.2 weights not found (\(missing)); using the embedded demo model of \(demo): \
            \(c.width)x\(c.height), \(c.numFrames) frames, one shape (circle, square, triangle) in red, green, blue, yellow or white \
            moving left/right/up/down, bouncing, growing or still on a black, gray, blue, green or purple \
            background (docs/demo.md). Get the real weights with `opensora weights download` (docs/weights.md).

            """.utf8))
            return c
        }
        return defaults
    }

    func overrides() throws -> ConfigOverrides {
        var o = ConfigOverrides()
        if !prompt.isEmpty { o.prompts = prompt }
        o.promptPath = promptPath
        o.resolution = resolution
        o.aspectRatio = aspectRatio
        if !imageSize.isEmpty {
            guard imageSize.count == 2 else { throw CLIError("--image-size takes two numbers, H W; got \(imageSize.count)") }
            o.imageSize = imageSize
        }
        o.numFrames = numFrames
        o.fps = fps
        o.saveFPS = saveFps
        o.seed = seed == GenerationConfig.randomSeed ? GenerationConfig.drawSeed() : seed
        o.rng = rng
        o.numSamplingSteps = numSamplingSteps
        o.cfgScale = cfgScale
        if let aes { o.aes = .some(try optionalNumber(aes, flag: "--aes")) }
        if let flow { o.flow = .some(try optionalNumber(flow, flag: "--flow")) }
        if let cameraMotion { o.cameraMotion = .some(cameraMotion.lowercased() == "none" ? nil : cameraMotion) }
        o.batchSize = batchSize
        o.numSample = numSample
        o.dtype = dtype
        o.cache = cache
        o.quantize = quantize
        if let image {
            // One path, never Open-Sora's ';' list: checked whole, before any model loads.
            if let why = FileChecks.notRegularFile(image) { throw CLIError("--image \(image): \(why)") }
            guard referencePath.isEmpty else { throw CLIError("--image and --reference-path both give references: use one") }
            guard maskStrategy.count <= 1 else { throw CLIError("--image takes one --mask-strategy, got \(maskStrategy.count)") }
            o.referencePaths = [image]
            o.maskStrategies = [maskStrategy.first ?? "0"]
        } else {
            // Per prompt; one value stands for every prompt (spread in collectPrompts).
            let spread = { (values: [String]) in values.count == 1 && prompt.count > 1 ? Array(repeating: values[0], count: prompt.count) : values }
            if !referencePath.isEmpty { o.referencePaths = spread(referencePath) }
            if !maskStrategy.isEmpty { o.maskStrategies = spread(maskStrategy) }
        }
        o.loop = loop
        o.conditionFrameLength = conditionFrameLength
        o.conditionFrameEdit = conditionFrameEdit
        if let align { o.align = .some(align.lowercased() == "none" ? nil : try integer(align, flag: "--align")) }
        o.condType = condType
        if !ref.isEmpty {
            let spread = ref.count == 1 && prompt.count > 1 ? Array(repeating: ref[0], count: prompt.count) : ref
            o.ref = spread
        }
        if let motionScore { o.motionScore = .some(motionScore.lowercased() == "none" ? nil : try integer(motionScore, flag: "--motion-score")) }
        o.guidance = guidance
        o.guidanceImg = guidanceImg
        o.outputPath = output
        o.outputFormat = format
        if overwrite { o.overwrite = true }
        return o
    }

    func integer(_ s: String, flag: String) throws -> Int {
        guard let v = Int(s) else { throw CLIError("\(flag) takes a whole number or 'none', got '\(s)'") }
        return v
    }

    func optionalNumber(_ s: String, flag: String) throws -> Double? {
        if s.lowercased() == "none" { return nil }
        guard let v = Double(s), v.isFinite else { throw CLIError("\(flag) takes a number or 'none', got '\(s)'") }
        return v
    }

    /// Prompts from the flags, the prompt file, or the config; one reference image applies to all.
    func collectPrompts(_ cfg: GenerationConfig) throws -> [String] {
        var prompts = cfg.prompts
        if prompts.isEmpty, let path = cfg.promptPath {
            prompts = try PromptFile.read(path)
        }
        guard !prompts.isEmpty else { throw CLIError("no prompt: pass --prompt TEXT or --prompt-path FILE") }
        for (flag, values) in [("--reference-path", cfg.referencePaths), ("--mask-strategy", cfg.maskStrategies)]
        where !values.isEmpty && values.count != 1 && values.count != prompts.count {
            throw CLIError("\(flag) was given \(values.count) times for \(prompts.count) prompts: give it once (for every prompt) or once per prompt")
        }
        if let bad = prompts.firstIndex(where: { $0.utf8.count > 100_000 }) {
            throw CLIError("prompt \(bad + 1) is \(prompts[bad].utf8.count) bytes long; the limit is 100000")
        }
        return prompts
    }
}

/// Whether the weights a config names can be found here.
enum DefaultWeights {
    static func missingComponent(_ c: GenerationConfig) -> String? {
        let checks: [(String, String)] = [(c.textEncoder.path, "t5-v1_1-xxl"), (c.denoiser.path, "stdit3-xl2-v1.2"), (c.vae.path, "vae-v1.2")]
        for (spec, component) in checks {
            if (try? WeightLocator.resolve(spec, component: component, option: "")) == nil { return component }
        }
        return nil
    }
}

/// Progress on stderr: one updating line per sampling step with elapsed time and ETA.
final class ProgressPrinter {
    let enabled: Bool
    private var active = false
    init(enabled: Bool) { self.enabled = enabled }

    func stage(_ name: String) {
        guard enabled else { return }
        end()
        FileHandle.standardError.write(Data("[\(name)]\n".utf8))
    }

    func step(_ i: Int, of n: Int, batch: Int, batches: Int, elapsed: Double) {
        guard enabled else { return }
        let eta = elapsed / Double(i) * Double(n - i)
        let b = batches > 1 ? " batch \(batch)/\(batches)" : ""
        FileHandle.standardError.write(Data(String(format: "\rsampling%@ step %d/%d  %.1fs elapsed, ETA %.1fs   ", b, i, n, elapsed, eta).utf8))
        active = true
    }

    func finish() { end() }

    private func end() {
        if active { FileHandle.standardError.write(Data("\n".utf8)); active = false }
    }
}

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP: remove partial outputs and the folders made for them,
/// and exit 128 + the signal number, the shell's convention (130, 143, 129).
enum InterruptHandler {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func install() {
        guard sources.isEmpty else { return }
        // A full disk or a file-size limit must fail the write (EFBIG), not kill the process
        // before it can remove its partial output.
        signal(SIGXFSZ, SIG_IGN)
        for (sig, name) in [(SIGINT, "interrupted"), (SIGTERM, "terminated (SIGTERM)"), (SIGHUP, "hung up (SIGHUP)")] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                PendingOutputs.removeAll()
                FileHandle.standardError.write(Data("\n\(name): partial output removed\n".utf8))
                _exit(128 + sig)   // not exit(): other threads are mid-computation; skip atexit teardown
            }
            // The source is registered asynchronously, and until then the signal is ignored:
            // wait for it, so a signal right after install() is never lost.
            let registered = DispatchSemaphore(value: 0)
            s.setRegistrationHandler { registered.signal() }
            s.resume()
            _ = registered.wait(timeout: .now() + 2)
            sources.append(s)
        }
    }
}
