// `opensora generate` with an Open-Sora 2.0 config, as a user runs it: the tiny models of the golden
// fixtures (Tests/Fixtures/config/tiny-v2.yaml) end to end to an MP4, the same bytes at 1 and 2
// threads, and the bad inputs refused in one line before any compute. The final latent's parity
// with the reference is checked in GoldenCheckTests/OpenSora2PipelineTests.

import Foundation
import XCTest

final class OpenSora2CLITests: XCTestCase {
    var dir = ""
    override func setUp() { dir = scratchFolder("v2") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let tiny = "Tests/Fixtures/config/tiny-v2.yaml"

    func generate(_ args: [String], config: String? = nil) throws -> CommandResult {
        try runCLI(["generate", "--config", config ?? tiny, "--quiet"] + args)
    }

    /// A refusal: exit status 1, one line naming what is at fault, no output written.
    func assertRefused(_ args: [String], config: String? = nil, _ needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let out = dir + "/refused.mp4"
        let r = try generate(args + ["--output", out], config: config)
        XCTAssertNotEqual(r.status, 0, "\(args) was accepted", file: file, line: line)
        let text = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(text.split(separator: "\n").count, 1, "not one line: \(text)", file: file, line: line)
        for n in needles { XCTAssertTrue(text.contains(n), "'\(n)' not in: \(text)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), file: file, line: line)
    }

    /// tiny-v2.yaml with `replace` applied to its text, written to the scratch folder (paths made absolute).
    func config(_ replace: [(String, String)]) throws -> String {
        var text = try String(contentsOfFile: repoRoot + "/" + tiny, encoding: .utf8)
        text = text.replacingOccurrences(of: "../golden/", with: repoRoot + "/Tests/Fixtures/golden/")
        for (a, b) in replace {
            XCTAssertTrue(text.contains(a), a)
            text = text.replacingOccurrences(of: a, with: b)
        }
        let path = dir + "/config-\(UUID().uuidString.prefix(6)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testWritesAnMP4OfTheConfiguredFramesAndReportsForwardsSaved() throws {
        let out = dir + "/boat.mp4"
        let r = try runCLI(["generate", "--config", tiny, "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(out)"), r.stdout)
        XCTAssertTrue(r.stderr.contains("denoise: 23 of the reference's 36 model forwards (13 skipped"), r.stderr)
        let info = try probe(out)
        XCTAssertEqual(info["codec_name"], "h264")
        XCTAssertEqual(info["nb_read_frames"], "9")
        XCTAssertEqual(info["width"], "96")
        XCTAssertEqual(info["height"], "64")
    }

    func testSameBytesAtOneAndTwoThreads() throws {
        var files: [Data] = []
        for (run, threads) in ["1", "2", "2"].enumerated() {
            let out = dir + "/t\(run).mp4"
            let r = try generate(["--threads", threads, "--seed", "3", "--output", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            files.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        XCTAssertGreaterThan(files[0].count, 1000)
        XCTAssertEqual(files[1], files[2], "two runs at 2 threads wrote other bytes")
        XCTAssertEqual(files[0], files[1], "1 and 2 threads wrote other bytes")
        // Another seed is another video.
        let other = dir + "/other.mp4"
        XCTAssertEqual(try generate(["--seed", "4", "--output", other]).status, 0)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: other)), files[1])
    }

    /// Scale-out works as for 1.x: a shard makes its videos, a saved latent decodes to the same bytes.
    func testShardAndSavedLatentDecodeToTheSameBytes() throws {
        let r = try generate(["--prompt", "a boat", "--prompt", "a cat", "--shard", "1/2", "--save-latents", "--num-sampling-steps", "3", "--output", dir + "/"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(listing(dir).filter { !$0.hasPrefix(".") }, ["sample.manifest.shard-1-of-2.jsonl", "sample_0001.latent.safetensors", "sample_0001.mp4"])
        let d = try runCLI(["decode", dir + "/sample_0001.latent.safetensors", "--output", dir + "/decoded.mp4"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/decoded.mp4")), try Data(contentsOf: URL(fileURLWithPath: dir + "/sample_0001.mp4")))
    }

    func testImageToVideoRunsFromAPicture() throws {
        let out = dir + "/i2v.mp4"
        let r = try generate(["--cond-type", "i2v_head", "--ref", "Tests/Fixtures/images/pattern_37x23.png", "--num-sampling-steps", "2", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try probe(out)["nb_read_frames"], "9")
    }

    /// The high-compression config's path: the Video DC-AE (the tiny dc_ae_T8, 16 latent channels
    /// like the tiny MMDiT's 64 / 2²), 1 or 4k frames, decoded 4 frames per latent frame.
    func testDCAEPathWritesItsFrames() throws {
        let dcae = try config([("v2_vae/hunyuan_vae_T9.weights.safetensors", "v2_vae/dc_ae_T8.weights.safetensors"),
                               ("type: hunyuan_vae", "type: dc_ae"), ("    norm_num_groups: 4\n", ""), ("num_frames: 9", "num_frames: 8")])
        let out = dir + "/dcae.mp4"
        let r = try generate(["--num-sampling-steps", "2", "--output", out], config: dcae)
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try probe(out)
        XCTAssertEqual(info["nb_read_frames"], "8")
        XCTAssertEqual(info["width"], "128")      // ceil(96 / 64) * 2 latent columns of 32 pixels (the reference's get_noise)
        XCTAssertEqual(info["height"], "64")
        try assertRefused(["--num-frames", "9"], config: dcae, ["num_frames", "DC-AE", "multiple of 4"])
    }

    func testCheckpointsOfTheOtherGenerationAreRefused() throws {
        // A 1.x STDiT checkpoint as the MMDiT, and the MMDiT given to a 1.x config.
        try assertRefused([], config: try config([("v2_mmdit/mmdit.weights.safetensors", "stdit3.weights.safetensors")]),
                          ["stdit3.weights.safetensors", "not an MMDiT checkpoint", "Open-Sora 1.x"])
        let v1 = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
            .replacingOccurrences(of: "Tests/Fixtures/golden/stdit3.weights.safetensors", with: repoRoot + "/Tests/Fixtures/golden/v2_mmdit/mmdit.weights.safetensors")
        let v1Path = dir + "/v1.yaml"
        try v1.write(toFile: v1Path, atomically: true, encoding: .utf8)
        try assertRefused([], config: v1Path, ["mmdit.weights.safetensors", "Open-Sora 2.0 MMDiT checkpoint", "stdit3"])
    }

    func testFrameCountsTheVAECannotDecodeAreRefused() throws {
        try assertRefused(["--num-frames", "8"], ["num_frames", "4k+1", "5 or 9"])
        try assertRefused(["--num-frames", "2s"], ["num_frames", "4k+1"])
    }

    func testWhatCannotFitIsRefusedBeforeLoading() throws {
        // 4096 x 4096, 1001 frames: the decoded frames alone are 200 GB.
        try assertRefused(["--image-size", "4096", "4096", "--num-frames", "1001"], ["needs about", "GiB", "denoise", "decode", "lower num_frames"])
    }

    func testMissingCLIPVocabularyIsRefused() throws {
        try assertRefused([], config: try config([("bpe_simple_vocab_16e6.txt.gz", "no_such_vocab.txt.gz")]),
                          ["model.clip.vocabulary", "no_such_vocab.txt.gz"])
        // Not given and not beside the weights.
        let lonely = dir + "/clip.safetensors"
        try FileManager.default.copyItem(atPath: repoRoot + "/Tests/Fixtures/golden/v2_text/v2_text_clip.weights.safetensors", toPath: lonely)
        try assertRefused([], config: try config([("    vocabulary: " + repoRoot + "/Tests/Fixtures/golden/v2_text/bpe_simple_vocab_16e6.txt.gz\n", ""),
                                                  (repoRoot + "/Tests/Fixtures/golden/v2_text/v2_text_clip.weights.safetensors", lonely)]),
                          ["model.clip.vocabulary", "clip.safetensors"])
    }

    func testReferencesAreCheckedBeforeCompute() throws {
        try assertRefused(["--cond-type", "i2v_head"], ["cond_type", "--ref"])
        try assertRefused(["--cond-type", "i2v_head", "--ref", dir + "/missing.png"], ["--ref", "missing.png"])
        try assertRefused(["--cond-type", "i2v_head", "--ref", "README.md"], ["--ref README.md", "not an image or video"])
        let fake = dir + "/fake.png"
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: fake))
        try assertRefused(["--cond-type", "i2v_head", "--ref", fake], ["--ref", "fake.png", "cannot be read"])
        try assertRefused(["--cond-type", "v2v_head", "--ref", "Tests/Fixtures/images/pattern_37x23.png"], ["--ref", "give a video"])
        try assertRefused(["--ref", "Tests/Fixtures/images/pattern_37x23.png"], ["ref", "t2v"])
        try assertRefused(["--cond-type", "v2v_head_half", "--ref", "x.mp4"], ["v2v_head_half", "use v2v_head"])
    }

    func testOptionsOfTheOtherGenerationAreRefused() throws {
        try assertRefused(["--aes", "6"], ["aes", "Open-Sora 1.x"])
        try assertRefused(["--cfg-scale", "4"], ["scheduler.cfg_scale", "not v2"])
        try assertRefused(["--cache", "teacache"], ["cache", "Open-Sora 1.x"])
        try assertRefused(["--image", "Tests/Fixtures/images/pattern_37x23.png"], ["--image", "Open-Sora 1.x", "--cond-type i2v_head --ref"])
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--quiet", "--cond-type", "i2v_head", "--output", dir + "/x.mp4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("cond_type: applies only to Open-Sora 2.0"), r.stderr)
    }

    func testOpenSora2FlagsSetTheirKeys() throws {
        let r = try generate(["--print-config", "--guidance", "5", "--guidance-img", "2", "--motion-score", "none",
                              "--cond-type", "i2v_tail", "--ref", "a.png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for line in ["  guidance: 5.0", "  guidance_img: 2.0", "motion_score: null", "cond_type: \"i2v_tail\"", "ref: [\"a.png\"]"] {
            XCTAssertTrue(r.stdout.contains(line + "\n"), "\(line) not in\n\(r.stdout)")
        }
        XCTAssertFalse(r.stdout.contains("aes:"), "a 1.x key printed for a 2.0 config")
        XCTAssertFalse(r.stdout.contains("cache:"))
    }
}
