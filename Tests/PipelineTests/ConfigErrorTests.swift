import Foundation
import XCTest
import Pipeline

final class ConfigErrorTests: XCTestCase {
    func testUnknownKeysNameKeyFileAndLine() {
        assertConfigError("seed: 1\nresolutoin: 240p\n", "test.yaml:2", "resolutoin", "unknown key")
        assertConfigError("model:\n  denoiser:\n    type: stdit3\n    qknorm: true\n", "test.yaml:4", "model.denoiser.qknorm", "unknown key")
        assertConfigError("output:\n  file: x.mp4\n", "output.file", "unknown key")
        assertConfigError("model:\n  unet: {}\n", "model.unet", "unknown key")
        // GPU-only switches of the reference are not settings here.
        assertConfigError("model:\n  denoiser:\n    enable_flash_attn: true\n", "model.denoiser.enable_flash_attn")
        assertConfigError("seed: 1\nseed: 2\n", "test.yaml:2", "seed", "twice")
    }

    func testTypeErrorsNameTheKey() {
        assertConfigError("scheduler:\n  num_sampling_steps: thirty\n", "test.yaml:2", "scheduler.num_sampling_steps", "integer", "thirty")
        assertConfigError("scheduler:\n  num_sampling_steps: 30.5\n", "scheduler.num_sampling_steps", "integer")
        assertConfigError("scheduler:\n  cfg_scale: [7]\n", "scheduler.cfg_scale", "single value")
        assertConfigError("scheduler:\n  cfg_scale: high\n", "scheduler.cfg_scale", "number")
        assertConfigError("scheduler: rflow\n", "scheduler", "mapping")
        assertConfigError("image_size: 32\n", "image_size", "list of integers")
        assertConfigError("image_size: [32, big]\n", "image_size", "list of integers")
        assertConfigError("model:\n  denoiser:\n    qk_norm: maybe\n", "model.denoiser.qk_norm", "reads it off its checkpoint")
        assertConfigError("dtype: int8\n", "dtype", "fp32, bf16 or fp16")
        assertConfigError("rng: mt\n", "rng", "torch or native")
        assertConfigError("quantize: int4\n", "quantize", "none or int8")
        assertConfigError("scheduler:\n  type: euler\n", "scheduler.type", "rflow, iddpm, ddim")
        assertConfigError("model:\n  vae:\n    type: vqgan\n", "model.vae.type", "unknown VAE")
        // null for a key that cannot be unset keeps the default, as for every such key.
        XCTAssertEqual(try GenerationConfig.parse(yaml: "num_frames: null\n", source: "t.yaml").numFrames, GenerationConfig.defaults.numFrames)
        assertConfigError("seed: [1\n", "not valid YAML")
    }

    func testOutOfRangeValues() {
        assertConfigError("scheduler:\n  num_sampling_steps: 0\n", "test.yaml:2", "scheduler.num_sampling_steps", "1 ... 1000", "got 0")
        assertConfigError("scheduler:\n  num_sampling_steps: 1001\n", "scheduler.num_sampling_steps")
        assertConfigError("scheduler:\n  cfg_scale: 51\n", "scheduler.cfg_scale", "0.0 ... 50.0")
        assertConfigError("scheduler:\n  cfg_scale: -1\n", "scheduler.cfg_scale")
        assertConfigError("num_frames: 0\n", "num_frames", "1 ... 4096")
        assertConfigError("num_frames: 5000\n", "num_frames")
        assertConfigError("fps: 0\n", "fps")
        assertConfigError("seed: -2\n", "seed", "got -2")
        assertConfigError("batch_size: 0\n", "batch_size")
        assertConfigError("aes: 11\n", "aes")
        assertConfigError("image_size: [32]\n", "image_size", "[H, W]")
        assertConfigError("image_size: [4, 48]\n", "image_size", "8 ... 8192")
        assertConfigError("resolution: 999p\n", "resolution", "unknown preset", "240p")
        assertConfigError("aspect_ratio: \"5:4\"\n", "aspect_ratio", "unknown aspect ratio")
        assertConfigError("resolution: \"256\"\n", "aspect_ratio", "not available at resolution 256", "12:25")
        assertConfigError("model:\n  denoiser:\n    num_heads: 0\n", "model.denoiser.num_heads", "1 ... 1024")
        assertConfigError("model:\n  vae:\n    spatial:\n      norm_num_groups: 0\n", "model.vae.spatial.norm_num_groups")
        // Sizes are the checkpoints': a config that gives one is told so.
        assertConfigError("model:\n  vae:\n    temporal:\n      temporal_downsample: [true]\n", "model.vae.temporal.temporal_downsample", "reads it off its checkpoint")
        assertConfigError("model:\n  denoiser:\n    in_channels: 8\n", "model.denoiser.in_channels", "reads it off its checkpoint")
        assertConfigError("model:\n  text_encoder:\n    d_model: 8\n", "model.text_encoder.d_model", "reads it off its checkpoint")
        assertConfigError("scheduler:\n  type: iddpm\n  cfg_channel: 0\n", "scheduler.cfg_channel")
        assertConfigError("loop: 2\ncondition_frame_length: 3\n", "condition_frame_length", "multiple of 5")
        assertConfigError("loop: 2\nnum_frames: 17\ncondition_frame_length: 5\n", "condition_frame_length", "below the 5 latent frames", "raise num_frames to 18 or more")
        assertConfigError("condition_frame_edit: 1.5\n", "condition_frame_edit", "1.5")
        assertConfigError("mask_strategy: \"0,0,0,0,-2\"\n", "mask_strategy", "must not be negative")
        assertConfigError("mask_strategy: \"0,0,x\"\n", "mask_strategy", "not an integer")
        assertConfigError("prompt: [a, b]\nreference_path: [x.png]\n", "reference_path", "2 prompts")
        assertConfigError("output:\n  path: out/a.mp4\n  format: png\n", "output.format", ".mp4")
    }

    func testSeedMinusOneDrawsASeed() throws {
        // As `--seed -1` and Open-Sora's -1: a fresh seed in range, different from run to run.
        let seeds = try (0..<4).map { _ in try parse("seed: -1\n").seed }
        XCTAssertTrue(seeds.allSatisfy { (0...Int(Int32.max)).contains($0) }, "\(seeds)")
        XCTAssertGreaterThan(Set(seeds).count, 1, "\(seeds)")
    }

    func testKeysOfAnotherFamilyAreErrors() {
        assertConfigError("scheduler:\n  eta: 0.5\n", "scheduler.eta", "only to ddim")
        assertConfigError("scheduler:\n  type: iddpm\n  use_timestep_transform: true\n", "scheduler.use_timestep_transform", "only to rflow")
        assertConfigError("scheduler:\n  cfg_channel: 3\n", "scheduler.cfg_channel", "not rflow")
        assertConfigError("model:\n  denoiser:\n    qk_norm_legacy: true\n", "model.denoiser.qk_norm_legacy", "only to stdit2")
        assertConfigError("model:\n  denoiser:\n    type: stdit\n    qk_norm: true\n", "model.denoiser.qk_norm")
        assertConfigError("model:\n  vae:\n    type: sd-vae\n    micro_frame_size: 17\n", "model.vae.micro_frame_size", "only to opensora-vae-v1.2")
        XCTAssertNoThrow(try parse("scheduler:\n  type: ddim\n  eta: 0.5\n  cfg_channel: 3\n"))
    }

    func testShortClipsAndTheTimestepTransform() throws {
        // num_frames // 17 * 5 is 0 for 2...16 frames: the reference divides 0 by 0.
        assertConfigError("num_frames: 16\n", "num_frames", "use_timestep_transform")
        XCTAssertEqual(try parse("num_frames: 16\nscheduler:\n  use_timestep_transform: false\n").latentSize[0], 4)
        XCTAssertEqual(try parse("num_frames: 1\n").numFrames, 1)
        XCTAssertEqual(try parse("num_frames: 17\n").numFrames, 17)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try GenerationConfig.load(path: "/no/such/config.yaml")) { e in
            XCTAssertTrue("\(e)".contains("/no/such/config.yaml"), "\(e)")
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
    }

    func testMaskStrategies() throws {
        XCTAssertEqual(try GenerationConfig.parseMaskStrategy(""), [])
        XCTAssertEqual(try GenerationConfig.parseMaskStrategy("0"), [MaskCondition()])
        XCTAssertEqual(try GenerationConfig.parseMaskStrategy("0,0,0,-8,8"),
                       [MaskCondition(loop: 0, referenceIndex: 0, referenceStart: 0, targetStart: -8, length: 8, editRatio: 0)])
        XCTAssertEqual(try GenerationConfig.parseMaskStrategy("0;0,1,0,-1,1").count, 2)
        XCTAssertEqual(try GenerationConfig.parseMaskStrategy("0,0,0,0,32,0.4").last?.editRatio, 0.4)
        XCTAssertThrowsError(try GenerationConfig.parseMaskStrategy("0,0,0,0,1,0,9"))
        XCTAssertThrowsError(try GenerationConfig.parseMaskStrategy("0,-1"))
    }
}

/// Inputs that crashed a fuzzer once; each must now fail with a clear error.
final class ConfigFuzzRegressionTests: XCTestCase {
    func testDeeplyNestedFlowCollectionsAreRefused() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fuzz/config-deep-nesting.yaml").path
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        XCTAssertThrowsError(try GenerationConfig.parse(yaml: text, source: "deep.yaml")) { e in
            XCTAssertTrue("\(e)".contains("nested more than 64 levels"), "\(e)")
        }
        let deepBlock = (0..<300).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        XCTAssertThrowsError(try GenerationConfig.parse(yaml: deepBlock, source: "block.yaml"))
        XCTAssertNoThrow(try GenerationConfig.parse(yaml: "image_size: [32, 48]\nprompt: [\"a [b] {c}\"]\n", source: "ok.yaml"))
    }
}
