// `opensora --version`, and the start-up refusal of a CPU the build cannot run on.

import Foundation
import TensorCore
import XCTest

final class VersionCLITests: XCTestCase {
    func testVersionNamesTheEngineAndWhatItRunsOn() throws {
        let r = try runCLI(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "opensora \(EngineVersion.number)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("kernels: ") && $0.contains("cores") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("BLAS: OpenBLAS") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("video: libavcodec ") }, r.stdout)
    }

    /// A build for x86-64-v3 on a CPU without AVX2 stops before main with one line that says what
    /// to do, instead of dying with SIGILL in the first vector loop (a portable build runs on).
    func testACPUWithoutAVX2IsRefusedBeforeAnythingRuns() throws {
        let version = try runCLI(["--version"]).stdout
        #if arch(x86_64)
        let r = try runCLI(["generate", "--prompt", "x"], environment: ["OPENSORA_SIMULATE_MISSING_CPU_FEATURE": "AVX2"])
        if version.contains("kernels: x86-64-v3") {
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.stdout, "")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains("this CPU lacks AVX2")
                          && r.stderr.contains("OPENSORA_PORTABLE=1 make build"), r.stderr)
        } else {
            XCTAssertFalse(r.stderr.contains("this CPU lacks"), r.stderr)
        }
        // Without the simulation this machine runs the build (the tests would not be here otherwise).
        XCTAssertTrue(version.contains("CPU: x86-64-v3") || version.contains("baseline"), version)
        #endif
    }
}
