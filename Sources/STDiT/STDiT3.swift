// STDiT3, the Open-Sora v1.2 denoiser (opensora/models/stdit/stdit3.py): patchify, add a 2D
// position embedding, then `depth` pairs of (spatial block, temporal block) conditioned on the
// timestep (adaLN-single) and the caption (cross-attention), a modulated final layer, unpatchify.

import Foundation
import TensorCore
import Weights

/// One call of the model.
public struct STDiT3Input {
    /// Latent video. [B, C_in, T, H, W]
    public var latent: Tensor
    /// Raw timesteps in [0, 1000], one per sample.
    public var timesteps: [Float]
    /// Text-encoder states. [B, L, caption_channels] ([B, 1, L, caption_channels] is accepted)
    public var caption: Tensor
    /// [B][L]: true = a real token, false = padding (left out of cross-attention). nil = all real.
    public var captionMask: [[Bool]]?
    /// x_mask, [B][T / patch_t]: false = a conditioning frame (modulated as at t = 0). nil = none.
    public var frameMask: [[Bool]]?
    /// Frames per second, one per sample or one for all.
    public var fps: [Float]
    /// Pixel size of the video; sets the position-embedding scale.
    public var height: Float, width: Float

    public init(latent: Tensor, timesteps: [Float], caption: Tensor, captionMask: [[Bool]]? = nil,
                frameMask: [[Bool]]? = nil, fps: [Float], height: Float, width: Float) {
        self.latent = latent; self.timesteps = timesteps; self.caption = caption; self.captionMask = captionMask
        self.frameMask = frameMask; self.fps = fps; self.height = height; self.width = width
    }

    public var batch: Int { latent.shape.first ?? 0 }
}

public struct STDiT3: Sendable {
    public let config: STDiT3Config
    let trunk: DiTTrunk
    let fpsEmbedder: TimestepEmbedder
    let tBlock: Linear
    let spatialBlocks: [STDiT3Block]
    let temporalBlocks: [STDiT3Block]
    let ropeFreqs: [Float]

    /// Builds the model over `weights` (names as in the reference state dict), checking every
    /// tensor's presence and shape first. Without `config` the sizes are read off the checkpoint.
    /// `quantization`: how the blocks' linears compute (embedders, final layer, norms and attention stay float32).
    public init(weights: WeightStore, config: STDiT3Config? = nil, quantization: Quantization = .none) throws {
        let c = try config ?? STDiT3Config.inferred(from: weights)
        try c.validate()
        self.config = c
        let p = ParameterScope(weights)
        let C = c.hiddenSize
        ropeFreqs = try p("rope.freqs", [c.headDim / 2]).toTensor().array
        trunk = try DiTTrunk(p, inChannels: c.inChannels, outChannels: c.outChannels, patchSize: c.patchSize, hidden: C,
                             captionChannels: c.captionChannels, captionTokens: c.modelMaxLength)
        fpsEmbedder = try TimestepEmbedder(p.scope("fps_embedder"), hidden: C)
        tBlock = try Linear(p.scope("t_block.1"), in: C, out: 6 * C)
        spatialBlocks = try (0..<c.depth).map { try STDiT3Block(p.quantized(quantization).scope("spatial_blocks.\($0)"), config: c, axis: .spatial, index: $0) }
        temporalBlocks = try (0..<c.depth).map { try STDiT3Block(p.quantized(quantization).scope("temporal_blocks.\($0)"), config: c, axis: .temporal, index: $0) }
    }

    /// The learned null caption (`y_embedder.y_embedding`) for classifier-free guidance. [L, caption_channels]
    public var nullCaption: WeightTensor { trunk.yEmbedder.nullCaption }

    /// The denoiser output (predicted velocity / noise, then sigma channels). -> [B, C_out, T, H, W]
    /// `cache`: the sampling run's step cache, which decides what this call computes (nil: everything).
    public func callAsFunction(_ input: STDiT3Input, cache: StepCache? = nil) throws -> Tensor {
        let prepared = try prepare(input)
        var x = prepared.tokens
        var context = prepared.context
        context.cache = cache
        cache?.beginForward(timestep: input.timesteps[0], tokenShape: x.shape)
        runBlocks(&x, context, firstTable: spatialBlocks.first?.scaleShiftTable) { x in
            for i in 0..<config.depth {
                spatialBlocks[i](&x, context)
                temporalBlocks[i](&x, context)
            }
        }
        return trunk.output(x, t: prepared.t, t0: prepared.t0, geometry: prepared.geometry)
    }

    // MARK: steps

    func prepare(_ input: STDiT3Input) throws -> PreparedInput {
        let g = try trunk.geometry(latent: input.latent, timesteps: input.timesteps, caption: input.caption,
                                   captionMask: input.captionMask, frameMask: input.frameMask)
        let b = g.grid.batch
        guard input.fps.count == b || input.fps.count == 1 else { throw STDiTError.badInput("\(input.fps.count) fps values for a batch of \(b)") }
        guard input.height > 0, input.width > 0 else { throw STDiTError.badInput("height and width must be positive pixel sizes, got \(input.height)x\(input.width)") }

        // t = t_embedder(t) + fps_embedder(fps); t_block = SiLU + Linear(6C).
        let fps = input.fps.count == 1 ? [Float](repeating: input.fps[0], count: b) : input.fps
        let cond = timestepConditioning(trunk, timesteps: input.timesteps, extra: fpsEmbedder(fps), masked: g.frameMask != nil, block: tBlock)
        let (caption, captionMask) = trunk.embedCaption(input.caption, mask: input.captionMask)
        let context = BlockContext(grid: g.grid, timestep: cond.tMlp, zeroTimestep: cond.t0Mlp,
                                   frameMask: g.frameMask, caption: caption, captionMask: captionMask,
                                   rope: RotaryTable(freqs: ropeFreqs, count: g.grid.frames))
        let pos = positionEmbedding(h: g.patchesH, w: g.patchesW, height: input.height, width: input.width)
        let tokens = trunk.embedTokens(input.latent, grid: g.grid, positions: pos)
        return PreparedInput(geometry: g, t: cond.t, t0: cond.t0, context: context, tokens: tokens)
    }

    /// pos_embed for an h x w patch grid of a height x width pixel video:
    /// scale = sqrt(height * width) / input_sq_size, base_size = round(sqrt(h * w)). -> [h * w, C]
    func positionEmbedding(h: Int, w: Int, height: Float, width: Float) -> Tensor {
        let scale = (Double(height) * Double(width)).squareRoot() / Double(config.inputSqSize)
        let baseSize = Int(Double(h * w).squareRoot().rounded(.toNearestOrEven))
        return positionEmbedding2D(dim: config.hiddenSize, h: h, w: w, scale: scale, baseSize: baseSize)
    }
}
