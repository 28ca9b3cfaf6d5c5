import XCTest
@testable import GoldenCheck
import Pipeline
import Samplers
import TensorCore

/// Open-Sora 2.0 through the pipeline (VideoGenerator with Tests/Fixtures/config/tiny-v2.yaml: the
/// golden tiny MMDiT, T5, CLIP and Hunyuan VAE) given a golden sampler case's inputs: its final
/// latent checks the wiring (prompt suffixes, text rows of the branches, noise from the seed,
/// geometry and schedule, condition, write-back) against the reference, at the case's tolerance.
final class OpenSora2PipelineTests: XCTestCase {
    let tinyConfig = fixtures + "/../config/tiny-v2.yaml"

    /// The tiny config with the case's prompt, seed, size, frames, steps and condition type.
    func configFor(_ c: GoldenCase, ref: String? = nil) throws -> GenerationConfig {
        var config = try GenerationConfig.load(path: tinyConfig)
        let o = try XCTUnwrap(c.config["SamplingOption"] as? [String: Any])
        var overrides = ConfigOverrides()
        overrides.prompts = try XCTUnwrap(c.config["prompts"] as? [String])
        overrides.seed = try XCTUnwrap(c.config["seed"] as? Int)
        overrides.imageSize = [try XCTUnwrap(o["height"] as? Int), try XCTUnwrap(o["width"] as? Int)]
        overrides.numFrames = "\(try XCTUnwrap(o["num_frames"] as? Int))"
        overrides.numSamplingSteps = try XCTUnwrap(o["num_steps"] as? Int)
        overrides.guidance = try XCTUnwrap(o["guidance"] as? Double)
        overrides.guidanceImg = try XCTUnwrap(o["guidance_img"] as? Double)
        overrides.condType = try XCTUnwrap(c.config["cond_type"] as? String)
        if let ref { overrides.ref = [ref] }
        try config.apply(overrides: overrides)
        return config
    }

    func testTextToVideoGivesTheGoldenCasesFinalLatent() throws {
        let c = try GoldenCase(path: fixtures + "/v2_text/v2_sample_t2v.json")
        let generator = try VideoGenerator(config: try configFor(c))
        generator.writeOutputs = false
        let videos = try generator.generate(prompts: generator.config.prompts)
        let latent = try XCTUnwrap(videos.first).latent
        let expected = try c.tensor("final")
        XCTAssertEqual(latent.shape, Array(expected.shape.dropFirst()))
        let error = latent.maxAbsDifference(expected.reshaped(latent.shape))
        print("tiny-v2 t2v through the pipeline: final latent max abs error \(error) (tolerance \(c.tolerance(for: "final")))")
        XCTAssertLessThanOrEqual(error, c.tolerance(for: "final"))
        // t2v: the unconditioned branch equals the image one, and oscillation sets the text scale to 1 on odd steps >= 10.
        XCTAssertEqual(generator.forwards?.made, 23)
        XCTAssertEqual(generator.forwards?.reference, 36)
        // The decoded video: 9 frames of 64 x 96.
        XCTAssertEqual(videos[0].frames.shape, [3, 9, 64, 96])
    }

    /// One guidance branch per forward (a third of the activations): the final latent stays within the
    /// case's tolerance (the GEMMs over fewer rows round differently in the last bits).
    func testOneBranchPerForwardGivesTheSameLatent() throws {
        let c = try GoldenCase(path: fixtures + "/v2_text/v2_sample_i2v_head.json")
        let image = fixtures + "/../images/pattern_37x23.png"
        var latents: [Tensor] = []
        for perForward in [3, 1] {
            var config = try configFor(c, ref: image)
            config.denoiser.branchesPerForward = perForward
            let generator = try VideoGenerator(config: config)
            generator.writeOutputs = false
            generator.referenceLatents[image] = try c.tensor("ref_latent")
            latents.append(try XCTUnwrap(try generator.generate(prompts: config.prompts).first).latent)
        }
        let between = latents[1].maxAbsDifference(latents[0])
        print("tiny-v2 i2v_head, 1 vs 3 branches per forward: final latent max abs difference \(between)")
        XCTAssertLessThanOrEqual(latents[1].maxAbsDifference(try c.tensor("final").reshaped(latents[1].shape)), c.tolerance(for: "final"))
        XCTAssertLessThanOrEqual(between, c.tolerance(for: "final") / 4)
    }

    func testImageToVideoGivesTheGoldenCasesFinalLatent() throws {
        let c = try GoldenCase(path: fixtures + "/v2_text/v2_sample_i2v_head.json")
        let image = fixtures + "/../images/pattern_37x23.png"
        let generator = try VideoGenerator(config: try configFor(c, ref: image))
        generator.writeOutputs = false
        // The case's reference latent stands for the VAE's encoding of the image (its StubAE).
        generator.referenceLatents[image] = try c.tensor("ref_latent")
        let videos = try generator.generate(prompts: generator.config.prompts)
        let latent = try XCTUnwrap(videos.first).latent
        let error = latent.maxAbsDifference(try c.tensor("final").reshaped(latent.shape))
        print("tiny-v2 i2v_head through the pipeline: final latent max abs error \(error) (tolerance \(c.tolerance(for: "final")))")
        XCTAssertLessThanOrEqual(error, c.tolerance(for: "final"))
        XCTAssertEqual(generator.forwards?.made, 34)
    }
}
