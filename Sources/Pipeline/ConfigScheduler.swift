// The `scheduler:` section. Unset values default to the official config of the scheduler's
// family: rflow as Open-Sora v1.2 (30 steps, cfg 7, timestep transform on), iddpm/ddim as
// v1.0/v1.1 (100 steps, cfg 7).

public enum SchedulerType: String, Sendable, CaseIterable, ConfigName {
    /// Rectified flow, Euler steps (v1.2).
    case rflow
    /// Improved DDPM ancestral sampling over respaced timesteps (v1.0, v1.1).
    case iddpm
    /// DDIM over the same respaced IDDPM schedule.
    case ddim
    /// Open-Sora 2.0's sampler: rectified flow over the shifted schedule, Euler steps, guidance on
    /// three branches (text + image, image, none) with oscillation (Samplers/V2Sampler.swift).
    case v2
    static let kind = "scheduler"
}

public struct SchedulerConfig: Equatable, Sendable, FamilySection {
    public var type: SchedulerType = .rflow
    public var numSamplingSteps = 30
    /// Length of the training schedule the steps are drawn from.
    public var numTimesteps = 1000
    /// Classifier-free guidance scale (0 = unconditional only, 1 = conditional only).
    public var cfgScale = 7.0
    /// rflow: shift timesteps by resolution and length (v1.2 does).
    public var useTimestepTransform = true
    /// rflow: round timesteps to integers.
    public var useDiscreteTimesteps = false
    /// iddpm, ddim: guide only the first N channels (v1.1 uses 3); nil: all.
    public var cfgChannel: Int?
    /// ddim: noise of each step (0 = deterministic DDIM).
    public var eta = 0.0
    /// v2: text guidance (the reference's `guidance`) and image guidance (`guidance_img`).
    public var guidance = 7.5
    public var guidanceImg = 3.0
    /// v2: oscillation (a scale is 1.0 on odd steps from step 10) of the text / image guidance, and
    /// the image guidance ramped over the latent frames (i2v types only).
    public var textOsci = true
    public var imageOsci = true
    public var scaleTemporalOsci = true
    /// v2: shift the schedule by resolution and length; `flow_shift` fixes the shift instead (nil: computed).
    public var shift = true
    public var flowShift: Double?

    public init() {}

    static let familyKeys: KeyValuePairs<String, [SchedulerType]> = [
        "use_timestep_transform": [.rflow], "use_discrete_timesteps": [.rflow], "cfg_channel": [.iddpm, .ddim], "eta": [.ddim],
        "num_timesteps": [.rflow, .iddpm, .ddim], "cfg_scale": [.rflow, .iddpm, .ddim],
        "guidance": [.v2], "guidance_img": [.v2], "text_osci": [.v2], "image_osci": [.v2], "scale_temporal_osci": [.v2],
        "shift": [.v2], "flow_shift": [.v2],
    ]

    /// Defaults of the family's official config.
    init(family: SchedulerType) {
        self.init()
        type = family
        switch family {
        case .rflow: break
        case .iddpm, .ddim:
            numSamplingSteps = 100
            useTimestepTransform = false
        case .v2:
            numSamplingSteps = 50
            useTimestepTransform = false
        }
    }

    func validate(_ check: ConfigChecker) throws {
        try check.range("scheduler.num_timesteps", numTimesteps, 1...100_000)
        try check.range("scheduler.num_sampling_steps", numSamplingSteps, 1...1000)
        guard numSamplingSteps <= numTimesteps else {
            throw check.error("scheduler.num_sampling_steps", "\(numSamplingSteps) steps exceed num_timesteps \(numTimesteps)")
        }
        try check.range("scheduler.cfg_scale", cfgScale, 0...50)
        if let cfgChannel { try check.range("scheduler.cfg_channel", cfgChannel, 1...1024) }   // and <= the latent channels: CheckpointSizes
        try check.range("scheduler.eta", eta, 0...1)
        try check.range("scheduler.guidance", guidance, 0...50)
        try check.range("scheduler.guidance_img", guidanceImg, 0...50)
        if let flowShift { try check.range("scheduler.flow_shift", flowShift, 0.01...100) }
    }
}
