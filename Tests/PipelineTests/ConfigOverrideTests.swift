import Foundation
import XCTest
import Pipeline

final class ConfigOverrideTests: XCTestCase {
    func testEveryOverrideReplacesItsField() throws {
        var c = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v1.2.yaml")
        var o = ConfigOverrides()
        o.prompts = ["a cat"]
        o.resolution = "144p"
        o.aspectRatio = "16:9"
        o.numFrames = "4s"
        o.fps = 12
        o.saveFPS = 12
        o.frameInterval = 2
        o.seed = 7
        o.batchSize = 2
        o.numSample = 3
        o.aes = .some(nil)
        o.flow = 2.0
        o.cameraMotion = "pan left"
        o.align = .some(nil)
        o.dtype = "fp32"
        o.rng = "native"
        o.numSamplingSteps = 10
        o.cfgScale = 4.5
        o.useTimestepTransform = false
        o.textEncoderPath = "/models/t5"
        o.tokenizer = "/models/t5/spiece.model"
        o.modelMaxLength = 120
        o.denoiserPath = "/models/stdit3"
        o.vaePath = "/models/vae"
        o.microFrameSize = .some(nil)
        o.microBatchSize = 2
        o.outputPath = "out/cat.mp4"
        o.outputFormat = "mp4"
        o.overwrite = true
        try c.apply(overrides: o)

        XCTAssertEqual(c.prompts, ["a cat"])
        XCTAssertEqual([c.height, c.width], [256, 144])
        XCTAssertEqual(c.numFrames, 102)
        XCTAssertEqual([c.fps, c.saveFPS, c.frameInterval, c.seed, c.batchSize, c.numSample], [12, 12, 2, 7, 2, 3])
        XCTAssertNil(c.aes)
        XCTAssertEqual(c.promptWithSuffixes("a cat"), "a cat motion score: 2.0. camera motion: pan left.")
        XCTAssertEqual([c.loop, c.conditionFrameLength], [1, 5])
        XCTAssertNil(c.align)
        XCTAssertEqual(c.dtype, .fp32)
        XCTAssertEqual(c.rng, .native)
        XCTAssertEqual(c.scheduler.numSamplingSteps, 10)
        XCTAssertEqual(c.scheduler.cfgScale, 4.5)
        XCTAssertFalse(c.scheduler.useTimestepTransform)
        XCTAssertEqual(c.textEncoder.path, "/models/t5")
        XCTAssertEqual(c.textEncoder.tokenizer, "/models/t5/spiece.model")
        XCTAssertEqual(c.textEncoder.modelMaxLength, 120)
        XCTAssertEqual(c.denoiser.path, "/models/stdit3")
        XCTAssertEqual(c.vae.path, "/models/vae")
        XCTAssertNil(c.vae.microFrameSize)
        XCTAssertEqual(c.latentSize, [26, 32, 18], "102 frames in one chunk: (102 + 2) / 4")
        XCTAssertEqual(c.vae.microBatchSize, 2)
        XCTAssertEqual(c.outputPath(index: 0, sample: 2, count: 1), "out/cat_0000-2.mp4")
        XCTAssertTrue(c.output.overwrite)
    }

    func testSaveFPSFollowsFPSUnlessGiven() throws {
        var c = try parse("fps: 24\n")
        var o = ConfigOverrides()
        o.fps = 12
        try c.apply(overrides: o)
        XCTAssertEqual(c.saveFPS, 12, "save_fps unset: fps // frame_interval")
        o = ConfigOverrides()
        o.frameInterval = 3
        try c.apply(overrides: o)
        XCTAssertEqual(c.saveFPS, 4)
        var fixed = try parse("fps: 24\nsave_fps: 24\n")
        try fixed.apply(overrides: { var o = ConfigOverrides(); o.fps = 12; return o }())
        XCTAssertEqual(fixed.saveFPS, 24, "save_fps given in the file stays")
    }

    func testSizeOverrides() throws {
        var c = try GenerationConfig.load(path: repoRoot + "/configs/tiny.yaml")
        XCTAssertEqual([c.height, c.width], [32, 48])
        var o = ConfigOverrides()
        o.imageSize = [64, 96]
        try c.apply(overrides: o)
        XCTAssertEqual([c.height, c.width], [64, 96])
        XCTAssertEqual(c.latentSize, [5, 8, 12])
        // A preset on the command line replaces the file's image_size.
        o = ConfigOverrides()
        o.resolution = "144p"
        try c.apply(overrides: o)
        XCTAssertNil(c.imageSize)
        XCTAssertEqual([c.height, c.width], [144, 256], "144p with the default 9:16")
    }

    func testSchedulerSwitchKeepsStepsAndResetsFamilySettings() throws {
        var c = GenerationConfig.defaults
        var o = ConfigOverrides()
        o.scheduler = "ddim"
        o.eta = 0.3
        o.cfgChannel = 3
        try c.apply(overrides: o)
        XCTAssertEqual(c.scheduler.type, .ddim)
        XCTAssertEqual(c.scheduler.numSamplingSteps, 30)
        XCTAssertFalse(c.scheduler.useTimestepTransform)
        XCTAssertEqual(c.scheduler.eta, 0.3)
        XCTAssertEqual(c.scheduler.cfgChannel, 3)
    }

    func testBadOverridesNameTheCommandLineAndChangeNothing() throws {
        let original = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v1.2.yaml")
        let cases: [(ConfigOverrides, String)] = [
            ({ var o = ConfigOverrides(); o.numSamplingSteps = 0; return o }(), "command line: scheduler.num_sampling_steps: must be 1 ... 1000"),
            ({ var o = ConfigOverrides(); o.cfgScale = 99; return o }(), "command line: scheduler.cfg_scale"),
            ({ var o = ConfigOverrides(); o.numFrames = "forever"; return o }(), "command line: num_frames"),
            ({ var o = ConfigOverrides(); o.numFrames = "8"; return o }(), "command line: num_frames"),
            ({ var o = ConfigOverrides(); o.aspectRatio = "7:5"; return o }(), "command line: aspect_ratio"),
            ({ var o = ConfigOverrides(); o.dtype = "int4"; return o }(), "command line: dtype"),
            ({ var o = ConfigOverrides(); o.eta = 0.1; return o }(), "command line: scheduler.eta"),
            ({ var o = ConfigOverrides(); o.outputFormat = "gif"; return o }(), "command line: output.format"),
        ]
        for (o, want) in cases {
            var c = original
            XCTAssertThrowsError(try c.apply(overrides: o)) { e in XCTAssertTrue("\(e)".hasPrefix(want), "\(e)") }
            XCTAssertEqual(c, original)
        }
        // A file value that only becomes invalid with an override still points at the file's line.
        var c = try parse("scheduler:\n  num_timesteps: 50\n  num_sampling_steps: 40\n")
        var o = ConfigOverrides()
        o.seed = 3
        XCTAssertNoThrow(try c.apply(overrides: o))
        o.numSamplingSteps = 60
        XCTAssertThrowsError(try c.apply(overrides: o)) { e in XCTAssertTrue("\(e)".hasPrefix("command line: scheduler.num_sampling_steps: 60 steps exceed"), "\(e)") }
    }

    func testPromptSuffixesAsV12AppendsThem() throws {
        var c = GenerationConfig.defaults
        XCTAssertEqual(c.promptWithSuffixes("a robot dances in the rain"), "a robot dances in the rain aesthetic score: 6.5.")
        XCTAssertEqual(c.promptWithSuffixes("a robot aesthetic score: 5.0."), "a robot aesthetic score: 5.0.", "already there")
        c.aes = 7
        c.flow = 12.25
        c.cameraMotion = "zoom in"
        XCTAssertEqual(c.promptWithSuffixes("x"), "x aesthetic score: 7.0. motion score: 12.2. camera motion: zoom in.")
        c.aes = nil
        c.flow = nil
        c.cameraMotion = nil
        XCTAssertEqual(c.promptWithSuffixes("x"), "x")
    }

    func testOutputPaths() throws {
        var c = GenerationConfig.defaults
        XCTAssertEqual(c.outputPath(index: 0, count: 1), "samples/sample.mp4")
        XCTAssertEqual(c.outputPath(index: 3, count: 5), "samples/sample_0003.mp4")
        c.numFrames = 1
        XCTAssertEqual(c.outputPath(index: 0, count: 1), "samples/sample.png")
        c.numFrames = 51
        c.output.format = .png
        XCTAssertEqual(c.outputPath(index: 0, count: 1), "samples/sample", "base for numbered PNG frames")
        c.output.format = .auto
        c.output.path = "out/clip.png"
        XCTAssertEqual(c.resolvedOutputFormat, .png)
        XCTAssertEqual(c.outputPath(index: 1, count: 2), "out/clip_0001")
    }
}
