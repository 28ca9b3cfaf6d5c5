// Scaled dot-product attention over head-interleaved layouts, so projections feed it without
// transposes: q: [B, Nq, H*D], k, v: [B, Nk, H*D] -> [B, Nq, H*D].
//
// One fused, blocked kernel (flash-style) for every sequence length:
//   job = (batch, head, tile of `queryTile` query rows): a fixed partition, so the bytes do not
//         depend on the thread count (jobs share nothing and each runs the same instructions).
//   per job, per block of at most `keyBlock(d)` keys (one block for all STDiT sequences):
//     pack      K block transposed -> kT [D, keys padded to 8], V block -> [keys, D padded to 8]
//     per 4 query rows:
//       scores  s[4, keys] = scale * q kT (+ bias, masked keys -inf)     4 rows x 24 keys in registers
//       softmax online: running max m and sum l per row; O rescaled by exp(m_old - m) when m grows
//       O      O[4, D] += exp(s - m) V                                   4 rows x 24 columns in registers
//   out = O / l, written straight into the interleaved output.
// Scores never leave L1 (4 x keys floats), the packed K and V blocks stay in L2, and no [Nq, Nk]
// matrix exists. No BLAS call: the products here have K = D or N = D (72), which OpenBLAS
// re-packs for every call.

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
    if out.count == 0 { return out }
    if nk == 0 { out.mutablePointer.update(repeating: 0, count: out.count); return out }   // no keys: zeros, as fully masked rows
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

    let tilesPerHead = (nq + queryTile - 1) / queryTile
    let jobs = b * heads * tilesPerHead
    let layout = AttentionScratch.Layout(d: d, keys: nk)
    parallelFor(jobs) { range in
        let scratch = AttentionScratch(layout)
        defer { scratch.deallocate() }
        for job in range {
            let tile = job % tilesPerHead, h = (job / tilesPerHead) % heads, bi = job / (tilesPerHead * heads)
            let r0 = tile * queryTile
            let head = AttentionHead(
                q: qp.p + (bi * nq + r0) * hd + h * d, k: kp.p + bi * nk * hd + h * d, v: vp.p + bi * nk * hd + h * d,
                out: op.p + (bi * nq + r0) * hd + h * d, stride: hd, rows: min(queryTile, nq - r0), keys: nk, d: d,
                scale: scale, bias: bp.map { UnsafePointer($0.p + (h * nq + r0) * nk) }, biasStride: nk,
                valid: validCopy.map { UnsafePointer($0.p + bi * nk) })
            fusedAttention(head, scratch)
        }
    }
    return out
}

/// Query rows per job. Fixed (not derived from the thread count) so results are byte-identical
/// at any thread count; 64 rows amortise packing K and V (keys x D each) over 64 x keys x D x 4 flops.
let queryTile = 64

/// Query rows per register tile of the score and output products.
let microRows = 4

/// Keys per block: K and V blocks of at most 32K floats each (2 x 128 KB, in L2). Multiple of 16.
/// D = 72 gives 448, so STDiT's spatial (144 / 405 keys), temporal (15) and cross (300) attention
/// take one block; VAE attention (D = 512, thousands of keys) runs the online softmax over blocks of 64.
func keyBlock(d: Int) -> Int { max(16, min(512, ((1 << 15) / max(d, 1)) & ~15)) }

/// One (batch, head, query tile): q, out: rows x D, k, v: keys x D, all at row stride `stride`;
/// bias: rows x keys at `biasStride`; valid: keys.
struct AttentionHead {
    let q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let stride: Int, rows: Int, keys: Int, d: Int
    let scale: Float
    let bias: UnsafePointer<Float>?, biasStride: Int
    let valid: UnsafePointer<Bool>?
}

/// A worker's buffers, reused across its jobs.
struct AttentionScratch {
    struct Layout {
        let d: Int, dPadded: Int, block: Int, blockPadded: Int
        init(d: Int, keys: Int) {
            self.d = d
            dPadded = (d + 7) & ~7
            block = min(keyBlock(d: d), keys)
            blockPadded = (block + 7) & ~7
        }
    }
    let layout: Layout
    let kT: UnsafeMutablePointer<Float>        // [D, blockPadded]: the key block transposed
    let v: UnsafeMutablePointer<Float>         // [block, dPadded]: the value block, zero-padded columns
    let scores: UnsafeMutablePointer<Float>    // [microRows, blockPadded]
    let q: UnsafeMutablePointer<Float>         // [microRows, D]: the register tile's query rows
    let o: UnsafeMutablePointer<Float>         // [queryTile, dPadded]: unnormalised outputs
    let runningMax: UnsafeMutablePointer<Float>, runningSum: UnsafeMutablePointer<Float>   // [queryTile]

    init(_ l: Layout) {
        layout = l
        kT = .allocate(capacity: l.d * l.blockPadded)
        v = .allocate(capacity: l.block * l.dPadded)
        scores = .allocate(capacity: microRows * l.blockPadded)
        q = .allocate(capacity: microRows * l.d)
        o = .allocate(capacity: queryTile * l.dPadded)
        runningMax = .allocate(capacity: queryTile); runningSum = .allocate(capacity: queryTile)
        // Padding lanes are read by the products and must hold numbers (their results are ignored).
        kT.initialize(repeating: 0, count: l.d * l.blockPadded)
        v.initialize(repeating: 0, count: l.block * l.dPadded)
    }

    func deallocate() {
        kT.deallocate(); v.deallocate(); scores.deallocate(); q.deallocate(); o.deallocate()
        runningMax.deallocate(); runningSum.deallocate()
    }
}

@inline(__always)
func fusedAttention(_ a: AttentionHead, _ w: AttentionScratch) {
    let l = w.layout, d = a.d, dp = l.dPadded, kbp = l.blockPadded
    var k0 = 0
    while k0 < a.keys {
        let count = min(l.block, a.keys - k0), first = k0 == 0
        // pack: kT[c, j] = k[k0 + j, c]; v rows contiguous. Columns count..<kbp of kT keep the
        // zeros (or an earlier block's keys): their scores are computed and never read.
        for j in 0..<count {
            let kj = a.k + (k0 + j) * a.stride
            for c in 0..<d { w.kT[c * kbp + j] = kj[c] }
            (w.v + j * dp).update(from: a.v + (k0 + j) * a.stride, count: d)
        }
        var i0 = 0
        while i0 < a.rows {
            let rows = min(microRows, a.rows - i0)
            for r in 0..<microRows {
                if r < rows { (w.q + r * d).update(from: a.q + (i0 + r) * a.stride, count: d) }
                else { (w.q + r * d).update(repeating: 0, count: d) }
            }
            scoreTile(q: w.q, d: d, kT: w.kT, kStride: kbp, vectors: (count + 7) / 8, scale: a.scale, s: w.scores)
            // The online softmax, row by row: exp(s - m) in place, the sum and the max carried over
            // key blocks, and earlier blocks' outputs rescaled when the max grows.
            for r in 0..<rows {
                let i = i0 + r, s = w.scores + r * kbp
                if let bias = a.bias { let br = bias + i * a.biasStride + k0; for j in 0..<count { s[j] += br[j] } }
                if let valid = a.valid { for j in 0..<count where !valid[k0 + j] { s[j] = -.infinity } }
                let blockMax = rowMax(s, count)
                let previous = first ? -Float.infinity : w.runningMax[i]
                let m = Swift.max(previous, blockMax)
                let sum = expShiftedRow(s, count, shift: m)
                if first || previous == -.infinity {
                    w.runningSum[i] = sum
                } else if m > previous {
                    let correction = expApprox(previous - m)
                    w.runningSum[i] = w.runningSum[i] * correction + sum
                    let o = w.o + i * dp
                    for c in 0..<dp { o[c] *= correction }
                } else {
                    w.runningSum[i] += sum
                }
                w.runningMax[i] = m
            }
            // Rows of a previous all-masked block hold zeros in O, so "first" only means O is unset.
            outputTile(p: w.scores, pStride: kbp, keys: count, v: w.v, dPadded: dp, o: w.o + i0 * dp, accumulate: !first)
            i0 += microRows
        }
        k0 += count
    }
    // out = O / l; a row whose keys were all masked has l = 0 and becomes zeros.
    for i in 0..<a.rows {
        let sum = w.runningSum[i], inv: Float = sum > 0 ? 1 / sum : 0
        let o = w.o + i * dp, dst = a.out + i * a.stride
        for c in 0..<d { dst[c] = o[c] * inv }
    }
}

typealias Float8 = SIMD8<Float>
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> Float8 { UnsafeRawPointer(p).loadUnaligned(as: Float8.self) }
@inline(__always) func store8(_ x: Float8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: Float8.self) }

/// s[r, 8j..<8j+8] = scale * q[r, :] . kT[:, 8j..<8j+8] for the 4 rows of q ([4, D], contiguous)
/// and `vectors` groups of 8 keys: 24 keys x 4 rows in 12 accumulators, then 8 at a time.
@inline(__always)
func scoreTile(q: UnsafePointer<Float>, d: Int, kT: UnsafePointer<Float>, kStride: Int, vectors: Int,
               scale: Float, s: UnsafeMutablePointer<Float>) {
    let q0 = q, q1 = q + d, q2 = q + 2 * d, q3 = q + 3 * d
    let s0 = s, s1 = s + kStride, s2 = s + 2 * kStride, s3 = s + 3 * kStride
    var j = 0
    while j + 24 <= vectors * 8 {
        var a0 = Float8(), b0 = Float8(), c0 = Float8()
        var a1 = Float8(), b1 = Float8(), c1 = Float8()
        var a2 = Float8(), b2 = Float8(), c2 = Float8()
        var a3 = Float8(), b3 = Float8(), c3 = Float8()
        var kc = kT + j
        for c in 0..<d {
            let ka = load8(kc), kb = load8(kc + 8), kx = load8(kc + 16)
            var x = Float8(repeating: q0[c])
            a0 = a0.addingProduct(x, ka); b0 = b0.addingProduct(x, kb); c0 = c0.addingProduct(x, kx)
            x = Float8(repeating: q1[c])
            a1 = a1.addingProduct(x, ka); b1 = b1.addingProduct(x, kb); c1 = c1.addingProduct(x, kx)
            x = Float8(repeating: q2[c])
            a2 = a2.addingProduct(x, ka); b2 = b2.addingProduct(x, kb); c2 = c2.addingProduct(x, kx)
            x = Float8(repeating: q3[c])
            a3 = a3.addingProduct(x, ka); b3 = b3.addingProduct(x, kb); c3 = c3.addingProduct(x, kx)
            kc += kStride
        }
        store8(a0 * scale, s0 + j); store8(b0 * scale, s0 + j + 8); store8(c0 * scale, s0 + j + 16)
        store8(a1 * scale, s1 + j); store8(b1 * scale, s1 + j + 8); store8(c1 * scale, s1 + j + 16)
        store8(a2 * scale, s2 + j); store8(b2 * scale, s2 + j + 8); store8(c2 * scale, s2 + j + 16)
        store8(a3 * scale, s3 + j); store8(b3 * scale, s3 + j + 8); store8(c3 * scale, s3 + j + 16)
        j += 24
    }
    while j < vectors * 8 {
        var a0 = Float8(), a1 = Float8(), a2 = Float8(), a3 = Float8()
        var kc = kT + j
        for c in 0..<d {
            let ka = load8(kc)
            a0 = a0.addingProduct(Float8(repeating: q0[c]), ka); a1 = a1.addingProduct(Float8(repeating: q1[c]), ka)
            a2 = a2.addingProduct(Float8(repeating: q2[c]), ka); a3 = a3.addingProduct(Float8(repeating: q3[c]), ka)
            kc += kStride
        }
        store8(a0 * scale, s0 + j); store8(a1 * scale, s1 + j); store8(a2 * scale, s2 + j); store8(a3 * scale, s3 + j)
        j += 8
    }
}

/// o[r, :] (+)= sum over keys j of p[r, j] * v[j, :] for 4 rows: o rows at stride dPadded, v: [keys, dPadded];
/// 24 columns x 4 rows in 12 accumulators, then 8 at a time. `accumulate` false overwrites o.
@inline(__always)
func outputTile(p: UnsafePointer<Float>, pStride: Int, keys: Int, v: UnsafePointer<Float>, dPadded dp: Int,
                o: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let p0 = p, p1 = p + pStride, p2 = p + 2 * pStride, p3 = p + 3 * pStride
    let o0 = o, o1 = o + dp, o2 = o + 2 * dp, o3 = o + 3 * dp
    @inline(__always) func start(_ x: UnsafeMutablePointer<Float>) -> Float8 { accumulate ? load8(x) : Float8() }
    var c = 0
    while c + 24 <= dp {
        var a0 = start(o0 + c), b0 = start(o0 + c + 8), c0 = start(o0 + c + 16)
        var a1 = start(o1 + c), b1 = start(o1 + c + 8), c1 = start(o1 + c + 16)
        var a2 = start(o2 + c), b2 = start(o2 + c + 8), c2 = start(o2 + c + 16)
        var a3 = start(o3 + c), b3 = start(o3 + c + 8), c3 = start(o3 + c + 16)
        var vj = v + c
        for j in 0..<keys {
            let va = load8(vj), vb = load8(vj + 8), vx = load8(vj + 16)
            var x = Float8(repeating: p0[j])
            a0 = a0.addingProduct(x, va); b0 = b0.addingProduct(x, vb); c0 = c0.addingProduct(x, vx)
            x = Float8(repeating: p1[j])
            a1 = a1.addingProduct(x, va); b1 = b1.addingProduct(x, vb); c1 = c1.addingProduct(x, vx)
            x = Float8(repeating: p2[j])
            a2 = a2.addingProduct(x, va); b2 = b2.addingProduct(x, vb); c2 = c2.addingProduct(x, vx)
            x = Float8(repeating: p3[j])
            a3 = a3.addingProduct(x, va); b3 = b3.addingProduct(x, vb); c3 = c3.addingProduct(x, vx)
            vj += dp
        }
        store8(a0, o0 + c); store8(b0, o0 + c + 8); store8(c0, o0 + c + 16)
        store8(a1, o1 + c); store8(b1, o1 + c + 8); store8(c1, o1 + c + 16)
        store8(a2, o2 + c); store8(b2, o2 + c + 8); store8(c2, o2 + c + 16)
        store8(a3, o3 + c); store8(b3, o3 + c + 8); store8(c3, o3 + c + 16)
        c += 24
    }
    while c < dp {
        var a0 = start(o0 + c), a1 = start(o1 + c), a2 = start(o2 + c), a3 = start(o3 + c)
        var vj = v + c
        for j in 0..<keys {
            let va = load8(vj)
            a0 = a0.addingProduct(Float8(repeating: p0[j]), va); a1 = a1.addingProduct(Float8(repeating: p1[j]), va)
            a2 = a2.addingProduct(Float8(repeating: p2[j]), va); a3 = a3.addingProduct(Float8(repeating: p3[j]), va)
            vj += dp
        }
        store8(a0, o0 + c); store8(a1, o1 + c); store8(a2, o2 + c); store8(a3, o3 + c)
        c += 8
    }
}
