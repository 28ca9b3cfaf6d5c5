import XCTest

/// `bench --component dit-xl2` refuses bad options in one line before building its 2.7 GB of weights.
extension BenchCLITests {
    func testDiTBenchOptions() throws {
        for latent in ["32x16", "31x31", "2x32x32", "ax4", "0x0"] {
            let e = try benchError(["--component", "dit-xl2", "--latent", latent])
            XCTAssertTrue(e.contains("--latent for dit-xl2 must be SxS") && e.contains("'\(latent)'"), "\(latent): \(e)")
        }
        XCTAssertTrue(try benchError(["--component", "dit-xl2", "--batch", "0"]).contains("--batch must be at least 1"))
        XCTAssertTrue(try benchError(["--component", "dit-xl2", "--dtype", "f16"]).contains("--dtype for dit-xl2 must be f32 or bf16"))
    }
}
