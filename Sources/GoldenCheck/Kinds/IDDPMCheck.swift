// Golden checker for kind 'iddpm': IDDPM.sample (ancestral) with STDiT v1.0 / STDiT2 v1.1
// (the real models, or the recorded model calls with --replay).

import Foundation
import Samplers
import TensorCore

enum IDDPMCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let sampler = IDDPMSampler(steps: try SamplerCaseFields.int(c, "num_sampling_steps"),
                                   guidanceScale: try SamplerCaseFields.float(c, "cfg_scale"),
                                   guidanceChannels: SamplerCaseFields.optionalInt(c, "cfg_channel"),
                                   diffusionSteps: try SamplerCaseFields.int(c, "diffusion_steps"))
        return try DiffusionCaseCheck.run(c, options, sampler: sampler, schedule: try sampler.schedule())
    }
}

/// What the iddpm and ddim checkers share: the schedule arrays, the replayed run, the final sample.
enum DiffusionCaseCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions, sampler: Sampler, schedule: DiffusionSchedule) throws -> [OutputCheck] {
        var checks = try scheduleChecks(c, schedule)
        guard options.replay else {
            let (textChecks, model) = try LegacyDenoiserCheck.denoiser(c, options)
            return checks + textChecks + (try check(c, sampler: sampler, model: model))
        }
        let replay = ReplayedModel(c, inputName: "x_in", tolerance: c.tolerance(for: "sample_final"))
        let sampleChecks = try check(c, sampler: sampler, model: replay.callAsFunction)
        checks += replay.checks + sampleChecks
        checks.append(replay.callCountCheck())
        return checks
    }

    /// `baseBetas`: the base linear schedule as the reference computes it (default: torch.linspace).
    static func scheduleChecks(_ c: GoldenCase, _ s: DiffusionSchedule, baseBetas: [Double]? = nil) throws -> [OutputCheck] {
        let map = try c.io().integers("timestep_map")
        var checks = [OutputCheck(name: "timestep_map", mismatches: map == s.timestepMap ? 0 : max(map.count, s.timestepMap.count), total: map.count)]
        let arrays: [(String, [Float])] = [
            ("betas", s.betas), ("alphas_cumprod", s.alphasCumprod), ("alphas_cumprod_prev", s.alphasCumprodPrev),
            ("sqrt_recip_alphas_cumprod", s.sqrtRecipAlphasCumprod), ("sqrt_recipm1_alphas_cumprod", s.sqrtRecipm1AlphasCumprod),
            ("posterior_variance", s.posteriorVariance), ("posterior_log_variance_clipped", s.posteriorLogVarianceClipped),
            ("posterior_mean_coef1", s.posteriorMeanCoef1), ("posterior_mean_coef2", s.posteriorMeanCoef2),
        ]
        for (name, got) in arrays { checks.append(scheduleArrayCheck(name, got: got, expected: try c.tensor(name))) }
        let base = (baseBetas ?? DiffusionSchedule.linearBetas(SamplerCaseFields.optionalInt(c, "diffusion_steps") ?? 1000)).map { Float($0) }
        checks.append(OutputCheck(name: "base_betas", got: Tensor(shape: [base.count], data: base), expected: try c.tensor("base_betas"), tolerance: 0))
        return checks
    }

    /// Samples the case with `model` (recorded or real) and its recorded noise draws.
    static func check(_ c: GoldenCase, sampler: Sampler, model: @escaping Denoiser) throws -> [OutputCheck] {
        let noise = RecordedNoise(try SamplerCaseFields.numbered(c, "noise_draw"), name: "\(c.name) noise_draw*")
        let result = try sampler.start(SamplingInputs(latent: try c.tensor("z_init")), model: model, noise: noise).finish()
        return [
            OutputCheck(name: "sample_final", got: result, expected: try c.tensor("sample_final"), tolerance: c.tolerance(for: "sample_final")),
            OutputCheck(name: "noise draws used (\(noise.used))", mismatches: noise.remaining, total: noise.used + noise.remaining),
        ]
    }
}
