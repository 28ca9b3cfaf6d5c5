// Golden checker for kind 'ae2d': Open-Sora 2.0's 2D autoencoder (Flux AE) on videos folded
// into frames: the posterior, the mode and the sampled latent (with the recorded draw), and the
// decode of an independent latent.

import Foundation
import Samplers
import TensorCore
import VAE

enum Autoencoder2DCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let cfg = c.config["cfg"] as? [String: Any] ?? [:]
        let ae = try Autoencoder2D(store: c.modelWeights(override: options.weights),
                                   scale: Float(cfg["scale_factor"] as? Double ?? Double(Autoencoder2D.defaultScale)),
                                   shift: Float(cfg["shift_factor"] as? Double ?? Double(Autoencoder2D.defaultShift)))
        var results = CaseResults(c)
        try results.checkPosteriorEncode(x: try c.tensor("x"), posterior: ae.posterior, encode: { try ae.encode($0, sampling: $1) })
        try results.check("x_dec", try ae.decode(try c.tensor("z_rand")))
        return results.all
    }
}
