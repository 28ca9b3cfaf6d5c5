import Foundation
import TensorCore
import Weights
import XCTest

/// `opensora generate` with the Open-Sora v1.1 and v1.0 families at toy sizes: the golden
/// STDiT2 / STDiT weights, IDDPM / DDIM, and the sd-vae path (the spatial half of the golden
/// v1.2 VAE, applied frame by frame, so T latent frames give T video frames).
final class LegacyGenerateCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = scratchFolder("legacy") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// The AutoencoderKL of vae_T1 (spatial_vae.module.*) as a plain diffusers-style checkpoint.
    func writeSpatialVAE() throws -> String {
        let store = try Checkpoint.open(repoRoot + "/Tests/Fixtures/golden/vae_T1.weights.safetensors")
        let prefix = "spatial_vae.module."
        let items = try store.names.filter { $0.hasPrefix(prefix) }.sorted().map { name in
            SafetensorsWriter.item(String(name.dropFirst(prefix.count)), try store.tensor(name))
        }
        let path = dir + "/sd-vae.safetensors"
        try SafetensorsWriter().write(items, to: path)
        return path
    }

    func config(denoiser: String, scheduler: String, frames: Int, size: [Int]) throws -> String {
        let yaml = """
        model:
          text_encoder:
            type: t5
            path: Tests/Fixtures/golden/t5_encoder.weights.safetensors
            tokenizer: Tests/Fixtures/golden/tokenizer.model
            model_max_length: 16
          denoiser:
        \(denoiser)
          vae:
            type: sd-vae
            path: \(try writeSpatialVAE())
            micro_batch_size: 2
            spatial:
              norm_num_groups: 8
        scheduler:
        \(scheduler)
        image_size: [\(size[0]), \(size[1])]
        num_frames: \(frames)
        fps: 24
        seed: 7
        batch_size: 2
        aes: null
        dtype: fp32
        rng: torch
        """
        let path = dir + "/config.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testSTDiT2WithIDDPMAndTheSDVAE() throws {
        let cfg = try config(denoiser: """
              type: stdit2
              path: Tests/Fixtures/golden/stdit2.weights.safetensors
              num_heads: 4
        """, scheduler: """
          type: iddpm
          num_sampling_steps: 3
          cfg_scale: 7.0
          cfg_channel: 3
        """, frames: 3, size: [32, 48])
        let out = dir + "/v11.mp4"
        let r = try runCLI(["generate", "--config", cfg, "--prompt", "a horse in the snow", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try probe(out)
        XCTAssertEqual(info["width"], "48")
        XCTAssertEqual(info["height"], "32")
        XCTAssertEqual(info["nb_read_frames"], "3")
    }

    func testSTDiTV1WithDDIMAtItsFixedSize() throws {
        // The v1.0 model's position tables cover 4 x (4 x 4) patches: latent 4 x 8 x 8, video 4 x 64 x 64.
        let denoiser = """
              type: stdit
              path: Tests/Fixtures/golden/stdit.weights.safetensors
              num_heads: 4
        """
        let cfg = try config(denoiser: denoiser, scheduler: "  type: ddim\n  num_sampling_steps: 2\n  cfg_scale: 7.0", frames: 4, size: [64, 64])
        let out = dir + "/v10.mp4"
        let r = try runCLI(["generate", "--config", cfg, "--prompt", "a boat on a calm river", "--output", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try probe(out)["nb_read_frames"], "4")

        // Another size than the checkpoint's tables: a clear error, no output.
        let wrong = try config(denoiser: denoiser, scheduler: "  type: ddim\n  num_sampling_steps: 2\n  cfg_scale: 7.0", frames: 4, size: [32, 48])
        let r2 = try runCLI(["generate", "--config", wrong, "--prompt", "x", "--output", dir + "/bad.mp4"])
        XCTAssertNotEqual(r2.status, 0)
        XCTAssertTrue(r2.stderr.contains("position embeddings are for 4 x 16"), r2.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.mp4"))
    }
}
