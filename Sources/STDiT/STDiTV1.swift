// STDiT, the Open-Sora v1.0 denoiser (opensora/models/stdit/stdit.py), named STDiTV1 here (the
// module is called STDiT). One block list; each block: modulated spatial attention, temporal
// attention on the raw hidden states (gated by gate_msa, not modulated; the temporal position
// embedding added before block 0 only), cross-attention, modulated MLP. No qk-norm, no RoPE; the
// position embeddings are fixed buffers in the checkpoint, so the latent size is fixed too.

import TensorCore
import Weights

public struct STDiTV1Input {
    /// Latent video of the size the checkpoint was built for. [B, C_in, T, H, W]
    public var latent: Tensor
    /// Timesteps, one per sample.
    public var timesteps: [Float]
    /// Text-encoder states. [B, L, caption_channels] ([B, 1, L, caption_channels] is accepted)
    public var caption: Tensor
    /// [B][L]: true = a real token. nil = all real.
    public var captionMask: [[Bool]]?
    /// x_mask, [B][T / patch_t]: false = a conditioning frame. nil = none.
    public var frameMask: [[Bool]]?

    public init(latent: Tensor, timesteps: [Float], caption: Tensor, captionMask: [[Bool]]? = nil, frameMask: [[Bool]]? = nil) {
        self.latent = latent; self.timesteps = timesteps; self.caption = caption
        self.captionMask = captionMask; self.frameMask = frameMask
    }
}

struct STDiTV1Block {
    let scaleShiftTable: WeightTensor       // [6, C]
    let attn: SelfAttention, attnTemp: SelfAttention
    let crossAttn: CrossAttention
    let mlp: MLP
    /// Depth index, for the step cache.
    let index: Int

    init(_ p: ParameterScope, config c: STDiTConfig, index: Int) throws {
        self.index = index
        scaleShiftTable = try p("scale_shift_table", [6, c.hiddenSize])
        attn = try SelfAttention(p.scope("attn"), hidden: c.hiddenSize, heads: c.numHeads, qkNorm: false)
        attnTemp = try SelfAttention(p.scope("attn_temp"), hidden: c.hiddenSize, heads: c.numHeads, qkNorm: false)
        crossAttn = try CrossAttention(p.scope("cross_attn"), hidden: c.hiddenSize, heads: c.numHeads)
        mlp = try MLP(p.scope("mlp"), in: c.hiddenSize, hidden: c.mlpHidden, out: c.hiddenSize)
    }

    /// x: [B * T * S, C], updated in place. temporalPositions: [T, C], added to the temporal
    /// attention's input (block 0 only).
    func callAsFunction(_ x: inout Tensor, _ ctx: BlockContext, temporalPositions: Tensor?) {
        let g = ctx.grid
        let mod = FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: ctx.zeroTimestep,
                                  frameMask: ctx.frameMask, frames: g.frames)
        let spatialSite = CacheSite(stack: 0, block: index, branch: .spatialAttention)
        if !ctx.replay(spatialSite, into: &x) {
            let s = attn(modulatedLayerNorm(x, mod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: g.spatial), grid: g, axis: .spatial, rope: nil)
            addGated(&x, s, mod, gate: Chunk.gateMSA, grid: g, keep: ctx.keeper(spatialSite))
        }

        // Temporal branch: the reference gates it with gate_msa of t on every frame, x_mask or not.
        let temporalSite = CacheSite(stack: 0, block: index, branch: .temporalAttention)
        if !ctx.replay(temporalSite, into: &x) {
            let temporalInput = temporalPositions.map { addPerFrame(x, $0, grid: g) } ?? x
            let t = attnTemp(temporalInput, grid: g, axis: .temporal, rope: nil)
            let plain = ctx.frameMask == nil ? mod
                : FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: nil, frameMask: nil, frames: g.frames)
            addGated(&x, t, plain, gate: Chunk.gateMSA, grid: g, axis: .temporal, keep: ctx.keeper(temporalSite))
        }
        crossAttn.add(to: &x, ctx, site: CacheSite(stack: 0, block: index, branch: .crossAttention))

        mlp.add(to: &x, mod, ctx, site: CacheSite(stack: 0, block: index, branch: .mlp))
    }
}

/// x + e[t] on every token of frame t. x: [B * T * S, C], e: [T, C]
func addPerFrame(_ x: Tensor, _ e: Tensor, grid g: TokenGrid) -> Tensor {
    var out = x
    let c = e.shape.last!
    let op = SendablePointer(out.mutablePointer), ep = SendablePointer(e.pointer)
    parallelFor(g.tokens, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let d = op.p + row * c, src = ep.p + ((row / g.spatial) % g.frames) * c
            for j in 0..<c { d[j] += src[j] }
        }
    }
    return out
}

public struct STDiTV1: Sendable {
    public let config: STDiTConfig
    let trunk: DiTTrunk
    let tBlock: Linear
    let blocks: [STDiTV1Block]
    /// Fixed sin-cos tables from the checkpoint: [S, C] spatial, [T, C] temporal.
    let spatialPositions: Tensor, temporalPositions: Tensor

    /// Builds the model over `weights`, checking every tensor first. v1.0 checkpoints do not
    /// tell the head count, so without `config` it is taken as `numHeads`.
    /// `quantization`: how the blocks' linears compute (embedders, final layer, norms and attention stay float32).
    public init(weights: WeightStore, config: STDiTConfig? = nil, numHeads: Int = 16, quantization: Quantization = .none) throws {
        let c = try config ?? STDiTConfig.inferred(from: weights, numHeads: numHeads)
        try c.validate()
        self.config = c
        let p = ParameterScope(weights)
        let C = c.hiddenSize
        let s = try weights.shape("pos_embed"), t = try weights.shape("pos_embed_temporal")
        guard s.count == 3, t.count == 3, s[0] == 1, t[0] == 1, s[1] > 0, t[1] > 0 else {
            throw WeightsError.shapeMismatch(name: s.count == 3 && s[0] == 1 ? "pos_embed_temporal" : "pos_embed",
                                             source: weights.sourceDescription, expected: [1, -1, C], found: s.count == 3 ? t : s)
        }
        spatialPositions = try p("pos_embed", [1, s[1], C]).toTensor().reshaped([s[1], C])
        temporalPositions = try p("pos_embed_temporal", [1, t[1], C]).toTensor().reshaped([t[1], C])
        trunk = try DiTTrunk(p, inChannels: c.inChannels, outChannels: c.outChannels, patchSize: c.patchSize, hidden: C,
                             captionChannels: c.captionChannels, captionTokens: c.modelMaxLength)
        tBlock = try Linear(p.scope("t_block.1"), in: C, out: 6 * C)
        blocks = try (0..<c.depth).map { try STDiTV1Block(p.quantized(quantization).scope("blocks.\($0)"), config: c, index: $0) }
    }

    /// The learned null caption for classifier-free guidance. [L, caption_channels]
    public var nullCaption: WeightTensor { trunk.yEmbedder.nullCaption }

    /// Intermediates `callAsFunction` can report, as the reference's golden case records them.
    public enum Stage: Sendable, Equatable {
        case embeddedTokens     // [B, T * S, C]: x_embedder(x) + pos_embed, the input of blocks[0]
        case timestepMLP        // [B, 6C]: t_block(t_embedder(timestep))
        case block(Int)         // [B, T * S, C]: the output of blocks[i]
    }

    /// -> [B, C_out, T, H, W]. `cache`: the sampling run's step cache (nil: compute everything);
    /// `observe` sees each Stage as it is computed.
    public func callAsFunction(_ input: STDiTV1Input, cache: StepCache? = nil,
                               observe: ((Stage, Tensor) -> Void)? = nil) throws -> Tensor {
        let g = try trunk.geometry(latent: input.latent, timesteps: input.timesteps, caption: input.caption,
                                   captionMask: input.captionMask, frameMask: input.frameMask)
        guard g.grid.frames == temporalPositions.shape[0], g.grid.spatial == spatialPositions.shape[0] else {
            throw STDiTError.badInput("latent \(input.latent.shape) gives \(g.grid.frames) frames x \(g.grid.spatial) patches; this checkpoint's position embeddings are for \(temporalPositions.shape[0]) x \(spatialPositions.shape[0])")
        }
        let cond = timestepConditioning(trunk, timesteps: input.timesteps, extra: nil, masked: g.frameMask != nil, block: tBlock)
        let (caption, captionMask) = trunk.embedCaption(input.caption, mask: input.captionMask)
        var context = BlockContext(grid: g.grid, timestep: cond.tMlp, zeroTimestep: cond.t0Mlp, frameMask: g.frameMask,
                                   caption: caption, captionMask: captionMask, rope: nil)
        context.cache = cache
        var x = trunk.embedTokens(input.latent, grid: g.grid, positions: spatialPositions)   // [B * T * S, C]
        let tokens = [g.grid.batch, g.grid.frames * g.grid.spatial, x.shape.last!]
        observe?(.timestepMLP, cond.tMlp)
        observe?(.embeddedTokens, x.reshaped(tokens))
        cache?.beginForward(timestep: input.timesteps[0], tokenShape: x.shape)
        runBlocks(&x, context, firstTable: blocks.first?.scaleShiftTable) { x in
            for (i, block) in blocks.enumerated() {
                block(&x, context, temporalPositions: i == 0 ? temporalPositions : nil)
                observe?(.block(i), x.reshaped(tokens))
            }
        }
        return trunk.output(x, t: cond.t, t0: cond.t0, geometry: g)
    }
}
