// Golden checker for kind 'rflow': RFLOW.sample with STDiT3 (recorded model calls with --replay).

import Foundation
import Samplers
import TensorCore

enum RectifiedFlowCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        guard options.replay else { throw ModelUnavailable(caseName: c.name, model: "STDiT3") }
        let replay = ReplayedModel(c, inputName: "z_in", tolerance: c.tolerance(for: "z_final"))
        var checks = try check(c, model: replay.callAsFunction)
        checks.insert(contentsOf: replay.checks, at: 0)
        checks.append(replay.callCountCheck())
        return checks
    }

    static func sampler(_ c: GoldenCase) throws -> RectifiedFlowSampler {
        RectifiedFlowSampler(steps: try SamplerCaseFields.int(c, "num_sampling_steps"),
                             guidanceScale: try SamplerCaseFields.float(c, "cfg_scale"),
                             useTimestepTransform: SamplerCaseFields.bool(c, "use_timestep_transform", default: false),
                             useDiscreteTimesteps: SamplerCaseFields.bool(c, "use_discrete_timesteps", default: false),
                             numTimesteps: try SamplerCaseFields.int(c, "num_timesteps"))
    }

    /// Samples the case with `model` (recorded or real) and the case's recorded noise draws, and
    /// compares the timesteps and the final latent. `model` sees y = cat(prompt, null) implicitly.
    static func check(_ c: GoldenCase, model: @escaping Denoiser) throws -> [OutputCheck] {
        let s = try sampler(c)
        let z = try c.tensor("z_init")
        let heights = try c.tensor("additional_args.height").array
        let widths = try c.tensor("additional_args.width").array
        let frames = try c.tensor("additional_args.num_frames").array
        let sizes = (0..<heights.count).map { VideoSize(height: Int(heights[$0]), width: Int(widths[$0]), frames: Int(frames[$0])) }
        let mask = SamplerCaseFields.has(c, "mask") ? try c.tensor("mask") : nil
        let inputs = SamplingInputs(latent: z, frameMask: mask, sizes: sizes)

        let timesteps = try s.timesteps(sizes: sizes, batch: z.shape[0])
        var checks = [OutputCheck(name: "timesteps", got: Tensor(shape: [timesteps.count, z.shape[0]], data: timesteps.flatMap { $0 }),
                                  expected: try c.tensor("timesteps"), tolerance: 0)]
        let noise = RecordedNoise(try SamplerCaseFields.numbered(c, "noise_draw"), name: "\(c.name) noise_draw*")
        let result = try s.start(inputs, model: model, noise: noise).finish()
        checks.append(OutputCheck(name: "z_final", got: result, expected: try c.tensor("z_final"), tolerance: c.tolerance(for: "z_final")))
        checks.append(OutputCheck(name: "noise draws used (\(noise.used))", mismatches: noise.remaining, total: noise.used + noise.remaining))
        return checks
    }
}
