// Scaled dot-product attention over head-interleaved layouts, so projections feed it without
// transposes: q: [B, Nq, H*D], k, v: [B, Nk, H*D] -> [B, Nq, H*D].
//
// One fused, blocked kernel (flash-style) for every sequence length:
//   job = (batch, head, tile of `queryTile` query rows): a fixed partition, so the bytes do not
//         depend on the thread count (jobs share nothing and each runs the same instructions).
//   per 16 query rows (q transposed to qT [D, 16], so 16 queries are two 8-lane vectors):
//     per block of at most `keyBlock` keys:
//       scores  sT[keys, 16] = scale * k qT (+ bias, masked keys -inf)   6 keys x 16 queries in registers
//       softmax online, 16 queries per vector: running max m and sum l; O rescaled by exp(m_old - m)
//       O      O[16, D] += exp(sT - m)^T v                                4 queries x 24 columns in registers
//     out = O / l, written straight into the interleaved output.
// K and V are read in place (row-major, the projections' layout: no transpose or packing pass),
// scores never leave L1 (16 x 256 floats), and no [Nq, Nk] matrix exists. No BLAS call: the
// products have K = D or N = D (72), which OpenBLAS re-packs for every call.

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
/// at any thread count.
let queryTile = 64

/// Query rows per register tile: two 8-lane vectors.
let microQueries = 16

/// Keys per block of the online softmax: the [keys, 16] score block stays in L1 (16 KB). Key
/// counts above it are split into equal blocks (300 keys: 2 x 150).
let keyBlock = 256

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
        let d: Int, dPadded: Int, keys: Int, block: Int
        init(d: Int, keys: Int) {
            self.d = d; self.keys = keys
            dPadded = (d + 7) & ~7
            let blocks = (keys + keyBlock - 1) / keyBlock
            block = (keys + blocks - 1) / max(blocks, 1)
        }
        /// The output product reads V 8 columns at a time: widths that are not a multiple of 8
        /// read from a zero-padded copy rather than past a row's end.
        var packsValues: Bool { d != dPadded }
    }
    let layout: Layout
    let qT: UnsafeMutablePointer<Float>        // [D, 16]: the register tile's queries, transposed
    let scores: UnsafeMutablePointer<Float>    // [block, 16]: scores, then softmax weights
    let o: UnsafeMutablePointer<Float>         // [16, dPadded]: unnormalised outputs
    let v: UnsafeMutablePointer<Float>?        // [keys, dPadded]: zero-padded values (odd widths only)

    init(_ l: Layout) {
        layout = l
        qT = .allocate(capacity: l.d * microQueries)
        scores = .allocate(capacity: l.block * microQueries)
        o = .allocate(capacity: microQueries * l.dPadded)
        v = l.packsValues ? .allocate(capacity: l.keys * l.dPadded) : nil
        v?.initialize(repeating: 0, count: l.keys * l.dPadded)
    }

    func deallocate() { qT.deallocate(); scores.deallocate(); o.deallocate(); v?.deallocate() }
}

typealias Float8 = SIMD8<Float>
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> Float8 { UnsafeRawPointer(p).loadUnaligned(as: Float8.self) }
@inline(__always) func store8(_ x: Float8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: Float8.self) }
/// Lane-wise max as a compare and blend (`pointwiseMax` compiles to a lane loop).
@inline(__always) func max8(_ a: Float8, _ b: Float8) -> Float8 { var m = a; m.replace(with: b, where: b .> a); return m }

@inline(__always)
func fusedAttention(_ a: AttentionHead, _ w: AttentionScratch) {
    let l = w.layout, d = a.d, dp = l.dPadded, mq = microQueries, s = w.scores
    // values: in place, or a zero-padded copy for widths that are not a multiple of 8.
    var values = UnsafePointer(a.v), valueStride = a.stride
    if let packed = w.v {
        for j in 0..<a.keys { let src = a.v + j * a.stride, dst = packed + j * dp; for c in 0..<d { dst[c] = src[c] } }
        values = UnsafePointer(packed); valueStride = dp
    }
    var i0 = 0
    while i0 < a.rows {
        let rows = min(mq, a.rows - i0), groups = (rows + 3) / 4
        // qT[c, r] = q[i0 + r, c]; rows past the end are zeros (their results are never written).
        // Channel-major with contiguous stores (the row-major order compiled to lane extracts).
        if rows < mq { w.qT.update(repeating: 0, count: d * mq) }
        for c in 0..<d {
            let dst = w.qT + c * mq, src = a.q + i0 * a.stride + c
            for r in 0..<rows { dst[r] = src[r * a.stride] }
        }
        var max0 = Float8(repeating: -.infinity), max1 = max0, sum0 = Float8(), sum1 = Float8()
        var started = false                                // O holds a block's output
        var k0 = 0
        while k0 < a.keys {
            let count = min(l.block, a.keys - k0)
            defer { k0 += count }
            // A block whose keys are all masked adds nothing (and has no finite max).
            if let valid = a.valid, !(k0..<(k0 + count)).contains(where: { valid[$0] }) { continue }
            scoreTile(qT: w.qT, d: d, k: a.k + k0 * a.stride, kStride: a.stride, keys: count, scale: a.scale, s: s)
            if let bias = a.bias {
                for r in 0..<rows { let br = bias + (i0 + r) * a.biasStride + k0; for j in 0..<count { s[j * mq + r] += br[j] } }
            }
            if let valid = a.valid {
                for j in 0..<count where !valid[k0 + j] { (s + j * mq).update(repeating: -.infinity, count: mq) }
            }
            // The online softmax, 16 queries per two vectors: new max, exp in place, sum.
            var block0 = Float8(repeating: -.infinity), block1 = block0
            for j in 0..<count { block0 = max8(block0, load8(s + j * mq)); block1 = max8(block1, load8(s + j * mq + 8)) }
            let new0 = max8(max0, block0), new1 = max8(max1, block1)
            var add0 = Float8(), add1 = Float8()
            for j in 0..<count {
                let row = s + j * mq
                if let valid = a.valid, !valid[k0 + j] { row.update(repeating: 0, count: mq); continue }   // exactly 0
                let e0 = expApprox(load8(row) - new0), e1 = expApprox(load8(row + 8) - new1)
                store8(e0, row); store8(e1, row + 8)
                add0 += e0; add1 += e1
            }
            if started {
                // Earlier blocks' sums and outputs were relative to the old max (exp(0) is exactly 1).
                let c0 = expApprox(max0 - new0), c1 = expApprox(max1 - new1)
                sum0 = sum0 * c0 + add0; sum1 = sum1 * c1 + add1
                for r in 0..<rows {
                    let f = r < 8 ? c0[r] : c1[r - 8], o = w.o + r * dp
                    for c in 0..<dp { o[c] *= f }
                }
            } else {
                sum0 = add0; sum1 = add1
            }
            max0 = new0; max1 = new1
            for g in 0..<groups {
                outputTile(p: s + 4 * g, pKeyStride: mq, keys: count, v: values + k0 * valueStride, vStride: valueStride,
                           o: w.o + 4 * g * dp, dPadded: dp, accumulate: started)
            }
            started = true
        }
        // out = O / l; a row whose keys were all masked becomes zeros.
        for r in 0..<rows {
            let sum = r < 8 ? sum0[r] : sum1[r - 8]
            let inv: Float = started && sum > 0 ? 1 / sum : 0
            let o = w.o + r * dp, dst = a.out + (i0 + r) * a.stride
            if started { for c in 0..<d { dst[c] = o[c] * inv } } else { for c in 0..<d { dst[c] = 0 } }
        }
        i0 += mq
    }
}

/// sT[j, 0..<16] = scale * k[j, :] . qT[:, 0..<16] for `keys` key rows (at `kStride`): 6 keys x 16
/// queries in 12 accumulators, then 2 keys, then 1 (its channels split over two accumulator pairs).
@inline(__always)
func scoreTile(qT: UnsafePointer<Float>, d: Int, k: UnsafePointer<Float>, kStride: Int, keys: Int,
               scale: Float, s: UnsafeMutablePointer<Float>) {
    let mq = microQueries
    var j = 0
    while j + 6 <= keys {
        let k0 = k + j * kStride, k1 = k0 + kStride, k2 = k1 + kStride, k3 = k2 + kStride, k4 = k3 + kStride, k5 = k4 + kStride
        var a0 = Float8(), b0 = Float8(), a1 = Float8(), b1 = Float8(), a2 = Float8(), b2 = Float8()
        var a3 = Float8(), b3 = Float8(), a4 = Float8(), b4 = Float8(), a5 = Float8(), b5 = Float8()
        for c in 0..<d {
            let qa = load8(qT + c * mq), qb = load8(qT + c * mq + 8)
            var x = Float8(repeating: k0[c]); a0 = a0.addingProduct(qa, x); b0 = b0.addingProduct(qb, x)
            x = Float8(repeating: k1[c]); a1 = a1.addingProduct(qa, x); b1 = b1.addingProduct(qb, x)
            x = Float8(repeating: k2[c]); a2 = a2.addingProduct(qa, x); b2 = b2.addingProduct(qb, x)
            x = Float8(repeating: k3[c]); a3 = a3.addingProduct(qa, x); b3 = b3.addingProduct(qb, x)
            x = Float8(repeating: k4[c]); a4 = a4.addingProduct(qa, x); b4 = b4.addingProduct(qb, x)
            x = Float8(repeating: k5[c]); a5 = a5.addingProduct(qa, x); b5 = b5.addingProduct(qb, x)
        }
        let row = s + j * mq
        store8(a0 * scale, row); store8(b0 * scale, row + 8); store8(a1 * scale, row + 16); store8(b1 * scale, row + 24)
        store8(a2 * scale, row + 32); store8(b2 * scale, row + 40); store8(a3 * scale, row + 48); store8(b3 * scale, row + 56)
        store8(a4 * scale, row + 64); store8(b4 * scale, row + 72); store8(a5 * scale, row + 80); store8(b5 * scale, row + 88)
        j += 6
    }
    while j + 2 <= keys {
        let k0 = k + j * kStride, k1 = k0 + kStride
        var a0 = Float8(), b0 = Float8(), a1 = Float8(), b1 = Float8()
        for c in 0..<d {
            let qa = load8(qT + c * mq), qb = load8(qT + c * mq + 8)
            var x = Float8(repeating: k0[c]); a0 = a0.addingProduct(qa, x); b0 = b0.addingProduct(qb, x)
            x = Float8(repeating: k1[c]); a1 = a1.addingProduct(qa, x); b1 = b1.addingProduct(qb, x)
        }
        let row = s + j * mq
        store8(a0 * scale, row); store8(b0 * scale, row + 8); store8(a1 * scale, row + 16); store8(b1 * scale, row + 24)
        j += 2
    }
    if j < keys {
        let k0 = k + j * kStride
        var a0 = Float8(), b0 = Float8()
        for c in 0..<d {
            let x = Float8(repeating: k0[c])
            a0 = a0.addingProduct(load8(qT + c * mq), x); b0 = b0.addingProduct(load8(qT + c * mq + 8), x)
        }
        let row = s + j * mq
        store8(a0 * scale, row); store8(b0 * scale, row + 8)
    }
}

/// o[r, :] (+)= sum over keys j of p[j * pKeyStride + r] * v[j, :] for 4 query rows r: o rows at
/// stride dPadded, v rows at vStride (dPadded columns readable); 24 columns x 4 rows in 12
/// accumulators, then 8 at a time. `accumulate` false overwrites o.
@inline(__always)
func outputTile(p: UnsafePointer<Float>, pKeyStride: Int, keys: Int, v: UnsafePointer<Float>, vStride: Int,
                o: UnsafeMutablePointer<Float>, dPadded dp: Int, accumulate: Bool) {
    let o0 = o, o1 = o + dp, o2 = o + 2 * dp, o3 = o + 3 * dp
    @inline(__always) func start(_ x: UnsafeMutablePointer<Float>) -> Float8 { accumulate ? load8(x) : Float8() }
    var c = 0
    while c + 24 <= dp {
        var a0 = start(o0 + c), b0 = start(o0 + c + 8), c0 = start(o0 + c + 16)
        var a1 = start(o1 + c), b1 = start(o1 + c + 8), c1 = start(o1 + c + 16)
        var a2 = start(o2 + c), b2 = start(o2 + c + 8), c2 = start(o2 + c + 16)
        var a3 = start(o3 + c), b3 = start(o3 + c + 8), c3 = start(o3 + c + 16)
        var vj = v + c, pj = p
        for _ in 0..<keys {
            let va = load8(vj), vb = load8(vj + 8), vx = load8(vj + 16)
            var x = Float8(repeating: pj[0])
            a0 = a0.addingProduct(x, va); b0 = b0.addingProduct(x, vb); c0 = c0.addingProduct(x, vx)
            x = Float8(repeating: pj[1])
            a1 = a1.addingProduct(x, va); b1 = b1.addingProduct(x, vb); c1 = c1.addingProduct(x, vx)
            x = Float8(repeating: pj[2])
            a2 = a2.addingProduct(x, va); b2 = b2.addingProduct(x, vb); c2 = c2.addingProduct(x, vx)
            x = Float8(repeating: pj[3])
            a3 = a3.addingProduct(x, va); b3 = b3.addingProduct(x, vb); c3 = c3.addingProduct(x, vx)
            vj += vStride; pj += pKeyStride
        }
        store8(a0, o0 + c); store8(b0, o0 + c + 8); store8(c0, o0 + c + 16)
        store8(a1, o1 + c); store8(b1, o1 + c + 8); store8(c1, o1 + c + 16)
        store8(a2, o2 + c); store8(b2, o2 + c + 8); store8(c2, o2 + c + 16)
        store8(a3, o3 + c); store8(b3, o3 + c + 8); store8(c3, o3 + c + 16)
        c += 24
    }
    while c < dp {
        var a0 = start(o0 + c), a1 = start(o1 + c), a2 = start(o2 + c), a3 = start(o3 + c)
        var vj = v + c, pj = p
        for _ in 0..<keys {
            let va = load8(vj)
            a0 = a0.addingProduct(Float8(repeating: pj[0]), va); a1 = a1.addingProduct(Float8(repeating: pj[1]), va)
            a2 = a2.addingProduct(Float8(repeating: pj[2]), va); a3 = a3.addingProduct(Float8(repeating: pj[3]), va)
            vj += vStride; pj += pKeyStride
        }
        store8(a0, o0 + c); store8(a1, o1 + c); store8(a2, o2 + c); store8(a3, o3 + c)
        c += 8
    }
}
