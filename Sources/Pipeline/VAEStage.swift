// The VAE, loaded for the stages that need it: encoding reference images (image-to-video) and
// decoding latents to frames.

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
        }
    }

    /// The latent of one video, asked of the checkpoint's VAE (opened as stored: nothing is
    /// converted, and it is released at once). -> [C, T', h, w]
    static func latentShape(config: GenerationConfig) throws -> [Int] {
        let vae = try load(config: config, dtype: .fp32)
        return [vae.latentChannels] + vae.latentSize(frames: config.numFrames, height: config.height, width: config.width)
    }
}

/// Open-Sora's apply_mask_strategy for loop 0: copies reference latent frames into z and marks
/// them in the frame mask (edit_ratio; 0 = kept clean). z: [B, C, T, H, W]; refs[b]: [C, Tr, H, W].
/// Returns the mask [B, T], or nil when no prompt has a strategy.
func applyMaskStrategy(_ z: inout Tensor, references: [[Tensor]], strategies: [[MaskCondition]], align: Int?) throws -> Tensor? {
    guard strategies.contains(where: { !$0.isEmpty }) else { return nil }
    let (b, c, t) = (z.shape[0], z.shape[1], z.shape[2])
    let plane = z.shape[3] * z.shape[4]
    var mask = Tensor(repeating: 1, shape: [b, t])
    let zp = z.mutablePointer
    for i in 0..<b {
        for m in strategies[i] where m.loop == 0 {
            guard m.referenceIndex < references[i].count else {
                throw PipelineError("mask_strategy of prompt \(i + 1) uses reference #\(m.referenceIndex), but only \(references[i].count) reference(s) were given")
            }
            let ref = references[i][m.referenceIndex]
            let tr = ref.shape[1]
            var refStart = m.referenceStart < 0 ? tr + m.referenceStart : m.referenceStart
            var targetStart = m.targetStart < 0 ? t + m.targetStart : m.targetStart
            if let align {
                refStart = nearestPoint(refStart, align, tr)
                targetStart = nearestPoint(targetStart, align, t)
            }
            let length = min(m.length, t - targetStart, tr - refStart)
            guard refStart >= 0, targetStart >= 0, length > 0 else { continue }
            let rp = ref.pointer
            for ch in 0..<c {
                for f in 0..<length {
                    let dst = zp + ((i * c + ch) * t + targetStart + f) * plane
                    let src = rp + (ch * tr + refStart + f) * plane
                    dst.update(from: src, count: plane)
                }
            }
            for f in 0..<length { mask[flat: i * t + targetStart + f] = Float(m.editRatio) }
        }
    }
    return mask
}

/// find_nearest_point: snap to a multiple of `point`, rounding up past the half, within max.
func nearestPoint(_ value: Int, _ point: Int, _ maxValue: Int) -> Int {
    var t = value / point
    if Double(value % point) > Double(point) / 2 && t < maxValue / point - 1 { t += 1 }
    return t * point
}
