// Single-stream block (layers.py SingleStreamBlock, fused_qkv False) on x = [txt; img]:
//
//   mod = Linear(SiLU(vec)) -> shift, scale, gate;  h = (1 + scale) * LN(x) + shift
//   q = q_proj(h), k = k_proj(h), [v | mlp_in] = v_mlp(h)     (v_mlp is C + mlp_hidden wide)
//   attn = joint attention (q, k RMS-normalised per head, RoPE)
//   x += gate * linear2(cat(attn, GELU_tanh(mlp_in)))

import TensorCore
import Weights

struct SingleStreamBlock {
    let mod: Modulation
    let q: Linear, k: Linear, vMLP: Linear, linear2: Linear
    let norm: QKNorm
    let heads: Int, hidden: Int, mlpHidden: Int

    init(_ p: ParameterScope, _ c: MMDiTConfig) throws {
        let h = c.hiddenSize
        (heads, hidden, mlpHidden) = (c.numHeads, h, c.mlpHidden)
        mod = try Modulation(p.scope("modulation.lin"), hidden: h, chunks: 3)
        q = try Linear(p.scope("q_proj"), in: h, out: h)
        k = try Linear(p.scope("k_proj"), in: h, out: h)
        vMLP = try Linear(p.scope("v_mlp"), in: h, out: h + c.mlpHidden)
        linear2 = try Linear(p.scope("linear2"), in: h + c.mlpHidden, out: h)
        norm = try QKNorm(p.scope("norm"), headDim: c.headDim)
    }

    /// x: [B, S, C] (text rows first), vec: [B, C]. `observe` gets linear2's input ("linear2_in").
    func callAsFunction(_ x: inout Tensor, vec: Tensor, rope: RotaryTable, observe: ((String, Tensor) -> Void)? = nil) {
        let m = mod(vec)
        let h = modulatedNorm(x, m, shift: 0, scale: 1)
        let (qn, kn) = norm(q: q(h), k: k(h))
        // [v | mlp_in] becomes linear2's input cat(attn, gelu(mlp_in)) in place, so the block
        // holds one [B, S, C + M] tensor instead of three.
        var linear2In = vMLP(h)                                                // [B, S, C + M]
        let v = narrow(linear2In, axis: 2, 0..<hidden)
        var mlpIn = narrow(linear2In, axis: 2, hidden..<(hidden + mlpHidden))
        geluInPlace(&mlpIn, approximation: .tanh)
        writeColumns(mlpIn, into: &linear2In, at: hidden)
        mlpIn = Tensor(zeros: [0])
        writeColumns(jointAttention(q: qn, k: kn, v: v, rope: rope, heads: heads), into: &linear2In, at: 0)
        observe?("linear2_in", linear2In)
        addGated(&x, linear2(linear2In), m, gate: 2)
    }

    /// Gives back the block's mapped pages (0.28 GB of bf16 in the real model) once it has run.
    func releasePages() { for w in mod.lin.tensors + q.tensors + k.tensors + vMLP.tensors + linear2.tensors + [norm.query, norm.key] { w.releasePages() } }
}

/// LastLayer: shift, scale = adaLN_modulation(vec) (shift FIRST); Linear((1 + scale) * LN(x) + shift).
struct FinalLayer {
    let modulation: Linear, linear: Linear

    init(_ p: ParameterScope, _ c: MMDiTConfig) throws {
        modulation = try Linear(p.scope("adaLN_modulation.1"), in: c.hiddenSize, out: 2 * c.hiddenSize)
        linear = try Linear(p.scope("linear"), in: c.hiddenSize, out: c.inChannels)
    }

    /// x: [B, N, C], vec: [B, C] -> [B, N, in_channels]
    func callAsFunction(_ x: Tensor, vec: Tensor) -> Tensor {
        linear(modulatedNorm(x, modulation(silu(vec)), shift: 0, scale: 1))
    }
}
