import XCTest
import Pipeline
import Samplers
import TensorCore
import VideoIO
import Weights

/// `generate-image`'s whole path (ImageGenerator: DiT + IDDPM with guidance, then the sd-vae
/// decode and the save_image grid) on the golden tiny models with the reference's recorded noise:
/// the PNG bytes sample.py wrote, to within the case's 1-level rounding tolerance.
final class DiTImagePipelineTests: XCTestCase {
    /// A train.py checkpoint ({'model', 'ema', 'opt', 'args'}): its 'ema' weights, past the
    /// optimizer state and the argparse.Namespace.
    func testTrainCheckpointGivesItsEMAWeights() throws {
        let store = try ImageGenerator.openDiTWeights(fixtures + "/dit/dit_train_checkpoint.pt")
        let reference = try Checkpoint.open(fixtures + "/dit/dit_model.weights.safetensors")
        XCTAssertEqual(store.names, reference.names)
        for name in reference.names { XCTAssertEqual(try store.tensor(name).array, try reference.tensor(name).array, name) }
    }

    func testGeneratorReproducesSamplePyGrid() throws {
        let dir = fixtures + "/dit/"
        let samplerCase = try SafetensorsFile(path: dir + "dit_sample_ddpm.io.safetensors")
        let decodeCase = try SafetensorsFile(path: dir + "dit_vae_decode.io.safetensors")
        var config = ImageGenerationConfig()
        config.weights = dir + "dit_model.weights.safetensors"
        config.numHeads = 4
        config.imageSize = 64
        config.vaeWeights = dir + "dit_vae_decode.weights.safetensors"
        config.vaeNormGroups = 8
        config.classLabels = [1, 8, 3, 0, 9]
        config.numSamplingSteps = 8
        config.cfgScale = 4
        let generator = try ImageGenerator(config: config)
        var draws = [try samplerCase.tensor("z_init")]
        while samplerCase.contains("noise_draw\(draws.count - 1)") { draws.append(try samplerCase.tensor("noise_draw\(draws.count - 1)")) }
        let noise = RecordedNoise(draws, name: "dit_sample_ddpm")
        generator.noiseSource = noise
        let images = try generator.generate()
        XCTAssertEqual(noise.remaining, 0)

        let expectedImage = try decodeCase.tensor("image")
        let maxError = zip(images.array, expectedImage.array).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertEqual(images.shape, expectedImage.shape)
        XCTAssertLessThan(maxError, 4e-3, "decoded images (the sampler's float32 drift, 2.4e-4 in the latents, grows through the VAE)")

        let grid = try RGBImage(grid: images, columns: 4)
        let expected = try decodeCase.integers("png_uint8")
        XCTAssertEqual([grid.height, grid.width, 3], try decodeCase.shape("png_uint8"))
        let diffs = zip(grid.pixels, expected).map { abs(Int($0) - $1) }
        XCTAssertLessThanOrEqual(diffs.max() ?? 99, 1)
        XCTAssertLessThan(diffs.filter { $0 != 0 }.count, diffs.count / 100, "at most 1% of the bytes one level apart")
    }
}
