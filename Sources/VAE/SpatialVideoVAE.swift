// Open-Sora's VideoAutoencoderKL: an image VAE applied frame by frame to videos, in
// micro-batches of frames, with the latent scale 0.18215 hard-coded (not the checkpoint
// config's scaling_factor). It is the whole VAE of v1.0/v1.1 (sd-vae-ft-ema) and the spatial
// half of v1.2 (the SDXL VAE).

import TensorCore
import Weights

public struct SpatialVideoVAE: Sendable {
    /// Open-Sora multiplies encoded latents by this and divides by it before decoding.
    public static let latentScale: Float = 0.18215

    public let model: AutoencoderKL
    /// Frames per encoder/decoder call (Open-Sora: 4 in v1.2; nil = all frames at once). It
    /// bounds memory; with noise supplied per call it also fixes the shapes of the noise draws.
    public let microBatchSize: Int?

    public init(model: AutoencoderKL, microBatchSize: Int? = 4) {
        self.model = model
        self.microBatchSize = microBatchSize
    }

    /// A diffusers AutoencoderKL checkpoint (tensor names "encoder.…", "decoder.…").
    public init(store: WeightStore, normGroups: Int = 32, microBatchSize: Int? = 4) throws {
        self.init(model: try AutoencoderKL(store: store, normGroups: normGroups), microBatchSize: microBatchSize)
    }

    /// Frames [start, start + count) of the (B T) order, as an image batch.
    private func batches(_ frames: Int) -> [Range<Int>] {
        let bs = max(1, microBatchSize ?? frames)
        return stride(from: 0, to: frames, by: bs).map { $0..<min($0 + bs, frames) }
    }

    /// x: [B, C, T, H, W] video in [-1, 1] -> [B, latent, T, H/8, W/8], scaled by 0.18215.
    /// With `.sample`, noise is drawn once per micro-batch with shape [n, latent, H/8, W/8].
    public func encode(_ x: Tensor, sampling: LatentSampling = .mode) throws -> Tensor {
        let cfg = model.config
        let f = cfg.downsampleFactor
        guard x.rank == 5, x.shape[1] == cfg.inChannels, x.shape[3] % f == 0, x.shape[4] % f == 0, x.shape[3] > 0, x.shape[4] > 0 else {
            throw VAEError.badInput("video VAE encode expects [B, \(cfg.inChannels), T, H, W] with H and W multiples of \(f), got \(x.shape)")
        }
        let (b, t) = (x.shape[0], x.shape[2])
        var out = Tensor(uninitialized: [b, cfg.latentChannels, t, x.shape[3] / f, x.shape[4] / f])
        for r in batches(b * t) {
            var z = try model.encode(gatherFrames(x, r)).latent(sampling)
            z.scale(by: Self.latentScale)
            scatterFrames(z, into: &out, at: r.lowerBound)
        }
        return out
    }

    /// z: [B, latent, T, h, w] -> [B, C, T, 8h, 8w]; frames are decoded micro-batch by micro-batch.
    public func decode(_ z: Tensor) throws -> Tensor {
        let cfg = model.config
        guard z.rank == 5, z.shape[1] == cfg.latentChannels, z.shape[3] > 0, z.shape[4] > 0 else {
            throw VAEError.badInput("video VAE decode expects [B, \(cfg.latentChannels), T, h, w], got \(z.shape)")
        }
        let b = z.shape[0], t = z.shape[2], f = cfg.downsampleFactor
        var out = Tensor(uninitialized: [b, cfg.outChannels, t, z.shape[3] * f, z.shape[4] * f])
        for r in batches(b * t) {
            var frames = gatherFrames(z, r)
            let zp = frames.mutablePointer
            for i in 0..<frames.count { zp[i] /= Self.latentScale }
            scatterFrames(try model.decode(frames), into: &out, at: r.lowerBound)
        }
        return out
    }
}

/// Frames `range` of video x: [B, C, T, H, W] in "(B T)" order, as [n, C, H, W].
func gatherFrames(_ x: Tensor, _ range: Range<Int>) -> Tensor {
    let (c, t, hw) = (x.shape[1], x.shape[2], x.shape[3] * x.shape[4])
    var out = Tensor(uninitialized: [range.count, c, x.shape[3], x.shape[4]])
    let src = x.pointer, dst = out.mutablePointer
    for (i, frame) in range.enumerated() {
        let (bi, ti) = (frame / t, frame % t)
        for ci in 0..<c { (dst + (i * c + ci) * hw).update(from: src + ((bi * c + ci) * t + ti) * hw, count: hw) }
    }
    return out
}

/// Writes images [n, C, H, W] as frames start..<start+n ("(B T)" order) of video [B, C, T, H, W].
func scatterFrames(_ images: Tensor, into video: inout Tensor, at start: Int) {
    let (c, t, hw) = (video.shape[1], video.shape[2], video.shape[3] * video.shape[4])
    let src = images.pointer, dst = video.mutablePointer
    for i in 0..<images.shape[0] {
        let (bi, ti) = ((start + i) / t, (start + i) % t)
        for ci in 0..<c { (dst + ((bi * c + ci) * t + ti) * hw).update(from: src + (i * c + ci) * hw, count: hw) }
    }
}
