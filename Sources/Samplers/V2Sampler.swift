// Open-Sora 2.0's sampler (I2VDenoiser.denoise + api_fn in opensora/utils/sampling.py): rectified
// flow over the shifted schedule with Euler steps and the three-branch guidance.
//
//   for i in 0..<steps:   v = guidance(model(x, t_i, branches needed at step i))
//                         x = x + (t_{i+1} - t_i) v
//   then the i2v reference frames are written back into batch item 0 (V2Condition.writeBack)
//
// The model is a closure (the seam for the MMDiT): it packs the latent, adds the image
// condition of each branch (cat(mask, masked_ref) for cond / uncond, zeros for uncond2) and the
// branch's text embeddings (prompt for cond, "" for the others), and returns the velocity.

import TensorCore

/// - x: [B, C, T, H, W] the current latent (the same for every branch);
/// - t: the current timestep in [0, 1] (the MMDiT multiplies by 1000 itself);
/// - branches: which branches to run, in this order.
/// Returns [branches.count * B, C, T, H, W]: the velocity of each branch, in the order asked.
public typealias V2Denoiser = (_ x: Tensor, _ t: Float, _ branches: [V2Branch]) throws -> Tensor

public struct V2StepRecord {
    public var index: Int
    public var t: Float
    public var tNext: Float
    /// The latent the model saw. [B, C, T, H, W]
    public var latent: Tensor
    public var textScale: Float
    public var imageScale: Float
    /// Per latent frame, when temporal image guidance applied.
    public var imagePerFrame: [Float]?
    public var branches: [V2Branch]
}

public struct V2Sampler: Sendable {
    public var steps: Int
    public var guidance: V2Guidance
    /// Shift the schedule (the configs' `shift: True`).
    public var shift = true
    /// A fixed shift alpha (`flow_shift`); nil: from the resolution and length.
    public var shiftAlpha: Double?

    public init(steps: Int = 50, guidance: V2Guidance = V2Guidance(), shift: Bool = true, shiftAlpha: Double? = nil) {
        self.steps = steps
        self.guidance = guidance
        self.shift = shift
        self.shiftAlpha = shiftAlpha
    }

    /// Model forwards (one branch over the batch = one forward) that the given run makes, and
    /// the reference's 3 per step.
    public func forwardCount(geometry g: V2LatentGeometry, condition: V2ConditionType, unconditioned: Bool) -> (made: Int, reference: Int) {
        let made = (0..<steps).reduce(0) { n, i in
            let s = guidance.scales(step: i, of: steps, latentFrames: g.latentFrames, condition: condition)
            return n + guidance.branches(text: s.text, image: s.image, imagePerFrame: s.imagePerFrame, unconditioned: unconditioned).count
        }
        return (made, 3 * steps)
    }

    /// Runs the denoising loop from `noise` and writes the reference frames back.
    /// - Parameters:
    ///   - noise: [B, C, T, H, W] (V2Schedule.noise).
    ///   - observe: called before each step's update with what the step used.
    /// Returns the final latent [B, C, T, H, W].
    public func sample(noise: Tensor, geometry g: V2LatentGeometry, condition: V2Condition, model: V2Denoiser,
                       observe: ((V2StepRecord) -> Void)? = nil) throws -> Tensor {
        var x = try denoise(noise: noise, geometry: g, condition: condition, model: model, observe: observe)
        condition.writeBack(into: &x)
        return x
    }

    /// The loop alone (the reference's `denoise`), without the write-back. -> [B, C, T, H, W]
    public func denoise(noise: Tensor, geometry g: V2LatentGeometry, condition: V2Condition, model: V2Denoiser,
                        observe: ((V2StepRecord) -> Void)? = nil) throws -> Tensor {
        guard noise.rank == 5, Array(noise.shape.dropFirst()) == g.latentShape else {
            throw SamplerError.invalidInput("v2 sampler: noise is \(noise.shape), expected [B] + \(g.latentShape)")
        }
        guard condition.masks.shape[0] == noise.shape[0], Array(condition.maskedReference.shape) == noise.shape else {
            throw SamplerError.invalidInput("v2 sampler: condition \(condition.maskedReference.shape) does not match the latent \(noise.shape)")
        }
        let timesteps = try V2Schedule.timesteps(steps: steps, geometry: g, shift: shift, shiftAlpha: shiftAlpha)
        let unconditioned = condition.isEmpty
        var x = noise
        for i in 0..<steps {
            let (t, tNext) = (timesteps[i], timesteps[i + 1])
            let s = guidance.scales(step: i, of: steps, latentFrames: g.latentFrames, condition: condition.type)
            let branches = guidance.branches(text: s.text, image: s.image, imagePerFrame: s.imagePerFrame, unconditioned: unconditioned)
            observe?(V2StepRecord(index: i, t: t, tNext: tNext, latent: x, textScale: s.text, imageScale: s.image,
                                  imagePerFrame: s.imagePerFrame, branches: branches))
            let out = try model(x, t, branches)
            guard out.shape == [branches.count * x.shape[0]] + x.shape.dropFirst() else {
                throw SamplerError.badModelOutput("v2 sampler: the model returned \(out.shape) for \(branches.count) branches of \(x.shape)")
            }
            guard out.withData({ $0.allSatisfy(\.isFinite) }) else { throw SamplerError.badModelOutput("v2 sampler: the model returned NaN or infinity at step \(i)") }
            var outputs: [V2Branch: Tensor] = [:]
            let rows = x.shape[0]
            for (k, b) in branches.enumerated() { outputs[b] = out.slice((k * rows)..<((k + 1) * rows)) }
            let v = try guidance.combine(outputs, text: s.text, image: s.image, imagePerFrame: s.imagePerFrame)
            // Euler: the step is a Python float (t_prev - t_curr in float64) applied to a float32 tensor.
            x.addScaled(v, Float(Double(tNext) - Double(t)))
        }
        return x
    }
}
