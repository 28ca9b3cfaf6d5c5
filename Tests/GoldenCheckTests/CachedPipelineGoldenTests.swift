import XCTest
@testable import GoldenCheck
import Pipeline
import Samplers
import STDiT
import TensorCore

/// The golden pipeline case (pipeline_e2e: T5, 4 rectified-flow steps of STDiT3 with CFG, VAE)
/// with step caching: `none` matches the reference at the case's tolerance, and the approximate
/// methods are measured against the reference video (docs/caching.md).
final class CachedPipelineGoldenTests: XCTestCase {
    func run(_ spec: String, fullWindow: Bool = false) throws -> (video: Tensor, samples: Tensor, statistics: StepCacheStatistics?, reference: GoldenCase) {
        let c = try GoldenCase(path: fixtures + "/pipeline_e2e.json")
        var config = try PipelineCheck.generationConfig(c)
        var o = ConfigOverrides()
        o.cache = spec
        try config.apply(overrides: o)
        if fullWindow { config.cache.pab.window = 0...1000 }
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        generator.noiseSource = RecordedNoise([try c.tensor("z_init")], name: "z_init")
        let videos = try generator.generate(prompts: try PipelineCheck.strings(c, "prompts"))
        let video = concat(videos.map { $0.frames.reshaped([1] + $0.frames.shape) }, axis: 0)
        let samples = concat(videos.map { $0.latent.reshaped([1] + $0.latent.shape) }, axis: 0)
        return (video, samples, generator.cacheStatistics, c)
    }

    func testCacheMethodsAgainstReferenceVideo() throws {
        let exact = try run("none")
        let refVideo = try exact.reference.tensor("video"), refSamples = try exact.reference.tensor("samples")
        XCTAssertLessThanOrEqual(exact.samples.maxAbsDifference(refSamples), 5e-5)
        XCTAssertLessThanOrEqual(exact.video.maxAbsDifference(refVideo), 4e-4)
        // This case's 4 timesteps miss PAB's window except the first; "pab, window 0-1000" widens it
        // to see the error of reuse on this case at all.
        for (spec, wide) in [("teacache", false), ("teacache:0.2", false), ("pab", false), ("pab", true)] {
            let r = try run(spec, fullWindow: wide)
            let s = try XCTUnwrap(r.statistics)
            let psnr = VideoSimilarity.psnr(r.video, refVideo), ssim = VideoSimilarity.ssim(r.video, refVideo)
            print(String(format: "pipeline_e2e %@: samples max abs %.3g, video max abs %.3g, PSNR %.2f dB, SSIM %.4f; %d full / %d skipped forwards, self-attn %d reused of %d, cross %d of %d",
                         spec + (wide ? " (window 0-1000)" : ""), r.samples.maxAbsDifference(refSamples), r.video.maxAbsDifference(refVideo), psnr, ssim,
                         s.fullForwards, s.skippedForwards, s.reusedAttention, s.reusedAttention + s.computedAttention,
                         s.reusedCrossAttention, s.reusedCrossAttention + s.computedCrossAttention))
            XCTAssertEqual(s.fullForwards + s.skippedForwards, 4)
            XCTAssertTrue(r.video.array.allSatisfy(\.isFinite))
        }
    }

    func testVideoSimilarityMeasures() {
        let a = Tensor(repeating: 0, shape: [3, 2, 16, 16]), b = Tensor(repeating: 0.2, shape: [3, 2, 16, 16])
        XCTAssertEqual(VideoSimilarity.psnr(a, a), .infinity)
        XCTAssertEqual(VideoSimilarity.ssim(a, a), 1, accuracy: 1e-12)
        // [-1, 1] -> [0, 1]: 0.5 vs 0.6, MSE 0.01 -> 20 dB; SSIM = luminance term (2 * 0.3 + C1) / (0.61 + C1).
        XCTAssertEqual(VideoSimilarity.psnr(a, b), 20, accuracy: 1e-4)
        XCTAssertEqual(VideoSimilarity.ssim(a, b), (0.6 + 1e-4) / (0.61 + 1e-4), accuracy: 1e-6)
        var noisy = a
        for i in stride(from: 0, to: noisy.count, by: 3) { noisy[flat: i] = 0.5 }
        XCTAssertLessThan(VideoSimilarity.ssim(a, noisy), 0.9)
    }
}
