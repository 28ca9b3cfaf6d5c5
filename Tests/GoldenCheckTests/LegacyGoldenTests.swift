import XCTest

/// Open-Sora v1.0 (STDiT) and v1.1 (STDiT2) denoisers against the reference.
final class LegacyGoldenTests: XCTestCase {
    func testSTDiTV1MatchesReference() { assertGoldenCase("stdit") }
    func testSTDiT2MatchesReference() { assertGoldenCase("stdit2") }
}
