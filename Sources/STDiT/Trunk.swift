// What every STDiT version has around its blocks: the patch, timestep and caption embedders,
// the final layer, unpatchify, and the checks of the inputs they share.

import TensorCore
import Weights

/// Token grid of one call, its patch counts and the flattened frame mask.
struct Geometry {
    let grid: TokenGrid
    let patchesH: Int, patchesW: Int
    /// x_mask flattened to B * T flags; nil = every frame ordinary.
    let frameMask: [Bool]?
    /// Latent size (T, H, W) before patch padding: unpatchify crops to it.
    let latentSize: [Int]
}

/// Everything a model computes before its first block.
struct PreparedInput {
    let geometry: Geometry
    /// The timestep embedding (with fps / size conditioning as the version adds it), and the same
    /// at t = 0 when frames are masked. [B, C]
    let t: Tensor, t0: Tensor?
    let context: BlockContext
    /// Patch embedding + position embedding. [B * T * S, C]
    let tokens: Tensor
}

struct DiTTrunk {
    let inChannels: Int, outChannels: Int, hidden: Int, captionChannels: Int
    let patchSize: [Int]
    let xEmbedder: PatchEmbed3D
    let tEmbedder: TimestepEmbedder
    let yEmbedder: CaptionEmbedder
    let finalLayer: FinalLayer

    init(_ p: ParameterScope, inChannels: Int, outChannels: Int, patchSize: [Int], hidden: Int,
         captionChannels: Int, captionTokens: Int) throws {
        self.inChannels = inChannels; self.outChannels = outChannels; self.hidden = hidden
        self.captionChannels = captionChannels; self.patchSize = patchSize
        xEmbedder = try PatchEmbed3D(p.scope("x_embedder"), inChannels: inChannels, hidden: hidden, patch: patchSize)
        tEmbedder = try TimestepEmbedder(p.scope("t_embedder"), hidden: hidden)
        yEmbedder = try CaptionEmbedder(p.scope("y_embedder"), captionChannels: captionChannels, hidden: hidden, tokens: captionTokens)
        finalLayer = try FinalLayer(p.scope("final_layer"), hidden: hidden, outFeatures: patchSize.reduce(1, *) * outChannels)
    }

    /// Validates the inputs every version takes; returns the token grid.
    /// latent: [B, C_in, T, H, W]; caption: [B, L, C_cap] or [B, 1, L, C_cap].
    func geometry(latent x: Tensor, timesteps: [Float], caption y: Tensor, captionMask: [[Bool]]?,
                  frameMask: [[Bool]]?) throws -> Geometry {
        guard x.rank == 5, x.shape[1] == inChannels, x.shape.allSatisfy({ $0 > 0 }) else {
            throw STDiTError.badInput("latent must be [B, \(inChannels), T, H, W] with positive sizes, got \(x.shape)")
        }
        let b = x.shape[0]
        let p = patchSize
        let (gt, gh, gw) = ((x.shape[2] + p[0] - 1) / p[0], (x.shape[3] + p[1] - 1) / p[1], (x.shape[4] + p[2] - 1) / p[2])
        guard timesteps.count == b else { throw STDiTError.badInput("\(timesteps.count) timesteps for a batch of \(b)") }
        let yOK = (y.rank == 3 && y.shape[0] == b && y.shape[2] == captionChannels)
            || (y.rank == 4 && y.shape[0] == b && y.shape[1] == 1 && y.shape[3] == captionChannels)
        guard yOK, y.shape[y.rank - 2] > 0 else {
            throw STDiTError.badInput("caption must be [\(b), L, \(captionChannels)] (or [\(b), 1, L, \(captionChannels)]), got \(y.shape)")
        }
        let length = y.shape[y.rank - 2]
        if let m = captionMask {
            guard m.count == b, m.allSatisfy({ $0.count == length }) else {
                throw STDiTError.badInput("caption mask must be [\(b)][\(length)], got \(m.count) rows of \(m.map(\.count))")
            }
            if let empty = m.firstIndex(where: { !$0.contains(true) }) {
                throw STDiTError.badInput("caption mask of sample \(empty) selects no tokens")
            }
        }
        var flat: [Bool]?
        if let m = frameMask {
            guard m.count == b, m.allSatisfy({ $0.count == gt }) else {
                throw STDiTError.badInput("frame mask (x_mask) must be [\(b)][\(gt)], got \(m.count) rows of \(m.map(\.count))")
            }
            flat = m.flatMap { $0 }
        }
        return Geometry(grid: TokenGrid(batch: b, frames: gt, spatial: gh * gw), patchesH: gh, patchesW: gw,
                        frameMask: flat, latentSize: Array(x.shape[2...4]))
    }

    /// Caption tokens through y_embedder, cut after the last real token of any sample; the
    /// reference packs the real tokens instead, which attends to the same keys.
    /// -> ([B, L', C], mask over the L' keys or nil when all are real)
    func embedCaption(_ y: Tensor, mask: [[Bool]]?) -> (Tensor, AttentionMask?) {
        let b = y.shape[0], length = y.shape[y.rank - 2]
        let used = mask.map { m in m.map { ($0.lastIndex(of: true) ?? 0) + 1 }.max() ?? length } ?? length
        var tokens = y.reshaped([b, length, captionChannels])
        if used < length { tokens = narrow(tokens, axis: 1, 0..<used) }
        let projected = yEmbedder.projection(tokens)                                 // [B, L', C]
        guard let m = mask, m.contains(where: { $0.prefix(used).contains(false) }) else { return (projected, nil) }
        return (projected, AttentionMask(keyValid: m.flatMap { $0.prefix(used) }, keys: used))
    }

    /// Patch embedding plus a position embedding per spatial place. pos: [S, C] -> [B * T * S, C]
    func embedTokens(_ latent: Tensor, grid: TokenGrid, positions pos: Tensor) -> Tensor {
        let c = hidden
        var x = xEmbedder(latent).reshaped([grid.tokens, c])
        addRowwise(&x, pos, period: grid.spatial)
        return x
    }

    /// Final layer (modulated by t, or t0 on conditioning frames) and unpatchify.
    /// x: [B * T * S, C], t / t0: [B, C] -> [B, C_out, T, H, W]
    func output(_ x: Tensor, t: Tensor, t0: Tensor?, geometry g: Geometry) -> Tensor {
        unpatchify(finalLayer(x, t: t, t0: t0, frameMask: g.frameMask, grid: g.grid), geometry: g)
    }

    /// [B * T' * H' * W', (pt ph pw C_out)] -> [B, C_out, T, H, W], dropping the patch padding.
    func unpatchify(_ x: Tensor, geometry g: Geometry) -> Tensor {
        unpatchifyTokens(x, patch: patchSize, outChannels: outChannels, geometry: g)
    }
}

/// Tokens back to a latent: [B * T' * H' * W', (pt ph pw C_out)] (the channel fastest inside a
/// patch) -> [B, C_out, T, H, W], dropping the patch padding.
func unpatchifyTokens(_ x: Tensor, patch: [Int], outChannels co: Int, geometry g: Geometry) -> Tensor {
    let (pt, ph, pw) = (patch[0], patch[1], patch[2])
    let (t, h, w) = (g.latentSize[0], g.latentSize[1], g.latentSize[2])
    let (b, gt, gh, gw) = (g.grid.batch, g.grid.frames, g.patchesH, g.patchesW)
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

/// Timestep conditioning of one call: t = t_embedder(t) + extra, t_block(t), and the same at
/// t = 0 when frames are masked.
func timestepConditioning(_ trunk: DiTTrunk, timesteps: [Float], extra: Tensor?, masked: Bool, block: Linear)
    -> (t: Tensor, t0: Tensor?, tMlp: Tensor, t0Mlp: Tensor?) {
    func embed(_ v: [Float]) -> Tensor {
        let e = trunk.tEmbedder(v)
        return extra.map { e + $0 } ?? e
    }
    let t = embed(timesteps)
    guard masked else { return (t, nil, block(silu(t)), nil) }
    let t0 = embed([Float](repeating: 0, count: timesteps.count))
    return (t, t0, block(silu(t)), block(silu(t0)))
}

/// The block stack of one forward, through the step cache when there is one: `run` on x, or
/// (TeaCache, on a step it skips) the last computed stack's residual added to x.
/// firstTable: the first block's scale_shift_table [6, C], whose modulated input TeaCache measures. x: [R, C]
func runBlocks(_ x: inout Tensor, _ ctx: BlockContext, firstTable: WeightTensor?, _ run: (inout Tensor) -> Void) {
    guard let cache = ctx.cache, let firstTable else { return run(&x) }
    let input = x
    cache.blockStack(&x, probe: {
        // As the reference measures it: norm1 of the first block modulated by t's shift_msa and
        // scale_msa on every frame (conditioning frames included).
        let mod = FrameModulation(table: firstTable, conditioning: ctx.timestep, zeroConditioning: nil, frameMask: nil,
                                  frames: ctx.grid.frames)
        return modulatedLayerNorm(input, mod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: ctx.grid.spatial)
    }, run: run)
}
