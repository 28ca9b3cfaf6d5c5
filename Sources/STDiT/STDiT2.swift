// STDiT2, the Open-Sora v1.1 denoiser (opensora/models/stdit/stdit2.py): one block list, each
// block spatial attention + temporal attention (own 3-chunk modulation from t_block_temp) +
// cross-attention + MLP; multi-resolution conditioning (size, aspect ratio, frame count, fps).

import Foundation
import TensorCore
import Weights

public struct STDiT2Input {
    /// Latent video. [B, C_in, T, H, W]
    public var latent: Tensor
    /// Timesteps, one per sample (IDDPM passes integers).
    public var timesteps: [Float]
    /// Text-encoder states. [B, L, caption_channels] ([B, 1, L, caption_channels] is accepted)
    public var caption: Tensor
    /// [B][L]: true = a real token. nil = all real.
    public var captionMask: [[Bool]]?
    /// x_mask, [B][T / patch_t]: false = a conditioning frame. nil = none.
    public var frameMask: [[Bool]]?
    /// Per sample (or one value for all): frame count, pixel height and width, aspect ratio
    /// (height / width) and fps, as `prepare_multi_resolution_info` makes them.
    public var numFrames: [Float], height: [Float], width: [Float], aspectRatio: [Float], fps: [Float]

    public init(latent: Tensor, timesteps: [Float], caption: Tensor, captionMask: [[Bool]]? = nil, frameMask: [[Bool]]? = nil,
                numFrames: [Float], height: [Float], width: [Float], aspectRatio: [Float], fps: [Float]) {
        self.latent = latent; self.timesteps = timesteps; self.caption = caption; self.captionMask = captionMask
        self.frameMask = frameMask; self.numFrames = numFrames; self.height = height; self.width = width
        self.aspectRatio = aspectRatio; self.fps = fps
    }
}

/// STDiT2Block: the six-chunk modulation drives spatial attention and the MLP, a three-chunk
/// one the temporal attention.
struct STDiT2Block {
    let scaleShiftTable: WeightTensor             // [6, C]
    let temporalScaleShiftTable: WeightTensor     // [3, C]
    let attn: SelfAttention, attnTemp: SelfAttention
    let crossAttn: CrossAttention
    let mlp: MLP
    /// Depth index, for the step cache.
    let index: Int

    init(_ p: ParameterScope, config c: STDiTConfig, index: Int) throws {
        self.index = index
        let order: QKNormOrder = c.qkNormLegacy ? .ropeThenNorm : .normThenRope
        scaleShiftTable = try p("scale_shift_table", [6, c.hiddenSize])
        temporalScaleShiftTable = try p("scale_shift_table_temporal", [3, c.hiddenSize])
        attn = try SelfAttention(p.scope("attn"), hidden: c.hiddenSize, heads: c.numHeads, qkNorm: c.qkNorm, order: order)
        attnTemp = try SelfAttention(p.scope("attn_temp"), hidden: c.hiddenSize, heads: c.numHeads, qkNorm: c.qkNorm, order: order)
        crossAttn = try CrossAttention(p.scope("cross_attn"), hidden: c.hiddenSize, heads: c.numHeads)
        mlp = try MLP(p.scope("mlp"), in: c.hiddenSize, hidden: c.mlpHidden, out: c.hiddenSize)
    }

    /// x: [B * T * S, C], updated in place.
    func callAsFunction(_ x: inout Tensor, _ ctx: BlockContext) {
        let g = ctx.grid
        let mod = FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: ctx.zeroTimestep,
                                  frameMask: ctx.frameMask, frames: g.frames)
        let tmod = FrameModulation(table: temporalScaleShiftTable, conditioning: ctx.temporalTimestep!,
                                   zeroConditioning: ctx.zeroTemporalTimestep, frameMask: ctx.frameMask, frames: g.frames)
        let spatialSite = CacheSite(stack: 0, block: index, branch: .spatialAttention)
        if !ctx.replay(spatialSite, into: &x) {
            let s = attn(modulatedLayerNorm(x, mod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: g.spatial), grid: g, axis: .spatial, rope: nil)
            addGated(&x, s, mod, gate: Chunk.gateMSA, grid: g, keep: ctx.keeper(spatialSite))
        }
        let temporalSite = CacheSite(stack: 0, block: index, branch: .temporalAttention)
        if !ctx.replay(temporalSite, into: &x) {
            let t = attnTemp(modulatedLayerNorm(x, tmod, shift: Chunk.shiftTemporal, scale: Chunk.scaleTemporal, tokensPerFrame: g.spatial), grid: g, axis: .temporal, rope: ctx.rope)
            addGated(&x, t, tmod, gate: Chunk.gateTemporal, grid: g, axis: .temporal, keep: ctx.keeper(temporalSite))
        }
        crossAttn.add(to: &x, ctx, site: CacheSite(stack: 0, block: index, branch: .crossAttention))

        mlp.add(to: &x, mod, ctx, site: CacheSite(stack: 0, block: index, branch: .mlp))
    }
}

public struct STDiT2: Sendable {
    public let config: STDiTConfig
    let trunk: DiTTrunk
    let tBlock: Linear, tBlockTemp: Linear
    let csizeEmbedder: TimestepEmbedder, arEmbedder: TimestepEmbedder
    let flEmbedder: TimestepEmbedder, fpsEmbedder: TimestepEmbedder
    let blocks: [STDiT2Block]
    let ropeFreqs: [Float]

    /// Builds the model over `weights`, checking every tensor first. Without `config` the sizes
    /// are read off the checkpoint (qk-norm in the legacy order when present, as v1.1 ran it).
    /// `quantization`: how the blocks' linears compute (embedders, final layer, norms and attention stay float32).
    public init(weights: WeightStore, config: STDiTConfig? = nil, quantization: Quantization = .none) throws {
        let c = try config ?? STDiTConfig.inferred(from: weights)
        try c.validate()
        guard c.hiddenSize % 3 == 0 else { throw STDiTError.badConfig("STDiT2 hidden_size \(c.hiddenSize) must be divisible by 3") }
        self.config = c
        let p = ParameterScope(weights)
        let C = c.hiddenSize
        ropeFreqs = try p("rope.freqs", [c.headDim / 2]).toTensor().array
        trunk = try DiTTrunk(p, inChannels: c.inChannels, outChannels: c.outChannels, patchSize: c.patchSize, hidden: C,
                             captionChannels: c.captionChannels, captionTokens: c.modelMaxLength)
        tBlock = try Linear(p.scope("t_block.1"), in: C, out: 6 * C)
        tBlockTemp = try Linear(p.scope("t_block_temp.1"), in: C, out: 3 * C)
        csizeEmbedder = try TimestepEmbedder(p.scope("csize_embedder"), hidden: C / 3)
        arEmbedder = try TimestepEmbedder(p.scope("ar_embedder"), hidden: C / 3)
        flEmbedder = try TimestepEmbedder(p.scope("fl_embedder"), hidden: C)
        fpsEmbedder = try TimestepEmbedder(p.scope("fps_embedder"), hidden: C)
        blocks = try (0..<c.depth).map { try STDiT2Block(p.quantized(quantization).scope("blocks.\($0)"), config: c, index: $0) }
    }

    /// The learned null caption for classifier-free guidance. [L, caption_channels]
    public var nullCaption: WeightTensor { trunk.yEmbedder.nullCaption }

    /// -> [B, C_out, T, H, W]. `cache`: the sampling run's step cache (nil: compute everything).
    public func callAsFunction(_ input: STDiT2Input, cache: StepCache? = nil) throws -> Tensor {
        let prepared = try prepare(input)
        var x = prepared.tokens
        var context = prepared.context
        context.cache = cache
        cache?.beginForward(timestep: input.timesteps[0], tokenShape: x.shape)
        runBlocks(&x, context, firstTable: blocks.first?.scaleShiftTable) { x in
            for block in blocks { block(&x, context) }
        }
        // As in the reference: the final layer takes t without the size conditioning, but the
        // t = 0 vector with it.
        return trunk.output(x, t: prepared.t, t0: prepared.t0, geometry: prepared.geometry)
    }

    func prepare(_ input: STDiT2Input) throws -> PreparedInput {
        let g = try trunk.geometry(latent: input.latent, timesteps: input.timesteps, caption: input.caption,
                                   captionMask: input.captionMask, frameMask: input.frameMask)
        let b = g.grid.batch
        // Like the reference's SizeEmbedder, values for part of the batch are tiled to all of it
        // (the guidance batch gets the prompts' values twice).
        func perSample(_ v: [Float], _ name: String) throws -> [Float] {
            guard !v.isEmpty, b % v.count == 0 else { throw STDiTError.badInput("\(v.count) \(name) values for a batch of \(b)") }
            return [[Float]](repeating: v, count: b / v.count).flatMap { $0 }
        }
        let height = try perSample(input.height, "height"), width = try perSample(input.width, "width")
        let ar = try perSample(input.aspectRatio, "aspect ratio"), frames = try perSample(input.numFrames, "num_frames")
        let fps = try perSample(input.fps, "fps")
        guard height[0] > 0, width[0] > 0 else { throw STDiTError.badInput("height and width must be positive, got \(height[0])x\(width[0])") }

        // data_info = [csize(h), csize(w), ar] (C/3 each); fl = fl_embedder(frames) + fps_embedder(fps).
        let hw = (0..<b).flatMap { [height[$0], width[$0]] }
        let csize = csizeEmbedder(hw).reshaped([b, 2 * config.hiddenSize / 3])
        let dataInfo = concat([csize, arEmbedder(ar)], axis: 1)                     // [B, C]
        let fl = flEmbedder(frames) + fpsEmbedder(fps)                                // [B, C]

        let masked = g.frameMask != nil
        let t = trunk.tEmbedder(input.timesteps)
        let t0 = masked ? trunk.tEmbedder([Float](repeating: 0, count: b)) : nil
        let tSpatial = t + dataInfo, t0Spatial = t0.map { $0 + dataInfo }
        let (caption, captionMask) = trunk.embedCaption(input.caption, mask: input.captionMask)
        var context = BlockContext(grid: g.grid, timestep: tBlock(silu(tSpatial)), zeroTimestep: t0Spatial.map { tBlock(silu($0)) },
                                   frameMask: g.frameMask, caption: caption, captionMask: captionMask,
                                   rope: RotaryTable(freqs: ropeFreqs, count: g.grid.frames))
        context.temporalTimestep = tBlockTemp(silu(t + fl))
        context.zeroTemporalTimestep = t0.map { tBlockTemp(silu($0 + fl)) }

        let scale = (Double(height[0]) * Double(width[0])).squareRoot() / Double(config.inputSqSize)
        let baseSize = Int(Double(g.grid.spatial).squareRoot().rounded(.toNearestOrEven))
        let pos = positionEmbedding2D(dim: config.hiddenSize, h: g.patchesH, w: g.patchesW, scale: scale, baseSize: baseSize)
        let tokens = trunk.embedTokens(input.latent, grid: g.grid, positions: pos)
        return PreparedInput(geometry: g, t: t, t0: t0Spatial, context: context, tokens: tokens)
    }
}
