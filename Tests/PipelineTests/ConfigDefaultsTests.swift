import Foundation
import XCTest
import Pipeline

final class ConfigDefaultsTests: XCTestCase {
    func testV12ConfigReproducesReferenceDefaults() throws {
        let ref = try referenceDefaults()
        let sample = try XCTUnwrap(ref["sample_py"] as? [String: Any])
        let c = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v1.2.yaml")

        XCTAssertEqual(c.resolution, sample["resolution"] as? String)
        XCTAssertEqual(c.aspectRatio, sample["aspect_ratio"] as? String)
        XCTAssertEqual(c.numFrames, sample["num_frames"] as? Int)
        XCTAssertEqual(c.fps, sample["fps"] as? Int)
        XCTAssertEqual(c.frameInterval, sample["frame_interval"] as? Int)
        XCTAssertEqual(c.saveFPS, sample["save_fps"] as? Int)
        XCTAssertEqual(c.seed, sample["seed"] as? Int)
        XCTAssertEqual(c.batchSize, sample["batch_size"] as? Int)
        XCTAssertEqual(c.dtype.rawValue, sample["dtype"] as? String)
        XCTAssertEqual(c.conditionFrameLength, sample["condition_frame_length"] as? Int)
        XCTAssertEqual(c.align, sample["align"] as? Int)
        XCTAssertEqual(c.aes, sample["aes"] as? Double)
        XCTAssertNil(c.flow)
        XCTAssertNil(c.cameraMotion)

        let te = try XCTUnwrap(sample["text_encoder"] as? [String: Any])
        XCTAssertEqual(c.textEncoder.path, te["from_pretrained"] as? String)
        XCTAssertEqual(c.textEncoder.modelMaxLength, te["model_max_length"] as? Int)
        let model = try XCTUnwrap(sample["model"] as? [String: Any])
        XCTAssertEqual(model["type"] as? String, "STDiT3-XL/2")
        XCTAssertEqual(c.denoiser.type, .stdit3)
        XCTAssertEqual(c.denoiser.path, model["from_pretrained"] as? String)
        XCTAssertNil(c.denoiser.numHeads, "read off the checkpoint (16 for XL/2)")
        let vae = try XCTUnwrap(sample["vae"] as? [String: Any])
        XCTAssertEqual(c.vae.type, .openSoraV12)
        XCTAssertEqual(c.vae.path, vae["from_pretrained"] as? String)
        XCTAssertEqual(c.vae.microFrameSize, vae["micro_frame_size"] as? Int)
        XCTAssertEqual(c.vae.microBatchSize, vae["micro_batch_size"] as? Int)
        let sched = try XCTUnwrap(sample["scheduler"] as? [String: Any])
        XCTAssertEqual(c.scheduler.type.rawValue, sched["type"] as? String)
        XCTAssertEqual(c.scheduler.numSamplingSteps, sched["num_sampling_steps"] as? Int)
        XCTAssertEqual(c.scheduler.cfgScale, sched["cfg_scale"] as? Double)
        XCTAssertEqual(c.scheduler.useTimestepTransform, sched["use_timestep_transform"] as? Bool)
        XCTAssertEqual(c.scheduler.numTimesteps, (ref["scheduler"] as? [String: Any])?["num_timesteps"] as? Int)

        XCTAssertEqual([c.height, c.width], ref["image_size_for_default"] as? [Int])
        XCTAssertEqual(c.latentSize, [15, 30, 53])
        XCTAssertEqual(c.decodedSize, [240, 424])
        XCTAssertEqual(c.conditioningFPS, 24)

        // The file and the built-in defaults agree, and an empty file means the defaults.
        XCTAssertEqual(c, GenerationConfig.defaults)
        XCTAssertEqual(try parse(""), GenerationConfig.defaults)
        XCTAssertEqual(try parse("{}"), GenerationConfig.defaults)
    }

    func testEveryPresetAndAspectRatioMatchesTheReferenceTable() throws {
        let ref = try referenceDefaults()
        let ratios = try XCTUnwrap(ref["aspect_ratio_map_H_W"] as? [String: String])
        let resolutions = try XCTUnwrap(ref["resolutions"] as? [String: [String: Any]])
        var checked = 0
        for (name, entry) in resolutions {
            let sizes = try XCTUnwrap(entry["sizes_by_ratio_key"] as? [String: [Int]])
            for (ratio, key) in ratios {
                let yaml = "resolution: \(name)\naspect_ratio: \"\(ratio)\"\n"
                guard let want = sizes[key] else {
                    // get_image_size asserts here; so do we.
                    assertConfigError(yaml, "test.yaml", name)
                    continue
                }
                let c = try parse(yaml)
                XCTAssertEqual([c.height, c.width], want, "\(name) \(ratio)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 8 * 17 + 4, "144p 240p 360p 480p 720p 1080p 2k 4k, 17 ratios each; 12:25 at 256, 512, 1024, 2048")

        // A few spelled out: H:W, so 9:16 is landscape.
        let spot: [(String, String, [Int])] = [("240p", "9:16", [240, 426]), ("144p", "16:9", [256, 144]), ("144p", "9:16", [144, 256]),
                                               ("720p", "9:16", [720, 1280]), ("480p", "1:1", [640, 640]), ("360p", "3:4", [416, 554])]
        for (res, ratio, want) in spot {
            let c = try parse("resolution: \(res)\naspect_ratio: \(ratio)\n")  // unquoted 9:16 is not YAML 1.1's base-60 556 here
            XCTAssertEqual([c.height, c.width], want, "\(res) \(ratio)")
        }
    }

    func testFrameCountsAndLatentFrames() throws {
        let ref = try referenceDefaults()
        let map = try XCTUnwrap(ref["num_frames_map"] as? [String: Int])
        for (name, frames) in map {
            XCTAssertEqual(try parse("num_frames: \(name)").numFrames, frames, name)
        }
        XCTAssertEqual(try parse("num_frames: 4s").numFrames, 102)
        XCTAssertEqual(try parse("num_frames: \"68\"").numFrames, 68)
        assertConfigError("num_frames: 3x", "test.yaml:1", "num_frames", "2s")
        assertConfigError("num_frames: 2.5", "num_frames")

        // VideoAutoencoderPipeline.get_latent_size with micro_frame_size 17 and 4x time compression.
        for (frames, latent) in [(51, 15), (102, 30), (204, 60), (408, 120), (1, 1), (17, 5), (18, 6), (34, 10), (20, 6)] {
            XCTAssertEqual(try parse("num_frames: \(frames)").latentSize[0], latent, "\(frames) frames")
        }
        let single = try parse("num_frames: 1")
        XCTAssertEqual(single.conditioningFPS, 120, "IMG_FPS for images")
        XCTAssertEqual(single.resolvedOutputFormat, .png)
    }

    func testTinyConfigMatchesThePipelineGoldenCase() throws {
        let c = try GenerationConfig.load(path: repoRoot + "/configs/tiny.yaml")
        let data = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/Tests/Fixtures/golden/pipeline_e2e.json"))
        let golden = try XCTUnwrap((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["config"] as? [String: Any])
        XCTAssertEqual([c.numFrames, c.height, c.width], [golden["num_frames"] as? Int, golden["height"] as? Int, golden["width"] as? Int])
        XCTAssertEqual(c.latentSize, golden["latent_size"] as? [Int])
        XCTAssertEqual(c.fps, golden["fps"] as? Int)
        XCTAssertEqual(c.textEncoder.modelMaxLength, golden["model_max_length"] as? Int)
        let sched = try XCTUnwrap(golden["scheduler"] as? [String: Any])
        XCTAssertEqual(c.scheduler.numSamplingSteps, sched["num_sampling_steps"] as? Int)
        XCTAssertEqual(c.scheduler.cfgScale, sched["cfg_scale"] as? Double)
        XCTAssertEqual(c.scheduler.useTimestepTransform, sched["use_timestep_transform"] as? Bool)
        XCTAssertEqual(c.prompts, golden["prompts"] as? [String])
        XCTAssertEqual(c.prompts.map(c.promptWithSuffixes), golden["prompts_with_score"] as? [String])
        for path in [c.textEncoder.path, c.textEncoder.tokenizer ?? "", c.denoiser.path, c.vae.path] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: repoRoot + "/" + path), path)
        }
        // Sizes come from the checkpoints; the family's latent arithmetic (used before the VAE
        // loads) agrees with the loaded VAE's.
        let sizes = try CheckpointSizes(config: c)
        XCTAssertEqual(sizes.text.dModel, 64)
        XCTAssertEqual([sizes.denoiser.hiddenSize, sizes.denoiser.depth, sizes.denoiser.outChannels, sizes.denoiser.captionChannels], [64, 2, 8, 64])
        XCTAssertEqual(sizes.latentShape, [4] + c.latentSize)
        XCTAssertEqual(sizes.decoderWidth, 16)
        XCTAssertEqual(c.vae.spatialDownsample, 8)
        XCTAssertEqual(c.outputPath(index: 0, count: 1), "out/tiny.mp4")
        XCTAssertEqual(c.outputPath(index: 1, count: 2), "out/tiny_0001.mp4")
    }

    /// The three checkpoints must fit together and with the run; each error names what to change.
    func testCheckpointsThatDoNotFitAreRefused() throws {
        let c = try GenerationConfig.load(path: repoRoot + "/configs/tiny.yaml")
        let sizes = try CheckpointSizes(config: c)
        XCTAssertNoThrow(try sizes.checkFit(c))
        func refused(_ s: CheckpointSizes, _ config: GenerationConfig, _ message: String) {
            XCTAssertThrowsError(try s.checkFit(config)) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        var narrow = sizes
        narrow.text.dModel = 32
        refused(narrow, c, "model.text_encoder.path: its T5 makes 32-wide captions, but the denoiser (model.denoiser.path) takes 64-wide ones")
        var channels = sizes
        channels.latentShape[0] = 16
        refused(channels, c, "model.vae.path: its VAE makes 16-channel latents, but the denoiser (model.denoiser.path) takes 4")
        var longer = c
        longer.textEncoder.modelMaxLength = 20
        refused(sizes, longer, "model.text_encoder.model_max_length: 20 tokens, but the denoiser's null caption (model.denoiser.path) has 16")
        var guided = c
        guided.scheduler.cfgChannel = 5
        refused(sizes, guided, "scheduler.cfg_channel: 5, but the latents have 4 channels")
    }

    func testOlderFamiliesLoad() throws {
        let v11 = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v1.1.yaml")
        XCTAssertEqual(v11.denoiser.type, .stdit2)
        XCTAssertTrue(v11.denoiser.qkNormLegacy)
        XCTAssertEqual(v11.scheduler.type, .iddpm)
        XCTAssertEqual(v11.scheduler.numSamplingSteps, 100)
        XCTAssertEqual(v11.scheduler.cfgChannel, 3)
        XCTAssertEqual(v11.vae.type, .sdVAE)
        XCTAssertNil(v11.vae.temporal)
        XCTAssertEqual(v11.textEncoder.modelMaxLength, 200)
        XCTAssertEqual(v11.saveFPS, 8, "fps // frame_interval")
        XCTAssertEqual(v11.latentSize, [16, 30, 53])
        XCTAssertNil(v11.aes)

        let v10 = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v1.0.yaml")
        XCTAssertEqual(v10.denoiser.type, .stdit)
        XCTAssertEqual(v10.textEncoder.modelMaxLength, 120)
        XCTAssertEqual(v10.latentSize, [16, 64, 64])
        XCTAssertEqual(v10.scheduler.cfgChannel, nil)
    }

    func testResolvedConfigRoundTripsThroughYAML() throws {
        for name in ["opensora-v1.2", "opensora-v1.1", "opensora-v1.0", "tiny",
                     "opensora-v2.0-256px", "opensora-v2.0-768px", "opensora-v2.0-high-compression"] {
            let c = try GenerationConfig.load(path: repoRoot + "/configs/\(name).yaml")
            let again = try GenerationConfig.parse(yaml: c.yamlText(), source: name + " (dumped)")
            XCTAssertEqual(again, c, name)
        }
    }
}
