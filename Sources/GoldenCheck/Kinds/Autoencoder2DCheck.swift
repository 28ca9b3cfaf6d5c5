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
        var results: [OutputCheck] = []
        func check(_ name: String, _ got: Tensor) throws {
            results.append(OutputCheck(name: name, got: got, expected: try c.tensor(name), tolerance: c.tolerance(for: name)))
        }
        let x = try c.tensor("x")
        let posterior = try ae.posterior(x)
        try check("posterior.mean", posterior.mean)
        try check("posterior.logvar", posterior.logvar)
        try check("z_mode", try ae.encode(x, sampling: .mode))
        let noise = RecordedNoise([try c.tensor("enc_noise0")], name: "\(c.name) enc_noise0")
        try check("z_sample", try ae.encode(x, sampling: .sample(noise: { try noise.standardNormal($0) })))
        try check("x_dec", try ae.decode(try c.tensor("z_rand")))
        return results
    }
}
