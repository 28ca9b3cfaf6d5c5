import XCTest
import Samplers

final class TimestepTransformTests: XCTestCase {
    func testBaseTimesteps() {
        XCTAssertEqual(RectifiedFlowSampler(steps: 10, useTimestepTransform: false).baseTimesteps(),
                       [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100])
        // Discrete timesteps round like Python (half to even): 937.5 -> 938, 62.5 -> 62.
        let d = RectifiedFlowSampler(steps: 16, useDiscreteTimesteps: true).baseTimesteps()
        XCTAssertEqual(d[1], 938)
        XCTAssertEqual(d[15], 62)
    }

    func testFloat32OrderKeepsFirstTimestepBelow1000() throws {
        // 32x48 pixels, 34 frames (nf = 10): float32 in the reference order gives 999.99988, so
        // generated frames (mask * 1000 = 1000 >= t) are active at step 0. Float64 would give
        // 1000.0000000000002 and freeze every frame.
        let size = VideoSize(height: 32, width: 48, frames: 34)
        let ratio = try RectifiedFlowSampler.transformRatio(size, firstRowFrames: 34)
        let t0 = RectifiedFlowSampler.transform(1000, ratio: ratio, numTimesteps: 1000)
        XCTAssertEqual(t0, 999.99988)
        XCTAssertLessThan(t0, 1000)
        let r = (Double(32 * 48) / 262144).squareRoot() * Double(10).squareRoot()
        XCTAssertGreaterThan(1000 * r / (1 + (r - 1) * 1), 1000)

        let ts = try RectifiedFlowSampler(steps: 4).timesteps(sizes: [size], batch: 2)
        XCTAssertEqual(ts.map { $0[0] }, [999.99988, 420.68762, 194.88686, 74.66282])
        XCTAssertEqual(ts.map { $0[1] }, ts.map { $0[0] })
    }

    func testIdentityAtBaseResolutionForImages() throws {
        let s = RectifiedFlowSampler(steps: 7)
        let ts = try s.timesteps(sizes: [VideoSize(height: 512, width: 512, frames: 1)], batch: 1)
        XCTAssertEqual(ts.map { $0[0] }, s.baseTimesteps())
    }

    func testLargerVideosShiftTimestepsUp() throws {
        let small = try RectifiedFlowSampler.transformRatio(VideoSize(height: 240, width: 426, frames: 51), firstRowFrames: 51)
        let large = try RectifiedFlowSampler.transformRatio(VideoSize(height: 720, width: 1280, frames: 102), firstRowFrames: 102)
        XCTAssertGreaterThan(large, small)
        XCTAssertGreaterThan(RectifiedFlowSampler.transform(500, ratio: large, numTimesteps: 1000), 500)
    }

    func testFrameCountsWithZeroLengthFactorAreRefused() {
        for frames in 2...16 {
            XCTAssertThrowsError(try RectifiedFlowSampler(steps: 4).timesteps(sizes: [VideoSize(height: 240, width: 426, frames: frames)], batch: 1)) { e in
                XCTAssertTrue("\(e)".contains("\(frames) frames gives a length factor of 0"), "\(e)")
            }
        }
        XCTAssertNoThrow(try RectifiedFlowSampler(steps: 4).timesteps(sizes: [VideoSize(height: 240, width: 426, frames: 17)], batch: 1))
        // Without the transform the frame count does not matter.
        XCTAssertNoThrow(try RectifiedFlowSampler(steps: 4, useTimestepTransform: false).timesteps(sizes: [VideoSize(height: 240, width: 426, frames: 8)], batch: 1))
    }

    func testFirstRowDecidesTheImageRule() throws {
        // As the reference: num_frames[0] == 1 makes nf = 1 for every row.
        let sizes = [VideoSize(height: 512, width: 512, frames: 1), VideoSize(height: 512, width: 512, frames: 51)]
        let ts = try RectifiedFlowSampler(steps: 3).timesteps(sizes: sizes, batch: 2)
        XCTAssertEqual(ts[1][0], ts[1][1])
    }

    func testSizeCountMustMatchBatch() {
        let s = VideoSize(height: 64, width: 64, frames: 1)
        XCTAssertThrowsError(try RectifiedFlowSampler(steps: 3).timesteps(sizes: [s, s], batch: 3))
        XCTAssertThrowsError(try RectifiedFlowSampler(steps: 3).timesteps(sizes: [], batch: 1))
    }
}
