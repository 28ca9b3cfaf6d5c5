// Options that must act or be refused, and what the same settings must give, through the CLI as a
// user runs it (issue 17: items 10, 11, 15, 20). Hostile inputs are in HostileInputTests.swift.

import Foundation
import XCTest

final class OptionAuditTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = scratchFolder("audit") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// configs/tiny.yaml with a 1-step sampler: the whole chain in about a second.
    let tiny = ["generate", "--config", "configs/tiny.yaml", "--quiet", "--num-sampling-steps", "1"]

    @discardableResult
    func generate(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let r = try runCLI(tiny + args)
        XCTAssertEqual(r.status, 0, "generate \(args): \(r.stderr)", file: file, line: line)
        return r
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    // MARK: - 10. Same seed and settings, same bytes

    func testSameSeedGivesSameMP4Bytes() throws {
        var files: [Data] = []
        for run in 0..<3 {
            let path = dir + "/det_\(run).mp4"
            try generate(["--prompt", "a red ball", "--seed", "7", "--output", path])
            files.append(try bytes(path))
        }
        XCTAssertGreaterThan(files[0].count, 1000)
        XCTAssertEqual(files[1], files[0], "run 2 wrote other bytes than run 1")
        XCTAssertEqual(files[2], files[0], "run 3 wrote other bytes than run 1")

        // At any thread count: one, and three (the default is every core).
        for threads in ["1", "3"] {
            let path = dir + "/threads_\(threads).mp4"
            try generate(["--prompt", "a red ball", "--seed", "7", "--threads", threads, "--output", path])
            XCTAssertEqual(try bytes(path), files[0], "--threads \(threads) wrote other bytes than the default")
        }
    }

    // MARK: - 11. Every generate flag overrides its config key

    /// `generate --print-config` as dotted keys: "scheduler.cfg_scale" -> "7.0".
    func printedConfig(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: String] {
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--print-config"] + args)
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)", file: file, line: line)
        var keys: [String: String] = [:], path: [(indent: Int, key: String)] = []
        for raw in r.stdout.split(separator: "\n") {
            let indent = raw.prefix { $0 == " " }.count
            let text = raw.dropFirst(indent)
            guard let colon = text.firstIndex(of: ":") else { continue }
            while let last = path.last, last.indent >= indent { path.removeLast() }
            let key = String(text[..<colon]), value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let full = (path.map(\.key) + [key]).joined(separator: ".")
            if value.isEmpty { path.append((indent, key)) } else { keys[full] = value }
        }
        return keys
    }

    func testEveryGenerateFlagOverridesItsConfigKey() throws {
        let image = "Tests/Fixtures/images/pattern_37x23.png"
        // (flags, key in the printed config, value printed); configs/tiny.yaml holds another value for each.
        let table: [([String], String, String)] = [
            (["--prompt", "a cat"], "prompt", #"["a cat"]"#),
            (["--prompt-path", "prompts.txt"], "prompt_path", #""prompts.txt""#),
            (["--prompt-path", "prompts.txt"], "prompt", "null"),
            (["--resolution", "144p"], "resolution", #""144p""#),
            (["--resolution", "144p"], "image_size", "null"),
            (["--aspect-ratio", "1:1"], "aspect_ratio", #""1:1""#),
            (["--image-size", "64", "96"], "image_size", "[64, 96]"),
            (["--num-frames", "2s"], "num_frames", "51"),
            (["--fps", "12"], "fps", "12"),
            (["--save-fps", "8"], "save_fps", "8"),
            (["--seed", "7"], "seed", "7"),
            (["--rng", "native"], "rng", "native"),
            (["--num-sampling-steps", "3"], "scheduler.num_sampling_steps", "3"),
            (["--cfg-scale", "4.5"], "scheduler.cfg_scale", "4.5"),
            (["--aes", "none"], "aes", "null"),
            (["--aes", "5"], "aes", "5.0"),
            (["--flow", "3"], "flow", "3.0"),
            (["--camera-motion", "pan left"], "camera_motion", #""pan left""#),
            (["--batch-size", "1"], "batch_size", "1"),
            (["--num-sample", "2"], "num_sample", "2"),
            (["--dtype", "bf16"], "dtype", "bf16"),
            (["--prompt", "a cat", "--image", image], "reference_path", "[\"\(image)\"]"),
            (["--prompt", "a cat", "--image", image], "mask_strategy", #"["0"]"#),
            (["--prompt", "a cat", "--image", image, "--mask-strategy", "0,0,0,0,1"], "mask_strategy", #"["0,0,0,0,1"]"#),
            (["--prompt", "a cat", "--reference-path", image + ";" + image], "reference_path", "[\"\(image);\(image)\"]"),
            (["--prompt", "a cat", "--prompt", "a dog", "--reference-path", image, "--mask-strategy", "0;0,1,0,-1,1"],
             "mask_strategy", #"["0;0,1,0,-1,1", "0;0,1,0,-1,1"]"#),
            (["--loop", "3", "--num-frames", "30"], "loop", "3"),
            (["--condition-frame-length", "10"], "condition_frame_length", "10"),
            (["--condition-frame-edit", "0.25"], "condition_frame_edit", "0.25"),
            (["--align", "none"], "align", "null"),
            (["--output", "elsewhere/x.mp4"], "output.path", #""elsewhere/x.mp4""#),
            (["--format", "png", "--output", "frames"], "output.format", "png"),
            (["--overwrite"], "output.overwrite", "true"),
        ]
        let base = try printedConfig([])
        for (flags, key, value) in table {
            XCTAssertNotNil(base[key], "\(key) is not printed")
            XCTAssertNotEqual(base[key], value, "configs/tiny.yaml already has \(key) = \(value): the row proves nothing")
            XCTAssertEqual(try printedConfig(flags)[key], value, "\(flags.joined(separator: " ")) should set \(key)")
        }
    }

    /// The flags that set no config key act otherwise (or are refused): each is exercised here.
    func testFlagsOutsideTheConfigAct() throws {
        let verbose = try generate(["--prompt", "a red ball", "--verbose", "--output", dir + "/v.mp4"])
        XCTAssertTrue(verbose.stderr.contains("peak RSS"), "--verbose prints the stage table: \(verbose.stderr)")
        let quiet = try generate(["--prompt", "a red ball", "--output", dir + "/q.mp4"])  // tiny has --quiet
        XCTAssertEqual(quiet.stderr, "", "--quiet prints nothing on stderr")
        for bad in ["0", "-2"] {
            let r = try runCLI(tiny + ["--prompt", "a red ball", "--threads", bad, "--output", dir + "/t.mp4"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("--threads"), r.stderr)
        }
        let r = try runCLI(tiny + ["--prompt", "a red ball", "--mask-strategy", "0", "--output", dir + "/m.mp4"])
        XCTAssertTrue(r.status != 0 && r.stderr.contains("prompt 1: mask_strategy: entry '0,0,0,0,1,0.0' uses reference #0, but only 0 were given"), r.stderr)
    }

    /// configs/tiny.yaml lists two prompts; a prompt file on the command line replaces them.
    func testPromptPathReplacesTheConfigPrompts() throws {
        let file = dir + "/prompts.txt"
        try "a green square\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try generate(["--prompt-path", file, "--output", dir + "/p.mp4"])
        XCTAssertEqual(r.stdout, "wrote \(dir)/p.mp4\n", "one prompt in the file: one video, not the config's two")
        XCTAssertEqual(listing(dir), ["p.mp4", "prompts.txt"])

        let missing = try runCLI(tiny + ["--prompt-path", dir + "/missing.txt", "--output", dir + "/m.mp4"])
        XCTAssertNotEqual(missing.status, 0, "a missing prompt file must fail, not fall back to the config's prompts")
        XCTAssertTrue(missing.stderr.contains(dir + "/missing.txt"), missing.stderr)

        let both = try runCLI(tiny + ["--prompt", "x", "--prompt-path", file, "--output", dir + "/b.mp4"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("not both"), both.stderr)
        XCTAssertEqual(listing(dir), ["p.mp4", "prompts.txt"])
    }

    /// `--prompt-path -` reads the prompts from standard input (a script's pipe).
    func testPromptPathDashReadsStandardInput() throws {
        let r = try runCLI(tiny + ["--prompt-path", "-", "--num-frames", "1", "--output", dir + "/s/"], standardInput: "a red ball\n\n  a cat  \n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "wrote \(dir)/s/sample_0000.png\nwrote \(dir)/s/sample_0001.png\n")
        let empty = try runCLI(tiny + ["--prompt-path", "-", "--output", dir + "/e.mp4"], standardInput: "\n \n")
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertTrue(empty.stderr.contains("standard input (--prompt-path -): the prompt file has no prompts"), empty.stderr)
    }

    // MARK: - 15. Accepted and doing nothing: refused

    func assertRefused(_ args: [String], _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(args)
        XCTAssertNotEqual(r.status, 0, "\(args) was accepted", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "\(args): '\(r.stderr)' does not say '\(text)'", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(listing(dir).filter { !$0.hasSuffix(".yaml") }, [], "nothing written", file: file, line: line)
    }

    /// A copy of configs/tiny.yaml with `extra` appended (absolute paths, so it can live in `dir`).
    func tinyConfig(_ extra: String) throws -> String {
        var text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "path: Tests/", with: "path: \(repoRoot)/Tests/")
            .replacingOccurrences(of: "tokenizer: Tests/", with: "tokenizer: \(repoRoot)/Tests/")
        let path = dir + "/cfg-\(UUID().uuidString.prefix(6)).yaml"
        try (text + "\n" + extra + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testSaveFPSWithPNGOutputIsRefused() throws {
        try assertRefused(tiny + ["--prompt", "a", "--format", "png", "--output", dir + "/f", "--save-fps", "8"], "save_fps")
        try assertRefused(tiny + ["--prompt", "a", "--output", dir + "/f.png", "--num-frames", "1", "--save-fps", "8"], "PNG")
    }

    func testLoopKeysAreCheckedAndLoopsLengthenTheVideo() throws {
        // 17 frames are 5 latent frames on tiny: carrying 5 over would leave nothing to generate.
        try assertRefused(["generate", "--config", try tinyConfig("loop: 2"), "--output", dir + "/x.mp4"],
                          "condition_frame_length: with loop > 1 it must be 5, 10, ... and below the 5 latent frames")
        try assertRefused(tiny + ["--prompt", "a", "--loop", "2", "--num-frames", "30", "--condition-frame-length", "3", "--output", dir + "/x.mp4"],
                          "multiple of 5")
        try assertRefused(tiny + ["--prompt", "a", "--condition-frame-edit", "1.5", "--output", dir + "/x.mp4"], "condition_frame_edit")
        // A mask-strategy condition for a later loop would be ignored.
        try assertRefused(tiny + ["--prompt", "a", "--image", "Tests/Fixtures/images/pattern_37x23.png", "--mask-strategy", "1,0,0,0,1",
                                  "--output", dir + "/x.mp4"], "a condition for loop 1")
        // 3 loops of 30 frames, each later one re-making dframe_to_frame(5) = 17: 30 + 2 * 13 frames.
        let r = try runCLI(tiny + ["--prompt", "a", "--loop", "3", "--num-frames", "30", "--num-sampling-steps", "1", "--output", dir + "/loop.mp4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try probe(dir + "/loop.mp4")["nb_read_frames"], "56")
    }

    func testDenoiserKeysTheCheckpointContradictsAreRefused() throws {
        for (key, text) in [("mlp_ratio: 2.0", "mlp_ratio: unknown key; the model reads it off its checkpoint"),
                            ("pred_sigma: false", "pred_sigma: unknown key; the model reads it off its checkpoint"),
                            ("patch_size: [1, 4, 4]", "patch_size: unknown key; the model reads it off its checkpoint"),
                            ("no_temporal_pos_emb: true", "no_temporal_pos_emb"),
                            ("num_heads: 8", "its heads are 16 wide, so hidden size 64 has 4 of them, not the 8 asked for")] {
            var text0 = try String(contentsOfFile: try tinyConfig(""), encoding: .utf8)
            text0 = text0.replacingOccurrences(of: "    type: stdit3\n", with: "    type: stdit3\n    \(key)\n")
            let path = dir + "/den.yaml"
            try text0.write(toFile: path, atomically: true, encoding: .utf8)
            try assertRefused(["generate", "--config", path, "--prompt", "a", "--output", dir + "/x.mp4"], text)
            try FileManager.default.removeItem(atPath: path)
        }
    }

    func testBenchOptionsThatWouldDoNothingAreRefused() throws {
        try assertRefused(["bench", "--component", "sgemm", "--shape", "8,8,8", "--repeat", "0"], "--repeat must be at least 1, got 0")
        try assertRefused(["bench", "--component", "sgemm", "--shape", "8,8,8", "--threads", "0"], "--threads must be positive")
        for (flag, value) in [("--latent", "1x2x2"), ("--batch", "2"), ("--caption-tokens", "3"), ("--steps", "2"), ("--conv", "im2col"),
                              ("--dtype", "f32"), ("--sgemm-window", "1")] {
            try assertRefused(["bench", "--component", "sgemm", "--shape", "8,8,8", flag, value], "\(flag) does not apply to --component sgemm")
        }
        try assertRefused(["bench", "--component", "pipeline-v1.2", "--repeat", "2"], "--repeat does not apply to --component pipeline-v1.2")
        try assertRefused(["bench", "--component", "t5-xxl", "--shape", "1,2,3"], "--shape does not apply")
        // What applies still runs.
        let r = try runCLI(["bench", "--component", "sgemm", "--shape", "8,8,8", "--repeat", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(#""component":"sgemm""#), r.stdout)
    }

    func testCheckOptionsACaseWouldIgnoreAreRefused() throws {
        let golden = "Tests/Fixtures/golden/"
        let replayed = try runCLI(["check", "--replay", golden + "stdit3.json"])
        XCTAssertNotEqual(replayed.status, 0)
        XCTAssertTrue(replayed.stdout.contains("--replay applies to sampler cases"), replayed.stdout)
        let weighed = try runCLI(["check", "--weights", golden + "stdit3.weights.safetensors", golden + "torch_randn.json"])
        XCTAssertNotEqual(weighed.status, 0)
        XCTAssertTrue(weighed.stdout.contains("--weights applies to kinds"), weighed.stdout)
        let both = try runCLI(["check", "--replay", "--weights", golden + "stdit3.weights.safetensors", golden + "rflow_s4_tt.json"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stdout.contains("--weights is not read with --replay"), both.stdout)
    }
}
