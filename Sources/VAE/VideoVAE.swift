// OpenSoraVAE_V1_2 (VideoAutoencoderPipeline, vae.py): the SDXL image VAE frame by frame, then
// the temporal VAE over chunks of `microFrameSize` frames, then per-channel shift/scale.
// Decode runs the same path backwards, chunk by chunk over the latent frames.

import TensorCore
import Weights

public struct VideoVAE: VideoAutoencoder {
    public let spatial: SpatialVideoVAE
    public let temporal: TemporalVAE
    /// Frames per temporal-VAE call (17 in v1.2; nil = the whole clip at once).
    public let microFrameSize: Int?
    /// Latent normalisation, per latent channel: z = (x - shift) / scale.
    public let shift: [Float], scale: [Float]

    /// OpenSoraVAE_V1_2's values, used when the checkpoint has no shift/scale buffers.
    public static let defaultShift: [Float] = [-0.10, 0.34, 0.27, 0.98]
    public static let defaultScale: [Float] = [3.85, 2.32, 2.33, 3.06]

    public init(spatial: SpatialVideoVAE, temporal: TemporalVAE, microFrameSize: Int? = 17,
                shift: [Float] = VideoVAE.defaultShift, scale: [Float] = VideoVAE.defaultScale) throws {
        let c = temporal.config.inOutChannels
        guard spatial.model.config.latentChannels == c else {
            throw VAEError.badInput("spatial VAE has \(spatial.model.config.latentChannels) latent channels, temporal VAE expects \(c)")
        }
        guard shift.count == temporal.config.embedDim, scale.count == temporal.config.embedDim else {
            throw VAEError.badInput("shift/scale need \(temporal.config.embedDim) values, got \(shift.count) and \(scale.count)")
        }
        if let m = microFrameSize, m <= 0 { throw VAEError.badInput("micro_frame_size must be positive, got \(m)") }
        self.spatial = spatial; self.temporal = temporal; self.microFrameSize = microFrameSize
        self.shift = shift; self.scale = scale
    }

    /// An OpenSoraVAE_V1_2 state dict: "spatial_vae.module.…", "temporal_vae.…" and the
    /// "shift"/"scale" buffers ([1, C, 1, 1, 1]; the v1.2 values if absent). Norm groups are
    /// not visible in shapes: 32 for both halves of the released model.
    public init(store: WeightStore, spatialNormGroups: Int = 32, temporalNormGroups: Int = 32,
                microFrameSize: Int? = 17, microBatchSize: Int? = 4) throws {
        let sp = try SpatialVideoVAE(store: PrefixedStore(store, prefix: "spatial_vae.module."), normGroups: spatialNormGroups,
                                     microBatchSize: microBatchSize)
        let tp = try TemporalVAE(store: PrefixedStore(store, prefix: "temporal_vae."), numGroups: temporalNormGroups)
        let c = tp.config.embedDim
        func buffer(_ name: String, _ fallback: [Float]) throws -> [Float] {
            store.contains(name) ? try store.tensor(name, shape: [1, c, 1, 1, 1]).array : fallback
        }
        try self.init(spatial: sp, temporal: tp, microFrameSize: microFrameSize,
                      shift: try buffer("shift", Self.defaultShift), scale: try buffer("scale", Self.defaultScale))
    }

    /// Latent frames the temporal VAE makes of each encoder chunk.
    public var microLatentFrames: Int? { microFrameSize.map { temporal.config.latentFrames($0) } }

    public var latentChannels: Int { temporal.config.embedDim }

    public func latentSize(frames: Int, height: Int, width: Int) -> [Int] {
        let f = spatial.model.config.downsampleFactor
        return [latentFrames(frames), height / f, width / f]
    }

    /// Latent frames for a clip of `frames` frames (get_latent_size).
    public func latentFrames(_ frames: Int) -> Int {
        Self.latentFrames(frames, microFrameSize: microFrameSize, temporal: temporal.config)
    }

    /// get_latent_size without the weights: each chunk of `microFrameSize` frames (nil: the whole
    /// clip) is front-padded to a multiple of the temporal factor. For estimates made before loading.
    public static func latentFrames(_ frames: Int, microFrameSize: Int?, temporal: TemporalVAEConfig) -> Int {
        let m = microFrameSize ?? max(frames, 1)
        return stride(from: 0, to: frames, by: m).reduce(0) { $0 + temporal.latentFrames(min($1 + m, frames) - $1) }
    }

    /// The frame ranges encode hands to the temporal VAE, one per chunk.
    public func encodeChunks(frames: Int) -> [Range<Int>] {
        let m = microFrameSize ?? max(frames, 1)
        return stride(from: 0, to: frames, by: m).map { $0..<min($0 + m, frames) }
    }

    /// The latent frame ranges decode hands to the temporal VAE, each with the num_frames it is
    /// decoded with: min(micro_frame_size, remaining), remaining shrinking by micro_frame_size.
    public func decodeChunks(latentFrames: Int, numFrames: Int) -> [(latents: Range<Int>, numFrames: Int)] {
        guard let m = microFrameSize, let mz = microLatentFrames else { return [(0..<latentFrames, numFrames)] }
        var remaining = numFrames
        return stride(from: 0, to: latentFrames, by: mz).map { i in
            defer { remaining -= m }
            return (i..<min(i + mz, latentFrames), min(m, remaining))
        }
    }

    /// x: [B, 3, T, H, W] video in [-1, 1] -> z: [B, 4, latentFrames(T), H/8, W/8].
    /// With `.sample`, noise is requested for every spatial micro-batch, then every temporal chunk.
    public func encode(_ x: Tensor, sampling: LatentSampling = .mode) throws -> Tensor {
        guard x.rank == 5, x.shape[2] > 0 else { throw VAEError.badInput("video VAE encode expects [B, 3, T>0, H, W], got \(x.shape)") }
        let spatialLatents = try spatial.encode(x, sampling: sampling)
        var parts: [Tensor] = []
        for r in encodeChunks(frames: spatialLatents.shape[2]) {
            parts.append(try temporal.encode(narrow(spatialLatents, axis: 2, r)).latent(sampling))
        }
        return normalize(parts.count == 1 ? parts[0] : concat(parts, axis: 2))
    }

    /// z: [B, 4, t, h, w] -> video [B, 3, numFrames, 8h, 8w] (numFrames as in the reference call;
    /// each chunk must keep at least one frame).
    public func decode(_ z: Tensor, numFrames: Int) throws -> Tensor {
        guard z.rank == 5, z.shape[1] == temporal.config.embedDim, z.shape[2] > 0 else {
            throw VAEError.badInput("video VAE decode expects [B, \(temporal.config.embedDim), t>0, h, w], got \(z.shape)")
        }
        let zd = denormalize(z)
        var parts: [Tensor] = []
        for chunk in decodeChunks(latentFrames: z.shape[2], numFrames: numFrames) {
            guard chunk.numFrames > 0 else {
                throw VAEError.badInput("num_frames \(numFrames) is too small for \(z.shape[2]) latent frames")
            }
            parts.append(try temporal.decode(narrow(zd, axis: 2, chunk.latents), numFrames: chunk.numFrames))
        }
        return try spatial.decode(parts.count == 1 ? parts[0] : concat(parts, axis: 2))
    }

    /// (x - shift) / scale per channel. x: [B, C, ...].
    public func normalize(_ x: Tensor) -> Tensor {
        perChannel(x) { v, c in (v - shift[c]) / scale[c] }
    }

    /// z * scale + shift per channel. z: [B, C, ...].
    public func denormalize(_ z: Tensor) -> Tensor {
        perChannel(z) { v, c in v * scale[c] + shift[c] }
    }

    private func perChannel(_ x: Tensor, _ f: (Float, Int) -> Float) -> Tensor {
        var out = Tensor(uninitialized: x.shape)
        let (b, c) = (x.shape[0], x.shape[1])
        let inner = x.count / max(b * c, 1)
        let src = x.pointer, dst = out.mutablePointer
        for plane in 0..<(b * c) {
            let ch = plane % c
            for i in 0..<inner { dst[plane * inner + i] = f(src[plane * inner + i], ch) }
        }
        return out
    }
}
