// The VAE, loaded for the stages that need it: the noise shape, encoding reference images
// (image-to-video) and decoding latents to frames.

import Foundation
import TensorCore
import Weights
import VAE

enum VAEStage {
    /// The configured VAE behind the VAE module's own protocol; `dtype` as the run's (nil: the config's).
    static func load(config: GenerationConfig, dtype: ComputeDType? = nil) throws -> any VideoAutoencoder {
        let v = config.vae
        let path = try WeightLocator.resolve(v.path, component: WeightLocator.component(for: v.type), option: "model.vae.path")
        let store = HalfPrecision.store(try Checkpoint.open(path), dtype: dtype ?? config.dtype)
        switch v.type {
        case .sdVAE:
            return try SpatialVideoVAE(store: store, normGroups: v.spatial.normNumGroups, microBatchSize: v.microBatchSize)
        case .openSoraV12:
            return try VideoVAE(store: store, spatialNormGroups: v.spatial.normNumGroups,
                                temporalNormGroups: v.temporal?.numGroups ?? 32,
                                microFrameSize: v.microFrameSize, microBatchSize: v.microBatchSize)
        case .hunyuanVAE:
            var base = HunyuanVAEConfig.openSora2
            base.normGroups = v.normNumGroups
            base.useSpatialTiling = v.useSpatialTiling
            base.useTemporalTiling = v.useTemporalTiling
            return try HunyuanVAE(store: store, base: base)
        case .dcAE:
            var base = VideoDCAEConfig.openSora2
            base.useSpatialTiling = v.useSpatialTiling
            base.useTemporalTiling = v.useTemporalTiling
            return try VideoDCAE(store: store, base: base)
        }
    }

    /// The latent of one video, asked of the checkpoint's VAE (opened as stored: nothing is
    /// converted, and it is released at once), and the channels of its decoder's full-resolution
    /// feature maps. -> ([C, T', h, w], channels)
    static func sizes(config: GenerationConfig) throws -> (latentShape: [Int], decoderWidth: Int) {
        let vae = try load(config: config, dtype: .fp32)
        let shape = [vae.latentChannels] + vae.latentSize(frames: config.numFrames, height: config.height, width: config.width)
        let spatial = (vae as? VideoVAE)?.spatial ?? (vae as? SpatialVideoVAE)
        return (shape, spatial?.model.config.blockOutChannels.first ?? 128)
    }

    static func latentShape(config: GenerationConfig) throws -> [Int] { try sizes(config: config).latentShape }
}
