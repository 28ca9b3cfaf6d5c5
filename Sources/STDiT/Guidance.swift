// The classifier-free-guidance caption batch shared by every STDiT version: the prompts'
// states followed by the learned null caption once per prompt. As in the reference, the null
// half reuses the prompts' token mask.

import TensorCore

/// caption: [B, L, C] (or [B, 1, L, C]); null: [L, C] -> ([2B, L, C], mask [2B][L] or nil).
public func guidanceCaption(_ caption: Tensor, mask: [[Bool]]?, null: WeightTensor) throws -> (caption: Tensor, mask: [[Bool]]?) {
    let y = caption.rank == 4 ? caption.reshaped([caption.shape[0], caption.shape[2], caption.shape[3]]) : caption
    let n = null.toTensor()
    guard y.rank == 3, n.rank == 2, y.shape[1] == n.shape[0], y.shape[2] == n.shape[1] else {
        throw STDiTError.badInput("guidance needs captions of shape [B, \(n.shape.first ?? 0), \(n.shape.last ?? 0)] to pair with the null caption, got \(caption.shape)")
    }
    let b = y.shape[0]
    let doubled = concat([y] + [Tensor](repeating: n.reshaped([1] + n.shape), count: b), axis: 0)
    return (doubled, mask.map { $0 + $0 })
}

/// The sampler's flat [2B * T] frame mask as per-sample rows.
public func frameMaskRows(_ m: [Bool]?, frames: Int) -> [[Bool]]? {
    m.map { m in stride(from: 0, to: m.count, by: frames).map { Array(m[$0..<($0 + frames)]) } }
}
