import XCTest

/// `opensora bench --component mmdit-v2` argument checks (a run builds ~1 GB of real-width
/// blocks per `--blocks`, too slow for the suite in a debug build; docs/opensora-v2.md has runs).
final class MMDiTBenchCLITests: XCTestCase {
    func assertRefused(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(["bench"] + args)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(message), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
    }

    func testBlocksAppliesOnlyToMMDiT() throws {
        try assertRefused(["--component", "stdit3-xl2", "--blocks", "1"], "--blocks does not apply to --component stdit3-xl2")
    }

    func testBlocksOutsideTheModelAreRefused() throws {
        try assertRefused(["--component", "mmdit-v2", "--blocks", "0"], "--blocks")
        try assertRefused(["--component", "mmdit-v2", "--blocks", "39"], "--blocks")
    }

    func testOddLatentIsRefused() throws {
        try assertRefused(["--component", "mmdit-v2", "--latent", "9,31,32", "--blocks", "1"], "must be even (patch 2), got 31x32")
        try assertRefused(["--component", "mmdit-v2", "--latent", "9,32"], "--latent must be T,H,W")
    }
}
