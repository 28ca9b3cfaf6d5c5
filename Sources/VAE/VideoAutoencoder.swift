// What the generation pipeline needs from a video VAE: v1.0/v1.1 use the image VAE frame by
// frame (SpatialVideoVAE), v1.2 the spatial + temporal pipeline (VideoVAE).

import TensorCore

public protocol VideoAutoencoder: Sendable {
    var latentChannels: Int { get }
    /// Latent [T, h, w] for a video of frames x height x width.
    func latentSize(frames: Int, height: Int, width: Int) -> [Int]
    /// x: [B, 3, T, H, W] in [-1, 1] -> z: [B, latentChannels, latent T, h, w].
    func encode(_ x: Tensor, sampling: LatentSampling) throws -> Tensor
    /// z -> video [B, 3, numFrames, H, W].
    func decode(_ z: Tensor, numFrames: Int) throws -> Tensor
}
