import XCTest
@testable import Samplers

/// ADM / DiT's schedule flavour: "N" and "ddimN" respacing strings, numpy's linspace, float64
/// tables (the golden dit_sample_* cases check the tables themselves).
final class DiTScheduleTests: XCTestCase {
    func testRespacingStrings() throws {
        XCTAssertEqual(try DiffusionSchedule.parseRespacing("250").0, .even)
        XCTAssertEqual(try DiffusionSchedule.parseRespacing("250").1, 250)
        XCTAssertEqual(try DiffusionSchedule.parseRespacing("ddim25").0, .ddimStride)
        for bad in ["", "ddim", "ddim0", "-3", "ddimx", "8,4"] {
            XCTAssertThrowsError(try DiffusionSchedule.parseRespacing(bad), bad)
        }
    }

    func testDDIMStride() throws {
        XCTAssertEqual(try DiffusionSchedule.ddimTimesteps(1000, count: 10), Array(stride(from: 0, to: 1000, by: 100)))
        XCTAssertEqual(try DiffusionSchedule.ddimTimesteps(1000, count: 6), Array(stride(from: 0, to: 1000, by: 167)))
        XCTAssertThrowsError(try DiffusionSchedule.ddimTimesteps(1000, count: 999)) { XCTAssertTrue("\($0)".contains("ddim999"), "\($0)") }
        let s = try DiffusionSchedule(samplingSteps: 10, respacing: .ddimStride, tables: .float64)
        XCTAssertEqual(s.timestepMap.last, 900)
        XCTAssertEqual(s.count, 10)
    }

    func testNumpyLinspaceEndsExactly() {
        let b = DiffusionSchedule.numpyLinearBetas(1000)
        XCTAssertEqual(b.first, 0.0001)
        XCTAssertEqual(b.last, 0.02)
        XCTAssertEqual(b[500], 500 * ((0.02 - 0.0001) / 999) + 0.0001)
    }

    /// The default flavour is unchanged: `.even` + `.float32` is the Open-Sora schedule.
    func testOpenSoraFlavourIsTheDefault() throws {
        let a = try DiffusionSchedule(samplingSteps: 50), b = try DiffusionSchedule(samplingSteps: 50, respacing: .even, tables: .float32)
        XCTAssertEqual(a.betas, b.betas)
        XCTAssertEqual(a.posteriorMeanCoef1, b.posteriorMeanCoef1)
        XCTAssertEqual(IDDPMSampler().tables, .float32)
        XCTAssertEqual(DDIMSampler().respacing, .even)
    }
}
