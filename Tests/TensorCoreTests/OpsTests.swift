import XCTest
import TensorCore

/// Deterministic pseudo-random data for tests.
func testData(_ n: Int, seed: UInt64 = 1) -> [Float] {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

func randomTensor(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
    Tensor(shape: shape, data: testData(shape.reduce(1, *), seed: seed))
}

func assertClose(_ a: [Float], _ b: [Double], tol: Double, _ msg: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "count \(msg)", file: file, line: line)
    var worst = 0.0
    for i in 0..<min(a.count, b.count) { worst = max(worst, abs(Double(a[i]) - b[i])) }
    XCTAssertLessThanOrEqual(worst, tol, "max abs error \(worst) \(msg)", file: file, line: line)
}

final class OpsTests: XCTestCase {
    func testExpApproxAccuracy() {
        var worst = 0.0
        var x: Float = -80
        while x < 80 {
            let rel = abs(Double(expApprox(x)) - Foundation.exp(Double(x))) / Foundation.exp(Double(x))
            worst = max(worst, rel)
            x += 0.01
        }
        XCTAssertLessThan(worst, 3e-7)
        XCTAssertEqual(expApprox(-1000), 0, accuracy: 1e-37)
        // The 8-lane version gives the scalar version's bits, clamps included.
        var lanes = [Float]()
        x = -100
        while x < 100 { lanes.append(x); x += 0.37 }
        lanes += [-.infinity, .infinity, -87.5, 88.8, 0]
        while lanes.count % 8 != 0 { lanes.append(1) }
        for i in stride(from: 0, to: lanes.count, by: 8) {
            let v = SIMD8<Float>(lanes[i..<(i + 8)])
            let e = expApprox(v)
            for l in 0..<8 { XCTAssertEqual(e[l].bitPattern, expApprox(v[l]).bitPattern, "x = \(v[l])") }
        }
    }

    func testMatmulAndLinearMatchFloat64() {
        let a = randomTensor([5, 7], seed: 2), w = randomTensor([3, 7], seed: 3), b = randomTensor([3], seed: 4)
        let y = linear(a, weight: WeightTensor(w), bias: WeightTensor(b))
        var ref = [Double]()
        for i in 0..<5 { for o in 0..<3 {
            var s = Double(b.pointer[o])
            for k in 0..<7 { s += Double(a.pointer[i * 7 + k]) * Double(w.pointer[o * 7 + k]) }
            ref.append(s)
        } }
        XCTAssertEqual(y.shape, [5, 3])
        assertClose(y.array, ref, tol: 1e-5)
        let m = matmul(a, w, transB: true)
        assertClose(m.array, zip(ref, (0..<15).map { Double(b.pointer[$0 % 3]) }).map { $0 - $1 }, tol: 1e-5)
    }

    func testLinearWithBF16WeightsConverts() {
        let w = randomTensor([4, 8], seed: 5)
        let bf = w.array.map(floatToBF16)
        let x = randomTensor([2, 8], seed: 6)
        bf.withUnsafeBytes { raw in
            let wt = WeightTensor(name: "w", shape: [4, 8], dtype: .bf16, raw: raw.baseAddress!, owner: NSObject())
            let y = linear(x, weight: wt)
            var ref = [Double]()
            for i in 0..<2 { for o in 0..<4 {
                var s = 0.0
                for k in 0..<8 { s += Double(x.pointer[i * 8 + k]) * Double(bf16ToFloat(bf[o * 8 + k])) }
                ref.append(s)
            } }
            assertClose(y.array, ref, tol: 1e-5)
        }
    }

    func testLayerNormRMSNormGroupNorm() {
        let x = randomTensor([3, 10], seed: 7)
        let w = randomTensor([10], seed: 8), b = randomTensor([10], seed: 9)
        let ln = layerNorm(x, weight: WeightTensor(w), bias: WeightTensor(b), eps: 1e-6)
        let rms = rmsNorm(x, weight: WeightTensor(w), eps: 1e-6)
        var refLN = [Double](), refRMS = [Double]()
        for r in 0..<3 {
            let row = (0..<10).map { Double(x.pointer[r * 10 + $0]) }
            let mean = row.reduce(0, +) / 10
            let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10
            let ms = row.map { $0 * $0 }.reduce(0, +) / 10
            for j in 0..<10 {
                refLN.append((row[j] - mean) / (v + 1e-6).squareRoot() * Double(w.pointer[j]) + Double(b.pointer[j]))
                refRMS.append(row[j] / (ms + 1e-6).squareRoot() * Double(w.pointer[j]))
            }
        }
        assertClose(ln.array, refLN, tol: 1e-5)
        assertClose(rms.array, refRMS, tol: 1e-5)

        // GroupNorm: [N=2, C=4, 3x3], 2 groups, with fused SiLU.
        let g = randomTensor([2, 4, 3, 3], seed: 10), gw = randomTensor([4], seed: 11), gb = randomTensor([4], seed: 12)
        let out = groupNorm(g, groups: 2, weight: WeightTensor(gw), bias: WeightTensor(gb), eps: 1e-6, silu: true)
        var ref = [Double]()
        for n in 0..<2 { for c in 0..<4 {
            let grp = c / 2
            let vals = (0..<18).map { Double(g.pointer[n * 36 + grp * 18 + $0]) }
            let mean = vals.reduce(0, +) / 18
            let v = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 18
            for s in 0..<9 {
                let y = (Double(g.pointer[n * 36 + c * 9 + s]) - mean) / (v + 1e-6).squareRoot() * Double(gw.pointer[c]) + Double(gb.pointer[c])
                ref.append(y / (1 + Foundation.exp(-y)))
            }
        } }
        assertClose(out.array, ref, tol: 1e-5)

        // In place: the same bits over the input's own buffer; a shared input is left untouched.
        var owned = Tensor(shape: g.shape, data: g.array)
        let ownedBuffer = owned.pointer
        groupNormInPlace(&owned, groups: 2, weight: WeightTensor(gw), bias: WeightTensor(gb), eps: 1e-6, silu: true)
        XCTAssertEqual(owned.array, out.array)
        XCTAssertEqual(owned.pointer, ownedBuffer, "a uniquely owned input is normalised where it is")
        let before = g.array
        var shared = g
        groupNormInPlace(&shared, groups: 2, weight: WeightTensor(gw), bias: WeightTensor(gb), eps: 1e-6, silu: true)
        XCTAssertEqual(shared.array, out.array)
        XCTAssertNotEqual(shared.pointer, g.pointer)
        XCTAssertEqual(g.array, before, "the other holder of a shared buffer keeps its values")
    }

    func testActivations() {
        let x = Tensor(shape: [6], data: [-5, -1, -0.1, 0, 0.5, 3])
        let gt = gelu(x, approximation: .tanh).array, ge = gelu(x, approximation: .erf).array, s = silu(x).array
        let xs = x.array.map(Double.init)
        assertClose(gt, xs.map { 0.5 * $0 * (1 + tanh(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0))) }, tol: 1e-6)
        assertClose(ge, xs.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, tol: 1e-6)
        assertClose(s, xs.map { $0 / (1 + Foundation.exp(-$0)) }, tol: 1e-6)
    }

    /// Attention against float64 with a key mask (one batch entirely masked: zeros) and a score
    /// bias; sizes cover odd head widths, column tails, and several query tiles per head (more
    /// cases in AttentionTests).
    func testSoftmaxAndAttentionWithMaskAndBias() {
        for (nq, nk, h, d) in [(3, 4, 2, 3), (37, 64, 3, 40), (70, 65, 2, 72), (300, 250, 2, 19)] {
            let b = 3
            let q = randomTensor([b, nq, h * d], seed: 13), k = randomTensor([b, nk, h * d], seed: 14), v = randomTensor([b, nk, h * d], seed: 15)
            let bias = randomTensor([h, nq, nk], seed: 16)
            let mask = AttentionMask(lengths: [nk, nk / 2, 0], keys: nk)
            let out = attention(q: q, k: k, v: v, heads: h, scale: 0.7, mask: mask, bias: bias)
            var ref = [Double](repeating: 0, count: b * nq * h * d)
            for bi in 0..<b { for hi in 0..<h { for i in 0..<nq {
                var s = [Double](repeating: -Double.infinity, count: nk)
                for j in 0..<nk where mask.keyValid[bi * nk + j] {
                    var dot = 0.0
                    for c in 0..<d { dot += Double(q.pointer[(bi * nq + i) * h * d + hi * d + c]) * Double(k.pointer[(bi * nk + j) * h * d + hi * d + c]) }
                    s[j] = 0.7 * dot + Double(bias.pointer[(hi * nq + i) * nk + j])
                }
                let mx = s.max()!
                if mx == -Double.infinity { continue }           // all keys masked: zeros
                let e = s.map { Foundation.exp($0 - mx) }
                let sum = e.reduce(0, +)
                for c in 0..<d {
                    var acc = 0.0
                    for j in 0..<nk { acc += e[j] / sum * Double(v.pointer[(bi * nk + j) * h * d + hi * d + c]) }
                    ref[(bi * nq + i) * h * d + hi * d + c] = acc
                }
            } } }
            assertClose(out.array, ref, tol: 1e-5, "nq \(nq) nk \(nk) heads \(h) d \(d)")
        }
        let sm = softmax(Tensor(shape: [1, 3], data: [1, 2, 3])).array
        let e = [1.0, 2, 3].map { Foundation.exp($0) }
        assertClose(sm, e.map { $0 / e.reduce(0, +) }, tol: 1e-6)
    }

    func testConv3dAndConv2dMatchDirectLoops() {
        let x = randomTensor([2, 3, 4, 5, 6], seed: 17), w = randomTensor([4, 3, 3, 3, 3], seed: 18), bias = randomTensor([4], seed: 19)
        let pad = Padding3D(front: 2, back: 0, top: 1, bottom: 1, left: 1, right: 1)
        let y = conv3d(x, weight: WeightTensor(w), bias: WeightTensor(bias), stride: (1, 2, 2), padding: pad)
        let (to, ho, wo) = ((4 + 2 - 3) / 1 + 1, (5 + 2 - 3) / 2 + 1, (6 + 2 - 3) / 2 + 1)
        XCTAssertEqual(y.shape, [2, 4, to, ho, wo])
        var ref = [Double]()
        for n in 0..<2 { for o in 0..<4 { for t in 0..<to { for i in 0..<ho { for j in 0..<wo {
            var s = Double(bias.pointer[o])
            for c in 0..<3 { for dt in 0..<3 { for dh in 0..<3 { for dw in 0..<3 {
                let it = t - 2 + dt, ih = i * 2 - 1 + dh, iw = j * 2 - 1 + dw
                if it < 0 || it >= 4 || ih < 0 || ih >= 5 || iw < 0 || iw >= 6 { continue }
                s += Double(x.pointer[(((n * 3 + c) * 4 + it) * 5 + ih) * 6 + iw]) * Double(w.pointer[(((o * 3 + c) * 3 + dt) * 3 + dh) * 3 + dw])
            } } } }
            ref.append(s)
        } } } } }
        assertClose(y.array, ref, tol: 1e-5)

        // 1x1 conv takes the pointwise path.
        let x2 = randomTensor([1, 3, 4, 4], seed: 20), w2 = randomTensor([2, 3, 1, 1], seed: 21)
        let y2 = conv2d(x2, weight: WeightTensor(w2), bias: nil, padding: 0)
        var ref2 = [Double]()
        for o in 0..<2 { for p in 0..<16 { ref2.append((0..<3).reduce(0.0) { $0 + Double(x2.pointer[$1 * 16 + p]) * Double(w2.pointer[o * 3 + $1]) }) } }
        assertClose(y2.array, ref2, tol: 1e-5)
    }

    func testShapeOps() {
        let x = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(permute(x, [1, 0]).array, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(concat([x, x], axis: 1).array, [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
        XCTAssertEqual(narrow(x, axis: 1, 1..<3).array, [2, 3, 5, 6])
        XCTAssertEqual(pad(x, axis: 1, before: 1, after: 0).array, [0, 1, 2, 3, 0, 4, 5, 6])
        XCTAssertEqual(pad(x, axis: 1, before: 1, after: 0, replicate: true).array, [1, 1, 2, 3, 4, 4, 5, 6])
        XCTAssertEqual(upsampleNearest(Tensor(shape: [1, 1, 2], data: [1, 2]), scaleH: 2, scaleW: 2).array, [1, 1, 2, 2, 1, 1, 2, 2])
        XCTAssertEqual(x.slice(1..<2).array, [4, 5, 6])
        XCTAssertEqual((x + Tensor(shape: [3], data: [10, 20, 30])).array, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((x * Tensor(shape: [2, 1], data: [2, 3])).array, [2, 4, 6, 12, 15, 18])
        var v = x.reshaped([3, 2])
        v[flat: 0] = 100   // copy-on-write: x unchanged
        XCTAssertEqual(x[flat: 0], 1)
        XCTAssertEqual(v[flat: 0], 100)
    }

    func testHalfConversions() {
        XCTAssertEqual(bf16ToFloat(floatToBF16(1.5)), 1.5)
        XCTAssertEqual(f16ToFloat(floatToF16(-2.25)), -2.25)
        XCTAssertEqual(bf16ToFloat(floatToBF16(1.00390625)), 1.0)   // ties to even
    }
}
