// Golden checker for kind 'dc_ae': Open-Sora 2.0's Video DC-AE with the case's scaling and
// tiling: the encoder output, the latent, and the decode of an independent latent.

import Foundation
import TensorCore
import VAE

enum VideoDCAECheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let dcae = try VideoDCAE(store: c.modelWeights(override: options.weights), base: config(c))
        var results = CaseResults(c)
        try results.check("z", try dcae.encode(try c.tensor("x")))
        try results.check("x_dec", try dcae.decode(try c.tensor("z_rand")))
        return results.all
    }

    /// The case's DCAEConfig (temporal stages, head width, scaling and tiling are not in the tensors).
    static func config(_ c: GoldenCase) -> VideoDCAEConfig {
        let cfg = c.config["DCAEConfig"] as? [String: Any] ?? [:]
        var d = VideoDCAEConfig.openSora2
        if let enc = cfg["encoder"] as? [String: Any], let t = enc["temporal_downsample"] as? [Bool] { d.temporalStages = t }
        d.scalingFactor = (cfg["scaling_factor"] as? Double).map { Float($0) }
        if let v = cfg["use_spatial_tiling"] as? Bool { d.useSpatialTiling = v }
        if let v = cfg["use_temporal_tiling"] as? Bool { d.useTemporalTiling = v }
        if let v = cfg["spatial_tile_size"] as? Int { d.spatialTileSize = v }
        if let v = cfg["temporal_tile_size"] as? Int { d.temporalTileSize = v }
        if let v = cfg["tile_overlap_factor"] as? Double { d.tileOverlap = v }
        return d
    }
}
