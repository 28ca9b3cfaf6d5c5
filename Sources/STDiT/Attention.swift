// The attention layers of every STDiT version: self-attention (spatial or temporal, optional
// per-head RMSNorm on q/k, optional RoPE, in either order) and caption cross-attention.
// Both run on the head-interleaved layout of TensorCore's `attention` ([N, L, H*D]).

import Foundation
import TensorCore
import Weights

/// Where qk RMSNorm sits relative to RoPE. v1.2 normalises first; v1.1 (`qk_norm_legacy`)
/// rotates first.
enum QKNormOrder { case normThenRope, ropeThenNorm }

struct SelfAttention {
    let qkv: Linear, proj: Linear
    let qNorm: WeightTensor?, kNorm: WeightTensor?
    let heads: Int, headDim: Int, hidden: Int
    let order: QKNormOrder

    init(_ p: ParameterScope, hidden: Int, heads: Int, qkNorm: Bool, order: QKNormOrder = .normThenRope) throws {
        self.hidden = hidden; self.heads = heads; headDim = hidden / heads; self.order = order
        qkv = try Linear(p.scope("qkv"), in: hidden, out: 3 * hidden)
        qNorm = qkNorm ? try p("q_norm.weight", [hidden / heads]) : nil
        kNorm = qkNorm ? try p("k_norm.weight", [hidden / heads]) : nil
        proj = try Linear(p.scope("proj"), in: hidden, out: hidden)
    }

    /// h: [R, C] in token order -> attention output after `proj`, [R, C] in `axis`'s attention
    /// layout (see AttentionAxis.attentionRow). `rope` rotates q and k by position in sequence.
    func callAsFunction(_ h: Tensor, grid: TokenGrid, axis: AttentionAxis, rope: RotaryTable?) -> Tensor {
        let packed = qkv(h)                                            // [R, 3C]
        let (count, length) = axis.sequences(grid)
        let (q, k, v) = splitHeads(packed, grid: grid, axis: axis, rope: rope, shape: [count, length, hidden])
        let o = attention(q: q, k: k, v: v, heads: heads, scale: Float(1 / Double(headDim).squareRoot()))
        return proj(o)
    }

    /// Splits qkv rows into q, k, v in the attention layout, normalising / rotating q and k per head.
    private func splitHeads(_ packed: Tensor, grid: TokenGrid, axis: AttentionAxis, rope: RotaryTable?,
                            shape: [Int]) -> (Tensor, Tensor, Tensor) {
        var q = Tensor(uninitialized: shape), k = Tensor(uninitialized: shape), v = Tensor(uninitialized: shape)
        let c = hidden, d = headDim, nh = heads, length = shape[1], order = order
        if let rope { precondition(rope.pairs * 2 == d && rope.count >= length, "rotary table does not cover \(length) positions of width \(d)") }
        let qn = qNorm?.toTensor(), kn = kNorm?.toTensor()
        let src = SendablePointer(packed.pointer)
        let outs = [SendablePointer(q.mutablePointer), SendablePointer(k.mutablePointer)]
        let vp = SendablePointer(v.mutablePointer)
        let norms = [qn.map { SendablePointer($0.pointer) }, kn.map { SendablePointer($0.pointer) }]
        parallelFor(grid.tokens, minPerThread: max(1, 2048 / c)) { range in
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: d)
            defer { tmp.deallocate() }
            for r in range {
                let a = axis.attentionRow(r, grid)
                let pos = a % length
                let row = src.p + r * 3 * c
                for part in 0..<2 {
                    let w = norms[part].map { UnsafePointer($0.p) }
                    for head in 0..<nh {
                        transformHead(UnsafePointer(row + part * c + head * d), outs[part].p + a * c + head * d, d: d,
                                      norm: w, rope: rope, position: pos, order: order, scratch: tmp)
                    }
                }
                (vp.p + a * c).update(from: row + 2 * c, count: c)
            }
        }
        withExtendedLifetime((qn, kn)) {}
        return (q, k, v)
    }
}

/// One head of q or k: RMSNorm (eps 1e-6, x * rsqrt(mean x^2 + eps) * w) and/or RoPE on
/// interleaved pairs, in the given order.
@inline(__always)
private func transformHead(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, d: Int,
                           norm: UnsafePointer<Float>?, rope: RotaryTable?, position: Int, order: QKNormOrder,
                           scratch: UnsafeMutablePointer<Float>) {
    func rmsNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>) {
        let inv = 1 / (meanSquare(x, d) + 1e-6).squareRoot()
        for j in 0..<d { y[j] = w[j] * (x[j] * inv) }
    }
    func rotate(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ table: RotaryTable) {
        let cs = table.cos.pointer + position * table.pairs, sn = table.sin.pointer + position * table.pairs
        for i in 0..<table.pairs {
            let a = x[2 * i], b = x[2 * i + 1]
            y[2 * i] = a * cs[i] + (-b) * sn[i]
            y[2 * i + 1] = b * cs[i] + a * sn[i]
        }
    }
    switch (norm, rope) {
    case (nil, nil): dst.update(from: src, count: d)
    case let (w?, nil): rmsNorm(src, dst, w)
    case let (nil, t?): rotate(src, dst, t)
    case let (w?, t?):
        if order == .normThenRope { rmsNorm(src, scratch, w); rotate(scratch, dst, t) }
        else { rotate(src, scratch, t); rmsNorm(scratch, dst, w) }
    }
}

/// MultiHeadCrossAttention: hidden states attend to the projected caption tokens of their own
/// sample; padding tokens are masked out.
struct CrossAttention {
    let q: Linear, kv: Linear, proj: Linear
    let heads: Int, hidden: Int

    init(_ p: ParameterScope, hidden: Int, heads: Int) throws {
        self.heads = heads; self.hidden = hidden
        q = try Linear(p.scope("q_linear"), in: hidden, out: hidden)
        kv = try Linear(p.scope("kv_linear"), in: hidden, out: 2 * hidden)
        proj = try Linear(p.scope("proj"), in: hidden, out: hidden)
    }

    /// x += proj(attention(q(x), k(context), v(context))). x: [B, N, C], context: [B, L, C].
    /// `keep` (the step cache's) receives what was added, measured as the change of x so that
    /// the computed step itself stays bit for bit the exact one.
    func add(to x: inout Tensor, context: Tensor, mask: AttentionMask?, keep: ((Tensor) -> Void)? = nil) {
        let queries = q(x)
        let keysValues = kv(context)                                  // [B, L, 2C]: k then v
        let keys = narrow(keysValues, axis: 2, 0..<hidden), values = narrow(keysValues, axis: 2, hidden..<(2 * hidden))
        let o = attention(q: queries, k: keys, v: values, heads: heads,
                          scale: Float(1 / Double(hidden / heads).squareRoot()), mask: mask)
        let before = keep == nil ? nil : x
        proj.accumulate(o, into: &x)
        if let keep, let before { keep(x - before) }
    }

    /// The block's cross-attention step on x: [B * T * S, C], or the step cache's replay of it.
    func add(to x: inout Tensor, _ ctx: BlockContext, site: CacheSite) {
        if ctx.replay(site, into: &x) { return }
        let g = ctx.grid, c = x.shape.last!
        x = x.reshaped([g.batch, g.frames * g.spatial, c])
        add(to: &x, context: ctx.caption, mask: ctx.captionMask, keep: ctx.keeper(site))
        x = x.reshaped([g.tokens, c])
    }
}
