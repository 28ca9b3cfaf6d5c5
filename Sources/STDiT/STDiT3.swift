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
    let xEmbedder: PatchEmbed3D
    let tEmbedder: TimestepEmbedder
    let fpsEmbedder: TimestepEmbedder
    let tBlock: Linear
    let yEmbedder: CaptionEmbedder
    let spatialBlocks: [STDiT3Block]
    let temporalBlocks: [STDiT3Block]
    let finalLayer: FinalLayer
    let ropeFreqs: [Float]

    /// Builds the model over `weights` (names as in the reference state dict), checking every
    /// tensor's presence and shape first. Without `config` the sizes are read off the checkpoint.
    public init(weights: WeightStore, config: STDiT3Config? = nil) throws {
        let c = try config ?? STDiT3Config.inferred(from: weights)
        try c.validate()
        self.config = c
        let p = ParameterScope(weights)
        let C = c.hiddenSize
        ropeFreqs = try p("rope.freqs", [c.headDim / 2]).toTensor().array
        xEmbedder = try PatchEmbed3D(p.scope("x_embedder"), inChannels: c.inChannels, hidden: C, patch: c.patchSize)
        tEmbedder = try TimestepEmbedder(p.scope("t_embedder"), hidden: C)
        fpsEmbedder = try TimestepEmbedder(p.scope("fps_embedder"), hidden: C)
        tBlock = try Linear(p.scope("t_block.1"), in: C, out: 6 * C)
        yEmbedder = try CaptionEmbedder(p.scope("y_embedder"), captionChannels: c.captionChannels, hidden: C, tokens: c.modelMaxLength)
        spatialBlocks = try (0..<c.depth).map { try STDiT3Block(p.scope("spatial_blocks.\($0)"), config: c, axis: .spatial) }
        temporalBlocks = try (0..<c.depth).map { try STDiT3Block(p.scope("temporal_blocks.\($0)"), config: c, axis: .temporal) }
        finalLayer = try FinalLayer(p.scope("final_layer"), hidden: C, outFeatures: c.patchVolume * c.outChannels)
    }

    /// The learned null caption (`y_embedder.y_embedding`) for classifier-free guidance. [L, caption_channels]
    public var nullCaption: WeightTensor { yEmbedder.nullCaption }

    /// The classifier-free-guidance batch: the conditional samples followed by the same samples
    /// with the null caption. As in the reference, the null half reuses the caption mask.
    public func guidanceInput(_ cond: STDiT3Input) throws -> STDiT3Input {
        let y = cond.caption.rank == 4 ? cond.caption.reshaped([cond.caption.shape[0], cond.caption.shape[2], cond.caption.shape[3]]) : cond.caption
        guard y.rank == 3, y.shape[0] == cond.batch, y.shape[1] == config.modelMaxLength, y.shape[2] == config.captionChannels else {
            throw STDiTError.badInput("guidance needs captions of shape [\(cond.batch), \(config.modelMaxLength), \(config.captionChannels)] to pair with the null caption, got \(cond.caption.shape)")
        }
        let null = nullCaption.toTensor()
        var out = cond
        out.latent = concat([cond.latent, cond.latent], axis: 0)
        out.timesteps = cond.timesteps + cond.timesteps
        out.caption = concat([y] + [Tensor](repeating: null.reshaped([1] + null.shape), count: cond.batch), axis: 0)
        out.captionMask = cond.captionMask.map { $0 + $0 }
        out.frameMask = cond.frameMask.map { $0 + $0 }
        out.fps = cond.fps.count == 1 ? cond.fps : cond.fps + cond.fps
        return out
    }

    /// The denoiser output (predicted velocity / noise, then sigma channels). -> [B, C_out, T, H, W]
    public func callAsFunction(_ input: STDiT3Input) throws -> Tensor {
        let prepared = try prepare(input)
        var x = prepared.tokens
        for i in 0..<config.depth {
            spatialBlocks[i](&x, prepared.context)
            temporalBlocks[i](&x, prepared.context)
        }
        let g = prepared.geometry
        let out = finalLayer(x, t: prepared.t, t0: prepared.t0, frameMask: g.frameMask, grid: g.grid)  // [B*T*S, patch*C_out]
        return unpatchify(out, grid: g.grid, height: g.patchesH, width: g.patchesW, crop: Array(input.latent.shape[2...4]))
    }

    // MARK: steps

    /// Everything before the first block.
    struct Prepared {
        let geometry: Geometry
        /// t_embedder(t) + fps_embedder(fps), and the same at t = 0 when frames are masked. [B, C]
        let t: Tensor, t0: Tensor?
        let context: BlockContext
        /// Patch embedding + position embedding. [B * T * S, C]
        let tokens: Tensor
    }

    func prepare(_ input: STDiT3Input) throws -> Prepared {
        let geometry = try checkInput(input)
        let b = geometry.grid.batch

        // Timestep conditioning: t = t_embedder(t) + fps_embedder(fps); t_block = SiLU + Linear(6C).
        let fps = input.fps.count == 1 ? [Float](repeating: input.fps[0], count: b) : input.fps
        let fpsEmbedding = fpsEmbedder(fps)
        let t = tEmbedder(input.timesteps) + fpsEmbedding                 // [B, C]
        var t0: Tensor?, t0Mlp: Tensor?
        if geometry.frameMask != nil {
            let zero = tEmbedder([Float](repeating: 0, count: b)) + fpsEmbedding
            t0 = zero
            t0Mlp = tBlock(silu(zero))
        }
        let (caption, captionMask) = embedCaption(input)
        let context = BlockContext(grid: geometry.grid, timestep: tBlock(silu(t)), zeroTimestep: t0Mlp,
                                   frameMask: geometry.frameMask, caption: caption, captionMask: captionMask,
                                   rope: RotaryTable(freqs: ropeFreqs, count: geometry.grid.frames))
        let tokens = embedTokens(input.latent, grid: geometry.grid, height: input.height, width: input.width)
        return Prepared(geometry: geometry, t: t, t0: t0, context: context, tokens: tokens)
    }

    struct Geometry {
        let grid: TokenGrid
        let patchesH: Int, patchesW: Int
        let frameMask: [Bool]?
    }

    /// Validates every input against the config; returns the token grid.
    func checkInput(_ input: STDiT3Input) throws -> Geometry {
        let x = input.latent
        guard x.rank == 5, x.shape[1] == config.inChannels, x.shape.allSatisfy({ $0 > 0 }) else {
            throw STDiTError.badInput("latent must be [B, \(config.inChannels), T, H, W] with positive sizes, got \(x.shape)")
        }
        let b = x.shape[0]
        let p = config.patchSize
        let (gt, gh, gw) = ((x.shape[2] + p[0] - 1) / p[0], (x.shape[3] + p[1] - 1) / p[1], (x.shape[4] + p[2] - 1) / p[2])
        guard input.timesteps.count == b else { throw STDiTError.badInput("\(input.timesteps.count) timesteps for a batch of \(b)") }
        guard input.fps.count == b || input.fps.count == 1 else { throw STDiTError.badInput("\(input.fps.count) fps values for a batch of \(b)") }
        guard input.height > 0, input.width > 0 else { throw STDiTError.badInput("height and width must be positive pixel sizes, got \(input.height)x\(input.width)") }
        let y = input.caption
        let yOK = (y.rank == 3 && y.shape[0] == b && y.shape[2] == config.captionChannels)
            || (y.rank == 4 && y.shape[0] == b && y.shape[1] == 1 && y.shape[3] == config.captionChannels)
        guard yOK, y.shape[y.rank - 2] > 0 else {
            throw STDiTError.badInput("caption must be [\(b), L, \(config.captionChannels)] (or [\(b), 1, L, \(config.captionChannels)]), got \(y.shape)")
        }
        let length = y.shape[y.rank - 2]
        if let m = input.captionMask {
            guard m.count == b, m.allSatisfy({ $0.count == length }) else {
                throw STDiTError.badInput("caption mask must be [\(b)][\(length)], got \(m.count) rows of \(m.map(\.count))")
            }
            if let empty = m.firstIndex(where: { !$0.contains(true) }) {
                throw STDiTError.badInput("caption mask of sample \(empty) selects no tokens")
            }
        }
        var frameMask: [Bool]?
        if let m = input.frameMask {
            guard m.count == b, m.allSatisfy({ $0.count == gt }) else {
                throw STDiTError.badInput("frame mask (x_mask) must be [\(b)][\(gt)], got \(m.count) rows of \(m.map(\.count))")
            }
            frameMask = m.flatMap { $0 }
        }
        return Geometry(grid: TokenGrid(batch: b, frames: gt, spatial: gh * gw), patchesH: gh, patchesW: gw, frameMask: frameMask)
    }

    /// Caption tokens through y_embedder, cut after the last real token of any sample.
    /// -> ([B, L', C], mask over the L' keys or nil when all are real)
    func embedCaption(_ input: STDiT3Input) -> (Tensor, AttentionMask?) {
        let y = input.caption
        let b = y.shape[0], length = y.shape[y.rank - 2], cc = config.captionChannels
        let used = input.captionMask.map { m in m.map { ($0.lastIndex(of: true) ?? 0) + 1 }.max() ?? length } ?? length
        var tokens = y.reshaped([b, length, cc])
        if used < length { tokens = narrow(tokens, axis: 1, 0..<used) }
        let projected = yEmbedder.projection(tokens)                                 // [B, L', C]
        guard let m = input.captionMask, m.contains(where: { $0.prefix(used).contains(false) }) else { return (projected, nil) }
        return (projected, AttentionMask(keyValid: m.flatMap { $0.prefix(used) }, keys: used))
    }

    /// Patch embedding plus the 2D position embedding. -> [B * T * S, C]
    func embedTokens(_ latent: Tensor, grid: TokenGrid, height: Float, width: Float) -> Tensor {
        let C = config.hiddenSize
        let p = config.patchSize
        let gh = (latent.shape[3] + p[1] - 1) / p[1], gw = (latent.shape[4] + p[2] - 1) / p[2]
        var x = xEmbedder(latent).reshaped([grid.tokens, C])
        let pos = positionEmbedding(h: gh, w: gw, height: height, width: width)     // [S, C]
        let xp = SendablePointer(x.mutablePointer), pp = SendablePointer(pos.pointer), s = grid.spatial
        parallelFor(grid.tokens, minPerThread: max(1, 8192 / C)) { r in
            for row in r {
                let d = xp.p + row * C, e = pp.p + (row % s) * C
                for j in 0..<C { d[j] += e[j] }
            }
        }
        return x
    }

    /// pos_embed for an h x w patch grid of a height x width pixel video:
    /// scale = sqrt(height * width) / input_sq_size, base_size = round(sqrt(h * w)). -> [h * w, C]
    func positionEmbedding(h: Int, w: Int, height: Float, width: Float) -> Tensor {
        let scale = (Double(height) * Double(width)).squareRoot() / Double(config.inputSqSize)
        let baseSize = Int(Double(h * w).squareRoot().rounded(.toNearestOrEven))
        return positionEmbedding2D(dim: config.hiddenSize, h: h, w: w, scale: scale, baseSize: baseSize)
    }

    /// [B * T' * H' * W', (pt ph pw C_out)] -> [B, C_out, T, H, W], dropping the patch padding.
    func unpatchify(_ x: Tensor, grid: TokenGrid, height gh: Int, width gw: Int, crop: [Int]) -> Tensor {
        let p = config.patchSize, co = config.outChannels
        let (pt, ph, pw) = (p[0], p[1], p[2])
        let (t, h, w) = (crop[0], crop[1], crop[2])
        let b = grid.batch, gt = grid.frames
        var out = Tensor(uninitialized: [b, co, t, h, w])
        let src = SendablePointer(x.pointer), dst = SendablePointer(out.mutablePointer)
        let width = pt * ph * pw * co
        parallelFor(b * co) { r in
            for bc in r {
                let bi = bc / co, c = bc % co
                for ti in 0..<t {
                    for hi in 0..<h {
                        for wi in 0..<w {
                            let token = ((bi * gt + ti / pt) * gh + hi / ph) * gw + wi / pw
                            let inner = (((ti % pt) * ph + hi % ph) * pw + wi % pw) * co + c
                            dst.p[(((bi * co + c) * t + ti) * h + hi) * w + wi] = src.p[token * width + inner]
                        }
                    }
                }
            }
        }
        return out
    }
}
