// Open-Sora 2.0's sampling geometry and timestep schedule (opensora/utils/sampling.py):
//
//   latent frames  T = (frames - 1) / 4 + 1          frames must be 4k + 1 (causal VAE)
//   noise          [B, C / p², T, p·ceil(H/D), p·ceil(W/D)]   H, W rounded up to multiples of 16
//   schedule       t = linspace(1, 0, steps + 1) (float32)
//                  alpha = (m·S + b)·sqrt(T), m = 2 / 3840, b = 1 - 256 m, S = packed tokens per frame
//                  t' = alpha t / (1 + (alpha - 1) t)
//
// Values are computed in the reference's precisions: the line through (256, 1) and (4096, 3)
// and sqrt(T) in float64 (Python floats), the shift itself on the float32 tensor.

import Foundation
import TensorCore

public struct V2LatentGeometry: Sendable, Equatable {
    /// Pixel height and width after rounding up to multiples of 16 (sanitize_sampling_option).
    public var height: Int
    public var width: Int
    public var frames: Int
    /// Latent frames T.
    public var latentFrames: Int
    /// Latent channels before packing (64 / 2² = 16 for the 256px / 768px configs).
    public var channels: Int
    public var patchSize: Int
    /// The autoencoder's spatial factor D (16 for HunyuanVideo's VAE; 32 for the DC-AE config).
    public var spatialCompression: Int

    /// - Parameters:
    ///   - packedChannels: the MMDiT's in_channels (64, or 128 with patch size 1).
    ///   - causalVAE: HunyuanVideo's causal VAE decodes 4(T-1)+1 frames, so frames must be 4k+1; the
    ///     DC-AE decodes 4T, so 1 or 4k (the reference's T = (frames - 1) // 4 + 1 holds for both).
    public init(height: Int, width: Int, frames: Int, packedChannels: Int = 64, patchSize: Int = 2,
                spatialCompression: Int = 16, temporalCompression: Int = 4, causalVAE: Bool = true) throws {
        guard height > 0, width > 0 else { throw SamplerError.invalidInput("v2 sampler: height and width must be positive, got \(height) x \(width)") }
        guard frames >= 1, causalVAE ? (frames - 1) % temporalCompression == 0 : frames == 1 || frames % temporalCompression == 0 else {
            throw SamplerError.invalidInput(causalVAE
                ? "--num-frames \(frames): Open-Sora 2.0 needs \(temporalCompression)k+1 frames (1, 5, 9, ..., 33, ..., 129) for its causal VAE"
                : "--num-frames \(frames): the DC-AE needs 1 or a multiple of \(temporalCompression) frames (4, 8, ..., 128)")
        }
        guard patchSize > 0, packedChannels % (patchSize * patchSize) == 0, spatialCompression > 0 else {
            throw SamplerError.invalidInput("v2 sampler: \(packedChannels) packed channels do not split into \(patchSize) x \(patchSize) patches")
        }
        self.height = (height + 15) / 16 * 16
        self.width = (width + 15) / 16 * 16
        self.frames = frames
        latentFrames = frames == 1 ? 1 : (frames - 1) / temporalCompression + 1
        channels = packedChannels / (patchSize * patchSize)
        self.patchSize = patchSize
        self.spatialCompression = spatialCompression
    }

    /// [C, T, H, W] of one latent video.
    public var latentShape: [Int] {
        let d = spatialCompression
        return [channels, latentFrames, patchSize * ((height + d - 1) / d), patchSize * ((width + d - 1) / d)]
    }

    /// Packed tokens per latent frame: the schedule's S.
    public var tokensPerFrame: Int { latentShape[2] * latentShape[3] / (patchSize * patchSize) }
}

public enum V2Schedule {
    /// The shift alpha = (m·S + b)·sqrt(T) (float64, as the reference's Python floats).
    public static func shiftAlpha(tokensPerFrame s: Int, latentFrames t: Int) -> Double {
        let m = (3.0 - 1.0) / (4096.0 - 256.0), b = 1.0 - m * 256.0
        return (m * Double(s) + b) * Double(t).squareRoot()
    }

    /// The steps + 1 timesteps from 1 down to 0.
    /// - Parameter shiftAlpha: nil: computed from the geometry (flow_shift unset).
    public static func timesteps(steps: Int, geometry g: V2LatentGeometry, shift: Bool = true, shiftAlpha: Double? = nil) throws -> [Float] {
        guard steps >= 1 else { throw SamplerError.invalidInput("v2 sampler: --num-steps \(steps) must be at least 1") }
        let t = linspaceFloat32(start: 1, end: 0, count: steps + 1)
        guard shift else { return t }
        let alpha = shiftAlpha ?? Self.shiftAlpha(tokensPerFrame: g.tokensPerFrame, latentFrames: g.latentFrames)
        // alpha * t / (1 + (alpha - 1) * t) on a float32 tensor: each Python scalar becomes a float32 operand.
        let a = Float(alpha), aMinus1 = Float(alpha - 1)
        return t.map { (a * $0) / (1 + aMinus1 * $0) }
    }

    /// torch.linspace in float32 as ATen computes it on x86-64: from the start for the first
    /// half, from the end for the second, each a multiply-add GCC fuses (checked against
    /// torch.linspace for 2...59 points on several ranges: all bits equal).
    static func linspaceFloat32(start: Float, end: Float, count n: Int) -> [Float] {
        guard n > 1 else { return [start] }
        let step = (end - start) / Float(n - 1)
        let half = n / 2
        return (0..<n).map { i in i < half ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(n - i - 1)) }
    }

    /// get_noise: [B, C, T, H, W] from a fresh torch.Generator seeded with `seed`.
    public static func noise(batch: Int, geometry g: V2LatentGeometry, seed: UInt64) -> Tensor {
        TorchNoise(seed: seed).standardNormal([batch] + g.latentShape)
    }
}
