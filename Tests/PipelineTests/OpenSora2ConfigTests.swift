import XCTest
@testable import Pipeline

/// Open-Sora 2.0's keys: read from the configs, refused where they do not apply (file and line),
/// checked (docs/configuration.md, "Open-Sora 2.0 keys").
final class OpenSora2ConfigTests: XCTestCase {
    let v2 = """
    model:
      denoiser:
        type: mmdit
      vae:
        type: hunyuan_vae
    scheduler:
      type: v2
    resolution: 256px
    aspect_ratio: "16:9"
    num_frames: 33

    """

    func testShippedConfigsHoldTheReferencesValues() throws {
        let c = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v2.0-256px.yaml")
        XCTAssertEqual(c.denoiser.type, .mmdit)
        XCTAssertEqual([c.height, c.width], [192, 336])
        XCTAssertEqual(c.numFrames, 129)
        XCTAssertEqual(c.scheduler.numSamplingSteps, 50)
        XCTAssertEqual(c.scheduler.guidance, 7.5)
        XCTAssertEqual(c.scheduler.guidanceImg, 3.0)
        XCTAssertTrue(c.scheduler.textOsci && c.scheduler.imageOsci && c.scheduler.scaleTemporalOsci && c.scheduler.shift)
        XCTAssertEqual(c.textEncoder.modelMaxLength, 512)
        XCTAssertEqual(c.clip.maxLength, 77)
        XCTAssertEqual(c.motionScore, 4)
        XCTAssertEqual(c.vae.type, .hunyuanVAE)
        XCTAssertFalse(c.vae.useTemporalTiling)
        let big = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v2.0-768px.yaml")
        XCTAssertEqual([big.height, big.width], [576, 1024])
        let hc = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v2.0-high-compression.yaml")
        XCTAssertEqual(hc.vae.type, .dcAE)
        XCTAssertTrue(hc.vae.useSpatialTiling && hc.vae.useTemporalTiling)
        XCTAssertEqual(hc.numFrames, 128)
        XCTAssertEqual([hc.height, hc.width], [576, 1024])
    }

    func testDefaultsOfAnMMDiTConfig() throws {
        let c = try parse(v2)
        XCTAssertEqual(c.textEncoder.modelMaxLength, 512)
        XCTAssertEqual(c.scheduler.numSamplingSteps, 50)
        XCTAssertEqual(c.condType, "t2v")
        XCTAssertEqual(c.denoiser.axesDim, [16, 56, 56])
    }

    func testKeysOfTheOtherGenerationAreRefusedWithTheirLine() {
        assertConfigError(v2 + "aes: 6.5\n", "test.yaml:11", "aes", "Open-Sora 1.x")
        assertConfigError(v2 + "loop: 2\n", "loop", "Open-Sora 1.x")
        assertConfigError(v2 + "cache:\n  method: teacache\n", "cache", "Open-Sora 1.x")
        assertConfigError("cond_type: i2v_head\n", "cond_type", "Open-Sora 2.0")
        assertConfigError("model:\n  clip:\n    path: x\n", "clip", "Open-Sora 2.0")
        assertConfigError(v2.replacingOccurrences(of: "    type: mmdit\n", with: "    type: mmdit\n    hidden_size: 3072\n"),
                          "hidden_size", "reads it off its checkpoint")
        assertConfigError(v2.replacingOccurrences(of: "  type: v2\n", with: "  type: v2\n  cfg_scale: 7\n"), "cfg_scale", "not v2")
        assertConfigError("scheduler:\n  guidance: 7\n", "guidance", "applies only to v2")
    }

    func testTheReferencesPythonNamesGetHints() {
        assertConfigError("sampling_option:\n  num_steps: 5\n", "sampling_option", "scheduler (type v2")
        assertConfigError(v2 + "fps_save: 16\n", "fps_save", "save_fps")
        assertConfigError("scheduler:\n  type: v2\n  num_steps: 5\n", "num_steps", "num_sampling_steps")
    }

    func testFamiliesMustMatch() {
        assertConfigError(v2.replacingOccurrences(of: "  type: v2\n", with: "  type: rflow\n"), "scheduler.type", "use v2")
        assertConfigError(v2.replacingOccurrences(of: "type: hunyuan_vae", with: "type: opensora-vae-v1.2"), "model.vae.type", "hunyuan_vae or dc_ae")
        assertConfigError("scheduler:\n  type: v2\n", "scheduler.type", "Open-Sora 2.0")
    }

    func testSizesFramesAndConditionsAreChecked() {
        assertConfigError(v2.replacingOccurrences(of: "256px", with: "240p0"), "resolution", "256px")
        assertConfigError(v2.replacingOccurrences(of: "16:9", with: "17:9"), "aspect_ratio", "width:height")
        assertConfigError(v2.replacingOccurrences(of: "num_frames: 33", with: "num_frames: 32"), "num_frames", "4k+1", "29 or 33")
        assertConfigError(v2.replacingOccurrences(of: "hunyuan_vae", with: "dc_ae"), "num_frames", "multiple of 4")
        assertConfigError(v2 + "cond_type: i2v_middle\n", "cond_type", "i2v_head")
        assertConfigError(v2 + "cond_type: i2v_head\n", "cond_type", "--ref")
        assertConfigError(v2 + "ref: a.png\n", "ref", "t2v")
        assertConfigError(v2 + "motion_score: 500\n", "motion_score")
        assertConfigError(v2.replacingOccurrences(of: "    type: mmdit\n", with: "    type: mmdit\n    branches_per_forward: 4\n"), "branches_per_forward")
        assertConfigError("model:\n  denoiser:\n    branches_per_forward: 1\n", "branches_per_forward", "applies only to mmdit")
    }

    func testSizesAreTheReferencesGetImageSize() {
        // aspect.py get_image_size(training=False), D = 16 (32 with the DC-AE).
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "256px", aspectRatio: "1:1", compression: 16), [256, 256])
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "256px", aspectRatio: "2.39:1", compression: 16), [160, 384])
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "768px", aspectRatio: "9:16", compression: 16), [1024, 576])
        XCTAssertEqual(OpenSora2Sizes.imageSize(resolution: "720p", aspectRatio: "16:9", compression: 16), [720, 1280])
        XCTAssertNil(OpenSora2Sizes.imageSize(resolution: "256", aspectRatio: "16:9", compression: 16))
        XCTAssertNil(OpenSora2Sizes.imageSize(resolution: "256px", aspectRatio: "7:5", compression: 16))
    }
}
