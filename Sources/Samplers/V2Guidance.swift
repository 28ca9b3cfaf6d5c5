// Open-Sora 2.0's three-branch guidance (I2VDenoiser.denoise in opensora/utils/sampling.py).
// The model runs on three branches per step:
//   cond     = prompt + image condition,  uncond = "" + image condition,  uncond2 = "" + no condition
//   v = uncond2 + g_img (uncond - uncond2) + g_txt (cond - uncond)
// Oscillation: from step 10 on, odd steps use 1.0 for the scale it applies to. Temporal image
// guidance (i2v, g_img > 1 after oscillation): g_img ramps over the latent frames from 1.0 (frame 0)
// to linspace(g_img, 1, steps + 1)[step].
//
// Work saving: the reference always computes all three branches. A branch is skipped here when
// its contribution is provably zero: with g_img = 1 (scalar) v = uncond + g_txt (cond - uncond),
// so uncond2 is not needed; with g_txt = 1 as well v = cond; and without any condition (t2v)
// uncond and uncond2 get identical inputs, so uncond2 = uncond. The skipped forms differ from
// the reference's arithmetic only by float32 rounding (measured in docs/opensora-v2.md).
// The image term is the one CFG mix of Guidance.swift (`guided`); the text term is added to it.
// (This file is kept apart from Guidance.swift so it can be folded into the one guidance.)

import TensorCore

public enum V2Branch: Int, Sendable, CaseIterable, CustomStringConvertible {
    case textAndImage = 0      // prompt + image condition
    case imageOnly = 1         // "" + image condition
    case unconditional = 2     // "" + zero condition
    public var description: String { ["cond", "uncond", "uncond2"][rawValue] }
}

public struct V2Guidance: Sendable, Equatable {
    public var text: Float
    public var image: Float
    public var textOscillation: Bool
    public var imageOscillation: Bool
    /// Applies only to i2v condition types (api_fn turns it off for t2v and v2v).
    public var temporalImageGuidance: Bool
    /// Oscillation starts at this step (get_oscillation_gs's force_num).
    public var oscillationStart = 10
    /// Compute every branch on every step, as the reference does (for comparing bit patterns of
    /// the reference's arithmetic); off: skip the branches whose contribution is zero.
    public var computeAllBranches = false

    /// The 256px / 768px configs: guidance 7.5, guidance_img 3.0, both oscillating, temporal on.
    public init(text: Float = 7.5, image: Float = 3.0, textOscillation: Bool = true, imageOscillation: Bool = true,
                temporalImageGuidance: Bool = true) {
        self.text = text
        self.image = image
        self.textOscillation = textOscillation
        self.imageOscillation = imageOscillation
        self.temporalImageGuidance = temporalImageGuidance
    }

    /// get_oscillation_gs.
    func oscillated(_ scale: Float, step i: Int, on: Bool) -> Float {
        !on || i < oscillationStart || i % 2 == 0 ? scale : 1.0
    }

    /// The scales used at step `i` of `steps`: text, the scalar image scale, and the per-latent-frame
    /// image scales when temporal guidance applies (nil: the scalar for every frame).
    public func scales(step i: Int, of steps: Int, latentFrames t: Int, condition: V2ConditionType) -> (text: Float, image: Float, imagePerFrame: [Float]?) {
        let g = oscillated(text, step: i, on: textOscillation)
        let gi = oscillated(image, step: i, on: imageOscillation)
        guard gi > 1, temporalImageGuidance, condition.isImageToVideo else { return (g, gi, nil) }
        let upper = V2Schedule.linspaceFloat32(start: gi, end: 1, count: steps + 1)[i]
        return (g, gi, V2Schedule.linspaceFloat32(start: 1, end: upper, count: t))
    }

    /// The branches step `i` needs. - Parameter unconditioned: no frame is given (t2v).
    public func branches(text g: Float, image gi: Float, imagePerFrame: [Float]?, unconditioned: Bool) -> [V2Branch] {
        if computeAllBranches { return V2Branch.allCases }
        let imageTermVanishes = unconditioned || (gi == 1 && imagePerFrame == nil)
        if !imageTermVanishes { return V2Branch.allCases }
        return g == 1 ? [.textAndImage] : [.textAndImage, .imageOnly]
    }

    /// The guided velocity from the branches computed. outputs: [branch: [B, C, T, H, W]] -> [B, C, T, H, W]
    public func combine(_ outputs: [V2Branch: Tensor], text g: Float, image gi: Float, imagePerFrame: [Float]?) throws -> Tensor {
        guard let c = outputs[.textAndImage] else { throw SamplerError.badModelOutput("v2 guidance: the text branch was not computed") }
        guard let u = outputs[.imageOnly] else {
            guard g == 1 else { throw SamplerError.badModelOutput("v2 guidance: text scale \(g) needs the unconditional-text branch") }
            return c                                                         // v = cond
        }
        guard let u2 = outputs[.unconditional] else {
            return Self.mix(u, u, scale: 1, perFrame: nil, plus: c, u, textScale: g)   // uncond2 == uncond
        }
        return Self.mix(u2, u, scale: gi, perFrame: imagePerFrame, plus: c, u, textScale: g)
    }

    /// (a + s_f (b - a)) + g (c - d) elementwise, in the reference's order of operations (no fused
    /// multiply-adds); s_f is the per-frame scale of each element's latent frame, or `scale`.
    /// All tensors [B, C, T, H, W].
    static func mix(_ a: Tensor, _ b: Tensor, scale: Float, perFrame: [Float]?, plus c: Tensor, _ d: Tensor, textScale g: Float) -> Tensor {
        let shape = a.shape
        let t = shape[2], plane = shape[3] * shape[4], frames = shape[0] * shape[1] * t
        var out = Tensor(uninitialized: shape)
        let ap = a.pointer, bp = b.pointer, cp = c.pointer, dp = d.pointer, op = out.mutablePointer
        for f in 0..<frames {
            let s = perFrame?[f % t] ?? scale
            for j in (f * plane)..<((f + 1) * plane) {
                let image = guided(cond: bp[j], uncond: ap[j], scale: s)      // the one CFG mix: a + s (b - a)
                let text = g * (cp[j] - dp[j])
                op[j] = image + text
            }
        }
        return out
    }
}
