import XCTest
import Foundation
@testable import TensorCore

/// The fused attention kernel against a float64 reference, and its bytes at several thread counts.
final class AttentionTests: XCTestCase {
    /// softmax(scale * q k^T + bias, masked keys excluded) v in float64; rows whose keys are all
    /// masked are zeros. Layouts as `attention`: [B, N, H*D].
    static func reference(q: Tensor, k: Tensor, v: Tensor, heads h: Int, scale: Double,
                          mask: AttentionMask?, bias: Tensor?) -> [Double] {
        let b = q.shape[0], nq = q.shape[1], nk = k.shape[1], hd = q.shape[2], d = hd / h
        var ref = [Double](repeating: 0, count: b * nq * hd)
        for bi in 0..<b { for hi in 0..<h { for i in 0..<nq {
            var s = [Double](repeating: -Double.infinity, count: nk)
            for j in 0..<nk where mask?.keyValid[bi * nk + j] ?? true {
                var dot = 0.0
                for c in 0..<d { dot += Double(q.pointer[(bi * nq + i) * hd + hi * d + c]) * Double(k.pointer[(bi * nk + j) * hd + hi * d + c]) }
                s[j] = scale * dot + (bias.map { Double($0.pointer[(hi * nq + i) * nk + j]) } ?? 0)
            }
            guard let mx = s.max(), mx > -Double.infinity else { continue }
            let e = s.map { Foundation.exp($0 - mx) }
            let sum = e.reduce(0, +)
            for c in 0..<d {
                var acc = 0.0
                for j in 0..<nk where e[j] > 0 { acc += e[j] * Double(v.pointer[(bi * nk + j) * hd + hi * d + c]) }
                ref[(bi * nq + i) * hd + hi * d + c] = acc / sum
            }
        } } }
        return ref
    }

    /// Head dims 64/72/96/128 and odd ones, one query / one key, query counts that are not
    /// multiples of the 4-row register tile or the 64-row job tile, key counts that are not
    /// multiples of 8 or 24, and key counts above one key block (the online softmax over blocks).
    func testMatchesFloat64AcrossShapes() {
        let cases: [(b: Int, nq: Int, nk: Int, h: Int, d: Int)] = [
            (1, 1, 1, 1, 64), (2, 1, 7, 3, 72), (1, 5, 1, 2, 96), (2, 67, 144, 2, 72), (1, 130, 300, 1, 128),
            (3, 15, 15, 2, 72), (1, 9, 33, 2, 3), (1, 70, 65, 2, 19), (1, 13, 1000, 1, 72), (1, 6, 200, 1, 512),
        ]
        for (b, nq, nk, h, d) in cases {
            let q = randomTensor([b, nq, h * d], seed: 31), k = randomTensor([b, nk, h * d], seed: 32), v = randomTensor([b, nk, h * d], seed: 33)
            let scale = 1 / Double(d).squareRoot()
            let out = attention(q: q, k: k, v: v, heads: h, scale: Float(scale))
            let ref = Self.reference(q: q, k: k, v: v, heads: h, scale: scale, mask: nil, bias: nil)
            assertClose(out.array, ref, tol: 2e-6, "b \(b) nq \(nq) nk \(nk) heads \(h) d \(d)")
        }
    }

    /// Masks and a score bias over 1000 keys (4 online-softmax blocks of 250): a mask whose first
    /// two blocks are entirely masked (skipped), one whose last blocks are, a batch with every key
    /// masked (zeros), and a bias rising with the key index so the running max grows from block
    /// to block (earlier blocks' outputs are rescaled).
    func testMasksBiasAndOnlineSoftmax() {
        let (b, nq, nk, h, d) = (4, 21, 1000, 2, 72)
        let q = randomTensor([b, nq, h * d], seed: 41), k = randomTensor([b, nk, h * d], seed: 42), v = randomTensor([b, nk, h * d], seed: 43)
        // A bias rising with the key index: each block's max exceeds the previous one's.
        var bias = randomTensor([h, nq, nk], seed: 44)
        for i in 0..<(h * nq) { for j in 0..<nk { bias.mutablePointer[i * nk + j] += Float(j) / 100 } }
        var valid = [Bool]()
        valid += (0..<nk).map { _ in true }
        valid += (0..<nk).map { $0 >= 500 && $0 % 3 != 0 }       // first two blocks masked
        valid += (0..<nk).map { _ in false }                      // every key masked
        valid += (0..<nk).map { $0 < 450 }                        // last two blocks masked
        let mask = AttentionMask(keyValid: valid, keys: nk)
        let out = attention(q: q, k: k, v: v, heads: h, scale: 0.9, mask: mask, bias: bias)
        let ref = Self.reference(q: q, k: k, v: v, heads: h, scale: 0.9, mask: mask, bias: bias)
        assertClose(out.array, ref, tol: 2e-6)
        XCTAssertTrue(out.array[(2 * nq * h * d)..<(3 * nq * h * d)].allSatisfy { $0 == 0 }, "fully masked batch must give zeros")
    }

    /// The job partition does not depend on the thread count: the same bytes at 1, 2 and 3 threads.
    func testSameBytesAtAnyThreadCount() {
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        let q = randomTensor([2, 150, 4 * 72], seed: 51), k = randomTensor([2, 600, 4 * 72], seed: 52), v = randomTensor([2, 600, 4 * 72], seed: 53)
        let mask = AttentionMask(lengths: [600, 123], keys: 600)
        var results = [[Float]]()
        for threads in [1, 2, 3] {
            Runtime.setThreads(threads)
            results.append(attention(q: q, k: k, v: v, heads: 4, scale: 0.12, mask: mask).array)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    /// Error against float64 on STDiT3's shapes (one sequence, 4 of the 16 heads) with activations of the
    /// models' scale (q, k ~ N(0, 1) per channel after RMSNorm): printed for docs/performance.md
    /// and bounded.
    func testErrorOnSTDiTShapes() {
        for (name, nq, nk) in [("spatial", 144, 144), ("temporal", 15, 15), ("cross", 540, 300)] {
            let (h, d) = (4, 72)
            let q = gaussian([1, nq, h * d], seed: 61), k = gaussian([1, nk, h * d], seed: 62), v = gaussian([1, nk, h * d], seed: 63)
            let scale = 1 / Double(d).squareRoot()
            let out = attention(q: q, k: k, v: v, heads: h, scale: Float(scale)).array
            let ref = Self.reference(q: q, k: k, v: v, heads: h, scale: scale, mask: nil, bias: nil)
            var worst = 0.0, num = 0.0, den = 0.0
            for i in 0..<ref.count { let e = Double(out[i]) - ref[i]; worst = max(worst, abs(e)); num += e * e; den += ref[i] * ref[i] }
            print("attention error vs float64, \(name) [1, \(nq), \(nk), \(h), \(d)]: max abs \(worst), relative L2 \((num / den).squareRoot())")
            XCTAssertLessThan(worst, 2e-6, name)
        }
    }

    private func gaussian(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { _ in
            let u1 = Double(rng.next() >> 11) / 9007199254740992 + 1e-300, u2 = Double(rng.next() >> 11) / 9007199254740992
            return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
        })
    }
}
