import Foundation
import XCTest

/// `opensora generate` end to end with the tiny fixture models (configs/tiny.yaml): outputs as a
/// user sees them, checked with ffprobe and the PNG decoder.
final class GenerateCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("generate") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testTextToVideoWritesAPlayableMP4() throws {
        let out = dir + "/out.mp4"
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "a red ball", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(out)"), r.stdout)
        let info = try probe(out)
        XCTAssertEqual(info["codec_name"], "h264")
        XCTAssertEqual(info["pix_fmt"], "yuv420p")
        XCTAssertEqual(info["width"], "48")
        XCTAssertEqual(info["height"], "32")
        XCTAssertEqual(info["r_frame_rate"], "24/1")
        XCTAssertEqual(info["nb_read_frames"], "17")
        XCTAssertEqual(listing(dir), ["out.mp4"], "no temporary file may remain")
    }

    func testPNGFramesAndSaveFPS() throws {
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "a red ball", "--output", dir + "/f",
                            "--format", "png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = listing(dir)
        XCTAssertEqual(files.count, 17)
        XCTAssertEqual(files.first, "f_0000.png")
        XCTAssertEqual(files.last, "f_0016.png")
        let mp4 = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "a red ball", "--output", dir + "/s.mp4", "--save-fps", "8"])
        XCTAssertEqual(mp4.status, 0, mp4.stderr)
        XCTAssertEqual(try probe(dir + "/s.mp4")["r_frame_rate"], "8/1")
    }

    func testImageToVideo() throws {
        let out = dir + "/i2v.mp4"
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "waves", "--image",
                            "Tests/Fixtures/images/photo_40x30.jpg", "--output", out, "--verbose"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("reference-encode"), r.stderr)
        XCTAssertEqual(try probe(out)["nb_read_frames"], "17")
    }

    func testSeedsReproduce() throws {
        for name in ["a", "b"] {
            let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "a red ball", "--seed", "7",
                                "--output", dir + "/\(name).png", "--num-frames", "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/a.png"), FileManager.default.contents(atPath: dir + "/b.png"))
    }

    func testExistingOutputIsKeptWithoutOverwrite() throws {
        let out = dir + "/keep.mp4"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: out))
        let r = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("already exists"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "precious")
        let o = try runCLI(["generate", "--config", "configs/tiny.yaml", "--prompt", "x", "--output", out, "--overwrite"])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertEqual(try probe(out)["codec_name"], "h264")
    }
}
