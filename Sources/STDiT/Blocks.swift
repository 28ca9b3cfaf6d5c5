// Transformer blocks and the final layer. A block updates the hidden states in place;
// x: [B, T, S, C] stored as rows (see TokenGrid).

import TensorCore
import Weights

/// What every block of one forward call shares.
struct BlockContext {
    let grid: TokenGrid
    /// t_block(t): [B, 6C]; and t_block(t0) for conditioning frames when a frame mask is given.
    let timestep: Tensor
    let zeroTimestep: Tensor?
    /// B * T flags, false = conditioning frame; nil = every frame is ordinary.
    let frameMask: [Bool]?
    /// Projected caption tokens [B, L, C] and which of them are real.
    let caption: Tensor
    let captionMask: AttentionMask?
    /// Rotary tables for temporal positions 0..<T (nil when the model has no RoPE).
    let rope: RotaryTable?
    /// v1.1 only: t_block_temp(t) [B, 3C] for the temporal branch, and at t = 0.
    var temporalTimestep: Tensor? = nil
    var zeroTemporalTimestep: Tensor? = nil
    /// The step cache of this sampling run (nil: compute everything).
    var cache: StepCache? = nil

    /// Adds the output the step cache kept for `site` when this step reuses it; false = compute it.
    func replay(_ site: CacheSite, into x: inout Tensor) -> Bool { cache?.replay(site, into: &x) ?? false }
    /// Where a computed output of `site` must be kept for later steps (nil: nowhere).
    func keeper(_ site: CacheSite) -> ((Tensor) -> Void)? { cache?.keeper(site) }
}

/// The six adaLN-single modulation chunks of a block, in the reference's order:
/// `shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (scale_shift_table + t).chunk(6)`.
/// Each is [B, C] (per frame with a frame mask); the final layer's table has only shift, scale.
enum Chunk {
    static let shiftMSA = 0, scaleMSA = 1, gateMSA = 2
    static let shiftMLP = 3, scaleMLP = 4, gateMLP = 5
    /// STDiT2's temporal branch: `shift_tmp, scale_tmp, gate_tmp` of its own [3, C] table.
    static let shiftTemporal = 0, scaleTemporal = 1, gateTemporal = 2
}

extension MLP {
    /// The blocks' MLP branch, or the output the step cache kept for `site`. x: [B * T * S, C]
    func add(to x: inout Tensor, _ mod: FrameModulation, _ ctx: BlockContext, site: CacheSite) {
        if ctx.replay(site, into: &x) { return }
        // h = t2i_modulate(norm2(x), shift_mlp, scale_mlp)              h: [B * T * S, C]
        let h = modulatedLayerNorm(x, mod, shift: Chunk.shiftMLP, scale: Chunk.scaleMLP, tokensPerFrame: ctx.grid.spatial)
        // x = x + gate_mlp * mlp(h)                                      mlp: C -> mlp_hidden -> C
        addGated(&x, self(h), mod, gate: Chunk.gateMLP, grid: ctx.grid, keep: ctx.keeper(site))
    }
}

/// STDiT3Block: modulated self-attention (spatial or temporal), cross-attention to the caption,
/// modulated MLP; the six modulation chunks (`Chunk`) are shift/scale/gate for attention, then for MLP.
struct STDiT3Block {
    let scaleShiftTable: WeightTensor       // [6, C]
    let attn: SelfAttention
    let crossAttn: CrossAttention
    let mlp: MLP
    let axis: AttentionAxis
    /// Depth index, for the step cache.
    let index: Int

    init(_ p: ParameterScope, config c: STDiT3Config, axis: AttentionAxis, index: Int) throws {
        scaleShiftTable = try p("scale_shift_table", [6, c.hiddenSize])
        attn = try SelfAttention(p.scope("attn"), hidden: c.hiddenSize, heads: c.numHeads, qkNorm: c.qkNorm,
                                 order: c.qkNormLegacy ? .ropeThenNorm : .normThenRope)
        crossAttn = try CrossAttention(p.scope("cross_attn"), hidden: c.hiddenSize, heads: c.numHeads)
        mlp = try MLP(p.scope("mlp"), in: c.hiddenSize, hidden: c.mlpHidden, out: c.hiddenSize)
        self.axis = axis
        self.index = index
    }

    /// x: [B * T * S, C] (rows ordered b, t, s), updated in place.
    func callAsFunction(_ x: inout Tensor, _ ctx: BlockContext) {
        let g = ctx.grid
        // shift_msa ... gate_mlp = (scale_shift_table[None] + t_block(t)).chunk(6), each [B, C];
        // conditioning frames (x_mask false) take the chunks of t0 instead.
        let mod = FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: ctx.zeroTimestep,
                                  frameMask: ctx.frameMask, frames: g.frames)
        let stack = axis == .spatial ? 0 : 1

        // Self-attention: spatial blocks attend over the S tokens of a frame, temporal blocks over
        // the T frames at one position (with RoPE on time).
        let attnSite = CacheSite.attention(axis, stack: stack, block: index)
        if !ctx.replay(attnSite, into: &x) {
            // h = t2i_modulate(norm1(x), shift_msa, scale_msa)          h: [B * T * S, C]
            let h = modulatedLayerNorm(x, mod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: g.spatial)
            let a = attn(h, grid: g, axis: axis, rope: axis == .temporal ? ctx.rope : nil)     // a: [B * T * S, C]
            // x = x + gate_msa * a
            addGated(&x, a, mod, gate: Chunk.gateMSA, grid: g, axis: axis, keep: ctx.keeper(attnSite))
        }

        // Cross-attention to the caption tokens (no modulation): x = x + cross_attn(x, y).
        crossAttn.add(to: &x, ctx, site: CacheSite(stack: stack, block: index, branch: .crossAttention))

        // MLP: x = x + gate_mlp * mlp(t2i_modulate(norm2(x), shift_mlp, scale_mlp)).
        mlp.add(to: &x, mod, ctx, site: CacheSite(stack: stack, block: index, branch: .mlp))
    }
}

/// T2IFinalLayer: LayerNorm modulated by t itself (shift, scale from its own [2, C] table),
/// then Linear to patch * out_channels.
struct FinalLayer {
    let scaleShiftTable: WeightTensor       // [2, C]
    let linear: Linear

    init(_ p: ParameterScope, hidden: Int, outFeatures: Int) throws {
        scaleShiftTable = try p("scale_shift_table", [2, hidden])
        linear = try Linear(p.scope("linear"), in: hidden, out: outFeatures)
    }

    /// x: [B * T * S, C], t / t0: [B, C] -> [B * T * S, patch * out_channels]
    func callAsFunction(_ x: Tensor, t: Tensor, t0: Tensor?, frameMask: [Bool]?, grid: TokenGrid) -> Tensor {
        let mod = FrameModulation(table: scaleShiftTable, conditioning: t, zeroConditioning: nil, frameMask: nil, frames: grid.frames)
        var h = modulatedLayerNorm(x, mod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: grid.spatial)   // shift, scale
        if let frameMask, let t0 {
            // The reference normalises the already modulated x again for conditioning frames:
            // x = modulate(norm(x), t); x_zero = modulate(norm(x), t0). Kept as it is.
            let zeroMod = FrameModulation(table: scaleShiftTable, conditioning: t0, zeroConditioning: nil, frameMask: nil, frames: grid.frames)
            let hZero = modulatedLayerNorm(h, zeroMod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: grid.spatial)
            let rowLength = grid.spatial * h.shape.last!
            let hp = h.mutablePointer
            for f in 0..<grid.frameCount where !frameMask[f] {
                (hp + f * rowLength).update(from: hZero.pointer + f * rowLength, count: rowLength)
            }
        }
        return linear(h)
    }
}
