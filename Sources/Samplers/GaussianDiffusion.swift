// IDDPM (ancestral) and DDIM sampling over a respaced diffusion schedule, as Open-Sora v1.0/v1.1
// use them (schedulers/iddpm: IDDPM.sample, p_sample, ddim_sample, forward_with_cfg).
//
// The model predicts 2C channels: eps and, per channel, v in [-1, 1] choosing the log variance
// between the clipped posterior variance and beta (learned range). Guidance mixes the first
// `guidanceChannels` output channels (cfg_channel; v1.1 uses 3, so the 4th eps channel is not
// guided); the other channels, the variance ones included, stay per half.
//
// The reference samples the doubled batch cat([z, z]) and returns its first half. The second
// half never feeds back (the model input is always the first half twice), so only the first half
// is advanced here; the noise is still drawn with the doubled shape so seeded runs match.

import Foundation
import TensorCore

public struct IDDPMSampler: Sampler {
    public var steps: Int
    public var guidanceScale: Float
    /// cfg_channel: how many leading output channels are guided; nil = half of them (all eps).
    public var guidanceChannels: Int?
    public var diffusionSteps: Int
    /// Open-Sora: `.even` with `.float32` tables; DiT: `.float64` tables, `.even` ("N") or `.ddimStride` ("ddimN").
    public var respacing: Respacing
    public var tables: ScheduleTables

    public init(steps: Int = 100, guidanceScale: Float = 7, guidanceChannels: Int? = nil, diffusionSteps: Int = 1000,
                respacing: Respacing = .even, tables: ScheduleTables = .float32) {
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidanceChannels = guidanceChannels
        self.diffusionSteps = diffusionSteps
        self.respacing = respacing
        self.tables = tables
    }

    public var stepCount: Int { steps }

    public func schedule() throws -> DiffusionSchedule {
        try DiffusionSchedule(samplingSteps: steps, diffusionSteps: diffusionSteps, respacing: respacing, tables: tables)
    }

    public func start(_ inputs: SamplingInputs, model: @escaping Denoiser, noise: NoiseSource) throws -> SamplingRun {
        let run = try GaussianDiffusionRun(name: "IDDPM", update: .ancestral, schedule: schedule(), inputs: inputs,
                                           guidanceScale: guidanceScale, guidanceChannels: guidanceChannels,
                                           model: model, noise: noise)
        return SamplingRun(run)
    }
}

public struct DDIMSampler: Sampler {
    public var steps: Int
    /// 0: deterministic; 1: the ancestral variance.
    public var eta: Float
    public var guidanceScale: Float
    public var guidanceChannels: Int?
    public var diffusionSteps: Int
    /// As IDDPMSampler's.
    public var respacing: Respacing
    public var tables: ScheduleTables

    public init(steps: Int = 100, eta: Float = 0, guidanceScale: Float = 7, guidanceChannels: Int? = nil, diffusionSteps: Int = 1000,
                respacing: Respacing = .even, tables: ScheduleTables = .float32) {
        self.steps = steps
        self.eta = eta
        self.guidanceScale = guidanceScale
        self.guidanceChannels = guidanceChannels
        self.diffusionSteps = diffusionSteps
        self.respacing = respacing
        self.tables = tables
    }

    public var stepCount: Int { steps }

    public func schedule() throws -> DiffusionSchedule {
        try DiffusionSchedule(samplingSteps: steps, diffusionSteps: diffusionSteps, respacing: respacing, tables: tables)
    }

    public func start(_ inputs: SamplingInputs, model: @escaping Denoiser, noise: NoiseSource) throws -> SamplingRun {
        guard eta >= 0, eta.isFinite else { throw SamplerError.invalidInput("DDIM: eta must be >= 0, got \(eta)") }
        let run = try GaussianDiffusionRun(name: "DDIM", update: .ddim(eta: eta), schedule: schedule(), inputs: inputs,
                                           guidanceScale: guidanceScale, guidanceChannels: guidanceChannels,
                                           model: model, noise: noise)
        return SamplingRun(run)
    }
}

/// DDIM's sigma at spaced index i: eta * sqrt((1 - abar_prev) / (1 - abar)) * sqrt(1 - abar / abar_prev).
public func ddimSigma(_ s: DiffusionSchedule, index i: Int, eta: Float) -> Float {
    let ab = s.alphasCumprod[i], abPrev = s.alphasCumprodPrev[i]
    return eta * ((1 - abPrev) / (1 - ab)).squareRoot() * (1 - ab / abPrev).squareRoot()
}

final class GaussianDiffusionRun: SamplerStepper {
    enum Update { case ancestral, ddim(eta: Float) }

    let name: String
    let update: Update
    let schedule: DiffusionSchedule
    let guidanceScale: Float
    let guidanceChannels: Int?
    let model: Denoiser
    let noise: NoiseSource
    private(set) var latent: Tensor           // x: [B, C, T, H, W], the first half of the reference's sample

    init(name: String, update: Update, schedule: DiffusionSchedule, inputs: SamplingInputs, guidanceScale: Float,
         guidanceChannels: Int?, model: @escaping Denoiser, noise: NoiseSource) throws {
        guard inputs.latent.rank == 5, inputs.latent.shape.allSatisfy({ $0 > 0 }) else {
            throw SamplerError.invalidInput("\(name): latent must be [B, C, T, H, W], got \(inputs.latent.shape)")
        }
        guard inputs.frameMask == nil else {
            throw SamplerError.invalidInput("\(name): frame-conditioning masks (image-to-video) are only supported by rectified flow")
        }
        if let g = guidanceChannels, g < 1 || g > 2 * inputs.latent.shape[1] {
            throw SamplerError.invalidInput("\(name): cfg_channel \(g) must be in 1...\(2 * inputs.latent.shape[1]) (the model's output channels)")
        }
        self.name = name
        self.update = update
        self.schedule = schedule
        self.guidanceScale = guidanceScale
        self.guidanceChannels = guidanceChannels
        self.model = model
        self.noise = noise
        self.latent = inputs.latent
    }

    var count: Int { schedule.count }

    func step(_ k: Int) throws -> [Float] {
        let i = count - 1 - k                      // spaced index, from the noisiest down to 0
        let (b, c) = (latent.shape[0], latent.shape[1])
        let t = Float(schedule.timestepMap[i])
        let xIn = doubledBatch(latent)
        let out = try model(xIn, [Float](repeating: t, count: 2 * b), nil)
        let outChannels = try checkModelOutput(out, input: xIn, allowedChannels: [2 * c], sampler: "\(name) (eps + learned variance)")
        let guidedChannels = guidanceChannels ?? outChannels / 2
        var drawShape = latent.shape
        drawShape[0] = 2 * b
        let draw = try noise.standardNormal(drawShape)     // the reference draws for the doubled batch

        let s = schedule
        let sra = s.sqrtRecipAlphasCumprod[i], srm1 = s.sqrtRecipm1AlphasCumprod[i]
        let nonzero: Float = i == 0 ? 0 : 1
        let plane = latent.count / (b * c)
        let x = latent.mutablePointer, o = out.pointer, e = draw.pointer
        let g = guidanceScale
        for bi in 0..<b {
            for ci in 0..<c {
                let cond = o + (bi * 2 * c + ci) * plane, uncond = o + ((b + bi) * 2 * c + ci) * plane
                let condVar = cond + c * plane, uncondVar = uncond + c * plane
                let guideEps = ci < guidedChannels, guideVar = c + ci < guidedChannels
                let xs = x + (bi * c + ci) * plane, es = e + (bi * c + ci) * plane
                for p in 0..<plane {
                    let eps = guideEps ? guided(cond: cond[p], uncond: uncond[p], scale: g) : cond[p]
                    let xt = xs[p]
                    let predX0 = sra * xt - srm1 * eps
                    switch update {
                    case .ancestral:
                        let v = guideVar ? guided(cond: condVar[p], uncond: uncondVar[p], scale: g) : condVar[p]
                        let mean = s.posteriorMeanCoef1[i] * predX0 + s.posteriorMeanCoef2[i] * xt
                        guard nonzero != 0 else { xs[p] = mean; continue }    // no noise at t = 0
                        let frac = (v + 1) / 2
                        let logVar = frac * s.logBetas[i] + (1 - frac) * s.posteriorLogVarianceClipped[i]
                        xs[p] = mean + nonzero * Foundation.exp(0.5 * logVar) * es[p]
                    case let .ddim(eta):
                        // eps re-derived from x0 (as the reference does), then Eq. 12 of the DDIM paper.
                        let epsHat = (sra * xt - predX0) / srm1
                        let abPrev = s.alphasCumprodPrev[i]
                        let sigma = ddimSigma(s, index: i, eta: eta)
                        let meanPred = predX0 * abPrev.squareRoot() + max(0, 1 - abPrev - sigma * sigma).squareRoot() * epsHat
                        xs[p] = meanPred + nonzero * sigma * es[p]
                    }
                }
            }
        }
        return [Float](repeating: t, count: b)
    }
}
