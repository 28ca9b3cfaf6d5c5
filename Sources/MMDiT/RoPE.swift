// 3-axis rotary position embedding, the layout every inference config uses (use_liger_rope:
// LigerEmbedND + LigerRopeFunction). Each token has a position (t, row, col); axis i with
// d_i = axes_dim[i] gets angles pos_i * theta^(-2j / d_i), j < d_i / 2. The per-axis halves are
// concatenated to D/2 angles, and element j of a head is rotated with element j + D/2
// ("rotate half"), NOT Flux's interleaved pairs (2j, 2j+1): the checkpoint was trained this way.

import Foundation
import TensorCore

public struct RotaryTable: Sendable {
    /// cos / sin of the D/2 angles of every token. [B, S, D/2]
    public let cos: Tensor, sin: Tensor
    public var halfDim: Int { cos.shape[2] }

    /// ids: [B, S, 3] (t, row, col) per token, text first (text tokens are (0, 0, 0): no rotation).
    public init(ids: Tensor, axesDim: [Int], theta: Float) {
        precondition(ids.rank == 3 && ids.shape[2] == axesDim.count, "RoPE ids must be [B, S, \(axesDim.count)], got \(ids.shape)")
        let (b, s) = (ids.shape[0], ids.shape[1])
        let half = axesDim.reduce(0, +) / 2
        // omega = 1 / theta^(arange(0, d, 2) / d), in float32 as the reference computes it.
        var omegas: [(axis: Int, omega: Float)] = []
        for (axis, d) in axesDim.enumerated() {
            for j in stride(from: 0, to: d, by: 2) { omegas.append((axis, 1 / Foundation.pow(theta, Float(j) / Float(d)))) }
        }
        var c = Tensor(uninitialized: [b, s, half]), sn = Tensor(uninitialized: [b, s, half])
        let ip = ids.pointer, cp = c.mutablePointer, sp = sn.mutablePointer
        for token in 0..<(b * s) {
            for (j, o) in omegas.enumerated() {
                let angle = Double(ip[token * axesDim.count + o.axis] * o.omega)
                cp[token * half + j] = Float(Foundation.cos(angle))
                sp[token * half + j] = Float(Foundation.sin(angle))
            }
        }
        cos = c; sin = sn
    }

    /// The reference's (cos, sin) pe tensors: halves repeated to the head width. [B, S, D]
    public var fullWidth: (cos: Tensor, sin: Tensor) { (concat([cos, cos], axis: 2), concat([sin, sin], axis: 2)) }

    /// Rotates every head of x in place: y_j = x_j cos_j - x_{j+D/2} sin_j,
    /// y_{j+D/2} = x_{j+D/2} cos_j + x_j sin_j. x: [B, S, H * D]
    public func rotate(_ x: inout Tensor, heads: Int) {
        let (b, s, hd) = (x.shape[0], x.shape[1], x.shape[2])
        let half = halfDim, d = hd / heads
        precondition(b == cos.shape[0] && s == cos.shape[1] && d == 2 * half, "RoPE table \(cos.shape) does not fit \(x.shape) with \(heads) heads")
        let xp = SendablePointer(x.mutablePointer), cp = SendablePointer(cos.pointer), sp = SendablePointer(sin.pointer)
        parallelFor(b * s, minPerThread: max(1, 4096 / hd)) { r in
            for token in r {
                let c = cp.p + token * half, sn = sp.p + token * half
                for h in 0..<heads {
                    let lo = xp.p + token * hd + h * d, hi = lo + half
                    for j in 0..<half {
                        let (x1, x2) = (lo[j], hi[j])
                        lo[j] = x1 * c[j] - x2 * sn[j]
                        hi[j] = x2 * c[j] + x1 * sn[j]
                    }
                }
            }
        }
    }
}
