// STDiT, the Open-Sora v1.0 denoiser (opensora/models/stdit/stdit.py): patchify, add the stored
// spatial position table, then `depth` blocks of (modulated spatial attention, unmodulated
// temporal attention, cross-attention, modulated MLP), a modulated final layer, unpatchify.
// The input size is fixed: the position tables (`pos_embed`, `pos_embed_temporal`) are
// checkpoint buffers built for it.

import TensorCore
import Weights

/// STDiTBlock (v1.0). The temporal branch is not normalised or modulated and is gated by
/// gate_msa of t for every frame (x_mask does not reach it); the temporal position table is
/// added to its input in block 0 only.
struct STDiTV1Block {
    let scaleShiftTable: WeightTensor       // [6, C]
    let attn: SelfAttention, attnTemp: SelfAttention
    let crossAttn: CrossAttention
    let mlp: MLP

    init(_ p: ParameterScope, sizes s: LegacySTDiTSizes) throws {
        scaleShiftTable = try p("scale_shift_table", [6, s.hiddenSize])
        attn = try SelfAttention(p.scope("attn"), hidden: s.hiddenSize, heads: s.numHeads, qkNorm: false)
        attnTemp = try SelfAttention(p.scope("attn_temp"), hidden: s.hiddenSize, heads: s.numHeads, qkNorm: false)
        crossAttn = try CrossAttention(p.scope("cross_attn"), hidden: s.hiddenSize, heads: s.numHeads)
        mlp = try MLP(p.scope("mlp"), in: s.hiddenSize, hidden: s.mlpHidden, out: s.hiddenSize)
    }

    /// x: [B * T * S, C], updated in place. temporalPosition: [T, C] (block 0 only).
    func callAsFunction(_ x: inout Tensor, _ ctx: BlockContext, temporalPosition: Tensor?) {
        let g = ctx.grid, c = x.shape.last!
        let mod = FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: ctx.zeroTimestep,
                                  frameMask: ctx.frameMask, frames: g.frames)
        let a = attn(modulatedLayerNorm(x, mod, shift: 0, scale: 1, tokensPerFrame: g.spatial), grid: g, axis: .spatial, rope: nil)
        addGated(&x, a, mod, gate: 2, grid: g)

        let plain = ctx.frameMask == nil ? mod
            : FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: nil, frameMask: nil, frames: g.frames)
        let temporalIn = temporalPosition.map { addingRowEmbedding(x, $0, every: g.spatial) } ?? x
        let at = attnTemp(temporalIn, grid: g, axis: .temporal, rope: nil)
        addGated(&x, at, plain, gate: 2, grid: g, axis: .temporal)

        x = x.reshaped([g.batch, g.frames * g.spatial, c])
        crossAttn.add(to: &x, context: ctx.caption, mask: ctx.captionMask)
        x = x.reshaped([g.tokens, c])

        let m = mlp(modulatedLayerNorm(x, mod, shift: 3, scale: 4, tokensPerFrame: g.spatial))
        addGated(&x, m, mod, gate: 5, grid: g)
    }
}

public struct STDiTV1: Sendable {
    public let config: STDiTV1Config
    let xEmbedder: PatchEmbed3D
    let tEmbedder: TimestepEmbedder
    let tBlock: Linear
    let yEmbedder: CaptionEmbedder
    let blocks: [STDiTV1Block]
    let finalLayer: FinalLayer
    /// pos_embed [S, C] and pos_embed_temporal [T', C], the checkpoint's buffers.
    let spatialPosition: Tensor, temporalPosition: Tensor

    /// Builds the model over `weights` (the reference state dict's names), checking every
    /// tensor's presence and shape first. Without `config` the sizes are read off the checkpoint.
    public init(weights: WeightStore, config: STDiTV1Config? = nil) throws {
        let c = try config ?? STDiTV1Config.inferred(from: weights)
        try c.validate()
        self.config = c
        let s = c.sizes, C = s.hiddenSize
        let p = ParameterScope(weights)
        let posShape = try weights.shape("pos_embed"), tposShape = try weights.shape("pos_embed_temporal")
        var spatial = posShape.count == 3 ? posShape[1] : -1, frames = tposShape.count == 3 ? tposShape[1] : -1
        if let input = c.inputSize {
            let wantFrames = input[0] / s.patchSize[0], wantSpatial = (input[1] / s.patchSize[1]) * (input[2] / s.patchSize[2])
            if posShape.count == 3, tposShape.count == 3, (wantFrames, wantSpatial) != (frames, spatial) {
                throw STDiTError.badConfig("\(weights.sourceDescription): STDiT v1.0 runs at the size it was built for: pos_embed covers \(spatial) patches per frame and pos_embed_temporal \(frames) frames, but the latent \(input) gives \(wantSpatial) and \(wantFrames) (use the checkpoint's image_size and num_frames)")
            }
            frames = wantFrames; spatial = wantSpatial
        }
        spatialPosition = try p("pos_embed", [1, spatial, C]).toTensor().reshaped([spatial, C])
        temporalPosition = try p("pos_embed_temporal", [1, frames, C]).toTensor().reshaped([frames, C])
        xEmbedder = try PatchEmbed3D(p.scope("x_embedder"), inChannels: s.inChannels, hidden: C, patch: s.patchSize)
        tEmbedder = try TimestepEmbedder(p.scope("t_embedder"), hidden: C)
        tBlock = try Linear(p.scope("t_block.1"), in: C, out: 6 * C)
        yEmbedder = try CaptionEmbedder(p.scope("y_embedder"), captionChannels: s.captionChannels, hidden: C, tokens: s.modelMaxLength)
        blocks = try (0..<s.depth).map { try STDiTV1Block(p.scope("blocks.\($0)"), sizes: s) }
        finalLayer = try FinalLayer(p.scope("final_layer"), hidden: C, outFeatures: s.patchVolume * s.outChannels)
    }

    /// The learned null caption (`y_embedder.y_embedding`). [L, caption_channels]
    public var nullCaption: WeightTensor { yEmbedder.nullCaption }

    /// Latent patches the model was built for: (frames, spatial tokens).
    public var tokenGrid: (frames: Int, spatial: Int) { (temporalPosition.shape[0], spatialPosition.shape[0]) }

    /// Predicted noise, then the variance channels. -> [B, C_out, T, H, W]
    public func callAsFunction(_ input: LegacySTDiTInput) throws -> Tensor {
        let s = config.sizes
        let g = try checkLegacyInput(input, inChannels: s.inChannels, captionChannels: s.captionChannels, patch: s.patchSize)
        guard g.grid.frames == temporalPosition.shape[0], g.grid.spatial == spatialPosition.shape[0] else {
            throw STDiTError.badInput("STDiT v1.0 runs at its fixed input size: pos_embed covers \(spatialPosition.shape[0]) patches per frame and pos_embed_temporal \(temporalPosition.shape[0]) frames, the latent \(input.latent.shape) gives \(g.grid.spatial) and \(g.grid.frames)")
        }
        let b = g.grid.batch
        let t = tEmbedder(input.timesteps)                                           // [B, C]
        var t0: Tensor?, t0Mlp: Tensor?
        if g.frameMask != nil {
            let zero = tEmbedder([Float](repeating: 0, count: b))
            t0 = zero
            t0Mlp = tBlock(silu(zero))
        }
        let (caption, captionMask) = yEmbedder.embed(input.caption, mask: input.captionMask)
        let ctx = BlockContext(grid: g.grid, timestep: tBlock(silu(t)), zeroTimestep: t0Mlp, frameMask: g.frameMask,
                               caption: caption, captionMask: captionMask, rope: nil)
        var x = addingRowEmbedding(xEmbedder(input.latent).reshaped([g.grid.tokens, s.hiddenSize]), spatialPosition, every: 1)
        for (i, block) in blocks.enumerated() {
            block(&x, ctx, temporalPosition: i == 0 ? temporalPosition : nil)
        }
        let out = finalLayer(x, t: t, t0: t0, frameMask: g.frameMask, grid: g.grid)   // [B*T*S, patch*C_out]
        return unpatchifyTokens(out, grid: g.grid, patchesH: g.patchesH, patchesW: g.patchesW, patch: s.patchSize,
                                outChannels: s.outChannels, crop: Array(input.latent.shape[2...4]))
    }
}
