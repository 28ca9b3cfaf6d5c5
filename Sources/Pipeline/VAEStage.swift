// The VAE, loaded for the stages that need it: encoding reference images (image-to-video) and
// decoding latents to frames.

import Foundation
import TensorCore
import Weights
import VAE

enum VAEStage {
    static func load(config: GenerationConfig) throws -> LatentVideoCodec {
        let v = config.vae
        let path = try WeightLocator.resolve(v.path, component: WeightLocator.component(for: v.type), option: "model.vae.path")
        let store = HalfPrecision.store(try Checkpoint.open(path), dtype: config.dtype)
        switch v.type {
        case .sdVAE:
            return try SpatialVideoVAE(store: store, normGroups: v.spatial.normNumGroups, microBatchSize: v.microBatchSize)
        case .openSoraV12:
            return try VideoVAE(store: store, spatialNormGroups: v.spatial.normNumGroups,
                                temporalNormGroups: v.temporal?.numGroups ?? 32,
                                microFrameSize: v.microFrameSize, microBatchSize: v.microBatchSize)
        }
    }
}

/// Open-Sora's apply_mask_strategy for loop `loop`: copies reference latent frames into z where
/// MaskStrategy.place puts them and returns the frame mask (edit_ratio where placed, 1 elsewhere).
/// z: [B, C, T, H, W]; refs[b]: [C, Tr, H, W]. Returns the mask [B, T], or nil when no prompt has
/// a strategy (then the sampler draws nothing for conditioning; the reference would still pass
/// a mask of ones and draw unused noise each step).
func applyMaskStrategy(_ z: inout Tensor, references: [[Tensor]], strategies: [[MaskCondition]], loop: Int = 0, align: Int?) throws -> Tensor? {
    guard strategies.contains(where: { !$0.isEmpty }) else { return nil }
    let (b, c, t) = (z.shape[0], z.shape[1], z.shape[2])
    let plane = z.shape[3] * z.shape[4]
    var mask = Tensor(repeating: 1, shape: [b, t])
    let zp = z.mutablePointer
    for i in 0..<b {
        let placement: MaskStrategy.Placement
        do {
            placement = try MaskStrategy.place(frames: t, referenceFrames: references[i].map { $0.shape[1] }, conditions: strategies[i],
                                               loop: loop, align: align)
        } catch let e as ConditioningError where e.kind == .index {
            let bad = strategies[i].first { $0.loop == loop && !(0..<references[i].count).contains($0.referenceIndex) }
            throw PipelineError("mask_strategy of prompt \(i + 1) uses reference #\(bad?.referenceIndex ?? -1), but only \(references[i].count) reference(s) were given")
        } catch let e as ConditioningError {
            throw PipelineError("mask_strategy of prompt \(i + 1) (loop \(loop)): \(e.message) (\(references[i].count) reference(s), \(t) latent frames)")
        }
        for (f, source) in placement.sources.enumerated() {
            guard let source else { continue }
            let ref = references[i][source.reference]
            let tr = ref.shape[1], rp = ref.pointer
            for ch in 0..<c {
                (zp + ((i * c + ch) * t + f) * plane).update(from: rp + (ch * tr + source.frame) * plane, count: plane)
            }
        }
        for f in 0..<t { mask[flat: i * t + f] = placement.mask[f] }
    }
    return mask
}
