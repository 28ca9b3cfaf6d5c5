import XCTest

/// OpenSoraVAE_V1_2 against the reference: one frame, a clip with a short last chunk (13 = 9 + 4)
/// and two full chunks (18 = 9 + 9).
final class VAEGoldenTests: XCTestCase {
    func testSingleFrame() { assertGoldenCase("vae_T1") }
    func testShortLastChunk() { assertGoldenCase("vae_T13") }
    func testTwoFullChunks() { assertGoldenCase("vae_T18") }
}
