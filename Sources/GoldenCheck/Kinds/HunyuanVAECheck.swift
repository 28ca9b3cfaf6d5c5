// Golden checker for kind 'hunyuan_vae': HunyuanVideo's causal 3D VAE (Open-Sora 2.0) with the
// case's groups, scaling and tiling: the (blended) moments, the posterior, the mode and the
// sampled latent (recorded draw), and the decode of an independent latent.

import Foundation
import Samplers
import TensorCore
import VAE

enum HunyuanVAECheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let vae = try HunyuanVAE(store: c.modelWeights(override: options.weights), base: config(c))
        var results = CaseResults(c)
        try results.checkPosteriorEncode(x: try c.tensor("x"), posterior: vae.posterior, encode: { try vae.encode($0, sampling: $1) })
        let zRand = try c.tensor("z_rand")
        try results.check("dec.z_unscaled", vae.unscale(zRand))
        try results.check("x_dec", try vae.decode(zRand))
        return results.all
    }

    /// The case's AutoEncoder3DConfig (groups, scaling and tiling are not in the tensors).
    static func config(_ c: GoldenCase) -> HunyuanVAEConfig {
        let cfg = c.config["cfg"] as? [String: Any] ?? [:]
        var h = HunyuanVAEConfig.openSora2
        if let v = cfg["norm_num_groups"] as? Int { h.normGroups = v }
        if let v = cfg["time_compression_ratio"] as? Int { h.timeCompression = v }
        if let v = cfg["spatial_compression_ratio"] as? Int { h.spatialCompression = v }
        if let v = cfg["scale_factor"] as? Double { h.scaleFactor = Float(v) }
        if let v = cfg["shift_factor"] as? Double { h.shiftFactor = Float(v) }
        if let v = cfg["sample_size"] as? Int { h.sampleSize = v }
        if let v = cfg["sample_tsize"] as? Int { h.sampleTSize = v }
        if let v = cfg["use_spatial_tiling"] as? Bool { h.useSpatialTiling = v }
        if let v = cfg["use_temporal_tiling"] as? Bool { h.useTemporalTiling = v }
        if let v = cfg["tile_overlap_factor"] as? Double { h.tileOverlap = v }
        return h
    }
}
