// sgemm splits large products into slices fixed by the shape (GEMMSlices): each slice must land
// in its place (rows or columns of C, with either operand transposed), and the bytes must not
// depend on the thread count.

import XCTest
@testable import TensorCore

final class GEMMSliceTests: XCTestCase {
    /// C = op(A) op(B) + C0 in double precision. a: [m, k] or [k, m]; b: [k, n] or [n, k].
    func reference(_ a: [Float], _ b: [Float], _ c0: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
        var c = c0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    sum += Double(transA ? a[p * m + i] : a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j])
                }
                c[i * n + j] = Float(sum + Double(c0[i * n + j]))
            }
        }
        return c
    }

    func product(_ a: [Float], _ b: [Float], _ c0: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: transA ? m : k,
                          b: bp.baseAddress!, ldb: transB ? k : n, beta: 1, c: cp.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }

    func testSlicesCoverTheProductAndTheBytesDoNotDependOnThreads() {
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        // Tall: split by rows into 4 x 256 and 76. Wide and short: split by columns into 7 x 272 and 196.
        for (m, n, k) in [(1100, 40, 400), (8, 2100, 1100)] {
            let split = GEMMSlices(m: m, n: n, k: k)
            XCTAssertGreaterThan(split.count, 1, "\(m)x\(n)x\(k) should be split")
            XCTAssertEqual(split.byRows, m > n)
            let a = testData(m * k, seed: 5), b = testData(k * n, seed: 6), c0 = testData(m * n, seed: 7)
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                let expected = reference(a, b, c0, m: m, n: n, k: k, transA: transA, transB: transB)
                var outputs: [[Float]] = []
                for threads in [1, 2, 3] {
                    Runtime.setThreads(threads)
                    outputs.append(product(a, b, c0, m: m, n: n, k: k, transA: transA, transB: transB))
                }
                let worst = zip(outputs[0], expected).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-3, "\(m)x\(n)x\(k) transA \(transA) transB \(transB)")
                XCTAssertEqual(outputs[1], outputs[0], "2 threads gave other bytes than 1")
                XCTAssertEqual(outputs[2], outputs[0], "3 threads gave other bytes than 1")
            }
        }
    }

    func testSmallProductsAreOneCall() {
        XCTAssertEqual(GEMMSlices(m: 64, n: 64, k: 64).count, 1)
        XCTAssertEqual(GEMMSlices(m: 300, n: 300, k: 300).count, 1, "below 2 x 256 along the split")
        let tokens = GEMMSlices(m: 4320, n: 1152, k: 1152)
        XCTAssertEqual([tokens.count, tokens.size], [8, 544], "STDiT3's 144p rows: at most 8 slices")
    }
}
