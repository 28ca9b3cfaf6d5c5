import XCTest
import GoldenCheck

/// v1.2 conditioning against the reference's own inference code (Tests/Fixtures/golden/mask,
/// README there): the pure bookkeeping row by row, then whole sampled runs with references.
final class ConditioningGoldenTests: XCTestCase {
    func testMaskParsingPlacementAndPromptTablesMatchEveryRow() { assertGoldenCase("mask/mask_parse") }
}

extension ConditioningGoldenTests {
    /// Two PNG references (one resized by PIL bicubic) at the first and last latent frame, and a
    /// plain prompt in the same batch.
    func testConnectTwoImagesMatchesReferenceRun() { assertGoldenCase("mask/mask_i2v_connect") }
    /// An MP4 reference (torch bilinear resize), extended from its end and edited (edit_ratio 0.4), align 5.
    func testExtendAndEditVideoMatchesReferenceRun() { assertGoldenCase("mask/mask_v2v_extend_edit") }
    /// Two loops: loop 1 conditions on loop 0's re-encoded end; the joined video drops the shared frames.
    func testTwoLoopsMatchReferenceRun() { assertGoldenCase("mask/mask_loop") }
}
