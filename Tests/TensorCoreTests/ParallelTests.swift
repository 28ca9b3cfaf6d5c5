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

    func testScratchArenaReusesAndGrows() {
        let arena = ScratchArena()
        var first: UnsafeMutablePointer<Float>?
        arena.withBuffer(count: 100) { first = $0; $0[99] = 1 }
        arena.withBuffer(count: 50) { XCTAssertEqual($0, first) }
        arena.withBuffer(count: 10_000) { $0[9999] = 2 }
        arena.releaseAll()
    }
}
