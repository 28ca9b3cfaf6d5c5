// One stream's attention projections (SelfAttention with fused_qkv False) and the joint
// attention over the concatenated [txt; img] sequence that both block kinds use: per-head
// RMSNorm on q and k (QKNorm, eps 1e-6, gain `.scale`) BEFORE RoPE, softmax(q k^T / sqrt(D)) v,
// no mask.

import Foundation
import TensorCore
import Weights

/// QKNorm: RMSNorm over each head's D channels of q and of k.
struct QKNorm {
    let query: WeightTensor, key: WeightTensor

    init(_ p: ParameterScope, headDim: Int) throws {
        query = try p("query_norm.scale", [headDim])
        key = try p("key_norm.scale", [headDim])
    }

    /// q, k: [B, S, H * D] -> normalised per head, same shape.
    func callAsFunction(q: Tensor, k: Tensor) -> (Tensor, Tensor) {
        let d = query.shape[0]
        func norm(_ x: Tensor, _ gain: WeightTensor) -> Tensor {
            rmsNorm(x.reshaped([x.count / d, d]), weight: gain, eps: 1e-6).reshaped(x.shape)
        }
        return (norm(q, query), norm(k, key))
    }
}

/// A double block's per-stream q/k/v projections, qk-norm and output projection.
struct StreamAttention {
    let q: Linear, k: Linear, v: Linear
    let norm: QKNorm
    let proj: Linear

    init(_ p: ParameterScope, _ c: MMDiTConfig) throws {
        let h = c.hiddenSize
        q = try Linear(p.scope("q_proj"), in: h, out: h, bias: c.qkvBias)
        k = try Linear(p.scope("k_proj"), in: h, out: h, bias: c.qkvBias)
        v = try Linear(p.scope("v_proj"), in: h, out: h, bias: c.qkvBias)
        norm = try QKNorm(p.scope("norm"), headDim: c.headDim)
        proj = try Linear(p.scope("proj"), in: h, out: h)
    }

    /// x: [B, S, C] (modulated) -> normalised q, k and v, each [B, S, C]
    func qkv(_ x: Tensor) -> (q: Tensor, k: Tensor, v: Tensor) {
        let (qn, kn) = norm(q: q(x), k: k(x))
        return (qn, kn, v(x))
    }

    var tensors: [WeightTensor] { q.tensors + k.tensors + v.tensors + [norm.query, norm.key] + proj.tensors }
}

/// Joint attention. q, k (qk-normalised), v: [B, S, H * D] with the text rows first -> [B, S, H * D]
func jointAttention(q: Tensor, k: Tensor, v: Tensor, rope: RotaryTable, heads: Int) -> Tensor {
    var (q, k) = (q, k)
    rope.rotate(&q, heads: heads)
    rope.rotate(&k, heads: heads)
    let d = q.shape[2] / heads
    return attention(q: q, k: k, v: v, heads: heads, scale: Float(1 / Double(d).squareRoot()))
}
