import XCTest
import Samplers
import TensorCore

final class NoiseTests: XCTestCase {
    func testMersenneTwisterMatchesReferenceSequence() {
        // std::mt19937 default seed 5489: the 1st output is 3499211612 and the 10000th 4123659995.
        var mt = MersenneTwister(seed: 5489)
        XCTAssertEqual(mt.next(), 3_499_211_612)
        for _ in 0..<9998 { _ = mt.next() }
        XCTAssertEqual(mt.next(), 4_123_659_995)
    }

    func testSmallTensorsUseTheScalarPath() {
        // torch.manual_seed(0); torch.randn(5)
        let x = TorchNoise(seed: 0).standardNormal([5]).array
        XCTAssertEqual(x, [1.5409961, -0.2934289, -2.1787894, 0.56843126, -1.0845224])
    }

    func testScalarPathCachesTheSineHalf() {
        // Two single draws give the same pair as one draw of two: the second comes from the cache.
        let pair = TorchNoise(seed: 3).standardNormal([2]).array
        let g = TorchNoise(seed: 3)
        XCTAssertEqual(g.standardNormal([1]).array + g.standardNormal([1]).array, pair)
        // The vectorised path leaves the cache alone.
        let h = TorchNoise(seed: 3)
        _ = h.standardNormal([1])
        _ = h.standardNormal([16])
        XCTAssertEqual(h.standardNormal([1]).array, [pair[1]])
    }

    func testTailOfVectorisedPathIsRecomputed() {
        // 17 elements: the first block's first value survives, the last 16 are redone.
        let a = TorchNoise(seed: 42).standardNormal([16]).array
        let b = TorchNoise(seed: 42).standardNormal([17]).array
        XCTAssertEqual(a[0], b[0])
        XCTAssertNotEqual(Array(a[1...]), Array(b[1...16]))
    }

    func testCephesApproximationsAreAccurate() {
        var worstLog: Float = 0, worstTrig: Float = 0
        for k in 1...4096 {
            let u = Float(k) / 4096
            worstLog = max(worstLog, abs(CephesFloat.log(u) - Float(Foundation.log(Double(u)))))
            let theta = Float(2 * Double.pi) * u
            let (s, c) = CephesFloat.sincos(theta)
            worstTrig = max(worstTrig, abs(s - Float(Foundation.sin(Double(theta)))), abs(c - Float(Foundation.cos(Double(theta)))))
        }
        XCTAssertLessThan(worstLog, 1e-6)
        XCTAssertLessThan(worstTrig, 1e-6)
    }

    func testSeedsAreIndependentAndRepeatable() {
        XCTAssertEqual(TorchNoise(seed: 9).standardNormal([100]).array, TorchNoise(seed: 9).standardNormal([100]).array)
        XCTAssertNotEqual(TorchNoise(seed: 9).standardNormal([100]).array, TorchNoise(seed: 10).standardNormal([100]).array)
    }

    func testRecordedNoiseRunsOutAndChecksShapes() throws {
        let n = RecordedNoise([Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])], name: "rec")
        XCTAssertThrowsError(try n.standardNormal([4])) { e in
            XCTAssertEqual(e as? NoiseError, .shapeMismatch(source: "rec", draw: 0, expected: [4], recorded: [2, 3]))
        }
        XCTAssertEqual(try n.standardNormal([3, 2]).shape, [3, 2])
        XCTAssertThrowsError(try n.standardNormal([6])) { e in
            XCTAssertEqual("\(e)", "rec: asked for noise draw #1 but only 1 draws were recorded")
        }
    }
}

final class NativeNoiseTests: XCTestCase {
    func testNativeNoiseIsRepeatableAndStandardNormal() {
        let a = NativeNoise(seed: 5).standardNormal([100_001])
        XCTAssertEqual(a.array, NativeNoise(seed: 5).standardNormal([100_001]).array)
        let v = a.array.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
        XCTAssertNotEqual(NativeNoise(seed: 6).standardNormal([4]).array, NativeNoise(seed: 5).standardNormal([4]).array)
    }
}
