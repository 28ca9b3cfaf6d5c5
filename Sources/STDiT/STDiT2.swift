// STDiT2, the Open-Sora v1.1 denoiser (opensora/models/stdit/stdit2.py): any resolution (the 2D
// position embedding is computed per call), multi-resolution conditioning (size, aspect ratio,
// frame count, fps), `depth` blocks of (modulated spatial attention, separately modulated
// temporal attention with RoPE, cross-attention, modulated MLP), a modulated final layer.

import Foundation
import TensorCore
import Weights

/// v1.1's multi-resolution conditioning (prepare_multi_resolution_info for STDiT2). Each array
/// has one value per sample or a count dividing the batch (tiled, as the reference repeats it).
public struct MultiResolutionInfo: Sendable {
    /// Pixel height and width of the video, ar = height / width.
    public var height: [Float], width: [Float], aspectRatio: [Float]
    public var numFrames: [Float], fps: [Float]

    public init(height: [Float], width: [Float], aspectRatio: [Float], numFrames: [Float], fps: [Float]) {
        self.height = height; self.width = width; self.aspectRatio = aspectRatio; self.numFrames = numFrames; self.fps = fps
    }

    /// One video size for every sample.
    public init(height: Int, width: Int, numFrames: Int, fps: Float) {
        self.init(height: [Float(height)], width: [Float(width)], aspectRatio: [Float(height) / Float(width)],
                  numFrames: [Float(numFrames)], fps: [fps])
    }

    func expanded(to b: Int) throws -> MultiResolutionInfo {
        func tile(_ v: [Float], _ name: String) throws -> [Float] {
            guard !v.isEmpty, b % v.count == 0 else { throw STDiTError.badInput("\(v.count) \(name) values for a batch of \(b)") }
            return (0..<b).map { v[$0 % v.count] }
        }
        let h = try tile(height, "height"), w = try tile(width, "width")
        guard h.allSatisfy({ $0 > 0 }), w.allSatisfy({ $0 > 0 }) else { throw STDiTError.badInput("height and width must be positive pixel sizes, got \(height) x \(width)") }
        return MultiResolutionInfo(height: h, width: w, aspectRatio: try tile(aspectRatio, "ar"),
                              numFrames: try tile(numFrames, "num_frames"), fps: try tile(fps, "fps"))
    }
}

/// STDiT2Block: modulated spatial attention, temporal attention with its own [3, C] table and
/// t_block_temp conditioning, cross-attention, modulated MLP.
struct STDiT2Block {
    let scaleShiftTable: WeightTensor           // [6, C]
    let temporalTable: WeightTensor             // [3, C]
    let attn: SelfAttention, attnTemp: SelfAttention
    let crossAttn: CrossAttention
    let mlp: MLP

    init(_ p: ParameterScope, config c: STDiT2Config) throws {
        let s = c.sizes, order: QKNormOrder = c.qkNormLegacy ? .ropeThenNorm : .normThenRope
        scaleShiftTable = try p("scale_shift_table", [6, s.hiddenSize])
        temporalTable = try p("scale_shift_table_temporal", [3, s.hiddenSize])
        attn = try SelfAttention(p.scope("attn"), hidden: s.hiddenSize, heads: s.numHeads, qkNorm: c.qkNorm, order: order)
        attnTemp = try SelfAttention(p.scope("attn_temp"), hidden: s.hiddenSize, heads: s.numHeads, qkNorm: c.qkNorm, order: order)
        crossAttn = try CrossAttention(p.scope("cross_attn"), hidden: s.hiddenSize, heads: s.numHeads)
        mlp = try MLP(p.scope("mlp"), in: s.hiddenSize, hidden: s.mlpHidden, out: s.hiddenSize)
    }

    /// x: [B * T * S, C], updated in place. temporal / zeroTemporal: t_block_temp outputs [B, 3C].
    func callAsFunction(_ x: inout Tensor, _ ctx: BlockContext, temporal: Tensor, zeroTemporal: Tensor?) {
        let g = ctx.grid, c = x.shape.last!
        let mod = FrameModulation(table: scaleShiftTable, conditioning: ctx.timestep, zeroConditioning: ctx.zeroTimestep,
                                  frameMask: ctx.frameMask, frames: g.frames)
        let a = attn(modulatedLayerNorm(x, mod, shift: 0, scale: 1, tokensPerFrame: g.spatial), grid: g, axis: .spatial, rope: nil)
        addGated(&x, a, mod, gate: 2, grid: g)

        let tmod = FrameModulation(table: temporalTable, conditioning: temporal, zeroConditioning: zeroTemporal,
                                   frameMask: ctx.frameMask, frames: g.frames)
        let at = attnTemp(modulatedLayerNorm(x, tmod, shift: 0, scale: 1, tokensPerFrame: g.spatial), grid: g, axis: .temporal, rope: ctx.rope)
        addGated(&x, at, tmod, gate: 2, grid: g, axis: .temporal)

        x = x.reshaped([g.batch, g.frames * g.spatial, c])
        crossAttn.add(to: &x, context: ctx.caption, mask: ctx.captionMask)
        x = x.reshaped([g.tokens, c])

        let m = mlp(modulatedLayerNorm(x, mod, shift: 3, scale: 4, tokensPerFrame: g.spatial))
        addGated(&x, m, mod, gate: 5, grid: g)
    }
}

public struct STDiT2: Sendable {
    public let config: STDiT2Config
    let xEmbedder: PatchEmbed3D
    let tEmbedder: TimestepEmbedder
    let tBlock: Linear, tBlockTemp: Linear
    let yEmbedder: CaptionEmbedder
    let sizeEmbedder: TimestepEmbedder, aspectEmbedder: TimestepEmbedder
    let framesEmbedder: TimestepEmbedder, fpsEmbedder: TimestepEmbedder
    let blocks: [STDiT2Block]
    let finalLayer: FinalLayer
    let ropeFreqs: [Float]

    /// Builds the model over `weights` (the reference state dict's names), checking every
    /// tensor's presence and shape first. Without `config` the sizes are read off the checkpoint.
    public init(weights: WeightStore, config: STDiT2Config? = nil) throws {
        let c = try config ?? STDiT2Config.inferred(from: weights)
        try c.validate()
        self.config = c
        let s = c.sizes, C = s.hiddenSize
        let p = ParameterScope(weights)
        ropeFreqs = try p("rope.freqs", [s.headDim / 2]).toTensor().array
        xEmbedder = try PatchEmbed3D(p.scope("x_embedder"), inChannels: s.inChannels, hidden: C, patch: s.patchSize)
        tEmbedder = try TimestepEmbedder(p.scope("t_embedder"), hidden: C)
        tBlock = try Linear(p.scope("t_block.1"), in: C, out: 6 * C)
        tBlockTemp = try Linear(p.scope("t_block_temp.1"), in: C, out: 3 * C)
        yEmbedder = try CaptionEmbedder(p.scope("y_embedder"), captionChannels: s.captionChannels, hidden: C, tokens: s.modelMaxLength)
        sizeEmbedder = try TimestepEmbedder(p.scope("csize_embedder"), hidden: C / 3)
        aspectEmbedder = try TimestepEmbedder(p.scope("ar_embedder"), hidden: C / 3)
        framesEmbedder = try TimestepEmbedder(p.scope("fl_embedder"), hidden: C)
        fpsEmbedder = try TimestepEmbedder(p.scope("fps_embedder"), hidden: C)
        blocks = try (0..<s.depth).map { try STDiT2Block(p.scope("blocks.\($0)"), config: c) }
        finalLayer = try FinalLayer(p.scope("final_layer"), hidden: C, outFeatures: s.patchVolume * s.outChannels)
    }

    /// The learned null caption (`y_embedder.y_embedding`). [L, caption_channels]
    public var nullCaption: WeightTensor { yEmbedder.nullCaption }

    /// Predicted noise, then the variance channels. -> [B, C_out, T, H, W]
    public func callAsFunction(_ input: LegacySTDiTInput, resolution: MultiResolutionInfo) throws -> Tensor {
        let s = config.sizes, C = s.hiddenSize
        let g = try checkLegacyInput(input, inChannels: s.inChannels, captionChannels: s.captionChannels, patch: s.patchSize)
        let b = g.grid.batch
        let info = try resolution.expanded(to: b)

        // data_info = [csize(h), csize(w), ar] conditions the spatial side, fl = fl(T) + fps(fps) the temporal.
        let hw = zip(info.height, info.width).flatMap { [$0, $1] }
        let dataInfo = concat([sizeEmbedder(hw).reshaped([b, 2 * C / 3]), aspectEmbedder(info.aspectRatio)], axis: 1)   // [B, C]
        let frames = framesEmbedder(info.numFrames) + fpsEmbedder(info.fps)                                              // [B, C]
        let t = tEmbedder(input.timesteps)
        var t0Spatial: Tensor?, t0Mlp: Tensor?, t0TempMlp: Tensor?
        if g.frameMask != nil {
            let zero = tEmbedder([Float](repeating: 0, count: b))
            let spatial = zero + dataInfo
            t0Spatial = spatial
            t0Mlp = tBlock(silu(spatial))
            t0TempMlp = tBlockTemp(silu(zero + frames))
        }
        let temporal = tBlockTemp(silu(t + frames))
        let (caption, captionMask) = yEmbedder.embed(input.caption, mask: input.captionMask)
        let ctx = BlockContext(grid: g.grid, timestep: tBlock(silu(t + dataInfo)), zeroTimestep: t0Mlp, frameMask: g.frameMask,
                               caption: caption, captionMask: captionMask, rope: RotaryTable(freqs: ropeFreqs, count: g.grid.frames))

        // The position-embedding scale follows the first sample's size, as in the reference.
        let scale = (Double(info.height[0]) * Double(info.width[0])).squareRoot() / Double(config.inputSqSize)
        let baseSize = Int(Double(g.grid.spatial).squareRoot().rounded(.toNearestOrEven))
        let pos = positionEmbedding2D(dim: C, h: g.patchesH, w: g.patchesW, scale: scale, baseSize: baseSize)   // [S, C]
        var x = addingRowEmbedding(xEmbedder(input.latent).reshaped([g.grid.tokens, C]), pos, every: 1)
        for block in blocks { block(&x, ctx, temporal: temporal, zeroTemporal: t0TempMlp) }
        // The final layer is modulated by t alone, conditioning frames by t0 + data_info.
        let out = finalLayer(x, t: t, t0: t0Spatial, frameMask: g.frameMask, grid: g.grid)
        return unpatchifyTokens(out, grid: g.grid, patchesH: g.patchesH, patchesW: g.patchesW, patch: s.patchSize,
                                outChannels: s.outChannels, crop: Array(input.latent.shape[2...4]))
    }
}
