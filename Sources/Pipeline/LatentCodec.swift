// The VAE as the pipeline uses it: v1.2's video VAE (2D then temporal, 4x fewer latent frames)
// or v1.0/v1.1's sd-vae, the Stable Diffusion AutoencoderKL applied frame by frame (one latent
// frame per frame).

import TensorCore
import VAE

protocol LatentVideoCodec {
    /// x: [B, 3, T, H, W] in [-1, 1] -> z: [B, C, T', H/8, W/8]
    func encode(_ x: Tensor, sampling: LatentSampling) throws -> Tensor
    /// z: [B, C, T', h, w] -> [B, 3, numFrames, 8h, 8w]
    func decode(_ z: Tensor, numFrames: Int) throws -> Tensor
}

extension VideoVAE: LatentVideoCodec {}

extension SpatialVideoVAE: LatentVideoCodec {
    /// Every latent frame is one frame: numFrames only has to agree.
    func decode(_ z: Tensor, numFrames: Int) throws -> Tensor {
        guard z.rank == 5, z.shape[2] == numFrames else {
            throw PipelineError("sd-vae decode: \(z.rank == 5 ? z.shape[2] : 0) latent frames for num_frames \(numFrames) (the 2D VAE does not compress time)")
        }
        return try decode(z)
    }
}
