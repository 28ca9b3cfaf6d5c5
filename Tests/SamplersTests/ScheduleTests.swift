import XCTest
import Samplers

final class ScheduleTests: XCTestCase {
    func testRespacing() {
        XCTAssertEqual(DiffusionSchedule.spacedTimesteps(1000, count: 5), [0, 250, 500, 749, 999])
        XCTAssertEqual(DiffusionSchedule.spacedTimesteps(1000, count: 10), [0, 111, 222, 333, 444, 555, 666, 777, 888, 999])
        XCTAssertEqual(DiffusionSchedule.spacedTimesteps(1000, count: 1000), Array(0..<1000))
        XCTAssertEqual(DiffusionSchedule.spacedTimesteps(1000, count: 1), [0])
    }

    func testLinearBetas() {
        let b = DiffusionSchedule.linearBetas(1000)
        XCTAssertEqual(b.count, 1000)
        XCTAssertEqual(b.first, 0.0001)
        XCTAssertEqual(b.last, 0.02)
        XCTAssertTrue(zip(b, b.dropFirst()).allSatisfy { $0 < $1 })
    }

    func testUnspacedScheduleKeepsTheBaseBetas() throws {
        let s = try DiffusionSchedule(samplingSteps: 1000)
        let base = DiffusionSchedule.linearBetas(1000)
        for i in [0, 1, 500, 999] { XCTAssertEqual(Double(s.betas[i]), base[i], accuracy: base[i] * 1e-5) }
        XCTAssertEqual(s.timestepMap, Array(0..<1000))
    }

    func testDerivedArrays() throws {
        let s = try DiffusionSchedule(samplingSteps: 10)
        XCTAssertEqual(s.alphasCumprodPrev[0], 1)
        XCTAssertEqual(s.posteriorVariance[0], 0)
        XCTAssertEqual(s.posteriorLogVarianceClipped[0], s.posteriorLogVarianceClipped[1])
        XCTAssertTrue(zip(s.alphasCumprod, s.alphasCumprod.dropFirst()).allSatisfy { $0 > $1 })
        // Respaced betas are larger than the base ones: each spans many original steps.
        XCTAssertGreaterThan(s.betas[5], 0.02)
        for i in 0..<s.count { XCTAssertEqual(s.logBetas[i], log(s.betas[i]), accuracy: 1e-6) }
    }

    func testDDIMSigma() throws {
        let s = try DiffusionSchedule(samplingSteps: 10)
        for i in 0..<s.count {
            XCTAssertEqual(ddimSigma(s, index: i, eta: 0), 0)
            // eta = 1: the DDIM variance is the ancestral (posterior) variance.
            let sigma = ddimSigma(s, index: i, eta: 1)
            XCTAssertEqual(sigma * sigma, s.posteriorVariance[i], accuracy: s.posteriorVariance[i] * 1e-4 + 1e-12)
        }
    }

    func testBadStepCountsAreRefused() {
        XCTAssertThrowsError(try DiffusionSchedule(samplingSteps: 0))
        XCTAssertThrowsError(try DiffusionSchedule(samplingSteps: 1001))
        XCTAssertThrowsError(try DiffusionSchedule(betas: [0.1], timestepMap: [0, 1]))
    }
}
