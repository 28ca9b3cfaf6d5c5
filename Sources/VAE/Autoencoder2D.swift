// Open-Sora 2.0's 2D autoencoder (opensora/models/vae/autoencoder_2d.py, the Flux AE): the
// AutoencoderKL layers under LDM names, applied to every frame of a video independently, with
// the latent shifted and scaled: z = scale * (z_raw - shift) on encode, the inverse on decode.

import TensorCore
import Weights

public struct Autoencoder2D: VideoAutoencoder {
    /// AutoEncoderFlux defaults (= configs/diffusion/inference/plugins/t2i2v.py).
    public static let defaultScale: Float = 0.3611
    public static let defaultShift: Float = 0.1159

    public let model: AutoencoderKL
    public let scale: Float, shift: Float
    /// Frames per encoder/decoder call (bounds memory; frames are independent, so it does not
    /// change the numbers).
    public let microBatchSize: Int

    public init(model: AutoencoderKL, scale: Float = Autoencoder2D.defaultScale, shift: Float = Autoencoder2D.defaultShift,
                microBatchSize: Int = 4) throws {
        guard scale != 0, scale.isFinite, shift.isFinite else { throw VAEError.badInput("2D AE scale \(scale) / shift \(shift) must be finite, scale non-zero") }
        guard microBatchSize > 0 else { throw VAEError.badInput("2D AE micro batch size must be positive, got \(microBatchSize)") }
        self.model = model; self.scale = scale; self.shift = shift; self.microBatchSize = microBatchSize
    }

    /// A Flux / LDM AutoEncoder checkpoint ("encoder.down.0.block.0.conv1.weight", ...); GroupNorm
    /// uses 32 groups (hard-coded in the reference).
    public init(store: WeightStore, scale: Float = Autoencoder2D.defaultScale, shift: Float = Autoencoder2D.defaultShift,
                microBatchSize: Int = 4) throws {
        try self.init(model: AutoencoderKL(store: store, normGroups: 32), scale: scale, shift: shift, microBatchSize: microBatchSize)
    }

    public var latentChannels: Int { model.config.latentChannels }

    public func latentSize(frames: Int, height: Int, width: Int) -> [Int] {
        let f = model.config.downsampleFactor
        return [frames, height / f, width / f]
    }

    private func batches(_ frames: Int) -> [Range<Int>] {
        stride(from: 0, to: frames, by: microBatchSize).map { $0..<min($0 + microBatchSize, frames) }
    }

    /// x: [B, C, T, H, W] -> the posterior over the unscaled latent [B, z, T, H/8, W/8].
    public func posterior(_ x: Tensor) throws -> DiagonalGaussian {
        let cfg = model.config, f = cfg.downsampleFactor
        guard x.rank == 5, x.shape[1] == cfg.inChannels, x.shape[0] > 0, x.shape[2] > 0,
              x.shape[3] > 0, x.shape[4] > 0, x.shape[3] % f == 0, x.shape[4] % f == 0 else {
            throw VAEError.badInput("2D AE encode expects [B, \(cfg.inChannels), T, H, W] with H and W positive multiples of \(f), got \(x.shape)")
        }
        let (b, t) = (x.shape[0], x.shape[2])
        var moments = Tensor(uninitialized: [b, 2 * cfg.latentChannels, t, x.shape[3] / f, x.shape[4] / f])
        for r in batches(b * t) {
            let m = try model.encode(gatherFrames(x, r))
            scatterFrames(concat([m.mean, m.logvar], axis: 1), into: &moments, at: r.lowerBound)
        }
        return DiagonalGaussian(moments: moments)
    }

    /// x: [B, C, T, H, W] in [-1, 1] -> z: [B, z, T, H/8, W/8] = scale * (latent - shift).
    /// With `.sample`, one noise tensor of the latent's shape is drawn (the reference's order).
    public func encode(_ x: Tensor, sampling: LatentSampling) throws -> Tensor {
        var z = try posterior(x).latent(sampling)
        let (s, sh) = (scale, shift)
        mapInPlace(&z) { s * ($0 - sh) }
        return z
    }

    /// z: [B, z, T, h, w] -> video [B, C, T, 8h, 8w]; every frame decoded on its own.
    public func decode(_ z: Tensor) throws -> Tensor {
        let cfg = model.config, f = cfg.downsampleFactor
        guard z.rank == 5, z.shape[1] == cfg.latentChannels, z.shape[0] > 0, z.shape[2] > 0, z.shape[3] > 0, z.shape[4] > 0 else {
            throw VAEError.badInput("2D AE decode expects a latent [B, \(cfg.latentChannels), T, h, w], got \(z.shape)")
        }
        var unscaled = z
        let (s, sh) = (scale, shift)
        mapInPlace(&unscaled) { $0 / s + sh }
        let (b, t) = (z.shape[0], z.shape[2])
        var out = Tensor(uninitialized: [b, cfg.outChannels, t, z.shape[3] * f, z.shape[4] * f])
        for r in batches(b * t) { scatterFrames(try model.decode(gatherFrames(unscaled, r)), into: &out, at: r.lowerBound) }
        return out
    }

    /// Frames map one to one: `numFrames` must equal the latent's T.
    public func decode(_ z: Tensor, numFrames: Int) throws -> Tensor {
        guard z.rank == 5, z.shape[2] == numFrames else {
            throw VAEError.badInput("2D AE decodes frame by frame: num_frames \(numFrames) must equal the latent's \(z.rank == 5 ? z.shape[2] : 0) frames")
        }
        return try decode(z)
    }
}
