// Conditioning through the CLI as a user runs it (issue 21): prompt JSON options and per-prompt
// references in prompt files, video references, and bad input refused in one line before any
// compute, naming the prompt and the field.

import Foundation
import XCTest

final class ConditioningCLITests: XCTestCase {
    var dir = ""
    override func setUp() { dir = scratchFolder("cond") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let tiny = ["generate", "--config", "configs/tiny.yaml", "--quiet", "--num-sampling-steps", "1"]
    let image = "Tests/Fixtures/images/pattern_37x23.png"
    let video = "Tests/Fixtures/golden/mask/mask_v2v_extend_edit.ref0.mp4"

    func refused(_ args: [String], _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runCLI(tiny + args + ["--output", dir + "/x.mp4"])
        XCTAssertNotEqual(r.status, 0, "\(args) was accepted", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "'\(r.stderr)' does not say '\(text)'", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("stage"), "refused before any stage ran", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.mp4"), "nothing written", file: file, line: line)
    }

    func testPromptFileWithJSONOptionsImagesAndVideos() throws {
        // Line 1: two images at the first and last latent frame; line 2: a video extended from its
        // end and edited; line 3: plain text.
        let prompts = dir + "/prompts.txt"
        try """
        two squares{"reference_path": "\(image);\(image)", "mask_strategy": "0;0,1,0,-1,1"}
        a bar moving{"reference_path": "\(video)", "mask_strategy": "0,0,-2,0,2;0,0,0,5,3,0.4"}
        a red ball
        """.write(toFile: prompts, atomically: true, encoding: .utf8)
        let r = try runCLI(tiny + ["--prompt-path", prompts, "--num-frames", "30", "--output", dir + "/out/"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for k in 0..<3 { XCTAssertEqual(try probe(dir + "/out/sample_000\(k).mp4")["nb_read_frames"], "30") }
    }

    func testReferencePathAndMaskStrategyFlagsPerPrompt() throws {
        let r = try runCLI(tiny + ["--prompt", "a", "--prompt", "b", "--reference-path", image, "--reference-path", video,
                                   "--mask-strategy", "0", "--mask-strategy", "0,0,0,0,2", "--output", dir + "/f.mp4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(listing(dir).sorted(), ["f_0000.mp4", "f_0001.mp4"])
        try refused(["--prompt", "a", "--prompt", "b", "--prompt", "c", "--reference-path", image, "--reference-path", image],
                    "reference_path")
    }

    func testBadConditioningIsRefusedBeforeComputeNamingPromptAndField() throws {
        try refused(["--prompt", "a", "--prompt", #"b{"reference_path": "x.png", "mask_strategy": 0"#], "prompt 2: JSON options: not valid JSON")
        try refused(["--prompt", #"a{"seed": 3}"#], #"prompt 1: JSON options: "seed" is not an option"#)
        try refused(["--prompt", #"a{"reference_path": {"x": 1}}"#], "prompt 1: JSON options: more than one '{'")
        try refused(["--prompt", #"a{"reference_path": "\#(dir)/missing.png", "mask_strategy": "0"}"#],
                    "prompt 1: reference_path (prompt JSON): '\(dir)/missing.png'")
        try refused(["--prompt", "a", "--reference-path", dir, "--mask-strategy", "0"], "unsupported format (images: png, jpg, ...; videos: mp4, avi, mov, mkv)")
        let other = scratchFolder("cond-broken")
        defer { try? FileManager.default.removeItem(atPath: other) }
        let broken = other + "/broken.mp4"
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: broken))
        try refused(["--prompt", "a", "--reference-path", broken, "--mask-strategy", "0"], "prompt 1: reference_path: '\(broken)'")
        // An image is 1 latent frame: starting at its latent frame 3 is outside it (without align,
        // which would snap 3 down to 0).
        try refused(["--prompt", "a", "--align", "none", "--reference-path", image, "--mask-strategy", "0,0,3,0,1"],
                    "prompt 1: mask_strategy: entry '0,0,3,0,1,0.0' points outside reference #0 (1 latent frames)")
        // 17 frames on tiny are 5 latent frames: target 9 is outside the video.
        try refused(["--prompt", "a", "--reference-path", image, "--mask-strategy", "0,0,0,9,1"], "outside reference #0 (1 latent frames) or the video (5 latent frames)")
        try refused(["--prompt", "a", "--reference-path", image, "--mask-strategy", "0;0,1,0,-1,1"], "uses reference #1, but only 1 were given")
        try refused(["--prompt", "a", "--reference-path", image], "no mask_strategy says where the references go")
        try refused(["--prompt", "|0|a|x|b", "--loop", "2", "--num-frames", "30"], "prompt 1: prompt: its loop segments")
        // A loop count the memory estimate refuses, with the field named.
        try refused(["--prompt", "a", "--image-size", "2048", "2048", "--num-frames", "30", "--loop", "1000"], "loop: 1000 loops make a video of 13017 frames")
    }
}
