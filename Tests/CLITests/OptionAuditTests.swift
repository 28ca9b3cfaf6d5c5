// Options that must act or be refused, and what the same settings must give, through the CLI as a
// user runs it (issue 17: items 10, 11, 15, 20). Hostile inputs are in HostileInputTests.swift.

import Foundation
import XCTest

final class OptionAuditTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = scratchFolder("audit") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// configs/tiny.yaml with a 1-step sampler: the whole chain in about a second.
    let tiny = ["generate", "--config", "configs/tiny.yaml", "--quiet", "--num-sampling-steps", "1"]

    @discardableResult
    func generate(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let r = try runCLI(tiny + args)
        XCTAssertEqual(r.status, 0, "generate \(args): \(r.stderr)", file: file, line: line)
        return r
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    // MARK: - 10. Same seed and settings, same bytes

    func testSameSeedGivesSameMP4Bytes() throws {
        var files: [Data] = []
        for run in 0..<3 {
            let path = dir + "/det_\(run).mp4"
            try generate(["--prompt", "a red ball", "--seed", "7", "--output", path])
            files.append(try bytes(path))
        }
        XCTAssertGreaterThan(files[0].count, 1000)
        XCTAssertEqual(files[1], files[0], "run 2 wrote other bytes than run 1")
        XCTAssertEqual(files[2], files[0], "run 3 wrote other bytes than run 1")
    }
}
