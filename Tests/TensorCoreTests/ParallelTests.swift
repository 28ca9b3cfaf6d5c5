import XCTest
import TensorCore

final class ParallelTests: XCTestCase {
    /// Every index is visited exactly once, whatever the chunking.
    func testParallelForCoversEveryIndexOnce() {
        for n in [0, 1, 2, 7, 1000, 100_003] {
            var counts = [Int32](repeating: 0, count: n)
            counts.withUnsafeMutableBufferPointer { buf in
                let p = SendablePointer(buf.baseAddress ?? UnsafeMutablePointer<Int32>.allocate(capacity: 1))
                parallelFor(n) { r in for i in r { p.p[i] += 1 } }
            }
            XCTAssertTrue(counts.allSatisfy { $0 == 1 }, "n=\(n)")
        }
    }

    /// Parallel kernels give the same bits as a single-threaded run.
    func testThreadCountDoesNotChangeResults() {
        let x = randomTensor([64, 300], seed: 3), w = randomTensor([300], seed: 4)
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        Runtime.setThreads(1)
        let a = layerNorm(x, weight: WeightTensor(w), bias: nil), g1 = gelu(x)
        Runtime.setThreads(2)
        let b = layerNorm(x, weight: WeightTensor(w), bias: nil), g2 = gelu(x)
        XCTAssertEqual(a.array, b.array)
        XCTAssertEqual(g1.array, g2.array)
    }

    /// sgemm on 2 threads matches a float64 reference for every transpose combination, with padded
    /// leading dimensions, tall (M >= N) and wide (N > M); padding is left untouched.
    func testGEMMMatchesReference() {
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        Runtime.setThreads(2)
        do {
            for (m, n, k) in [(301, 200, 64), (100, 523, 70)] {
                for transA in [false, true] {
                    for transB in [false, true] {
                        let (lda, ldb, ldc) = ((transA ? m : k) + 3, (transB ? k : n) + 5, n + 7)
                        let a = testData((transA ? k : m) * lda, seed: 11), b = testData((transB ? n : k) * ldb, seed: 12)
                        var c = [Float](repeating: 9, count: m * ldc)
                        let cIn = testData(m * ldc, seed: 13)
                        for i in 0..<c.count { c[i] = cIn[i] }
                        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                              beta: 2, c: &c, ldc: ldc)
                        var worst = 0.0
                        for i in 0..<m {
                            for j in 0..<ldc {
                                var ref = Double(cIn[i * ldc + j])
                                if j < n {
                                    var dot = 0.0
                                    for p in 0..<k {
                                        let av = transA ? a[p * lda + i] : a[i * lda + p]
                                        let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                                        dot += Double(av) * Double(bv)
                                    }
                                    ref = 0.5 * dot + 2 * ref
                                }
                                worst = max(worst, abs(Double(c[i * ldc + j]) - ref))
                            }
                        }
                        XCTAssertLessThan(worst, 1e-4, "m\(m) n\(n) k\(k) transA \(transA) transB \(transB)")
                    }
                }
            }
        }
    }

    /// Inside a parallelFor chunk, nested parallelFor runs on the same thread.
    func testNestedParallelForStaysOnItsThread() {
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        Runtime.setThreads(2)
        XCTAssertFalse(Runtime.parallelRegionActive)
        let flags = UnsafeMutablePointer<Int32>.allocate(capacity: 16)  // [inside, other thread] per index
        flags.initialize(repeating: 0, count: 16)
        defer { flags.deallocate() }
        let p = SendablePointer(flags)
        parallelFor(8) { outer in
            for i in outer {
                let me = pthread_self()
                parallelFor(64) { _ in if pthread_equal(pthread_self(), me) == 0 { p.p[8 + i] = 1 } }
                p.p[i] = Runtime.parallelRegionActive ? 1 : 0
            }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: flags, count: 16)), [Int32](repeating: 1, count: 8) + [Int32](repeating: 0, count: 8))
        XCTAssertFalse(Runtime.parallelRegionActive)
    }

    /// OpenBLAS's idle workers are told to sleep at once (restarting its pool at first use);
    /// threaded GEMMs still give the right numbers afterwards.
    func testIdleSpinLimitKeepsGEMMCorrect() {
        _ = Runtime.configured
        let fromEnvironment = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"].flatMap { Int($0) }
        XCTAssertEqual(BLAS.threadTimeout, fromEnvironment ?? BLAS.idleSpinExponent)
        let (m, n, k) = (257, 300, 190)
        let a = testData(m * k, seed: 21), b = testData(k * n, seed: 22)
        for _ in 0..<3 {                                    // the workers sleep and wake between calls
            var c = [Float](repeating: 0, count: m * n)
            sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
            var worst = 0.0
            for i in stride(from: 0, to: m, by: 17) {
                for j in stride(from: 0, to: n, by: 13) {
                    var dot = 0.0
                    for p in 0..<k { dot += Double(a[i * k + p]) * Double(b[p * n + j]) }
                    worst = max(worst, abs(dot - Double(c[i * n + j])))
                }
            }
            XCTAssertLessThan(worst, 1e-4)
            usleep(2000)
        }
    }

    func testScratchArenaReusesAndGrows() {
        let arena = ScratchArena()
        var first: UnsafeMutablePointer<Float>?
        arena.withBuffer(count: 100) { first = $0; $0[99] = 1 }
        arena.withBuffer(count: 50) { XCTAssertEqual($0, first) }
        // Grows: a larger request replaces the cached buffer with one of the new size, which then
        // serves requests of that size and smaller (no second buffer is kept beside it).
        var grown: UnsafeMutablePointer<Float>?
        arena.withBuffer(count: 10_000) { grown = $0; $0[9999] = 2 }
        arena.withBuffer(count: 10_000) { XCTAssertEqual($0, grown); XCTAssertEqual($0[9999], 2) }
        arena.withBuffer(count: 100) { XCTAssertEqual($0, grown) }
        // A buffer in use is never handed out twice.
        arena.withBuffer(count: 100) { outer in
            arena.withBuffer(count: 100) { inner in XCTAssertNotEqual(inner, outer) }
        }
        arena.releaseAll()
    }
}
