// The VAE posterior N(mean, exp(logvar)) and how a latent is drawn from it.

import Foundation
import TensorCore

/// How encode turns a posterior into a latent.
public enum LatentSampling: @unchecked Sendable {
    /// The mean (diffusers/Open-Sora `mode()`).
    case mode
    /// mean + exp(logvar / 2) * noise, with the noise tensor of the given shape supplied by the
    /// caller (in the reference's draw order: spatial micro-batches first, then temporal chunks).
    case sample(noise: (_ shape: [Int]) throws -> Tensor)
}

public struct DiagonalGaussian {
    public let mean: Tensor       // [N, C, ...]
    public let logvar: Tensor     // [N, C, ...], clamped to [-30, 20]

    /// moments: [N, 2C, ...]: the first C channels are the mean, the rest the log-variance.
    public init(moments: Tensor) {
        let c2 = moments.shape[1]
        mean = narrow(moments, axis: 1, 0..<(c2 / 2))
        logvar = clamp(narrow(moments, axis: 1, (c2 / 2)..<c2), min: -30, max: 20)
    }

    public func latent(_ sampling: LatentSampling) throws -> Tensor {
        switch sampling {
        case .mode: return mean
        case let .sample(draw):
            let noise = try draw(mean.shape)
            guard noise.count == mean.count else {
                throw VAEError.badInput("posterior noise has shape \(noise.shape), expected \(mean.shape)")
            }
            // Same op order as the reference: std = exp(0.5 * logvar); mean + std * noise.
            var z = Tensor(uninitialized: mean.shape)
            let m = mean.pointer, lv = logvar.pointer, e = noise.pointer, zp = z.mutablePointer
            for i in 0..<z.count { zp[i] = m[i] + exp(0.5 * lv[i]) * e[i] }
            return z
        }
    }
}
