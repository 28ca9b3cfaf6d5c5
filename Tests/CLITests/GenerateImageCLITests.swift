import Foundation
import VideoIO
import Weights
import XCTest

/// `opensora generate-image` end to end with the golden tiny DiT and sd-vae (random weights,
/// 64x64 images): the grid and per-image PNGs as a user gets them, the same bytes for the same
/// seed, one-line errors before any compute.
final class GenerateImageCLITests: XCTestCase {
    var dir: String!
    var config: String!

    override func setUp() {
        dir = scratchFolder("generate-image")
        let fixtures = repoRoot + "/Tests/Fixtures/golden/dit/"
        config = dir + "/tiny-dit.yaml"
        try? """
        weights: \(fixtures)dit_model.weights.safetensors
        num_heads: 4
        image_size: 64
        vae_weights: \(fixtures)dit_vae_decode.weights.safetensors
        vae_norm_groups: 8
        class_labels: [1, 8, 3, 0, 9]
        num_sampling_steps: 8
        """.write(toFile: config, atomically: true, encoding: .utf8)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Width and height from a PNG's IHDR chunk.
    func pngSize(_ path: String) throws -> (Int, Int) {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(Array(d.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func u32(_ o: Int) -> Int { d[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (u32(16), u32(20))
    }

    func testWritesTheGridDeterministically() throws {
        let r = try runCLI(["generate-image", "--config", config, "--seed", "3", "--threads", "2", "-o", dir + "/a.png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(dir!)/a.png"), r.stdout)
        // 5 images of 64x64, 4 per row, 2-px padding: (4 * 66 + 2) x (2 * 66 + 2).
        let (w, h) = try pngSize(dir + "/a.png")
        XCTAssertEqual(w, 266)
        XCTAssertEqual(h, 134)
        let r2 = try runCLI(["generate-image", "--config", config, "--seed", "3", "--threads", "2", "-o", dir + "/b.png"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.png")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.png")))
        let r3 = try runCLI(["generate-image", "--config", config, "--seed", "4", "-o", dir + "/c.png"])
        XCTAssertEqual(r3.status, 0, r3.stderr)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.png")), try Data(contentsOf: URL(fileURLWithPath: dir + "/c.png")))
        XCTAssertEqual(listing(dir), ["a.png", "b.png", "c.png", "tiny-dit.yaml"], "no temporary file may remain")
    }

    /// The golden sampling ran on the CPU from torch.manual_seed(4442): with --rng torch the CLI
    /// draws the same noise and writes sample.py's grid and sample_ddp.py's images, to within the
    /// case's 1-level rounding tolerance.
    func testSeededRunReproducesTheReferencePNGs() throws {
        let golden = try SafetensorsFile(path: repoRoot + "/Tests/Fixtures/golden/dit/dit_vae_decode.io.safetensors")
        func assertClose(_ got: [UInt8], _ expected: [Int], _ what: String) {
            XCTAssertEqual(got.count, expected.count, what)
            let diffs = zip(got, expected).map { abs(Int($0) - $1) }
            XCTAssertLessThanOrEqual(diffs.max() ?? 99, 1, what)
            XCTAssertLessThan(diffs.filter { $0 != 0 }.count, 20, "\(what): bytes one level apart")
        }
        let r = try runCLI(["generate-image", "--config", config, "--seed", "4442", "--rng", "torch", "-o", dir + "/grid.png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        assertClose(try ImageReader.read(path: dir + "/grid.png").pixels, try golden.integers("png_uint8"), "grid")

        let p = try runCLI(["generate-image", "--config", config, "--seed", "4442", "--format", "png", "-o", dir + "/img"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let perImage = try (0..<5).flatMap { try ImageReader.read(path: dir + "/img_000\($0).png").pixels }
        assertClose(perImage, try golden.integers("ddp_uint8"), "per-image")
    }

    func testOnePNGPerImageWithDDIM() throws {
        let r = try runCLI(["generate-image", "--config", config, "--format", "png", "--sampler", "ddim", "--eta", "0.5",
                            "--num-sampling-steps", "4", "--class-labels", "2,7", "-o", dir + "/img"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(listing(dir), ["img_0000.png", "img_0001.png", "tiny-dit.yaml"])
        let (w, h) = try pngSize(dir + "/img_0001.png")
        XCTAssertEqual([w, h], [64, 64])
    }

    func testBadInputIsOneLineBeforeCompute() throws {
        let cases: [([String], String)] = [
            (["--class-labels", "1,10"], "class label 10 is out of range"),
            (["--class-labels", "1,x"], "--class-labels takes comma-separated integers"),
            (["--class-labels=-1"], "class_labels: class labels are >= 0"),
            (["--image-size", "128"], "generates 64x64 images"),
            (["--sampler", "euler"], "--sampler must be ddpm or ddim"),
            (["--eta", "0.5"], "eta: applies to the ddim sampler only"),
            (["--vae", "xl"], "vae: expected mse or ema"),
            (["--weights", dir + "/missing.pt"], "missing.pt"),
            (["--format", "gif"], "--format must be grid or png"),
        ]
        for (args, message) in cases {
            let r = try runCLI(["generate-image", "--config", config, "-o", dir + "/x.png"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(args): \(r.stderr)")
        }
        // Without vae_weights: ./weights/sd-vae-ft-<vae>, then the Hugging Face cache (empty here).
        let noVAE = dir + "/no-vae.yaml"
        try (try String(contentsOfFile: config, encoding: .utf8)).split(separator: "\n").filter { !$0.hasPrefix("vae_weights") }
            .joined(separator: "\n").write(toFile: noVAE, atomically: true, encoding: .utf8)
        let emptyCache = ["HF_HUB_CACHE": dir + "/empty-cache"]
        let mse = try runCLI(["generate-image", "--config", noVAE, "-o", dir + "/x.png"], environment: emptyCache)
        XCTAssertTrue(mse.stderr.contains("opensora weights download --component sd-vae-ft-mse"), mse.stderr)
        let ema = try runCLI(["generate-image", "--config", noVAE, "--vae", "ema", "-o", dir + "/x.png"], environment: emptyCache)
        XCTAssertTrue(ema.stderr.contains("opensora weights download --component sd-vae-ft-ema"), ema.stderr)
        try FileManager.default.removeItem(atPath: noVAE)

        let unknown = dir + "/unknown.yaml"
        try "weights: a.pt\nguidance: 3\n".write(toFile: unknown, atomically: true, encoding: .utf8)
        let r = try runCLI(["generate-image", "--config", unknown, "-o", dir + "/x.png"])
        XCTAssertTrue(r.stderr.contains("guidance: unknown key"), r.stderr)
        XCTAssertEqual(listing(dir), ["tiny-dit.yaml", "unknown.yaml"])
    }

    func testPresetsParse() throws {
        for model in ["dit-xl2-256", "dit-xl2-512"] {
            let r = try runCLI(["generate-image", "--model", model, "--weights", dir + "/absent.pt", "-o", dir + "/x.png"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("absent.pt"), "\(model): \(r.stderr)")
        }
    }
}
