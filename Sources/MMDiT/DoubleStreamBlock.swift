// Double-stream block (layers.py DoubleStreamBlock): text and image keep their own weights
// (modulation, q/k/v, qk-norm, proj, MLP) but attend jointly over [txt; img].
//
//   mod = Linear(SiLU(vec)) -> shift1, scale1, gate1, shift2, scale2, gate2      (per stream)
//   q, k, v = proj((1 + scale1) * LN(x) + shift1), q and k RMS-normalised per head
//   attn = joint attention over cat(txt, img) with RoPE
//   x += gate1 * proj(attn rows of x)
//   x += gate2 * MLP((1 + scale2) * LN(x) + shift2)                MLP: Linear, GELU(tanh), Linear

import TensorCore
import Weights

/// nn.Sequential(Linear, GELU(tanh), Linear) as `mlp.0`, `mlp.2`.
struct FeedForward {
    let fc1: Linear, fc2: Linear
    /// Rows per pass, so the [rows, mlp_hidden] activation stays small (12288 wide in the real model).
    static let rowsPerChunk = 1024

    init(_ p: ParameterScope, hidden: Int, mlpHidden: Int) throws {
        fc1 = try Linear(p.scope("0"), in: hidden, out: mlpHidden)
        fc2 = try Linear(p.scope("2"), in: mlpHidden, out: hidden)
    }

    /// x: [B, S, C] -> [B, S, C]
    func callAsFunction(_ x: Tensor) -> Tensor {
        let c = x.shape[2], rows = x.count / c
        let flat = x.reshaped([rows, c])
        var out = Tensor(uninitialized: [rows, c])
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + Self.rowsPerChunk)
            var h = fc1(flat.slice(r0..<r1))
            geluInPlace(&h, approximation: .tanh)
            let y = fc2(h)
            (out.mutablePointer + r0 * c).update(from: y.pointer, count: y.count)
            r0 = r1
        }
        return out.reshaped(x.shape)
    }

    var tensors: [WeightTensor] { fc1.tensors + fc2.tensors }
}

/// One stream's half of a double block.
struct DoubleBlockStream {
    let mod: Modulation
    let attn: StreamAttention
    let mlp: FeedForward

    init(_ p: ParameterScope, prefix: String, _ c: MMDiTConfig) throws {
        mod = try Modulation(p.scope(prefix + "_mod.lin"), hidden: c.hiddenSize, chunks: 6)
        attn = try StreamAttention(p.scope(prefix + "_attn"), c)
        mlp = try FeedForward(p.scope(prefix + "_mlp"), hidden: c.hiddenSize, mlpHidden: c.mlpHidden)
    }

    /// Both residual branches after the joint attention. x: [B, S, C], attention: its rows [B, S, C]
    func finish(_ x: inout Tensor, attention: Tensor, mod m: Tensor) {
        addGated(&x, attn.proj(attention), m, gate: 2)
        addGated(&x, mlp(modulatedNorm(x, m, shift: 3, scale: 4)), m, gate: 5)
    }

    var tensors: [WeightTensor] { mod.lin.tensors + attn.tensors + mlp.tensors }
}

struct DoubleStreamBlock {
    let img: DoubleBlockStream, txt: DoubleBlockStream
    let heads: Int

    init(_ p: ParameterScope, _ c: MMDiTConfig) throws {
        img = try DoubleBlockStream(p, prefix: "img", c)
        txt = try DoubleBlockStream(p, prefix: "txt", c)
        heads = c.numHeads
    }

    /// img: [B, N, C], txt: [B, L, C], vec: [B, C]. `observe` gets the attention rows of each
    /// stream before their proj ("txt_attn", "img_attn").
    func callAsFunction(img x: inout Tensor, txt y: inout Tensor, vec: Tensor, rope: RotaryTable,
                        observe: ((String, Tensor) -> Void)? = nil) {
        let (imgMod, txtMod) = (img.mod(vec), txt.mod(vec))
        let i = img.attn.qkv(modulatedNorm(x, imgMod, shift: 0, scale: 1))
        let t = txt.attn.qkv(modulatedNorm(y, txtMod, shift: 0, scale: 1))
        // Joint sequence, text first. [B, L + N, C]
        let joint = jointAttention(q: concat([t.q, i.q], axis: 1), k: concat([t.k, i.k], axis: 1),
                                   v: concat([t.v, i.v], axis: 1), rope: rope, heads: heads)
        let l = y.shape[1]
        let txtAttn = narrow(joint, axis: 1, 0..<l), imgAttn = narrow(joint, axis: 1, l..<joint.shape[1])
        observe?("txt_attn", txtAttn)
        observe?("img_attn", imgAttn)
        img.finish(&x, attention: imgAttn, mod: imgMod)
        txt.finish(&y, attention: txtAttn, mod: txtMod)
    }

    /// Gives back the block's mapped pages (0.68 GB of bf16 in the real model) once it has run.
    func releasePages() { for w in img.tensors + txt.tensors { w.releasePages() } }
}
