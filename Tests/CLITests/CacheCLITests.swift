import Foundation
import XCTest

/// `--cache` on the command line (docs/caching.md).
final class CacheCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("cache") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testVerboseReportsWhatTheCacheDid() throws {
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", dir + "/v.mp4",
                            "--cache", "teacache:0.3", "--verbose"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("cache teacache:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("full forwards") && r.stderr.contains("skipped") && r.stderr.contains("cache memory peak"), r.stderr)
        let plain = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", dir + "/w.mp4", "--verbose"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stderr.contains("cache "), "no cache line without --cache")
    }

    func testBadCacheValuesAreOneLineErrors() throws {
        for (args, fragment) in [(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", dir + "/v.mp4", "--cache", "fast"], "cache.method"),
                                 (["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", dir + "/v.mp4", "--cache", "pab:3"], "cache"),
                                 (["bench", "--component", "sgemm", "--cache", "pab"], "--cache")] {
            let r = try runCLI(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(errors.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(fragment), r.stderr)
        }
        XCTAssertEqual(listing(dir), [])
    }
}
