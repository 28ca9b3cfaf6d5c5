// Scaled dot-product attention over head-interleaved layouts, so projections feed it without
// transposes: q: [B, Nq, H*D], k, v: [B, Nk, H*D] -> [B, Nq, H*D].
//
// Per (batch, head) it computes scores for a block of query rows with one sgemm (row stride H*D
// picks the head), adds an optional bias, masks padded keys, takes a float32 softmax, and
// multiplies by V with a second sgemm that writes straight into the interleaved output.
// Query rows are processed in blocks so a [Nq, Nk] score matrix is never materialised for long
// sequences.

public struct AttentionMask: Sendable {
    /// keyValid[b * Nk + j] == true when key j of batch b may be attended to.
    public let keyValid: [Bool]
    public let keys: Int
    public init(keyValid: [Bool], keys: Int) { self.keyValid = keyValid; self.keys = keys }
    /// From per-batch valid lengths (keys 0..<len valid).
    public init(lengths: [Int], keys: Int) {
        var v = [Bool](repeating: false, count: lengths.count * keys)
        for (b, l) in lengths.enumerated() { for j in 0..<min(l, keys) { v[b * keys + j] = true } }
        self.init(keyValid: v, keys: keys)
    }
}

/// - Parameters:
///   - bias: optional additive score bias [H, Nq, Nk] shared across the batch (T5 position bias).
///   - scale: multiplies q·k (PyTorch SDPA default is 1/sqrt(D); T5 uses 1).
public func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, scale: Float,
                      mask: AttentionMask? = nil, bias: Tensor? = nil) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3, "attention expects [B, N, H*D] tensors, got \(q.shape) \(k.shape) \(v.shape)")
    let b = q.shape[0], nq = q.shape[1], hd = q.shape[2]
    let nk = k.shape[1]
    precondition(k.shape[0] == b && v.shape[0] == b && v.shape[1] == nk, "attention batch/key shapes differ: \(q.shape) \(k.shape) \(v.shape)")
    precondition(k.shape[2] == hd && v.shape[2] == hd && hd % heads == 0, "attention width \(hd) not divisible by \(heads) heads or k/v differ")
    let d = hd / heads
    if let mask { precondition(mask.keys == nk && mask.keyValid.count == b * nk, "attention mask does not match [\(b), \(nk)]") }
    if let bias { precondition(bias.shape == [heads, nq, nk], "attention bias must be [\(heads), \(nq), \(nk)], is \(bias.shape)") }

    var out = Tensor(uninitialized: [b, nq, hd])
    let qp = SendablePointer(q.pointer), kp = SendablePointer(k.pointer), vp = SendablePointer(v.pointer)
    let op = SendablePointer(out.mutablePointer)
    let bp = bias.map { SendablePointer($0.pointer) }
    let blockRows = max(1, min(nq, (1 << 16) / max(nk, 1)))     // score block <= 256 KB
    let blocksPerHead = (nq + blockRows - 1) / blockRows
    let jobs = b * heads * blocksPerHead
    let validFlat: [Bool]? = mask?.keyValid

    // One job = one block of query rows of one (batch, head). Small problems: our threads over
    // jobs with single-threaded BLAS. Huge score blocks: one job at a time with threaded BLAS.
    let run: @Sendable (Range<Int>) -> Void = { r in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * nk)
        defer { scores.deallocate() }
        for job in r {
            let blk = job % blocksPerHead
            let h = (job / blocksPerHead) % heads
            let bi = job / (blocksPerHead * heads)
            let r0 = blk * blockRows, rows = min(blockRows, nq - r0)
            let qh = qp.p + bi * nq * hd + r0 * hd + h * d
            let kh = kp.p + bi * nk * hd + h * d
            let vh = vp.p + bi * nk * hd + h * d
            sgemm(transB: true, m: rows, n: nk, k: d, alpha: scale, a: qh, lda: hd, b: kh, ldb: hd, c: scores, ldc: nk)
            for i in 0..<rows {
                let row = scores + i * nk
                if let bp { let src = bp.p + (h * nq + r0 + i) * nk; for j in 0..<nk { row[j] += src[j] } }
                if let valid = validFlat {
                    let base = bi * nk
                    for j in 0..<nk where !valid[base + j] { row[j] = -.infinity }
                }
                softmaxRow(row, nk)
            }
            sgemm(m: rows, n: d, k: nk, a: scores, lda: nk, b: vh, ldb: hd, c: op.p + bi * nq * hd + r0 * hd + h * d, ldc: hd)
        }
    }
    let flopsPerJob = 4 * blockRows * nk * d
    if jobs >= Runtime.threads && flopsPerJob < (1 << 28) {
        BLAS.singleThreaded { parallelFor(jobs, run) }
    } else {
        run(0..<jobs)
    }
    return out
}
