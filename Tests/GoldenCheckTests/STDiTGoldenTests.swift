import XCTest

final class STDiTGoldenTests: XCTestCase {
    func testSTDiT3MatchesReference() { assertGoldenCase("stdit3") }
    func testSTDiT2MatchesReference() { assertGoldenCase("stdit2") }
    func testSTDiTV1MatchesReference() { assertGoldenCase("stdit") }
}
