// Golden checker for kind 'ddim': GaussianDiffusion.ddim_sample_loop with forward_with_cfg over
// STDiT v1.0 (the real models, or the recorded model calls with --replay).

import Foundation
import Samplers

enum DDIMCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let sampler = DDIMSampler(steps: try SamplerCaseFields.int(c, "num_sampling_steps"), eta: try eta(c),
                                  guidanceScale: try SamplerCaseFields.float(c, "cfg_scale"),
                                  guidanceChannels: SamplerCaseFields.optionalInt(c, "cfg_channel"),
                                  diffusionSteps: try SamplerCaseFields.int(c, "diffusion_steps"))
        return try DiffusionCaseCheck.run(c, options, sampler: sampler, schedule: try sampler.schedule())
    }

    /// config.eta, else the "eta=..." in config.sampler ("GaussianDiffusion.ddim_sample_loop eta=0.0").
    static func eta(_ c: GoldenCase) throws -> Float {
        if let v = c.config["eta"] as? NSNumber { return v.floatValue }
        guard let text = c.config["sampler"] as? String, let r = text.range(of: "eta=") else {
            throw GoldenError.badCase(path: c.path, detail: "no eta in config.eta or config.sampler")
        }
        let number = text[r.upperBound...].prefix { "0123456789.eE+-".contains($0) }
        guard let v = Float(number) else { throw GoldenError.badCase(path: c.path, detail: "cannot read eta from '\(text)'") }
        return v
    }
}
