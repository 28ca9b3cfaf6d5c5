import XCTest
import GoldenCheck

/// Sampler cases replay the model outputs the reference recorded and check every step's model
/// input, the timesteps, the schedule arrays and the final sample; torch_randn is bit-exact.
final class SamplerGoldenTests: XCTestCase {
    func testTorchRandnIsBitExact() { assertGoldenCase("torch_randn") }

    func testRectifiedFlow10Steps() { assertGoldenCase("rflow_s10", replay: true) }
    func testRectifiedFlowTimestepTransform() { assertGoldenCase("rflow_s4_tt", replay: true) }
    func testRectifiedFlowImageToVideo() { assertGoldenCase("rflow_i2v_s4_tt", replay: true) }
    // Full chain: T5 on the case's prompts, then STDiT3 inside the sampler.
    func testRectifiedFlow10StepsWithModels() { assertGoldenCase("rflow_s10") }
    func testRectifiedFlowTimestepTransformWithModels() { assertGoldenCase("rflow_s4_tt") }
    func testRectifiedFlowImageToVideoWithModels() { assertGoldenCase("rflow_i2v_s4_tt") }

    func testIDDPM() { assertGoldenCase("iddpm", replay: true) }
    func testIDDPMGuidingThreeChannels() { assertGoldenCase("iddpm_cfgch3", replay: true) }
    func testDDIM() { assertGoldenCase("ddim", replay: true) }

    // Full chain: T5 on the case's prompts, then STDiT (v1.0) / STDiT2 (v1.1) inside the sampler.
    func testIDDPMWithModels() { assertGoldenCase("iddpm") }
    func testIDDPMGuidingThreeChannelsWithModels() { assertGoldenCase("iddpm_cfgch3") }
    func testDDIMWithModels() { assertGoldenCase("ddim") }
}
