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
    // The key mask as a plain buffer the workers can index: [B, Nk].
    let validCopy: SendablePointer<Bool>? = mask.map { m in
        let p = UnsafeMutablePointer<Bool>.allocate(capacity: m.keyValid.count)
        p.initialize(from: m.keyValid, count: m.keyValid.count)
        return SendablePointer(p)
    }
    defer { validCopy?.p.deallocate() }
    // Few keys (temporal attention: one per latent frame): the products are too small for BLAS to
    // run well; a register kernel does them directly (docs/performance.md).
    let direct = nk <= smallKeyLimit
    let blockRows = direct ? nq : max(1, min(nq, (1 << 16) / max(nk, 1)))     // score block <= 256 KB
    let blocksPerHead = (nq + blockRows - 1) / blockRows
    let jobs = b * heads * blocksPerHead
    let keysPadded = (nk + 15) & ~15

    // One job = one block of query rows of one (batch, head). Small problems: our threads over
    // jobs with single-threaded BLAS. Huge score blocks: one job at a time with threaded BLAS.
    let run: @Sendable (Range<Int>) -> Void = { r in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: direct ? keysPadded * (d + 1) : blockRows * nk)
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: blockRows)
        defer { scores.deallocate(); sums.deallocate() }
        for job in r {
            let blk = job % blocksPerHead
            let h = (job / blocksPerHead) % heads
            let bi = job / (blocksPerHead * heads)
            let r0 = blk * blockRows, rows = min(blockRows, nq - r0)
            let qh = qp.p + bi * nq * hd + r0 * hd + h * d
            let kh = kp.p + bi * nk * hd + h * d
            let vh = vp.p + bi * nk * hd + h * d
            let oh = op.p + bi * nq * hd + r0 * hd + h * d
            let biasBlock = bp.map { UnsafePointer($0.p + (h * nq + r0) * nk) }
            let keyValid = validCopy.map { UnsafePointer($0.p + bi * nk) }
            if direct {
                smallKeyAttention(q: qh, k: kh, v: vh, out: oh, stride: hd, rows: rows, keys: nk, d: d, scale: scale,
                                  bias: biasBlock, valid: keyValid, scratch: scores)
            } else {
                gemmAttention(q: qh, k: kh, v: vh, out: oh, stride: hd, rows: rows, keys: nk, d: d, scale: scale,
                              bias: biasBlock, valid: keyValid, scores: scores, sums: sums)
            }
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

/// Sequences with at most this many keys take `smallKeyAttention`.
let smallKeyLimit = 64

/// One head, a block of query rows, through two sgemms. q: rows x D, k, v: keys x D, out: rows x D,
/// all with row stride `stride`; bias: rows x keys (contiguous); valid: keys.
/// scores: rows x keys scratch, sums: rows scratch.
@inline(__always)
func gemmAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                   out: UnsafeMutablePointer<Float>, stride: Int, rows: Int, keys: Int, d: Int, scale: Float,
                   bias: UnsafePointer<Float>?, valid: UnsafePointer<Bool>?,
                   scores: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>) {
    // OpenBLAS clears C with a slow scalar loop when beta is 0; start from the bias (or zeros,
    // a memset) and accumulate with beta 1 instead.
    if let bias { scores.update(from: bias, count: rows * keys) } else { scores.update(repeating: 0, count: rows * keys) }
    sgemm(transB: true, m: rows, n: keys, k: d, alpha: scale, a: q, lda: stride, b: k, ldb: stride, beta: 1, c: scores, ldc: keys)
    for i in 0..<rows {
        let row = scores + i * keys
        if let valid { for j in 0..<keys where !valid[j] { row[j] = -.infinity } }
        sums[i] = expShiftedRow(row, keys)
    }
    for i in 0..<rows { (out + i * stride).update(repeating: 0, count: d) }
    sgemm(m: rows, n: d, k: keys, a: scores, lda: keys, b: v, ldb: stride, beta: 1, c: out, ldc: stride)
    // The softmax's normalisation, on D outputs per row rather than `keys` weights.
    for i in 0..<rows {
        let inv = sums[i] > 0 ? 1 / sums[i] : 0
        let o = out + i * stride
        for j in 0..<d { o[j] *= inv }
    }
}

/// The same for at most `smallKeyLimit` keys, in registers: K is transposed once into
/// [D, keys padded to 16] so each query row's scores are 8-wide FMAs over the keys, and each
/// output row is accumulated 32 columns at a time over the keys. Independent accumulators keep
/// the FMA chains short. scratch: (keys padded to 16) x (D + 1) floats.
@inline(__always)
func smallKeyAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                       out: UnsafeMutablePointer<Float>, stride: Int, rows: Int, keys: Int, d: Int, scale: Float,
                       bias: UnsafePointer<Float>?, valid: UnsafePointer<Bool>?, scratch: UnsafeMutablePointer<Float>) {
    typealias V8 = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) func store(_ x: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: V8.self) }
    let kp = (keys + 15) & ~15
    let kT = scratch, s = scratch + d * kp
    for c in 0..<d {
        let dst = kT + c * kp
        for j in 0..<keys { dst[j] = k[j * stride + c] }
        for j in keys..<kp { dst[j] = 0 }
    }
    for i in 0..<rows {
        let qi = q + i * stride
        // scores: 16 keys at a time, even and odd channels in separate accumulators.
        var j0 = 0
        while j0 < kp {
            var a0 = V8(), a1 = V8(), b0 = V8(), b1 = V8()
            var c = 0
            while c + 2 <= d {
                let x0 = V8(repeating: qi[c]), x1 = V8(repeating: qi[c + 1])
                let r0 = kT + c * kp + j0, r1 = r0 + kp
                a0 = a0.addingProduct(x0, load(r0)); b0 = b0.addingProduct(x0, load(r0 + 8))
                a1 = a1.addingProduct(x1, load(r1)); b1 = b1.addingProduct(x1, load(r1 + 8))
                c += 2
            }
            if c < d {
                let x0 = V8(repeating: qi[c]), r0 = kT + c * kp + j0
                a0 = a0.addingProduct(x0, load(r0)); b0 = b0.addingProduct(x0, load(r0 + 8))
            }
            store((a0 + a1) * scale, s + j0)
            store((b0 + b1) * scale, s + j0 + 8)
            j0 += 16
        }
        if let bias { let bi = bias + i * keys; for j in 0..<keys { s[j] += bi[j] } }
        if let valid { for j in 0..<keys where !valid[j] { s[j] = -.infinity } }
        let total = expShiftedRow(s, keys)
        let inv: Float = total > 0 ? 1 / total : 0
        // out row: 32 columns at a time (4 accumulators), then 8, then single columns.
        let oi = out + i * stride
        var c0 = 0
        while c0 + 32 <= d {
            var o0 = V8(), o1 = V8(), o2 = V8(), o3 = V8()
            for j in 0..<keys {
                let p = V8(repeating: s[j]), vj = v + j * stride + c0
                o0 = o0.addingProduct(p, load(vj)); o1 = o1.addingProduct(p, load(vj + 8))
                o2 = o2.addingProduct(p, load(vj + 16)); o3 = o3.addingProduct(p, load(vj + 24))
            }
            store(o0 * inv, oi + c0); store(o1 * inv, oi + c0 + 8); store(o2 * inv, oi + c0 + 16); store(o3 * inv, oi + c0 + 24)
            c0 += 32
        }
        while c0 + 8 <= d {
            var o0 = V8()
            for j in 0..<keys { o0 = o0.addingProduct(V8(repeating: s[j]), load(v + j * stride + c0)) }
            store(o0 * inv, oi + c0)
            c0 += 8
        }
        while c0 < d {
            var acc: Float = 0
            for j in 0..<keys { acc = acc.addingProduct(s[j], v[j * stride + c0]) }
            oi[c0] = acc * inv
            c0 += 1
        }
    }
}
