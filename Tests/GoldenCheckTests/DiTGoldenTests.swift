import XCTest
import GoldenCheck

/// facebookresearch/DiT: the model forward (every intermediate, forward_with_cfg's 3-channel
/// guidance), IDDPM and DDIM sampling with the real tiny model and every step compared, and the
/// sd-vae decode with sample.py's uint8 grid and sample_ddp.py's per-image bytes.
final class DiTGoldenTests: XCTestCase {
    func testDiTForward() { assertGoldenCase("dit/dit_model") }
    func testDiTDDPMSampling() { assertGoldenCase("dit/dit_sample_ddpm") }
    func testDiTDDPMSamplingReplayed() { assertGoldenCase("dit/dit_sample_ddpm", replay: true) }
    func testDiTDDIMSampling() { assertGoldenCase("dit/dit_sample_ddim") }
    func testDiTDDIMStrideRespacingWithEta() { assertGoldenCase("dit/dit_sample_ddim_eta") }
    func testDiTVAEDecodeAndGrid() { assertGoldenCase("dit/dit_vae_decode") }
}
