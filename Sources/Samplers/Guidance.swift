// Classifier-free guidance plumbing shared by the samplers: the model sees the batch twice
// (prompt rows, then null-caption rows) and the two halves of its output are mixed as
// uncond + scale * (cond - uncond).

import TensorCore

/// [B, ...] -> [2B, ...]: the same rows twice, for the conditional and the null half.
func doubledBatch(_ x: Tensor) -> Tensor { concat([x, x], axis: 0) }

/// Checks a model output against its input x [2B, C, T, H, W]: [2B, channels, T, H, W] with
/// `channels` one of `allowed`. Returns the channel count.
func checkModelOutput(_ out: Tensor, input x: Tensor, allowedChannels allowed: [Int], sampler: String) throws -> Int {
    let expected = "[\(x.shape[0]), \(allowed.map(String.init).joined(separator: " or ")), \(x.shape[2...].map(String.init).joined(separator: ", "))]"
    guard out.rank == x.rank, out.shape[0] == x.shape[0], Array(out.shape[2...]) == Array(x.shape[2...]),
          allowed.contains(out.shape[1]) else {
        throw SamplerError.badModelOutput("\(sampler) expects shape \(expected), got \(out.shape)")
    }
    guard out.withData({ $0.allSatisfy(\.isFinite) }) else {
        throw SamplerError.badModelOutput("\(sampler): the model returned NaN or infinity")
    }
    return out.shape[1]
}

/// Guided value of one element: `uncond + scale * (cond - uncond)`, in that order (as the reference).
@inline(__always)
func guided(cond: Float, uncond: Float, scale: Float) -> Float {
    uncond + scale * (cond - uncond)
}
