import XCTest
import GoldenCheck
import TensorCore

/// Folder holding the golden cases copied from the reference run (Tests/Fixtures/golden).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/golden").path

/// Runs one golden case and fails the test for every output outside its tolerance.
func assertGoldenCase(_ name: String, replay: Bool = false, weights: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
    do {
        let c = try GoldenCase(path: fixtures + "/" + name + ".json")
        let results = try GoldenRunner.run(c, options: CheckOptions(replay: replay, weights: weights))
        XCTAssertFalse(results.isEmpty, "\(name): no outputs compared", file: file, line: line)
        for r in results {
            XCTAssertTrue(r.passed, "\(name): \(r)", file: file, line: line)
        }
    } catch {
        XCTFail("\(name): \(error)", file: file, line: line)
    }
}

final class GoldenCaseTests: XCTestCase {
    func testCaseMetadataLoads() throws {
        let c = try GoldenCase(path: fixtures + "/stdit3.json")
        XCTAssertEqual(c.kind, "stdit3")
        XCTAssertEqual(c.tolerance(for: "out"), 1e-5)
        let p = try GoldenCase(path: fixtures + "/pipeline_e2e.json")
        XCTAssertEqual(p.tolerance(for: "video"), 4e-4)
        XCTAssertEqual(p.weightFiles.first, "t5_encoder.weights.safetensors")
    }

    func testUnknownKindFailsAsNotImplemented() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("golden-unknown-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.json").path
        try Data(#"{"kind": "no_such_kind"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let c = try GoldenCase(path: path)
        XCTAssertThrowsError(try GoldenRunner.run(c)) { e in
            XCTAssertEqual("\(e)", "not implemented: no_such_kind")
        }
    }

    func testComparisonReportsErrors() {
        let a = Tensor(shape: [3], data: [1, 2, 3]), b = Tensor(shape: [3], data: [1, 2.5, 3])
        let r = OutputCheck(name: "x", got: a, expected: b, tolerance: 0.1)
        XCTAssertEqual(r.maxAbs, 0.5, accuracy: 1e-7)
        XCTAssertFalse(r.passed)
        XCTAssertTrue(OutputCheck(name: "x", got: a, expected: a, tolerance: 0).passed)
        XCTAssertFalse(OutputCheck(name: "x", got: a, expected: Tensor(shape: [2], data: [1, 2]), tolerance: 1).passed)
    }
}

final class PipelineGoldenTests: XCTestCase {
    /// Prompt -> suffix + cleaning -> tokenizer -> T5 -> rflow + STDiT3 (CFG) -> VAE decode,
    /// through the generator the CLI uses.
    func testPipelineEndToEnd() { assertGoldenCase("pipeline_e2e") }
}
