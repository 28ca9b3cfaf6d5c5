// Golden checker for kind 'vae': OpenSoraVAE_V1_2 (VideoAutoencoderPipeline) encode with the
// posterior mode and with the recorded noise draws, decode, and the recorded intermediates
// (spatial latents, temporal chunk posteriors, decode chunk inputs and outputs).

import Foundation
import Samplers
import TensorCore
import VAE
import Weights

enum VAECheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let vae = try model(c, options)
        let io = try c.io()
        var results = CaseResults(c)

        // Encode, step by step with the posterior means.
        let x = try c.tensor("x")
        let spatialLatents = try vae.spatial.encode(x, sampling: .mode)
        try results.check("sp_latent_mode", spatialLatents)
        for (i, r) in vae.encodeChunks(frames: spatialLatents.shape[2]).enumerated() where io.contains("t_enc_chunk\(i).mean") {
            let posterior = try vae.temporal.encode(narrow(spatialLatents, axis: 2, r))
            try results.check("t_enc_chunk\(i).mean", posterior.mean)
            try results.check("t_enc_chunk\(i).logvar", posterior.logvar)
        }
        try results.check("z_mode", try vae.encode(x, sampling: .mode))

        // Encode with the recorded draws, consumed in the reference's order.
        var draws: [Tensor] = []
        for prefix in ["enc_noise_spatial", "enc_noise_temporal"] {
            var i = 0
            while io.contains("\(prefix)\(i)") { draws.append(try c.tensor("\(prefix)\(i)")); i += 1 }
        }
        let noise = RecordedNoise(draws, name: "\(c.name) enc_noise_*")
        try results.check("z_sample", try vae.encode(x, sampling: .sample(noise: { try noise.standardNormal($0) })))
        if noise.remaining != 0 {
            throw GoldenError.badCase(path: c.path, detail: "encode used \(draws.count - noise.remaining) of \(draws.count) recorded noise draws")
        }

        // Decode the recorded z_mode chunk by chunk, then whole; and the random latent.
        let numFrames = x.shape[2]
        let zMode = try c.tensor("z_mode")
        let zIn = vae.denormalize(zMode)
        for (i, chunk) in vae.decodeChunks(latentFrames: zMode.shape[2], numFrames: numFrames).enumerated()
        where io.contains("dec_chunk\(i).out") {
            let part = narrow(zIn, axis: 2, chunk.latents)
            try results.check("dec_chunk\(i).z_in", part)
            try results.check("dec_chunk\(i).out", try vae.temporal.decode(part, numFrames: chunk.numFrames))
        }
        try results.check("x_rec_mode", try vae.decode(zMode, numFrames: numFrames))
        try results.check("x_dec_rand", try vae.decode(try c.tensor("z_rand"), numFrames: numFrames))
        return results.all
    }

    /// The pipeline with the case's micro sizes and norm groups (not visible in tensor shapes).
    static func model(_ c: GoldenCase, _ options: CheckOptions) throws -> VideoVAE {
        let cfg = c.config
        let pipe = cfg["pipeline"] as? [String: Any] ?? [:]
        let vae2d = pipe["vae_2d"] as? [String: Any] ?? [:]
        let temporal = pipe["vae_temporal"] as? [String: Any] ?? [:]
        let spatial = cfg["spatial_autoencoderkl"] as? [String: Any] ?? [:]
        return try VideoVAE(store: c.modelWeights(override: options.weights),
                            spatialNormGroups: spatial["norm_num_groups"] as? Int ?? 32,
                            temporalNormGroups: temporal["num_groups"] as? Int ?? 32,
                            microFrameSize: pipe["micro_frame_size"] as? Int,
                            microBatchSize: vae2d["micro_batch_size"] as? Int)
    }
}
