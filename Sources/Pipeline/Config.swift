// One generation run's settings: read from YAML (configs/*.yaml, documented key by key in
// docs/configuration.md), overridden by command-line flags, checked, and resolved into the
// numbers the pipeline needs (image size, latent size, prompts with their score suffixes).
// Unset keys take Open-Sora v1.2's inference defaults (configs/opensora-v1-2/inference/sample.py).

import Foundation
import TensorCore
import Yams

/// Precision the reference runs STDiT and the VAE in. The engine computes in float32; bf16/fp16
/// keep weights in that format and round the multi-resolution conditioning like the reference.
public enum ComputeDType: String, Sendable, CaseIterable, ConfigName {
    case fp32, bf16, fp16
    static let kind = ""

    init?(configName name: String) {
        switch name.lowercased() {
        case "fp32", "float32", "float": self = .fp32
        case "bf16", "bfloat16": self = .bf16
        case "fp16", "float16", "half": self = .fp16
        default: return nil
        }
    }
}

/// Where the initial noise comes from.
public enum RNGKind: String, Sendable, CaseIterable, ConfigName {
    static let kind = ""
    /// torch.manual_seed(seed) + torch.randn on the CPU, bit for bit (reproduces reference runs).
    case torch
    /// The engine's own generator: faster, same distribution, different numbers.
    case native
}

public enum OutputFormat: String, Sendable, CaseIterable, ConfigName {
    static let kind = ""
    /// PNG for a single frame (Open-Sora's save_sample), MP4 otherwise.
    case auto
    case mp4
    /// One PNG per frame: `<name>_0000.png`, ...
    case png
}

/// `quantize`: the denoiser blocks' linears in float32 (`none`) or int8 (TensorCore's enum).
extension Quantization: ConfigName {
    static let kind = ""
}

public struct OutputConfig: Equatable, Sendable, Codable {
    /// Output file. With one video it is used as is (an .mp4/.png extension is added if missing);
    /// with several, `_<index>` (and `-<k>` for num_sample > 1) goes before the extension.
    /// A trailing '/' or an existing folder names a folder: the files in it are called `sample...`.
    public var path = "samples/sample"
    public var format = OutputFormat.auto
    /// Replace existing files; otherwise an existing file is an error.
    public var overwrite = false

    public init() {}
}

public struct GenerationConfig: Equatable, Sendable, Codable, FamilyKeyed {
    public var textEncoder = TextEncoderConfig()
    /// Open-Sora 2.0 only: CLIP's pooled text, the MMDiT's vec input.
    public var clip = CLIPConfig()
    public var denoiser = DenoiserConfig()
    public var vae = VAEConfig()
    public var scheduler = SchedulerConfig()

    /// Size preset (144p, 240p, 360p, 480p, 720p, 1080p, 2k, 4k) and H:W aspect ratio, as
    /// get_image_size looks them up. Ignored when `imageSize` is set.
    public var resolution: String? = "240p"
    public var aspectRatio: String? = "9:16"
    /// Explicit [H, W] in pixels.
    public var imageSize: [Int]?
    public var numFrames = 51
    /// fps the model is conditioned on.
    public var fps = 24
    public var frameInterval = 1
    /// fps written to the video file.
    public var saveFPS = 24
    public var seed = 42
    public var batchSize = 1
    /// Videos per prompt.
    public var numSample = 1

    public var prompts: [String] = []
    /// Text file, one prompt per line (used when `prompts` is empty).
    public var promptPath: String?
    /// Appended as " aesthetic score: X.", " motion score: X.", " camera motion: X." (nil: not appended).
    public var aes: Double? = 6.5
    public var flow: Double?
    public var cameraMotion: String?

    /// Image-to-video and friends: per prompt, `;`-separated reference images, and mask strategies.
    public var referencePaths: [String] = []
    public var maskStrategies: [String] = []
    public var loop = 1
    /// Latent frames carried over between loops (multiple of 5).
    public var conditionFrameLength = 5
    /// edit_ratio of the carried-over frames (0 = kept as they are; up to 1 = re-generated).
    public var conditionFrameEdit = 0.0
    public var align: Int? = 5

    public var dtype = ComputeDType.bf16
    public var rng = RNGKind.torch
    public var output = OutputConfig()
    /// Step caching (TeaCache, PAB); `none` by default.
    public var cache = CacheConfig()
    /// The denoiser blocks' linears: `none` (float32, exact) or `int8` (docs/quantization.md).
    public var quantize = Quantization.none

    /// Open-Sora 2.0: what conditions the video (t2v, i2v_head, i2v_tail, i2v_loop, v2v_head,
    /// v2v_tail, v2v_head_easy, v2v_tail_easy), and the image or video it comes from: one path for
    /// every prompt or one per prompt (i2v_loop: "first.png;last.png").
    public var condType = "t2v"
    public var ref: [String] = []
    /// Open-Sora 2.0: appended to the prompt as " {motion_score} motion score." (nil: not appended).
    public var motionScore: Int? = 4

    /// Where values came from, for error messages (equal in every config).
    var provenance = Provenance()

    public init() {}

    /// The keys, in the order `--print-config` writes them: the property's name in snake_case
    /// unless given (`provenance` is not a key).
    enum CodingKeys: String, CodingKey {
        case textEncoder = "model.text_encoder", clip = "model.clip", denoiser = "model.denoiser", vae = "model.vae", scheduler
        case resolution, aspectRatio, imageSize, numFrames, fps, frameInterval, saveFPS, seed, batchSize, numSample
        case prompts = "prompt", promptPath, aes, flow, cameraMotion
        case referencePaths = "reference_path", maskStrategies = "mask_strategy", loop, conditionFrameLength, conditionFrameEdit, align
        case condType, ref, motionScore
        case dtype, rng, quantize, output, cache
    }

    /// Keys of one generation only: Open-Sora 1.x's prompt scores, references, loops and fps
    /// conditioning; Open-Sora 2.0's condition type, reference, motion score and CLIP. The other
    /// generation's keys are refused (`ConfigLoad`, `apply(overrides:)`) and not printed.
    static let openSora1Keys: Set<String> = ["fps", "frame_interval", "aes", "flow", "camera_motion", "reference_path", "mask_strategy",
                                             "loop", "condition_frame_length", "condition_frame_edit", "align", "cache"]
    static let openSora2Keys: Set<String> = ["model.clip", "cond_type", "ref", "motion_score"]
    var inapplicableKeys: Set<String> { denoiser.type.isOpenSora2 ? Self.openSora1Keys : Self.openSora2Keys }

    /// The error for a key given (file or flag) that the chosen denoiser's generation does not have.
    func inapplicableKeyError(_ key: String) -> String {
        denoiser.type.isOpenSora2
            ? "applies only to Open-Sora 1.x (model.denoiser.type stdit3, stdit2, stdit), not \(denoiser.type.rawValue)"
            : "applies only to Open-Sora 2.0 (model.denoiser.type mmdit), not \(denoiser.type.rawValue)"
    }

    /// Open-Sora v1.2's inference defaults.
    public static var defaults: GenerationConfig { GenerationConfig() }

    /// `seed: -1` (file or `--seed`): draw a fresh seed, as Open-Sora's -1 does.
    public static let randomSeed = -1

    /// A fresh seed for `seed: -1`, said on stderr so that the run can be repeated.
    public static func drawSeed() -> Int {
        let drawn = Int.random(in: 0...Int(Int32.max))
        FileHandle.standardError.write(Data("note: seed -1: using the random seed \(drawn)\n".utf8))
        return drawn
    }

    // MARK: - resolved values

    /// Final pixel size [H, W]: `imageSize`, or the preset table's entry (0 x 0 if invalid: call validate()).
    public var height: Int { resolvedSize()?[0] ?? 0 }
    public var width: Int { resolvedSize()?[1] ?? 0 }

    /// Latent [T, H, W] as the VAE's get_latent_size computes it (floor division in space).
    public var latentSize: [Int] {
        let f = vae.spatialDownsample
        return [vae.latentFrames(numFrames), height / f, width / f]
    }

    /// Pixel [H, W] the VAE decodes back to (latent * downsample; 240x426 gives 240x424).
    public var decodedSize: [Int] {
        let f = vae.spatialDownsample
        return [latentSize[1] * f, latentSize[2] * f]
    }

    /// fps given to the model: IMG_FPS (120) for single images (prepare_multi_resolution_info).
    public var conditioningFPS: Int { numFrames > 1 ? fps : OpenSoraTables.imageFPS }

    /// The prompt with the aesthetic / motion / camera suffixes v1.2 appends (append_score_to_prompts):
    /// each only if the prompt does not already carry it. Caption cleaning comes after this.
    public func promptWithSuffixes(_ prompt: String) -> String {
        var p = prompt
        if let aes, !prompt.contains("aesthetic score:") { p += " aesthetic score: \(String(format: "%.1f", aes))." }
        if let flow, !prompt.contains("motion score:") { p += " motion score: \(String(format: "%.1f", flow))." }
        if let cameraMotion, !prompt.contains("camera motion:") { p += " camera motion: \(cameraMotion)." }
        return p
    }

    /// mp4 or png: `auto` gives png for a single frame, mp4 otherwise; an .mp4/.png path decides too.
    public var resolvedOutputFormat: OutputFormat {
        if output.format != .auto { return output.format }
        if let ext = outputExtension { return ext }
        return numFrames == 1 && loop == 1 ? .png : .mp4
    }

    /// Output for video `index` (0-based, over all prompts) and its sample `k`, when `count` prompts
    /// are generated. MP4: a file path; PNG of one frame: a file path; PNG frames: the base name
    /// for PNGWriter.writeFrames (files `<base>_0000.png`, ...).
    public func outputPath(index: Int, sample k: Int = 0, count: Int) -> String {
        var stem = outputStem
        if count != 1 || numSample != 1 {
            stem += "_" + String(format: "%04d", index)
            if numSample != 1 { stem += "-\(k)" }
        }
        switch resolvedOutputFormat {
        case .png where numFrames > 1 || loop > 1: return stem
        case .png: return stem + ".png"
        default: return stem + ".mp4"
        }
    }

    /// The name the outputs (and a run's manifest and latents) are made from: `output.path` without
    /// its .mp4/.png extension; a folder (a trailing '/', or an existing folder) holds `sample...`.
    var outputStem: String {
        var isFolder: ObjCBool = false
        if output.path.hasSuffix("/") || FileManager.default.fileExists(atPath: output.path, isDirectory: &isFolder) && isFolder.boolValue {
            return (output.path.hasSuffix("/") ? output.path : output.path + "/") + "sample"
        }
        guard let ext = outputExtension else { return output.path }
        return String(output.path.dropLast(ext.rawValue.count + 1))
    }

    var outputExtension: OutputFormat? {
        let lower = output.path.lowercased()
        if lower.hasSuffix(".mp4") { return .mp4 }
        if lower.hasSuffix(".png") { return .png }
        return nil
    }

    /// Open-Sora's get_image_size (1.x's table, or 2.0's computed sizes), or the explicit size.
    func resolvedSize() -> [Int]? {
        if let imageSize { return imageSize.count == 2 ? imageSize : nil }
        if denoiser.type.isOpenSora2 {
            guard let resolution, let aspectRatio else { return nil }
            return OpenSora2Sizes.imageSize(resolution: resolution, aspectRatio: aspectRatio, compression: vae.type == .dcAE ? 32 : 16)
        }
        guard let resolution, let aspectRatio,
              let key = OpenSoraTables.aspectRatioKeys.first(where: { $0.key == aspectRatio })?.value,
              let table = OpenSoraTables.sizes.first(where: { $0.key == resolution })?.value else { return nil }
        return table[key]
    }
}

/// Where values came from, for error messages. Not part of a config's value: any two are equal,
/// so GenerationConfig's synthesized == compares settings only.
struct Provenance: Equatable, Sendable {
    var source = "defaults"
    var lines: [String: Int] = [:]
    var overridden: Set<String> = []
    /// save_fps was given (file or flag); otherwise it follows fps // frame_interval.
    var saveFPSGiven: Bool { lines["save_fps"] != nil || overridden.contains("save_fps") }

    var checker: ConfigChecker { ConfigChecker(source: source, lines: lines, overridden: overridden) }

    static func == (a: Provenance, b: Provenance) -> Bool { true }
}
