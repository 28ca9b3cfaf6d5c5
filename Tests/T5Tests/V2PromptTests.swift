import XCTest
@testable import T5

/// Open-Sora 2.0's prompt suffixes (the golden sampler cases record the texts after them).
final class V2PromptTests: XCTestCase {
    func testSuffixes() throws {
        XCTAssertEqual(try V2Prompt.conditioned("a dog runs across a green field", fps: 24, motionScore: "4"),
                       "a dog runs across a green field. 24 FPS. 4 motion score.")
        XCTAssertEqual(try V2Prompt.conditioned("  waves.  ", fps: 16, motionScore: "5"), "waves. 16 FPS. 5 motion score.")
        // An FPS already given is kept; a non-number before "FPS." is not one.
        XCTAssertEqual(try V2Prompt.conditioned("a clip at 30 FPS.", fps: 24, motionScore: "4"), "a clip at 30 FPS. 4 motion score.")
        XCTAssertEqual(try V2Prompt.conditioned("high FPS", fps: 24, motionScore: "4"), "high FPS. 24 FPS. 4 motion score.")
        XCTAssertThrowsError(try V2Prompt.conditioned("x", fps: 24, motionScore: "dynamic")) { XCTAssertTrue("\($0)".contains("--motion-score"), "\($0)") }
    }
}
