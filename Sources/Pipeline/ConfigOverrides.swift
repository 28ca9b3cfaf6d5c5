// Command-line overrides: a layer of keys put over the config (as printed by --print-config) and
// read back through the same declarations, so each flag is checked as its key is in a file and
// errors about an overridden value name the command line, not the file.

import Yams

public struct ConfigOverrides: Sendable, Encodable {
    public var prompts: [String]?
    public var promptPath: String?
    public var resolution: String?
    public var aspectRatio: String?
    /// [H, W]
    public var imageSize: [Int]?
    /// A count or a NUM_FRAMES_MAP name ("4s").
    public var numFrames: String?
    public var fps: Int?
    public var frameInterval: Int?
    public var saveFPS: Int?
    public var seed: Int?
    public var batchSize: Int?
    public var numSample: Int?
    public var aes: Double??
    public var flow: Double??
    public var cameraMotion: String??
    public var referencePaths: [String]?
    public var maskStrategies: [String]?
    public var loop: Int?
    public var conditionFrameLength: Int?
    public var conditionFrameEdit: Double?
    public var align: Int??
    public var dtype: String?
    public var rng: String?
    /// none or int8 (quantize).
    public var quantize: String?

    public var scheduler: String?
    public var numSamplingSteps: Int?
    public var cfgScale: Double?
    public var useTimestepTransform: Bool?
    public var cfgChannel: Int??
    public var eta: Double?

    public var textEncoderPath: String?
    public var tokenizer: String?
    public var modelMaxLength: Int?
    public var denoiserPath: String?
    public var vaePath: String?
    public var microFrameSize: Int??
    public var microBatchSize: Int?

    public var outputPath: String?
    public var outputFormat: String?
    public var overwrite: Bool?
    /// none, pab, teacache or teacache:THRESHOLD (cache.method, cache.teacache.threshold).
    public var cache: String?

    // Open-Sora 2.0 (docs/opensora-v2.md).
    public var condType: String?
    public var ref: [String]?
    public var motionScore: Int??
    public var guidance: Double?
    public var guidanceImg: Double?

    public init() {}

    /// The key each flag sets. `cache` (a `--cache` spec: method and threshold) is applied by hand.
    enum CodingKeys: String, CodingKey {
        case prompts = "prompt", promptPath, resolution, aspectRatio, imageSize, numFrames, fps, frameInterval, saveFPS, seed
        case batchSize, numSample, aes, flow, cameraMotion, referencePaths = "reference_path", maskStrategies = "mask_strategy"
        case loop, conditionFrameLength, conditionFrameEdit, align, dtype, rng, quantize
        case scheduler = "scheduler.type", numSamplingSteps = "scheduler.num_sampling_steps", cfgScale = "scheduler.cfg_scale"
        case useTimestepTransform = "scheduler.use_timestep_transform", cfgChannel = "scheduler.cfg_channel", eta = "scheduler.eta"
        case textEncoderPath = "model.text_encoder.path", tokenizer = "model.text_encoder.tokenizer"
        case modelMaxLength = "model.text_encoder.model_max_length", denoiserPath = "model.denoiser.path"
        case vaePath = "model.vae.path", microFrameSize = "model.vae.micro_frame_size", microBatchSize = "model.vae.micro_batch_size"
        case outputPath = "output.path", outputFormat = "output.format", overwrite = "output.overwrite"
        case condType, ref, motionScore, guidance = "scheduler.guidance", guidanceImg = "scheduler.guidance_img"
    }
}

extension GenerationConfig {
    /// Applies every set override, then validates the result. On error `self` is unchanged.
    public mutating func apply(overrides o: ConfigOverrides) throws {
        func bad(_ key: String, _ message: String) -> ConfigError { ConfigError(source: "command line", key: key, message) }
        if o.prompts != nil && o.promptPath != nil { throw bad("prompt", "give prompts or a prompt file, not both") }
        // The config as printed, with the flags' keys over it.
        let base = ConfigCoding.tree(self, omitInapplicable: true)
        let flags = ConfigCoding.tree(o, omitInapplicable: false, skipAbsent: true)
        // A prompt source on the command line replaces the config's, whichever kind it is.
        if o.prompts != nil { base.set("prompt_path", .scalar("null", nil)) }
        if o.promptPath != nil { base.set("prompt", .scalar("null", nil)) }
        // A preset on the command line wins over an image_size from the file.
        if o.imageSize == nil && (o.resolution != nil || o.aspectRatio != nil) {
            base.set("image_size", .scalar("null", nil))
            let defaults = ConfigCoding.tree(GenerationConfig.defaults, omitInapplicable: true)
            for key in ["resolution", "aspect_ratio"] where base.value(at: key) == nil {
                base.set(key, defaults.entries.first { $0.key == key }!.value)
            }
        }
        // A new scheduler family restarts its family's settings from their defaults; steps and cfg stay.
        if let name = o.scheduler, let family = SchedulerType(configName: name), family != scheduler.type {
            let section = base.subtree("scheduler")
            for key in SchedulerConfig.familyKeys.map(\.key) { section.remove(key) }
        }
        let touched = base.overlay(flags)

        let keyLines = KeyLines()
        keyLines.commandLine = Set(touched)
        let root: Node?
        do { root = try Yams.compose(yaml: base.lines(level: 0).joined(separator: "\n")) } catch { throw bad("", "\(error)") }
        let top = try YAMLSection(source: provenance.source, path: "", node: root, keyLines: keyLines)
        var c = try ConfigCoding.decode(GenerationConfig.self, from: top, defaults: GenerationConfig())
        // A flag of the other generation's (Open-Sora 1.x / 2.0) is refused, as its key in a file.
        for key in touched.sorted() where c.inapplicableKeys.contains(where: { key == $0 || key.hasPrefix($0 + ".") }) {
            throw bad(key, c.inapplicableKeyError(key))
        }
        if o.cache != nil && c.denoiser.type.isOpenSora2 { throw bad("cache", c.inapplicableKeyError("cache")) }
        c.provenance = provenance
        if o.saveFPS == nil && !c.provenance.saveFPSGiven && (o.fps != nil || o.frameInterval != nil) {
            guard c.frameInterval > 0 else { throw bad("frame_interval", "must be 1 ... 100, got \(c.frameInterval)") }
            c.saveFPS = c.fps / c.frameInterval  // follows fps as inference.py's default does
        }
        var overridden = Set(touched)
        if let spec = o.cache {
            try c.cache.apply(spec: spec)
            overridden.formUnion(["cache.method", "cache.teacache.threshold"])
        }

        if o.saveFPS != nil && c.resolvedOutputFormat == .png {
            throw bad("save_fps", "sets the MP4 frame rate, but the output is PNG frames (format \(c.output.format.rawValue), path '\(c.output.path)'), which have none")
        }
        c.provenance.overridden.formUnion(overridden)
        try c.validate()
        self = c
    }
}
