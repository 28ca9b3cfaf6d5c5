// The golden comparison must be able to fail: shapes compared exactly, lists of unequal length
// never equal, NaN never within tolerance, and every recorded check actually run at the
// tolerance its reference allows (issue 17, item 19).

import XCTest
import GoldenCheck
import TensorCore

final class ComparisonStrictnessTests: XCTestCase {
    func testShapesMustMatchExactlyNotJustInCount() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(OutputCheck(name: "same", got: a, expected: a, tolerance: 0).passed)
        let transposedShape = a.reshaped([3, 2])
        let check = OutputCheck(name: "reshaped", got: transposedShape, expected: a, tolerance: 1)
        XCTAssertFalse(check.passed, "same count, other shape: \(check)")
        XCTAssertTrue(check.description.contains("got [3, 2] expected [2, 3]"), check.description)
        XCTAssertFalse(OutputCheck(name: "unsqueezed", got: a.reshaped([1, 2, 3]), expected: a, tolerance: 1).passed)
    }

    func testToleranceIsMaxAbsAndNaNFails() {
        let ref = Tensor(shape: [3], data: [1, 2, 3])
        XCTAssertTrue(OutputCheck(name: "within", got: Tensor(shape: [3], data: [1, 2, 3.0001]), expected: ref, tolerance: 2e-4).passed)
        XCTAssertFalse(OutputCheck(name: "outside", got: Tensor(shape: [3], data: [1, 2, 3.001]), expected: ref, tolerance: 2e-4).passed)
        XCTAssertFalse(OutputCheck(name: "nan", got: Tensor(shape: [3], data: [1, .nan, 3]), expected: ref, tolerance: 1e9).passed)
        XCTAssertFalse(OutputCheck(name: "inf", got: Tensor(shape: [3], data: [1, .infinity, 3]), expected: ref, tolerance: 1e9).passed)
    }

    func testListsOfUnequalLengthNeverMatch() {
        XCTAssertTrue(OutputCheck(name: "ids", got: [1, 2, 3], expected: [1, 2, 3]).passed)
        XCTAssertFalse(OutputCheck(name: "ids", got: [1, 2], expected: [1, 2, 3]).passed, "a prefix is not the list")
        XCTAssertFalse(OutputCheck(name: "ids", got: [1, 2, 3, 4], expected: [1, 2, 3]).passed)
        XCTAssertFalse(OutputCheck(name: "prompts", got: [String](), expected: ["a"]).passed)
        XCTAssertFalse(OutputCheck(name: "mask", got: [1, 0], expected: [1, 1]).passed)
    }

    /// The v1.0 STDiT case records x_embedder + pos_embed, t_block's output and blocks[0]'s output:
    /// each is compared, not only the final outputs.
    func testSTDiTV1IntermediatesAreCompared() throws {
        let results = try GoldenRunner.run(try GoldenCase(path: fixtures + "/stdit.json"))
        XCTAssertEqual(results.map(\.name), ["x_embed_plus_pos", "t_mlp", "block0_out", "out", "xmask_out"])
        for r in results { XCTAssertTrue(r.passed, "\(r)") }
    }

    /// T5 states in the sampler and pipeline cases come from the t5_encoder case's weights and are
    /// held to that case's tolerance (2e-5), not the samples' (0.02 for iddpm/ddim).
    func testT5StatesUseTheT5CaseTolerance() throws {
        let t5 = try GoldenCase(path: fixtures + "/t5_encoder.json").tolerance(for: "last_hidden_state")
        XCTAssertEqual(t5, 2e-5)
        for (name, check) in [("iddpm", "y_cond (T5)"), ("ddim", "y_cond (T5)"), ("rflow_s4_tt", "y_cond (T5)"),
                              ("pipeline_e2e", "text states (T5)")] {
            let results = try GoldenRunner.run(try GoldenCase(path: fixtures + "/\(name).json"))
            guard let r = results.first(where: { $0.name == check }) else { XCTFail("\(name) has no '\(check)'"); continue }
            XCTAssertEqual(r.tolerance, t5, "\(name)")
            XCTAssertTrue(r.passed, "\(name): \(r)")
        }
    }

    func testOptionsACaseWouldIgnoreAreErrors() throws {
        let stdit3 = try GoldenCase(path: fixtures + "/stdit3.json")
        XCTAssertThrowsError(try GoldenRunner.run(stdit3, options: CheckOptions(replay: true))) { e in
            XCTAssertTrue("\(e)".contains("--replay applies to sampler cases"), "\(e)")
        }
        let randn = try GoldenCase(path: fixtures + "/torch_randn.json")
        XCTAssertThrowsError(try GoldenRunner.run(randn, options: CheckOptions(weights: fixtures + "/stdit3.weights.safetensors"))) { e in
            XCTAssertTrue("\(e)".contains("--weights applies to kinds"), "\(e)")
        }
    }
}
