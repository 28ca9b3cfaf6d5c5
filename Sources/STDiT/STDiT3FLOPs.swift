// Arithmetic of one STDiT3 forward call, for benchmarks.

extension STDiT3Config {
    /// Floating-point operations of one forward call: 2 per multiply-add of every matrix
    /// product (each Linear, the patch embedding as a GEMM, q·kᵀ and attention·v of every
    /// self- and cross-attention). Elementwise work (norms, softmax, GELU, modulation) is not
    /// counted. `captionTokens` is the per-sample key count cross-attention uses (the caption cut
    /// after its last real token); `frameMask` adds the t = 0 embedding path.
    public func forwardFLOPs(batch b: Int, frames: Int, height: Int, width: Int, captionTokens l: Int,
                             frameMask: Bool = false) -> Double {
        let (t, h, w) = ((frames + patchSize[0] - 1) / patchSize[0], (height + patchSize[1] - 1) / patchSize[1],
                         (width + patchSize[2] - 1) / patchSize[2])
        let s = Double(h * w), tt = Double(t), bb = Double(b), c = Double(hiddenSize), ll = Double(l)
        let r = bb * tt * s                                               // tokens
        let mm = { (m: Double, n: Double, k: Double) in 2 * m * n * k }
        var f = 0.0
        f += mm(r, c, Double(inChannels * patchVolume))                   // patch embedding
        let conditioningPasses = frameMask ? 2.0 : 1.0
        f += conditioningPasses * (mm(bb, c, 256) + mm(bb, c, c) + mm(bb, 6 * c, c))   // t_embedder, t_block
        f += mm(bb, c, 256) + mm(bb, c, c)                                // fps_embedder
        f += mm(bb * ll, c, Double(captionChannels)) + mm(bb * ll, c, c)  // y_embedder
        var block = 0.0
        block += mm(r, 3 * c, c) + mm(r, c, c)                           // qkv, proj
        block += mm(r, c, c) + mm(bb * ll, 2 * c, c) + mm(r, c, c)       // cross q, kv, proj
        block += 2 * mm(r, ll, c)                                        // cross q·kᵀ, attn·v
        block += mm(r, Double(mlpHidden), c) + mm(r, c, Double(mlpHidden)) // MLP
        let spatialAttention = 2 * mm(bb * tt * s, s, c)                 // per frame: S x S
        let temporalAttention = 2 * mm(bb * s * tt, tt, c)               // per place: T x T
        f += Double(depth) * (2 * block + spatialAttention + temporalAttention)
        f += mm(r, Double(patchVolume * outChannels), c)                  // final layer
        return f
    }
}
