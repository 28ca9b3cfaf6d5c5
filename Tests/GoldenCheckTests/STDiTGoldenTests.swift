import XCTest

final class STDiTGoldenTests: XCTestCase {
    func testSTDiT3MatchesReference() { assertGoldenCase("stdit3") }
}
