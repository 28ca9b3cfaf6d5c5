import XCTest
import GoldenCheck

/// v1.2 conditioning against the reference's own inference code (Tests/Fixtures/golden/mask,
/// README there): the pure bookkeeping row by row, then whole sampled runs with references.
final class ConditioningGoldenTests: XCTestCase {
    func testMaskParsingPlacementAndPromptTablesMatchEveryRow() { assertGoldenCase("mask/mask_parse") }
}
