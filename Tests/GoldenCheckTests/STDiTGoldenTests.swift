import XCTest
import GoldenCheck
import TensorCore

final class STDiTGoldenTests: XCTestCase {
    func testSTDiT3MatchesReference() { assertGoldenCase("stdit3") }
    func testSTDiT2MatchesReference() { assertGoldenCase("stdit2") }
    func testSTDiTV1MatchesReference() { assertGoldenCase("stdit") }
}

/// `opensora check --quantize int8`: every STDiT golden case with int8 block linears stays within
/// the documented relative L2 bound, and really runs int8 (its error is far above the float32
/// tolerance, so a silently ignored option would fail here).
final class STDiTInt8GoldenTests: XCTestCase {
    func assertInt8Case(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try GoldenCase(path: fixtures + "/" + name + ".json")
        let results = try GoldenRunner.run(c, options: CheckOptions(quantization: .int8))
        let blockOutputs = results.filter { $0.name.hasSuffix("out") }
        XCTAssertFalse(blockOutputs.isEmpty, file: file, line: line)
        for r in results {
            XCTAssertTrue(r.passed, "\(name): \(r)", file: file, line: line)
            XCTAssertLessThanOrEqual(r.relativeL2, GoldenRunner.int8RelativeL2Bound, file: file, line: line)
        }
        for r in blockOutputs { XCTAssertGreaterThan(r.maxAbs, 10 * r.tolerance, "\(name) \(r.name): int8 did not run", file: file, line: line) }
    }

    func testSTDiT3Int8WithinBound() throws { try assertInt8Case("stdit3") }
    func testSTDiT2Int8WithinBound() throws { try assertInt8Case("stdit2") }
    func testSTDiTV1Int8WithinBound() throws { try assertInt8Case("stdit") }

    func testQuantizeRefusedForOtherKinds() throws {
        let c = try GoldenCase(path: fixtures + "/t5_encoder.json")
        XCTAssertThrowsError(try GoldenRunner.run(c, options: CheckOptions(quantization: .int8))) { e in
            XCTAssertTrue("\(e)".contains("--quantize applies to kinds stdit, stdit2, stdit3"), "\(e)")
        }
    }

    /// An out-of-bound error fails the case even though max abs is what float32 cases judge.
    func testRelativeL2BoundFails() {
        let ref = Tensor(shape: [4], data: [1, 2, 3, 4])
        let off = OutputCheck(name: "out", got: ref * 1.1, expected: ref, tolerance: 1).judgedOnRelativeL2(5e-2)
        XCTAssertEqual(off.relativeL2, 0.1, accuracy: 1e-6)
        XCTAssertFalse(off.passed)
        XCTAssertTrue(OutputCheck(name: "out", got: ref * 1.01, expected: ref, tolerance: 0).judgedOnRelativeL2(5e-2).passed)
    }
}
