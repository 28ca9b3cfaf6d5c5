import XCTest
@testable import Samplers
import TensorCore

/// Open-Sora 2.0's sampler parts that the golden cases (t2v, i2v_head) do not reach: frame-count
/// checks, the other condition types, the write-back, and the forwards the skipping saves.
final class V2SamplerTests: XCTestCase {
    func testFrameCountsMustBe4kPlus1() throws {
        for frames in [1, 5, 33, 129] { XCTAssertNoThrow(try V2LatentGeometry(height: 256, width: 256, frames: frames)) }
        for frames in [0, 2, 32, 128] {
            XCTAssertThrowsError(try V2LatentGeometry(height: 256, width: 256, frames: frames)) { e in
                XCTAssertTrue("\(e)".contains("--num-frames \(frames)"), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
        let g = try V2LatentGeometry(height: 250, width: 100, frames: 129)
        XCTAssertEqual([g.height, g.width, g.latentFrames], [256, 112, 33])
        XCTAssertEqual(g.latentShape, [16, 33, 32, 14])
        XCTAssertEqual(g.tokensPerFrame, 16 * 7)
    }

    func testShiftAlphaGrowsWithSizeAndLength() throws {
        let small = try V2LatentGeometry(height: 256, width: 256, frames: 33), long = try V2LatentGeometry(height: 256, width: 256, frames: 129)
        // 256px: 256 tokens per frame -> the line's y = 1, times sqrt(T).
        XCTAssertEqual(V2Schedule.shiftAlpha(tokensPerFrame: small.tokensPerFrame, latentFrames: small.latentFrames), 3, accuracy: 1e-12)
        XCTAssertEqual(V2Schedule.shiftAlpha(tokensPerFrame: long.tokensPerFrame, latentFrames: long.latentFrames), Double(33).squareRoot(), accuracy: 1e-12)
        let t = try V2Schedule.timesteps(steps: 50, geometry: long)
        XCTAssertEqual(t.count, 51)
        XCTAssertEqual(t.first, 1)
        XCTAssertEqual(t.last, 0)
        XCTAssertTrue(zip(t, t.dropFirst()).allSatisfy { $0 > $1 })
        XCTAssertEqual(try V2Schedule.timesteps(steps: 4, geometry: long, shift: false), [1, 0.75, 0.5, 0.25, 0])
        XCTAssertThrowsError(try V2Schedule.timesteps(steps: 0, geometry: long))
    }

    /// The 256px config (50 steps, guidance 7.5 / 3.0, both oscillating): 20 of the 50 steps have both
    /// scales at 1.0 and need only the text branch; t2v never needs the third branch.
    func testForwardsSavedAt256px50Steps() throws {
        let g = try V2LatentGeometry(height: 256, width: 256, frames: 129)
        let sampler = V2Sampler(steps: 50)
        let i2v = sampler.forwardCount(geometry: g, condition: .i2vHead, unconditioned: false)
        XCTAssertEqual(i2v.made, 110)
        XCTAssertEqual(i2v.reference, 150)
        XCTAssertEqual(sampler.forwardCount(geometry: g, condition: .t2v, unconditioned: true).made, 80)
        var reference = sampler
        reference.guidance.computeAllBranches = true
        XCTAssertEqual(reference.forwardCount(geometry: g, condition: .t2v, unconditioned: true).made, 150)
    }

    func testConditionTypes() throws {
        let shape = [2, 2, 12, 2, 2]          // B, C, T, H, W
        func ref(_ frames: Int, _ base: Float) -> Tensor {
            Tensor(shape: [2, frames, 2, 2], data: (0..<(8 * frames)).map { base + Float($0) })
        }
        func givenFrames(_ c: V2Condition, item: Int) -> [Int] {
            (0..<12).filter { c.masks[flat: (item * 12 + $0) * 4] == 1 }
        }
        let head = try V2Condition(.i2vHead, latentShape: shape, references: [[ref(1, 100)]])
        XCTAssertEqual(givenFrames(head, item: 0), [0])
        XCTAssertEqual(givenFrames(head, item: 1), [])        // no reference for item 1: unconditioned
        XCTAssertEqual(head.maskedReference[flat: 0], 100)
        XCTAssertEqual(head.maskedReference[flat: 12 * 4], 104)  // channel 1, frame 0
        let tail = try V2Condition(.i2vTail, latentShape: shape, references: [[ref(1, 100)], [ref(1, 200)]])
        XCTAssertEqual(givenFrames(tail, item: 1), [11])
        XCTAssertEqual(tail.maskedReference[flat: ((1 * 2) * 12 + 11) * 4], 200)
        let loop = try V2Condition(.i2vLoop, latentShape: shape, references: [[ref(1, 100), ref(1, 300)]])
        XCTAssertEqual(givenFrames(loop, item: 0), [0, 11])
        XCTAssertEqual(loop.maskedReference[flat: 11 * 4], 300)
        XCTAssertThrowsError(try V2Condition(.i2vLoop, latentShape: shape, references: [[ref(1, 100)]]))
        let v2vHead = try V2Condition(.v2vHead, latentShape: shape, references: [[ref(12, 0)]])
        XCTAssertEqual(givenFrames(v2vHead, item: 0), Array(0..<9))
        let v2vTail = try V2Condition(.v2vTail, latentShape: shape, references: [[ref(12, 0)]])
        XCTAssertEqual(givenFrames(v2vTail, item: 0), Array(3..<12))
        XCTAssertEqual(v2vTail.maskedReference[flat: 3 * 4], 12)           // frame 3 of the reference
        XCTAssertThrowsError(try V2Condition(.v2vHead, latentShape: shape, references: [[ref(4, 0)]])) {
            XCTAssertTrue("\($0)".contains("needs 9 reference latent frames"), "\($0)")
        }
        XCTAssertTrue(try V2Condition(.t2v, latentShape: shape, references: []).isEmpty)
        XCTAssertThrowsError(try V2ConditionType(option: "v2v_head_half")) { XCTAssertTrue("\($0)".contains("v2v_head_half"), "\($0)") }
        XCTAssertThrowsError(try V2Condition(.i2vHead, latentShape: shape, references: [[Tensor(repeating: 0, shape: [2, 1, 3, 2])]])) {
            XCTAssertTrue("\($0)".contains("[2, 1, 3, 2]"), "\($0)")
        }
    }

    /// Only batch item 0's conditioning frames are overwritten (as api_fn does); tail writes the first reference.
    func testWriteBack() throws {
        let shape = [2, 1, 3, 1, 1]
        let r0 = Tensor(shape: [1, 1, 1, 1], data: [7]), r1 = Tensor(shape: [1, 1, 1, 1], data: [9])
        for (type, refs, expected) in [(V2ConditionType.i2vHead, [r0], [7, 0, 0]), (.i2vTail, [r0], [0, 0, 7]),
                                       (.i2vLoop, [r0, r1], [7, 0, 9]), (.v2vHead, [Tensor(repeating: 5, shape: [1, 3, 1, 1])], [0, 0, 0])] {
            let c = try V2Condition(type, latentShape: shape, references: [refs, refs])
            var x = Tensor(repeating: 0, shape: shape)
            c.writeBack(into: &x)
            XCTAssertEqual(x.array, expected.map(Float.init) + [0, 0, 0], type.rawValue)
        }
    }

    /// The skipped forms agree with the full three-branch formula, and t2v's is exact.
    func testSkippingMatchesTheFullFormula() throws {
        var rng = SplitMix64(seed: 9)
        func t() -> Tensor { Tensor(shape: [1, 2, 3, 2, 2], data: (0..<24).map { _ in Float(rng.next() % 1000) / 100 - 5 }) }
        let c = t(), u = t(), u2 = t()
        let g = V2Guidance()
        let full = try g.combine([.textAndImage: c, .imageOnly: u, .unconditional: u2], text: 1, image: 1, imagePerFrame: nil)
        let textOnly = try g.combine([.textAndImage: c], text: 1, image: 1, imagePerFrame: nil)
        XCTAssertLessThanOrEqual(full.maxAbsDifference(textOnly), 4e-6)
        let twoBranches = try g.combine([.textAndImage: c, .imageOnly: u], text: 7.5, image: 1, imagePerFrame: nil)
        XCTAssertLessThanOrEqual(try g.combine([.textAndImage: c, .imageOnly: u, .unconditional: u2], text: 7.5, image: 1, imagePerFrame: nil)
            .maxAbsDifference(twoBranches), 4e-5)
        // t2v: uncond2 == uncond, so dropping it is exact.
        XCTAssertEqual(try g.combine([.textAndImage: c, .imageOnly: u, .unconditional: u], text: 7.5, image: 3, imagePerFrame: nil).array,
                       try g.combine([.textAndImage: c, .imageOnly: u], text: 7.5, image: 3, imagePerFrame: nil).array)
        XCTAssertThrowsError(try g.combine([.textAndImage: c], text: 7.5, image: 1, imagePerFrame: nil))
        XCTAssertEqual(g.branches(text: 7.5, image: 3, imagePerFrame: [1, 2, 3], unconditioned: false), V2Branch.allCases)
        XCTAssertEqual(g.branches(text: 7.5, image: 1, imagePerFrame: nil, unconditioned: false), [.textAndImage, .imageOnly])
        XCTAssertEqual(g.branches(text: 1, image: 3, imagePerFrame: nil, unconditioned: false), V2Branch.allCases)
    }

    /// The sampler loop with a toy denoiser: the same result computing every branch or skipping,
    /// and at one or two threads.
    func testSamplerLoopIsDeterministic() throws {
        let g = try V2LatentGeometry(height: 32, width: 32, frames: 9)
        let noise = V2Schedule.noise(batch: 1, geometry: g, seed: 5)
        let reference = Tensor(shape: [16, 1, 4, 4], data: (0..<256).map { Float($0 % 7) / 7 })
        let cond = try V2Condition(.i2vHead, latentShape: noise.shape, references: [[reference]])
        let model: V2Denoiser = { x, t, branches in
            concat(branches.map { b in x * (0.5 + Float(b.rawValue) * 0.1 + t) }, axis: 0)
        }
        var sampler = V2Sampler(steps: 14)
        let skipping = try sampler.sample(noise: noise, geometry: g, condition: cond, model: model)
        sampler.guidance.computeAllBranches = true
        let all = try sampler.sample(noise: noise, geometry: g, condition: cond, model: model)
        XCTAssertLessThanOrEqual(skipping.maxAbsDifference(all), 1e-5)
        let threads = Runtime.threads
        Runtime.setThreads(1)
        defer { Runtime.setThreads(threads) }
        XCTAssertEqual(try sampler.sample(noise: noise, geometry: g, condition: cond, model: model).array, all.array)
        XCTAssertThrowsError(try sampler.sample(noise: noise, geometry: g, condition: cond) { x, _, _ in x }) {
            XCTAssertTrue("\($0)".contains("3 branches"), "\($0)")
        }
    }
}
