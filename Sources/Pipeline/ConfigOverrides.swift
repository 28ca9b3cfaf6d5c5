// Command-line overrides: every flag replaces one config field, then the whole config is checked
// again (errors about an overridden value name the command line, not the file).

/// nil = keep the config's value. For fields that can be unset, `.some(nil)` unsets them
/// (e.g. `aes = .some(nil)` drops the aesthetic-score suffix).
public struct ConfigOverrides: Sendable {
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
    public var align: Int??
    public var dtype: String?
    public var rng: String?

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

    public init() {}
}

extension GenerationConfig {
    /// Applies every set override, then validates the result. On error `self` is unchanged.
    public mutating func apply(overrides o: ConfigOverrides) throws {
        var c = self
        var touched = Set<String>()
        func set<T>(_ key: String, _ value: T?, _ apply: (T) -> Void) {
            guard let value else { return }
            apply(value)
            touched.insert(key)
        }
        func bad(_ key: String, _ message: String) -> ConfigError { ConfigError(source: "command line", key: key, message) }

        // A prompt source on the command line replaces the config's, whichever kind it is.
        if o.prompts != nil && o.promptPath != nil { throw bad("prompt", "give prompts or a prompt file, not both") }
        set("prompt", o.prompts) { c.prompts = $0; c.promptPath = nil }
        set("prompt_path", o.promptPath) { c.promptPath = $0; c.prompts = [] }
        if let size = o.imageSize {
            c.imageSize = size
            touched.insert("image_size")
        } else if o.resolution != nil || o.aspectRatio != nil {
            // A preset on the command line wins over an image_size from the file.
            c.imageSize = nil
            c.resolution = o.resolution ?? c.resolution ?? GenerationConfig.defaults.resolution
            c.aspectRatio = o.aspectRatio ?? c.aspectRatio ?? GenerationConfig.defaults.aspectRatio
            if o.resolution != nil { touched.insert("resolution") }
            if o.aspectRatio != nil { touched.insert("aspect_ratio") }
        }
        if let spec = o.numFrames {
            guard let n = Self.frameCount(spec) else {
                throw bad("num_frames", "expected a frame count or one of \(OpenSoraTables.numFrames.keys.sorted().joined(separator: ", ")), got '\(spec)'")
            }
            c.numFrames = n
            touched.insert("num_frames")
        }
        set("fps", o.fps) { c.fps = $0 }
        set("frame_interval", o.frameInterval) { c.frameInterval = $0 }
        if let v = o.saveFPS {
            c.saveFPS = v
            c.provenance.saveFPSGiven = true
            touched.insert("save_fps")
        } else if !c.provenance.saveFPSGiven && (o.fps != nil || o.frameInterval != nil) {
            guard c.frameInterval > 0 else { throw bad("frame_interval", "must be 1 ... 100, got \(c.frameInterval)") }
            c.saveFPS = c.fps / c.frameInterval  // follows fps as inference.py's default does
        }
        set("seed", o.seed) { c.seed = $0 }
        set("batch_size", o.batchSize) { c.batchSize = $0 }
        set("num_sample", o.numSample) { c.numSample = $0 }
        set("aes", o.aes) { c.aes = $0 }
        set("flow", o.flow) { c.flow = $0 }
        set("camera_motion", o.cameraMotion) { c.cameraMotion = $0 }
        set("reference_path", o.referencePaths) { c.referencePaths = $0 }
        set("mask_strategy", o.maskStrategies) { c.maskStrategies = $0 }
        set("loop", o.loop) { c.loop = $0 }
        set("condition_frame_length", o.conditionFrameLength) { c.conditionFrameLength = $0 }
        set("align", o.align) { c.align = $0 }
        if let name = o.dtype {
            guard let d = ComputeDType(configName: name) else { throw bad("dtype", ComputeDType.unknown(name)) }
            c.dtype = d
            touched.insert("dtype")
        }
        if let name = o.rng {
            guard let r = RNGKind(configName: name) else { throw bad("rng", RNGKind.unknown(name)) }
            c.rng = r
            touched.insert("rng")
        }

        if let name = o.scheduler {
            guard let t = SchedulerType(configName: name) else { throw bad("scheduler.type", SchedulerType.unknown(name)) }
            if t != c.scheduler.type {
                // Family-specific settings restart from that family's defaults; steps and cfg stay.
                var s = SchedulerConfig(family: t)
                s.numSamplingSteps = c.scheduler.numSamplingSteps
                s.numTimesteps = c.scheduler.numTimesteps
                s.cfgScale = c.scheduler.cfgScale
                c.scheduler = s
            }
            touched.insert("scheduler.type")
        }
        set("scheduler.num_sampling_steps", o.numSamplingSteps) { c.scheduler.numSamplingSteps = $0 }
        set("scheduler.cfg_scale", o.cfgScale) { c.scheduler.cfgScale = $0 }
        if let v = o.useTimestepTransform {
            guard c.scheduler.type == .rflow else { throw bad("scheduler.use_timestep_transform", "applies only to rflow, not \(c.scheduler.type.rawValue)") }
            c.scheduler.useTimestepTransform = v
            touched.insert("scheduler.use_timestep_transform")
        }
        if let v = o.cfgChannel {
            guard c.scheduler.type != .rflow else { throw bad("scheduler.cfg_channel", "applies only to iddpm, ddim, not rflow") }
            c.scheduler.cfgChannel = v
            touched.insert("scheduler.cfg_channel")
        }
        if let v = o.eta {
            guard c.scheduler.type == .ddim else { throw bad("scheduler.eta", "applies only to ddim, not \(c.scheduler.type.rawValue)") }
            c.scheduler.eta = v
            touched.insert("scheduler.eta")
        }

        set("model.text_encoder.path", o.textEncoderPath) { c.textEncoder.path = $0 }
        set("model.text_encoder.tokenizer", o.tokenizer) { c.textEncoder.tokenizer = $0 }
        set("model.text_encoder.model_max_length", o.modelMaxLength) { c.textEncoder.modelMaxLength = $0 }
        set("model.denoiser.path", o.denoiserPath) { c.denoiser.path = $0 }
        set("model.vae.path", o.vaePath) { c.vae.path = $0 }
        if let v = o.microFrameSize {
            guard c.vae.temporal != nil else { throw bad("model.vae.micro_frame_size", "applies only to opensora-vae-v1.2, not sd-vae") }
            c.vae.microFrameSize = v
            touched.insert("model.vae.micro_frame_size")
        }
        set("model.vae.micro_batch_size", o.microBatchSize) { c.vae.microBatchSize = $0 }

        set("output.path", o.outputPath) { c.output.path = $0 }
        if let name = o.outputFormat {
            guard let f = OutputFormat(configName: name) else { throw bad("output.format", OutputFormat.unknown(name)) }
            c.output.format = f
            touched.insert("output.format")
        }
        set("output.overwrite", o.overwrite) { c.output.overwrite = $0 }
        if let spec = o.cache {
            try c.cache.apply(spec: spec)
            touched.formUnion(["cache.method", "cache.teacache.threshold"])
        }

        if o.saveFPS != nil && c.resolvedOutputFormat == .png {
            throw bad("save_fps", "sets the MP4 frame rate, but the output is PNG frames (format \(c.output.format.rawValue), path '\(c.output.path)'), which have none")
        }
        c.provenance.overridden.formUnion(touched)
        try c.validate()
        self = c
    }
}
