// Noise for a batch of independent videos, each with its own generator.
//
// Row r of a draw [m*B, ...] comes from generator r % B, and each generator makes its m rows in
// one draw: the initial latent [B, ...] takes one row from each video, the doubled CFG batch
// [2B, ...] two. So a video's draws are the same whichever videos share its batch, and with one
// video the draws are exactly those of its generator (torch.randn of the full shape).

import TensorCore

public final class RowwiseNoise: NoiseSource {
    /// One generator per batch row (per video).
    public let sources: [NoiseSource]

    public init(_ sources: [NoiseSource]) {
        precondition(!sources.isEmpty, "RowwiseNoise needs at least one generator")
        self.sources = sources
    }

    public func standardNormal(_ shape: [Int]) throws -> Tensor {
        let videos = sources.count
        if videos == 1 { return try sources[0].standardNormal(shape) }
        guard let rows = shape.first, rows % videos == 0 else {
            throw NoiseError.shapeMismatch(source: "per-video noise for \(videos) videos", draw: 0, expected: shape,
                                           recorded: [videos] + shape.dropFirst())
        }
        let perVideo = rows / videos
        let rowShape = Array(shape.dropFirst())
        let rowCount = rowShape.reduce(1, *)
        var out = Tensor(uninitialized: shape)
        let dst = out.mutablePointer
        for (v, source) in sources.enumerated() {
            let draw = try source.standardNormal([perVideo] + rowShape)       // [m, ...]
            for j in 0..<perVideo {
                (dst + (j * videos + v) * rowCount).update(from: draw.pointer + j * rowCount, count: rowCount)
            }
        }
        return out
    }
}
