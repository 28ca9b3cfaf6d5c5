// `opensora vae reconstruct | encode | decode`: run one of the video autoencoders on a real
// clip (as Open-Sora's scripts/vae/inference.py): read it with FFmpeg, encode, decode, write the
// reconstruction and report PSNR / SSIM against the input; or go to and from a latent file.

import ArgumentParser
import Foundation
import Samplers
import TensorCore
import VAE
import VideoIO
import Weights

struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Encode, decode or reconstruct a video with one of the video autoencoders.",
        subcommands: [Reconstruct.self, Encode.self, Decode.self])
}

/// The autoencoders the CLI can run.
enum VAEKind: String, CaseIterable, ExpressibleByArgument {
    case hunyuan, dcAE = "dc-ae", ae2d, openSoraV12 = "opensora-v1.2"
}

struct VAEOptions: ParsableArguments {
    @Option(help: "Autoencoder: \(VAEKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var vae: VAEKind

    @Option(help: "Checkpoint of that autoencoder (safetensors with the reference's tensor names).")
    var weights: String

    @Option(help: "GroupNorm groups (hunyuan, opensora-v1.2: not visible in the checkpoint; default 32).")
    var normGroups: Int?

    @Flag(help: "Turn spatial and temporal tiling off (hunyuan, dc-ae): faster on small clips, more memory on large ones.")
    var noTiling = false

    @Option(help: "Spatial tile in pixels (hunyuan: sample_size, default 256; dc-ae: spatial_tile_size, default 256).")
    var tileSize: Int?

    @Option(help: "Temporal tile in frames (hunyuan: sample_tsize, default 64; dc-ae: temporal_tile_size, default 32).")
    var tileFrames: Int?

    @Flag(help: "Encode with a draw from the posterior instead of its mean (hunyuan, ae2d, opensora-v1.2).")
    var sample = false

    @Option(help: "Seed of the posterior draw (with --sample).")
    var seed: UInt64 = 0

    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        let tiled = vae == .hunyuan || vae == .dcAE
        if !tiled && (noTiling || tileSize != nil || tileFrames != nil) {
            throw ValidationError("--no-tiling, --tile-size and --tile-frames apply to hunyuan and dc-ae, not \(vae.rawValue)")
        }
        if noTiling && (tileSize != nil || tileFrames != nil) { throw ValidationError("--no-tiling contradicts --tile-size / --tile-frames") }
        if normGroups != nil && !(vae == .hunyuan || vae == .openSoraV12) {
            throw ValidationError("--norm-groups applies to hunyuan and opensora-v1.2 (the others fix their groups), not \(vae.rawValue)")
        }
        if let g = normGroups, g <= 0 { throw ValidationError("--norm-groups must be positive, got \(g)") }
        if let t = tileSize, t <= 0 { throw ValidationError("--tile-size must be positive, got \(t)") }
        if let t = tileFrames, t <= 0 { throw ValidationError("--tile-frames must be positive, got \(t)") }
        if sample && vae == .dcAE { throw ValidationError("--sample: the DC-AE is deterministic (it has no posterior to draw from)") }
    }

    /// The model, with the input rule it checks before any compute.
    func load() throws -> LoadedVAE {
        let store = try Checkpoint.open(weights)
        switch vae {
        case .hunyuan:
            var base = HunyuanVAEConfig.openSora2
            if let g = normGroups { base.normGroups = g }
            if noTiling { base.useSpatialTiling = false; base.useTemporalTiling = false }
            if let t = tileSize { base.sampleSize = t }
            if let t = tileFrames { base.sampleTSize = t; base.useTemporalTiling = true }
            let m = try HunyuanVAE(store: store, base: base)
            return LoadedVAE(model: m, check: m.checkVideo) { ($0 - 1) * m.config.timeCompression + 1 }
        case .dcAE:
            var base = VideoDCAEConfig.openSora2
            if noTiling { base.useSpatialTiling = false; base.useTemporalTiling = false }
            if let t = tileSize { base.spatialTileSize = t }
            if let t = tileFrames { base.temporalTileSize = t }
            let m = try VideoDCAE(store: store, base: base)
            return LoadedVAE(model: m, check: m.checkVideo) { $0 == 1 ? 1 : $0 * m.config.timeCompression }
        case .ae2d:
            let m = try Autoencoder2D(store: store)
            let f = m.model.config.downsampleFactor
            return LoadedVAE(model: m, check: { _, h, w in
                guard h % f == 0, w % f == 0 else { throw CLIError("the 2D AE takes heights and widths that are multiples of \(f), got \(w) x \(h)") }
            }, decodedFrames: { $0 })
        case .openSoraV12:
            let g = normGroups ?? 32
            let m = try VideoVAE(store: store, spatialNormGroups: g, temporalNormGroups: g)
            return LoadedVAE(model: m, check: { _, h, w in
                guard h % 8 == 0, w % 8 == 0 else { throw CLIError("the v1.2 VAE takes heights and widths that are multiples of 8, got \(w) x \(h)") }
            }, decodedFrames: { _ in nil })
        }
    }

    var sampling: LatentSampling {
        guard sample else { return .mode }
        let noise = NativeNoise(seed: seed)
        return .sample(noise: { noise.standardNormal($0) })
    }
}

struct LoadedVAE {
    let model: any VideoAutoencoder
    /// Throws a one-line error for a clip (frames, height, width) the model cannot reconstruct.
    let check: (Int, Int, Int) throws -> Void
    /// Frames a latent of t frames decodes to (nil: the model needs to be told, v1.2).
    let decodedFrames: (Int) -> Int?
}

/// Input clip options shared by reconstruct and encode.
struct VideoInputOptions: ParsableArguments {
    @Argument(help: "Input video (any file FFmpeg can decode).")
    var input: String

    @Option(help: "Use only the first N frames.")
    var frames: Int?

    @Option(help: "Resize (bicubic) and centre-crop every frame to HxW first, e.g. 256x256.")
    var resize: String?

    func validate() throws {
        if let f = frames, f <= 0 { throw ValidationError("--frames must be positive, got \(f)") }
    }

    func parseSize(_ s: String) throws -> (h: Int, w: Int) {
        let parts = s.lowercased().split(separator: "x").map { Int($0) }
        guard parts.count == 2, let h = parts[0], let w = parts[1], (1...8192).contains(h), (1...8192).contains(w) else {
            throw CLIError("--resize must be HxW with integers 1 ... 8192, e.g. 256x256, got '\(s)'")
        }
        return (h, w)
    }

    /// The clip as read (and resized), with its frame rate.
    func read() throws -> (video: RGBVideo, fps: Double) {
        let t0 = Date()
        _ = try FileChecks.requireRegularFile(input, what: "input video")
        var (video, info) = try VideoReader.read(input, maxFrames: frames) { n in log("  read \(n) frames") }
        if let f = frames, video.frameCount < f {
            throw CLIError("\(input): --frames \(f), but the video has only \(video.frameCount) frames")
        }
        if let r = resize {
            let (h, w) = try parseSize(r)
            video = try RGBVideo(frames: try (0..<video.frameCount).map { try video.frame($0).resizedToFill(height: h, width: w) })
        }
        log(String(format: "read %@: %d frames of %d x %d at %.2f fps (%@) in %.1f s", input, video.frameCount, video.width,
                   video.height, info.fps, info.codec, Date().timeIntervalSince(t0)))
        return (video, info.fps)
    }
}

/// Progress and timings go to stderr; results to stdout.
func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Runs `body`, logging how long `what` took.
func timed<T>(_ what: String, _ body: () throws -> T) rethrows -> T {
    log("\(what)...")
    let t0 = Date()
    let r = try body()
    log(String(format: "%@ done in %.1f s", what, Date().timeIntervalSince(t0)))
    return r
}

/// What reconstruct and encode share: check the output, load the model, read and check the clip,
/// encode it. -> z: [1, C, t, h, w]
func encodeClip(model: VAEOptions, clip: VideoInputOptions, output: String,
                overwrite: Bool) throws -> (vae: LoadedVAE, video: RGBVideo, fps: Double, z: Tensor) {
    try model.threads.apply()
    if let r = clip.resize { _ = try clip.parseSize(r) }
    try FileChecks.checkOutput(output, inputs: [clip.input, model.weights], overwrite: overwrite, what: "--output")
    let vae = try model.load()
    let (video, fps) = try clip.read()
    try vae.check(video.frameCount, video.height, video.width)
    let x = video.tensor().reshaped([1, 3, video.frameCount, video.height, video.width])   // [1, 3, T, H, W]
    let z = try timed("encoding") { try vae.model.encode(x, sampling: model.sampling) }
    return (vae, video, fps, z)
}

extension VAECommand {
    struct Reconstruct: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode and decode a video; write the reconstruction and print PSNR / SSIM against the input.")

        @OptionGroup var model: VAEOptions
        @OptionGroup var clip: VideoInputOptions

        @Option(name: .shortAndLong, help: "Output MP4.")
        var output: String

        @Flag(help: "Replace an existing output file.")
        var overwrite = false

        func run() throws {
            try runReportingErrors {
                let (vae, video, fps, z) = try encodeClip(model: model, clip: clip, output: output, overwrite: overwrite)
                log("latent \(z.shape)")
                let y = try timed("decoding") { try vae.model.decode(z, numFrames: video.frameCount) }
                let recon = try RGBVideo(tensor: y[0])
                try MP4Writer.write(tensor: y[0], to: output,
                                    options: MP4Writer.Options(fps: max(1, Int(fps.rounded())), overwrite: overwrite))
                let psnr = try VideoQuality.psnr(video, recon), ssim = try VideoQuality.ssim(video, recon)
                print(String(format: "%@: %d frames, PSNR %.2f dB, SSIM %.4f", output, recon.frameCount, psnr, ssim))
            }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Encode a video to a latent safetensors file (tensor 'z').")

        @OptionGroup var model: VAEOptions
        @OptionGroup var clip: VideoInputOptions

        @Option(name: .shortAndLong, help: "Output latent file (.safetensors).")
        var output: String

        @Flag(help: "Replace an existing output file.")
        var overwrite = false

        func run() throws {
            try runReportingErrors {
                let (_, video, fps, z) = try encodeClip(model: model, clip: clip, output: output, overwrite: overwrite)
                let meta = ["vae": model.vae.rawValue, "frames": String(video.frameCount), "height": String(video.height),
                            "width": String(video.width), "fps": String(fps)]
                try SafetensorsWriter().write([SafetensorsWriter.item("z", z)], to: output, metadata: meta)
                print("\(output): latent z \(z.shape)")
            }
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode a latent safetensors file (tensor 'z') to an MP4.")

        @OptionGroup var model: VAEOptions

        @Argument(help: "Latent file with a tensor 'z' [1, C, t, h, w] (as written by 'opensora vae encode').")
        var latent: String

        @Option(name: .shortAndLong, help: "Output MP4.")
        var output: String

        @Option(help: "Frames to keep (default: the encoded clip's count from the file's metadata, else all decoded).")
        var frames: Int?

        @Option(help: "Frames per second of the MP4 (default: the encoded clip's, else 24).")
        var fps: Int?

        @Flag(help: "Replace an existing output file.")
        var overwrite = false

        func validate() throws {
            if let f = frames, f <= 0 { throw ValidationError("--frames must be positive, got \(f)") }
            if let f = fps, !(1...1000).contains(f) { throw ValidationError("--fps must be 1 ... 1000, got \(f)") }
            if model.sample { throw ValidationError("--sample applies to encoding, not decode") }
        }

        func run() throws {
            try runReportingErrors {
                try model.threads.apply()
                try FileChecks.checkOutput(output, inputs: [latent, model.weights], overwrite: overwrite, what: "--output")
                let file = try SafetensorsFile(path: latent)
                guard file.contains("z") else { throw CLIError("\(latent): no tensor 'z' (write one with 'opensora vae encode')") }
                let z = try file.tensor("z")
                let vae = try model.load()
                guard z.rank == 5, z.shape[0] == 1, z.shape[1] == vae.model.latentChannels else {
                    throw CLIError("\(latent): tensor 'z' is \(z.shape); the \(model.vae.rawValue) VAE decodes [1, \(vae.model.latentChannels), t, h, w]")
                }
                let meta = file.metadata
                if let kind = meta["vae"], kind != model.vae.rawValue {
                    throw CLIError("\(latent): encoded with --vae \(kind), decoding with --vae \(model.vae.rawValue)")
                }
                guard let keep = frames ?? Int(meta["frames"] ?? "") ?? vae.decodedFrames(z.shape[2]) else {
                    throw CLIError("\(latent) does not say how many frames it holds: pass --frames")
                }
                let y = try timed("decoding") { try vae.model.decode(z, numFrames: keep) }
                let rate = fps ?? Double(meta["fps"] ?? "").map { max(1, Int($0.rounded())) } ?? 24
                try MP4Writer.write(tensor: y[0], to: output, options: MP4Writer.Options(fps: rate, overwrite: overwrite))
                print("\(output): \(y.shape[2]) frames of \(y.shape[4]) x \(y.shape[3])")
            }
        }
    }
}
