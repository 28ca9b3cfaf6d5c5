// What every model checker does: compare a computed tensor with the case's tensor of the same
// name at the case's tolerance for it, and collect the results.

import Samplers
import TensorCore
import VAE

struct CaseResults {
    let golden: GoldenCase
    var all: [OutputCheck] = []

    init(_ golden: GoldenCase) { self.golden = golden }

    mutating func check(_ name: String, _ got: Tensor) throws {
        all.append(OutputCheck(name: name, got: got, expected: try golden.tensor(name), tolerance: golden.tolerance(for: name)))
    }

    /// A sampling VAE's encode: the posterior's mean and log-variance, its mode, and a draw made
    /// with the recorded `enc_noise0`. x: [B, 3, T, H, W]
    mutating func checkPosteriorEncode(x: Tensor, posterior: (Tensor) throws -> DiagonalGaussian,
                                       encode: (Tensor, LatentSampling) throws -> Tensor) throws {
        let p = try posterior(x)
        try check("posterior.mean", p.mean)
        try check("posterior.logvar", p.logvar)
        try check("z_mode", try encode(x, .mode))
        let noise = RecordedNoise([try golden.tensor("enc_noise0")], name: "\(golden.name) enc_noise0")
        try check("z_sample", try encode(x, .sample(noise: { try noise.standardNormal($0) })))
    }
}
