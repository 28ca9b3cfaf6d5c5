// Arithmetic of one MMDiT forward call, for benchmarks.

extension MMDiTConfig {
    /// Floating-point operations of one forward call over `batch` samples of `imageTokens` packed
    /// tokens and `textTokens` T5 rows: 2 per multiply-add of every matrix product (each Linear,
    /// q·kᵀ and attention·v over the joint sequence). Norms, RoPE, softmax, GELU and modulation
    /// are not counted. `doubleBlocks` / `singleBlocks` default to the config's depths.
    public func forwardFLOPs(batch b: Int, imageTokens n: Int, textTokens l: Int,
                             doubleBlocks: Int? = nil, singleBlocks: Int? = nil) -> Double {
        let (bb, nn, ll) = (Double(b), Double(n), Double(l))
        let (c, m) = (Double(hiddenSize), Double(mlpHidden))
        let s = nn + ll                                                       // joint sequence
        let mm = { (rows: Double, outF: Double, inF: Double) in 2 * rows * outF * inF }
        var f = 0.0
        f += mm(bb * nn, c, Double(inChannels))                              // img_in
        if condEmbed { f += mm(bb * nn, c, Double(condChannels)) }           // cond_in
        f += mm(bb * ll, c, Double(contextInDim))                            // txt_in
        f += mm(bb, c, 256) + mm(bb, c, c) + mm(bb, c, Double(vecInDim)) + mm(bb, c, c)   // time_in, vector_in
        let attention = 2 * mm(bb * s, s, c)                                 // q·kᵀ and attn·v, all heads
        // Double block: per stream 6C modulation, q, k, v, proj, MLP; one joint attention.
        let double = mm(bb, 12 * c, c) + mm(bb * s, 4 * c, c) + mm(bb * s, m, c) + mm(bb * s, c, m) + attention
        // Single block: 3C modulation, q, k, [v | mlp], linear2 over C + M.
        let single = mm(bb, 3 * c, c) + mm(bb * s, 2 * c, c) + mm(bb * s, c + m, c) + mm(bb * s, c, c + m) + attention
        f += Double(doubleBlocks ?? depth) * double + Double(singleBlocks ?? depthSingleBlocks) * single
        f += mm(bb, 2 * c, c) + mm(bb * nn, Double(inChannels), c)           // final layer
        return f
    }

    /// FLOPs of one double-stream block and one single-stream block (the per-block costs a
    /// partial-depth benchmark extrapolates from).
    public func blockFLOPs(batch b: Int, imageTokens n: Int, textTokens l: Int) -> (double: Double, single: Double) {
        let base = forwardFLOPs(batch: b, imageTokens: n, textTokens: l, doubleBlocks: 0, singleBlocks: 0)
        return (forwardFLOPs(batch: b, imageTokens: n, textTokens: l, doubleBlocks: 1, singleBlocks: 0) - base,
                forwardFLOPs(batch: b, imageTokens: n, textTokens: l, doubleBlocks: 0, singleBlocks: 1) - base)
    }
}

extension MMDiTConfig {
    /// ParameterScope of a checkpoint of this size (11.89 B for the released model).
    public var parameterCount: Int { parameterShapes().reduce(0) { $0 + $1.1.reduce(1, *) } }

    /// Peak float32 activation bytes of one forward, an estimate: a single-stream block holds
    /// about 12 tensors of [rows, C] (stream, modulated input, q, k, their normalised and rotated
    /// copies, v, attention, output), its [rows, C + mlp_hidden] linear2 input and, while the
    /// GELU runs, the [rows, mlp_hidden] half; rows = batch x (image + text tokens). Not counted:
    /// the float32 copies of bf16 weights made per GEMM (the largest two, 0.4 GB) and what the
    /// allocator keeps.
    public func activationBytes(batch b: Int, imageTokens n: Int, textTokens l: Int) -> Double {
        let rows = Double(b * (n + l))
        return 4 * rows * Double(12 * hiddenSize + (hiddenSize + mlpHidden) + mlpHidden)
    }
}
