// `check`, `weights` and `encode-text` through the CLI, and the generate flags no other test ran
// (issue 17, item 20). Everything runs on the tiny golden fixtures in seconds.

import Foundation
import XCTest

final class SubcommandCLITests: XCTestCase {
    var dir = ""
    override func setUp() { dir = scratchFolder("subcommands") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let golden = "Tests/Fixtures/golden/"

    func run(_ args: [String], status: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let r = try runCLI(args)
        XCTAssertEqual(r.status, status, "\(args): \(r.stdout)\(r.stderr)", file: file, line: line)
        return r
    }

    // MARK: check

    func testCheckPassesTheGoldenCasesAndFailsATightenedOne() throws {
        let r = try run(["check", golden + "torch_randn.json", golden + "stdit3.json"])
        XCTAssertTrue(r.stdout.contains("PASS torch_randn") && r.stdout.contains("PASS stdit3"), r.stdout)
        XCTAssertTrue(r.stdout.contains("max_abs="), r.stdout)

        // The same case held to a tolerance no float computation meets: FAIL, exit 1.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + golden + "stdit3.json"))) as! [String: Any]
        json["suggested_tolerance"] = ["max_abs": 1e-30]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/stdit3.json"))
        for f in ["stdit3.io.safetensors", "stdit3.weights.safetensors"] {
            try FileManager.default.createSymbolicLink(atPath: dir + "/" + f, withDestinationPath: repoRoot + "/" + golden + f)
        }
        let failed = try run(["check", dir + "/stdit3.json", golden + "torch_randn.json"], status: 1)
        XCTAssertTrue(failed.stdout.contains("FAIL stdit3") && failed.stdout.contains("PASS torch_randn"), failed.stdout)

        let missing = try run(["check", dir + "/none.json"], status: 1)
        XCTAssertTrue(missing.stdout.contains("FAIL \(dir)/none.json"), missing.stdout)
    }

    /// `--digests` prints each output's bytes digest, and `--threads` (the option every computing
    /// command takes) does not change them.
    func testCheckDigestsAreTheSameAtAnyThreads() throws {
        func digests(_ threads: String) throws -> [Substring] {
            let r = try run(["check", "--digests", "--threads", threads, golden + "stdit3.json", golden + "vae_T13.json"])
            return r.stdout.split(separator: "\n").filter { $0.contains("digest=") }
        }
        let one = try digests("1"), three = try digests("3")
        XCTAssertFalse(one.isEmpty)
        XCTAssertTrue(one.allSatisfy { $0.range(of: #"digest=[0-9a-f]{16}$"#, options: .regularExpression) != nil }, "\(one)")
        XCTAssertEqual(one, three)
        for command in [["check", golden + "torch_randn.json"], ["encode-text", "--t5", golden + "t5_encoder.weights.safetensors", "x"],
                        ["vae", "decode", "--vae", "hunyuan", "--weights", "w.safetensors", "z.safetensors", "-o", dir + "/o.mp4"],
                        ["generate-image", "-o", dir + "/a.png"], ["decode", "z.safetensors"]] {
            let r = try run(command + ["--threads", "0"], status: command[0] == "check" ? 2 : 1)
            XCTAssertTrue(r.stderr.contains("--threads must be 1 ... 1024, got 0"), "\(command): \(r.stderr)")
        }
    }

    // MARK: weights

    func testWeightsInspectConvertAndVerify() throws {
        let index = golden + "t5_encoder_bin/pytorch_model.bin.index.json"
        let listed = try run(["weights", "inspect", index])
        XCTAssertTrue(listed.stdout.contains("shared.weight\tF32\t[512, 64]"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("# 22 tensors, 147904 elements"), listed.stdout)

        let bf16 = dir + "/t5.bf16.safetensors"
        let converted = try run(["weights", "convert", index, bf16, "--dtype", "bf16"])
        XCTAssertTrue(converted.stdout.contains("wrote \(bf16): 22 tensors, 295808 bytes of data"), converted.stdout)
        XCTAssertTrue(try run(["weights", "inspect", bf16]).stdout.contains("shared.weight\tBF16\t[512, 64]"))

        // f32 from the pickled shards encodes exactly as the case's own safetensors does.
        let f32 = dir + "/t5.f32.safetensors"
        _ = try run(["weights", "convert", index, f32, "--dtype", "f32"])
        let a = try encode(["--t5", f32]), b = try encode(["--t5", golden + "t5_encoder.weights.safetensors"])
        XCTAssertEqual(checksum(a), checksum(b))
        XCTAssertFalse(checksum(a).isEmpty)

        // The tiny T5 is not T5-v1.1-XXL: verify says what differs and fails.
        let verified = try run(["weights", "verify", golden + "t5_encoder.weights.safetensors", "--component", "t5-v1_1-xxl"], status: 1)
        XCTAssertTrue((verified.stdout + verified.stderr).contains("mis-shaped: shared.weight"), verified.stdout + verified.stderr)
    }

    // MARK: encode-text

    func encode(_ args: [String]) throws -> CommandResult {
        try run(["encode-text", "--tokenizer", golden + "tokenizer.model", "--max-length", "16"] + args + ["A Red Ball, see https://example.com"])
    }

    func checksum(_ r: CommandResult) -> String {
        r.stdout.split(separator: "\n").first { $0.hasPrefix("checksum:") }.map(String.init) ?? ""
    }

    func testEncodeTextOptionsAct() throws {
        let t5 = ["--t5", golden + "t5_encoder.weights.safetensors"]
        let plain = try encode(t5)
        XCTAssertTrue(plain.stdout.contains("embedding: [1, 16, 64] float32"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains(#""a red ball, see""#), "cleaned as Open-Sora does: \(plain.stdout)")
        let raw = try encode(t5 + ["--no-clean"])
        XCTAssertTrue(raw.stdout.contains(#""A Red Ball, see https://example.com""#), raw.stdout)
        XCTAssertNotEqual(checksum(raw), checksum(plain))
        XCTAssertNotEqual(checksum(try encode(t5 + ["--skip-padding"])), checksum(plain), "padded positions become zeros")

        // The .bin shards (pickles) give the same embedding as the safetensors file.
        XCTAssertEqual(checksum(try encode(["--t5", golden + "t5_encoder_bin/pytorch_model.bin.index.json"])), checksum(plain))

        let out = dir + "/y.safetensors"
        XCTAssertTrue(try encode(t5 + ["--output", out]).stdout.contains("wrote \(out)"))
        let inspected = try run(["weights", "inspect", out]).stdout
        XCTAssertTrue(inspected.contains("y\tF32\t[1, 16, 64]") && inspected.contains("mask\tF32\t[1, 16]"), inspected)
    }

    // MARK: generate flags that change the video

    /// configs/tiny.yaml, one prompt, one step: each flag must change the video's bytes (MP4
    /// output is deterministic), and the same flags twice must not.
    func testGenerateFlagsChangeTheVideo() throws {
        let base = ["generate", "--config", "configs/tiny.yaml", "--quiet", "--num-sampling-steps", "1", "--prompt", "a red ball"]
        func video(_ flags: [String], _ name: String) throws -> Data {
            let path = dir + "/\(name).mp4"
            _ = try run(base + flags + ["--output", path])
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        let reference = try video([], "base")
        XCTAssertEqual(try video([], "base-again"), reference)
        let variants: [(String, [String])] = [
            ("fps", ["--fps", "12"]), ("rng", ["--rng", "native"]), ("aes", ["--aes", "none"]),
            // The tiny T5 reads 16 tokens: the score suffixes show only without the aesthetic one.
            ("flow", ["--aes", "none", "--flow", "3"]), ("camera", ["--aes", "none", "--camera-motion", "pan left"]),
            ("dtype", ["--dtype", "bf16"]), ("cfg", ["--cfg-scale", "2"]), ("seed", ["--seed", "43"]),
            // 34 frames = 10 latent frames: with align 5, target -1 snaps to latent 5 (with 5 latent frames every
            // target snaps to 0, as in the reference).
            ("image", ["--num-frames", "34", "--image", "Tests/Fixtures/images/pattern_37x23.png"]),
            ("mask", ["--num-frames", "34", "--image", "Tests/Fixtures/images/pattern_37x23.png", "--mask-strategy", "0,0,0,-1,1"]),
        ]
        var seen = [reference]
        for (name, flags) in variants {
            let v = try video(flags, name)
            XCTAssertFalse(seen.contains(v), "\(flags.joined(separator: " ")) wrote the same video as another row")
            seen.append(v)
        }
    }

    func testNumSampleAndBatchSizeName() throws {
        let base = ["generate", "--config", "configs/tiny.yaml", "--quiet", "--num-sampling-steps", "1"]
        let r = try run(base + ["--prompt", "a red ball", "--num-sample", "2", "--output", dir + "/s.mp4"])
        XCTAssertEqual(r.stdout, "wrote \(dir)/s_0000-0.mp4\nwrote \(dir)/s_0000-1.mp4\n")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/s_0000-0.mp4")), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/s_0000-1.mp4"))
        XCTAssertNotEqual(a, b, "two samples of one prompt get different noise")

        // The config's two prompts one at a time: two files, as with the config's batch of 2.
        let one = try run(base + ["--batch-size", "1", "--output", dir + "/b1.mp4"])
        XCTAssertEqual(one.stdout, "wrote \(dir)/b1_0000.mp4\nwrote \(dir)/b1_0001.mp4\n")
    }
}
