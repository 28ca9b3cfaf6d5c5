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
        var results: [OutputCheck] = []
        func check(_ name: String, _ got: Tensor) throws {
            results.append(OutputCheck(name: name, got: got, expected: try c.tensor(name), tolerance: c.tolerance(for: name)))
        }
        let x = try c.tensor("x")
        let posterior = try vae.posterior(x)
        try check("posterior.mean", posterior.mean)
        try check("posterior.logvar", posterior.logvar)
        try check("z_mode", try vae.encode(x, sampling: .mode))
        let noise = RecordedNoise([try c.tensor("enc_noise0")], name: "\(c.name) enc_noise0")
        try check("z_sample", try vae.encode(x, sampling: .sample(noise: { try noise.standardNormal($0) })))
        let zRand = try c.tensor("z_rand")
        try check("dec.z_unscaled", vae.unscale(zRand))
        try check("x_dec", try vae.decode(zRand))
        return results
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
