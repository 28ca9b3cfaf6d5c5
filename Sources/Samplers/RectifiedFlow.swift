// Rectified flow as Open-Sora v1.2 samples it (opensora/schedulers/rf): Euler steps on the
// velocity the model predicts, from t = 1000 down, with classifier-free guidance and, for
// image-to-video, conditioning frames that stay clean.

import TensorCore

public struct RectifiedFlowSampler: Sampler {
    public var steps: Int
    public var guidanceScale: Float
    /// Shift the timesteps by resolution and length (v1.2 inference sets this).
    public var useTimestepTransform: Bool
    /// Round timesteps to integers (reference option; off in v1.2 configs).
    public var useDiscreteTimesteps: Bool
    public var numTimesteps: Int

    public init(steps: Int = 30, guidanceScale: Float = 7, useTimestepTransform: Bool = true,
                useDiscreteTimesteps: Bool = false, numTimesteps: Int = 1000) {
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.useTimestepTransform = useTimestepTransform
        self.useDiscreteTimesteps = useDiscreteTimesteps
        self.numTimesteps = numTimesteps
    }

    public var stepCount: Int { steps }

    /// Timesteps before the transform: (1 - i/steps) * numTimesteps, computed in double and then
    /// stored as float32 (Python floats put into a torch tensor).
    public func baseTimesteps() -> [Float] {
        (0..<steps).map { i in
            var t = (1.0 - Double(i) / Double(steps)) * Double(numTimesteps)
            if useDiscreteTimesteps { t = t.rounded(.toNearestOrEven) }    // Python's round()
            return Float(t)
        }
    }

    /// [steps][B]: the timestep fed to the model at each step, per batch row.
    public func timesteps(sizes: [VideoSize], batch: Int) throws -> [[Float]] {
        let base = baseTimesteps()
        guard useTimestepTransform else { return base.map { [Float](repeating: $0, count: batch) } }
        guard sizes.count == 1 || sizes.count == batch else {
            throw SamplerError.invalidInput("rectified flow: \(sizes.count) video sizes for a batch of \(batch) (give 1 or \(batch))")
        }
        let rows = (0..<batch).map { sizes.count == 1 ? sizes[0] : sizes[$0] }
        let factors = try rows.map { try Self.transformRatio($0, firstRowFrames: rows[0].frames) }
        return base.map { t in factors.map { Self.transform(t, ratio: $0, numTimesteps: numTimesteps) } }
    }

    /// The transform's ratio sqrt(h*w / 512^2) * sqrt(nf) in float32, in the reference's order.
    /// nf = 1 when the first row has one frame, else num_frames // 17 * 5 (latent length in the
    /// VAE's units). For 2...16 frames nf is 0 and the reference divides 0 by 0 at t = 1000, so
    /// such lengths are refused here.
    public static func transformRatio(_ size: VideoSize, firstRowFrames: Int) throws -> Float {
        guard size.height > 0, size.width > 0, size.frames > 0 else {
            throw SamplerError.invalidInput("rectified flow: video size \(size.height)x\(size.width), \(size.frames) frames must be positive")
        }
        let nf: Float = firstRowFrames == 1 ? 1 : Float(size.frames / 17 * 5)
        guard nf > 0 else {
            throw SamplerError.invalidInput("rectified flow timestep transform: \(size.frames) frames gives a length factor of 0 (num_frames // 17 * 5); use 1 frame or at least 17, or turn the transform off")
        }
        let resolution = Float(size.height) * Float(size.width)
        let ratioSpace = (resolution / Float(512 * 512)).squareRoot()
        let ratioTime = (nf / 1).squareRoot()
        return ratioSpace * ratioTime * 1.0
    }

    /// t' = t/N; new t = N * ratio*t' / (1 + (ratio-1)*t'), all float32. At t = 1000 this can
    /// land just below 1000 (999.99988), which decides which frames count as conditioning.
    public static func transform(_ t: Float, ratio: Float, numTimesteps: Int) -> Float {
        let n = Float(numTimesteps)
        let tn = t / n
        let shifted = ratio * tn / (1 + (ratio - 1) * tn)
        return shifted * n
    }

    public func start(_ inputs: SamplingInputs, model: @escaping Denoiser, noise: NoiseSource) throws -> SamplingRun {
        guard steps >= 1 else { throw SamplerError.invalidInput("rectified flow: steps must be at least 1, got \(steps)") }
        guard numTimesteps >= 1 else { throw SamplerError.invalidInput("rectified flow: num_timesteps must be at least 1") }
        let z = inputs.latent
        guard z.rank == 5, z.shape.allSatisfy({ $0 > 0 }) else {
            throw SamplerError.invalidInput("rectified flow: latent must be [B, C, T, H, W], got \(z.shape)")
        }
        if let m = inputs.frameMask, m.shape != [z.shape[0], z.shape[2]] {
            throw SamplerError.invalidInput("rectified flow: frame mask must be [B, T] = [\(z.shape[0]), \(z.shape[2])], got \(m.shape)")
        }
        let ts = try timesteps(sizes: inputs.sizes, batch: z.shape[0])
        return SamplingRun(RectifiedFlowRun(config: self, latent: z, frameMask: inputs.frameMask?.array,
                                            timesteps: ts, model: model, noise: noise))
    }
}

final class RectifiedFlowRun: SamplerStepper {
    let config: RectifiedFlowSampler
    private(set) var latent: Tensor              // z: [B, C, T, H, W]
    let frameMask: [Float]?                      // [B, T]
    /// [B, T] frames already noised for image-to-video: those the mask marks as generated.
    var noiseAdded: [Bool]
    let timesteps: [[Float]]                     // [steps][B]
    let model: Denoiser
    let noise: NoiseSource

    init(config: RectifiedFlowSampler, latent: Tensor, frameMask: [Float]?, timesteps: [[Float]],
         model: @escaping Denoiser, noise: NoiseSource) {
        self.config = config
        self.latent = latent
        self.frameMask = frameMask
        self.noiseAdded = frameMask?.map { $0 == 1 } ?? []
        self.timesteps = timesteps
        self.model = model
        self.noise = noise
    }

    var count: Int { timesteps.count }

    func step(_ i: Int) throws -> [Float] {
        let t = timesteps[i]
        let (b, c, frames) = (latent.shape[0], latent.shape[1], latent.shape[2])
        let plane = latent.shape[3] * latent.shape[4]
        let n = Float(config.numTimesteps)

        // Image-to-video: a frame is generated at this step when mask * N >= t; it gets noised
        // (to level t) the first time that holds, and conditioning frames are reset afterwards.
        var clean: Tensor?
        var active: [Bool]?
        if let mask = frameMask {
            let draw = try noise.standardNormal(latent.shape)    // drawn every step, as the reference
            let x0 = latent
            let isActive = (0..<(b * frames)).map { mask[$0] * n >= t[$0 / frames] }
            let z = latent.mutablePointer, e = draw.pointer, x = x0.pointer
            for bi in 0..<b {
                let keep = 1 - t[bi] / n
                let mix = 1 - keep
                for f in 0..<frames where isActive[bi * frames + f] && !noiseAdded[bi * frames + f] {
                    for ci in 0..<c {
                        let o = ((bi * c + ci) * frames + f) * plane
                        for s in o..<(o + plane) { z[s] = keep * x[s] + mix * e[s] }
                    }
                }
            }
            noiseAdded = isActive
            clean = x0
            active = isActive
        }

        let xIn = doubledBatch(latent)
        let out = try model(xIn, t + t, active.map { $0 + $0 })
        _ = try checkModelOutput(out, input: xIn, allowedChannels: [2 * c], sampler: "rectified flow (velocity + sigma channels)")

        // Euler step on the guided velocity (first C output channels).
        let dt = (0..<b).map { bi in (i + 1 < count ? t[bi] - timesteps[i + 1][bi] : t[bi]) / n }
        let g = config.guidanceScale
        let z = latent.mutablePointer, o = out.pointer
        let rowIn = c * frames * plane, rowOut = 2 * rowIn
        for bi in 0..<b {
            let cond = o + bi * rowOut, uncond = o + (b + bi) * rowOut, zb = z + bi * rowIn
            for k in 0..<rowIn {
                let v = guided(cond: cond[k], uncond: uncond[k], scale: g)
                zb[k] = zb[k] + v * dt[bi]
            }
        }

        if let x0 = clean, let isActive = active {
            let x = x0.pointer
            for bi in 0..<b {
                for f in 0..<frames where !isActive[bi * frames + f] {
                    for ci in 0..<c {
                        let off = ((bi * c + ci) * frames + f) * plane
                        for s in off..<(off + plane) { z[s] = x[s] }
                    }
                }
            }
        }
        return t
    }
}
