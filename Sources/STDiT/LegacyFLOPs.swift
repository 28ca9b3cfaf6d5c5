// Arithmetic of one STDiT (v1.0) or STDiT2 (v1.1) forward call, for benchmarks; counted as
// STDiT3Config.forwardFLOPs counts v1.2 (2 per multiply-add of every matrix product, q·kᵀ and
// attention·v included; elementwise work not counted).

/// The GEMM costs every version shares, for one call's token grid.
struct DiTArithmetic {
    let b: Double, frames: Double, spatial: Double, tokens: Double
    let c: Double, captionTokens: Double
    let config: STDiTConfig

    init(_ config: STDiTConfig, batch: Int, frames: Int, height: Int, width: Int, captionTokens: Int) {
        let p = config.patchSize
        let (t, h, w) = ((frames + p[0] - 1) / p[0], (height + p[1] - 1) / p[1], (width + p[2] - 1) / p[2])
        self.config = config
        b = Double(batch); self.frames = Double(t); spatial = Double(h * w)
        tokens = b * self.frames * spatial
        c = Double(config.hiddenSize); self.captionTokens = Double(captionTokens)
    }

    static func mm(_ m: Double, _ n: Double, _ k: Double) -> Double { 2 * m * n * k }

    /// x_embedder (patch GEMM), y_embedder (caption MLP) and the final layer.
    var trunk: Double {
        let r = tokens, l = b * captionTokens
        return Self.mm(r, c, Double(config.inChannels * config.patchVolume))
            + Self.mm(l, c, Double(config.captionChannels)) + Self.mm(l, c, c)
            + Self.mm(r, Double(config.patchVolume * config.outChannels), c)
    }

    /// A TimestepEmbedder of output width `width` over `count` values (256 sinusoid features).
    func timestepEmbedder(count: Double, width: Double) -> Double {
        Self.mm(count, width, 256) + Self.mm(count, width, width)
    }

    /// qkv + proj of one self-attention over all tokens.
    var selfAttentionProjections: Double { Self.mm(tokens, 3 * c, c) + Self.mm(tokens, c, c) }
    /// q·kᵀ and attention·v within each frame (S x S).
    var spatialProducts: Double { 2 * Self.mm(tokens, spatial, c) }
    /// q·kᵀ and attention·v along time at each place (T x T).
    var temporalProducts: Double { 2 * Self.mm(tokens, frames, c) }
    /// Cross-attention: q, kv of the caption, proj, and both products over the caption keys.
    var crossAttention: Double {
        Self.mm(tokens, c, c) + Self.mm(b * captionTokens, 2 * c, c) + Self.mm(tokens, c, c) + 2 * Self.mm(tokens, captionTokens, c)
    }
    var mlp: Double { let hid = Double(config.mlpHidden); return Self.mm(tokens, hid, c) + Self.mm(tokens, c, hid) }

    /// One v1.0 / v1.1 block: spatial and temporal self-attention, cross-attention, MLP.
    var spatialTemporalBlock: Double {
        2 * selfAttentionProjections + spatialProducts + temporalProducts + crossAttention + mlp
    }
}

extension STDiTConfig {
    /// One STDiT (v1.0) forward call: t_embedder + t_block (again at t = 0 with `frameMask`),
    /// `depth` spatial-temporal blocks, trunk. `captionTokens` as in forwardFLOPs.
    public func stditV1ForwardFLOPs(batch: Int, frames: Int, height: Int, width: Int, captionTokens: Int,
                                    frameMask: Bool = false) -> Double {
        let a = DiTArithmetic(self, batch: batch, frames: frames, height: height, width: width, captionTokens: captionTokens)
        let passes = frameMask ? 2.0 : 1.0
        let conditioning = passes * (a.timestepEmbedder(count: a.b, width: a.c) + DiTArithmetic.mm(a.b, 6 * a.c, a.c))
        return a.trunk + conditioning + Double(depth) * a.spatialTemporalBlock
    }

    /// One STDiT2 (v1.1) forward call: t_embedder, t_block (6C) and t_block_temp (3C) (both
    /// again at t = 0 with `frameMask`), the size embedders (csize on height and width, ar:
    /// C/3 wide; fl, fps: C wide), `depth` spatial-temporal blocks, trunk.
    public func stdit2ForwardFLOPs(batch: Int, frames: Int, height: Int, width: Int, captionTokens: Int,
                                   frameMask: Bool = false) -> Double {
        let a = DiTArithmetic(self, batch: batch, frames: frames, height: height, width: width, captionTokens: captionTokens)
        let passes = frameMask ? 2.0 : 1.0
        let (b, c) = (a.b, a.c)
        var f = a.trunk
        f += passes * (a.timestepEmbedder(count: b, width: c) + DiTArithmetic.mm(b, 6 * c, c) + DiTArithmetic.mm(b, 3 * c, c))
        f += a.timestepEmbedder(count: 2 * b, width: c / 3) + a.timestepEmbedder(count: b, width: c / 3)   // csize, ar
        f += 2 * a.timestepEmbedder(count: b, width: c)                                                     // fl, fps
        return f + Double(depth) * a.spatialTemporalBlock
    }
}
