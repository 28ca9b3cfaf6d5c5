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

/// The reference's forward_with_cfg mixing on a whole model output [2B, C_out, ...]: the first
/// `channels` channels become uncond + scale * (cond - uncond) in both halves; the other channels
/// (DiT: the 4th eps channel and the variance values) stay per half. -> [2B, C_out, ...]
public func guidedModelOutput(_ out: Tensor, scale: Float, channels: Int) -> Tensor {
    let b = out.shape[0] / 2, cOut = out.shape[1]
    let plane = out.count / (2 * b * cOut)
    var mixed = out
    let p = mixed.mutablePointer
    for bi in 0..<b {
        for ci in 0..<min(channels, cOut) {
            let cond = p + (bi * cOut + ci) * plane, uncond = p + ((b + bi) * cOut + ci) * plane
            for i in 0..<plane {
                let g = guided(cond: cond[i], uncond: uncond[i], scale: scale)
                cond[i] = g
                uncond[i] = g
            }
        }
    }
    return mixed
}
