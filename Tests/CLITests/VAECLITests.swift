import Foundation
import TensorCore
import Weights
import XCTest

/// `opensora vae reconstruct | encode | decode` on a tiny synthetic clip (FFmpeg's test pattern)
/// with the golden cases' tiny random weights: the files come out with the right frame counts,
/// PSNR / SSIM are printed, and bad input fails with one line naming what is wrong.
final class VAECLITests: XCTestCase {
    var dir = ""
    let golden = repoRoot + "/Tests/Fixtures/golden/v2_vae/"
    var hunyuan: [String] { ["--vae", "hunyuan", "--weights", golden + "hunyuan_vae_T9.weights.safetensors", "--norm-groups", "4"] }
    var dcae: [String] { ["--vae", "dc-ae", "--weights", golden + "dc_ae_T8.weights.safetensors"] }

    override func setUpWithError() throws {
        dir = scratchFolder("vae")
        // 9 frames of 64 x 32 (Hunyuan takes 4k+1 frames, the DC-AE 4k: it gets --frames 8).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", "9",
                       "-pix_fmt", "yuv420p", dir + "/clip.mp4"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ffmpeg could not make the test clip")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func assertOneLineError(_ r: CommandResult, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "expected '\(needle)' in: \(r.stderr)", file: file, line: line)
    }

    func testReconstructWithEachVAE() throws {
        let runs: [([String], String)] = [
            (hunyuan, "9"),
            (dcae + ["--frames", "8"], "8"),
            (["--vae", "ae2d", "--weights", golden + "ae2d_T1.weights.safetensors"], "9"),
        ]
        for (i, (args, frames)) in runs.enumerated() {
            let out = dir + "/rec\(i).mp4"
            let r = try runCLI(["vae", "reconstruct"] + args + [dir + "/clip.mp4", "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("PSNR") && r.stdout.contains("SSIM"), r.stdout)
            let info = try probe(out)
            XCTAssertEqual(info["nb_read_frames"], frames, "\(args[1]): \(info)")
            XCTAssertEqual(info["width"], "64")
            XCTAssertEqual(info["height"], "32")
        }
    }

    func testEncodeThenDecode() throws {
        let z = dir + "/z.safetensors"
        let e = try runCLI(["vae", "encode"] + hunyuan + [dir + "/clip.mp4", "-o", z])
        XCTAssertEqual(e.status, 0, e.stderr)
        let latent = try SafetensorsFile(path: z)
        XCTAssertEqual(try latent.shape("z"), [1, 16, 3, 4, 8])   // 9 frames -> 3, 32 x 64 -> 4 x 8
        XCTAssertEqual(latent.metadata["vae"], "hunyuan")
        let d = try runCLI(["vae", "decode"] + hunyuan + [z, "-o", dir + "/dec.mp4"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(try probe(dir + "/dec.mp4")["nb_read_frames"], "9")
        // The same latent through another VAE is refused before any compute.
        assertOneLineError(try runCLI(["vae", "decode"] + dcae + [z, "-o", dir + "/x.mp4"]), "encoded with --vae hunyuan")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.mp4"))
    }

    func testBadInputIsOneLine() throws {
        assertOneLineError(try runCLI(["vae", "reconstruct"] + dcae + [dir + "/clip.mp4", "-o", dir + "/x.mp4"]), "multiple of 4 frames")
        assertOneLineError(try runCLI(["vae", "reconstruct"] + hunyuan + ["--frames", "6", dir + "/clip.mp4", "-o", dir + "/x.mp4"]),
                           "4k+1 frames")
        FileManager.default.createFile(atPath: dir + "/bad.mp4", contents: Data("not a video".utf8))
        assertOneLineError(try runCLI(["vae", "reconstruct"] + hunyuan + [dir + "/bad.mp4", "-o", dir + "/x.mp4"]), "cannot be opened as a video")
        // A latent with the wrong channel count for the VAE.
        let z4 = dir + "/z4.safetensors"
        try SafetensorsWriter().write([SafetensorsWriter.item("z", Tensor(zeros: [1, 4, 2, 4, 8]))], to: z4)
        assertOneLineError(try runCLI(["vae", "decode"] + hunyuan + [z4, "-o", dir + "/x.mp4"]), "decodes [1, 16, t, h, w]")
        assertOneLineError(try runCLI(["vae", "reconstruct", "--vae", "ae2d", "--weights", golden + "ae2d_T1.weights.safetensors",
                                       "--no-tiling", dir + "/clip.mp4", "-o", dir + "/x.mp4"]), "apply to hunyuan and dc-ae")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.mp4"))
    }

    func testBenchLatentIsChecked() throws {
        for component in ["hunyuan-vae-decode", "dc-ae-decode"] {
            for latent in ["33,32", "0,4,4", "4,a,4"] {
                assertOneLineError(try runCLI(["bench", "--component", component, "--latent", latent]), "--latent must be T,H,W")
            }
        }
    }
}
