import Foundation
import TensorCore
import Weights
import XCTest

/// Hostile and mistaken inputs: each run must exit non-zero with a one-line error naming the
/// culprit, and leave no output file (or temporary) behind.
final class BadInputCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("bad") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let fixtures = "Tests/Fixtures/golden"

    /// Runs generate on the tiny config plus `args`; asserts failure, the message, and an empty output folder.
    func assertFails(_ args: [String], mentions fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let out = dir + "/out/video.mp4"
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", out] + args)
        XCTAssertNotEqual(r.status, 0, "should fail: \(args)", file: file, line: line)
        let errorLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errorLines.count, 1, "one error line expected: \(r.stderr)", file: file, line: line)
        for f in fragments { XCTAssertTrue(r.stderr.contains(f), "'\(r.stderr)' should mention '\(f)'", file: file, line: line) }
        XCTAssertEqual(listing(dir + "/out"), [], "nothing may be left behind", file: file, line: line)
    }

    /// A config like tiny.yaml with one line replaced.
    func tinyConfig(replacing old: String, with new: String) throws -> String {
        let text = try String(contentsOfFile: repoRoot + "/configs/tiny.yaml", encoding: .utf8)
        XCTAssertTrue(text.contains(old), "tiny.yaml no longer contains '\(old)'")
        let path = dir + "/config-\(UUID().uuidString.prefix(6)).yaml"
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testMissingWeightsFile() throws {
        let cfg = try tinyConfig(replacing: "path: Tests/Fixtures/golden/stdit3.weights.safetensors", with: "path: /nonexistent/stdit3.safetensors")
        try assertFails(["--config", cfg], mentions: ["model.denoiser.path", "/nonexistent/stdit3.safetensors"])
    }

    /// A checkpoint of another family is named as what its tensors say it is, with the type to set,
    /// instead of failing on the first tensor the configured family lacks.
    func testCheckpointOfAnotherFamilyIsNamed() throws {
        let denoiser = "path: Tests/Fixtures/golden/stdit3.weights.safetensors"
        for (file, what, remedy) in [("stdit2.weights.safetensors", "is an STDiT2 (Open-Sora v1.1) checkpoint", "set model.denoiser.type: stdit2"),
                                     ("stdit.weights.safetensors", "is an STDiT (Open-Sora v1.0) checkpoint", "set model.denoiser.type: stdit"),
                                     ("dit/dit_model.weights.safetensors", "is a DiT class-conditional image checkpoint", "use opensora generate-image")] {
            let cfg = try tinyConfig(replacing: denoiser, with: "path: \(fixtures)/\(file)")
            try assertFails(["--config", cfg], mentions: ["model.denoiser.path", file, what, "model.denoiser.type is stdit3", remedy])
        }
        let stdit2 = try tinyConfig(replacing: "type: stdit3", with: "type: stdit2")
        try assertFails(["--config", stdit2], mentions: ["stdit3.weights.safetensors", "is an STDiT3 (Open-Sora v1.2) checkpoint", "set model.denoiser.type: stdit3"])
    }

    func testTruncatedWeights() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: repoRoot + "/" + fixtures + "/stdit3.weights.safetensors"))
        let cut = dir + "/cut.safetensors"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        let cfg = try tinyConfig(replacing: "path: Tests/Fixtures/golden/stdit3.weights.safetensors", with: "path: \(cut)")
        try assertFails(["--config", cfg], mentions: [cut, "truncated"])
    }

    /// Rewrites the tiny STDiT3 checkpoint with one tensor changed.
    func alteredCheckpoint(_ name: String, change: (String, Tensor) -> SafetensorsWriter.Item?) throws -> String {
        let src = try SafetensorsFile(path: repoRoot + "/" + fixtures + "/stdit3.weights.safetensors")
        let items = try src.names.map { n -> SafetensorsWriter.Item in
            let t = try src.tensor(n)
            return change(n, t) ?? SafetensorsWriter.item(n, t)
        }
        let path = dir + "/\(name).safetensors"
        try SafetensorsWriter().write(items, to: path)
        return path
    }

    func testMisShapedTensorIsNamed() throws {
        let path = try alteredCheckpoint("misshaped") { n, t in
            n == "spatial_blocks.1.attn.proj.weight" ? SafetensorsWriter.item(n, Tensor(zeros: [t.shape[0], t.shape[1] + 1])) : nil
        }
        let cfg = try tinyConfig(replacing: "path: Tests/Fixtures/golden/stdit3.weights.safetensors", with: "path: \(path)")
        try assertFails(["--config", cfg], mentions: ["spatial_blocks.1.attn.proj.weight", "shape"])
    }

    func testWrongDTypeIsNamed() throws {
        let path = try alteredCheckpoint("int") { n, t in
            n == "final_layer.linear.bias" ? SafetensorsWriter.Item(name: n, dtype: .i32, shape: t.shape) { Data(count: t.count * 4) } : nil
        }
        let cfg = try tinyConfig(replacing: "path: Tests/Fixtures/golden/stdit3.weights.safetensors", with: "path: \(path)")
        try assertFails(["--config", cfg], mentions: ["final_layer.linear.bias", "I32"])
    }

    func testCheckpointOfAnotherModel() throws {
        let cfg = try tinyConfig(replacing: "path: Tests/Fixtures/golden/stdit3.weights.safetensors",
                                 with: "path: Tests/Fixtures/golden/vae_T1.weights.safetensors")
        try assertFails(["--config", cfg], mentions: ["vae_T1.weights.safetensors"])
    }

    func testTokenizerThatIsNotSentencePiece() throws {
        let bogus = dir + "/spiece.model"
        try Data("this is not a sentencepiece model".utf8).write(to: URL(fileURLWithPath: bogus))
        let cfg = try tinyConfig(replacing: "tokenizer: Tests/Fixtures/golden/tokenizer.model", with: "tokenizer: \(bogus)")
        try assertFails(["--config", cfg], mentions: [bogus, "SentencePiece"])
    }

    func testUnknownConfigKey() throws {
        let cfg = try tinyConfig(replacing: "fps: 24\n", with: "fps: 24\nframes_per_second: 24\n")
        try assertFails(["--config", cfg], mentions: ["frames_per_second", cfg])
    }

    func testOutOfRangeOptions() throws {
        try assertFails(["--resolution", "999p", "--aspect-ratio", "9:16"], mentions: ["resolution", "999p"])
        try assertFails(["--num-frames", "10"], mentions: ["num_frames"])
        try assertFails(["--cfg-scale", "1000"], mentions: ["cfg_scale"])
        try assertFails(["--num-sampling-steps", "0"], mentions: ["num_sampling_steps"])
        try assertFails(["--num-frames", "1000000"], mentions: ["num_frames"])
        try assertFails(["--image-size", "720", "1280", "--num-frames", "4096"], mentions: ["GiB"])
    }

    func testBadImages() throws {
        let empty = dir + "/empty.png"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        try assertFails(["--image", empty], mentions: [empty])
        let garbage = dir + "/garbage.jpg"
        try Data(repeating: 0x41, count: 300).write(to: URL(fileURLWithPath: garbage))
        try assertFails(["--image", garbage], mentions: [garbage])
        try assertFails(["--image", dir + "/missing.png"], mentions: [dir + "/missing.png"])
    }

    func testUnwritableOutput() throws {
        // A path below a regular file cannot be created, even by root.
        let blocker = dir + "/out"
        try Data("file".utf8).write(to: URL(fileURLWithPath: blocker))
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", blocker + "/video.mp4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(blocker), r.stderr)
        XCTAssertEqual(listing(dir), ["out"])
    }

    func testFullDiskLeavesNoPartialFile() throws {
        // RLIMIT_FSIZE of 2 KB stands in for a full disk: the MP4 write fails with EFBIG.
        let out = dir + "/video.mp4"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -f 2; exec \"$0\" generate --config configs/tiny.yaml --prompt x --output \"$1\"", opensoraBinary, out]
        p.currentDirectoryURL = URL(fileURLWithPath: repoRoot)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(e.contains("error:"), e)
        XCTAssertEqual(listing(dir), [], "partial output left behind")
    }

    func testInterruptDuringSamplingExits130AndLeavesNothing() throws {
        // Signalled once the first sampling step is reported: mid-sampling whatever the machine's speed.
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", dir + "/video.mp4",
                            "--num-sampling-steps", "1000"], signal: SIGINT, whenStderrShows: "step 1/1000")
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertTrue(r.stderr.contains("interrupted"), r.stderr)
        XCTAssertEqual(listing(dir), [])
    }
}
