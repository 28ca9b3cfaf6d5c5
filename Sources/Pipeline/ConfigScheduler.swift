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

    public init() {}

    static let familyKeys: KeyValuePairs<String, [SchedulerType]> = [
        "use_timestep_transform": [.rflow], "use_discrete_timesteps": [.rflow], "cfg_channel": [.iddpm, .ddim], "eta": [.ddim],
    ]

    /// Defaults of the family's official config.
    init(family: SchedulerType) {
        self.init()
        type = family
        if family != .rflow {
            numSamplingSteps = 100
            useTimestepTransform = false
        }
    }

    func validate(_ check: ConfigChecker, inChannels: Int) throws {
        try check.range("scheduler.num_timesteps", numTimesteps, 1...100_000)
        try check.range("scheduler.num_sampling_steps", numSamplingSteps, 1...1000)
        guard numSamplingSteps <= numTimesteps else {
            throw check.error("scheduler.num_sampling_steps", "\(numSamplingSteps) steps exceed num_timesteps \(numTimesteps)")
        }
        try check.range("scheduler.cfg_scale", cfgScale, 0...50)
        if let cfgChannel { try check.range("scheduler.cfg_channel", cfgChannel, 1...inChannels) }
        try check.range("scheduler.eta", eta, 0...1)
    }
}
