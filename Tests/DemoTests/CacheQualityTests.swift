import Foundation
import XCTest
import GoldenCheck
import Pipeline
import Samplers
import STDiT
import TensorCore

/// Step caching on the embedded demo model (docs/caching.md): each method's behaviour score on the
/// held-out prompts, and PSNR of its videos against the exact run. CACHE_QUALITY_SWEEP=1 adds
/// SSIM (slow in a debug build) and the other TeaCache thresholds of the docs' table.
final class CacheQualityTests: XCTestCase {
    struct Run {
        let videos: [GeneratedVideo]
        let statistics: StepCacheStatistics?
        let seconds: Double
    }

    func generate(cache spec: String, prompts: [String], batchSize: Int, numSample: Int = 1, steps: Int? = nil,
                  noise: NoiseSource? = nil) throws -> Run {
        var config = try GenerationConfig.load(path: repoRoot + "/configs/demo.yaml")
        var o = ConfigOverrides()
        o.cache = spec
        o.batchSize = batchSize
        o.numSample = numSample
        o.numSamplingSteps = steps
        try config.apply(overrides: o)
        let generator = try VideoGenerator(config: config)
        generator.writeOutputs = false
        generator.noiseSource = noise
        let t0 = Date()
        let videos = try generator.generate(prompts: prompts)
        return Run(videos: videos, statistics: generator.cacheStatistics, seconds: Date().timeIntervalSince(t0))
    }

    func testCachedDemoKeepsItsBehaviour() throws {
        let prompts = DemoBehaviourTests.prompts
        XCTAssertEqual(prompts.count, 12)
        let exact = try generate(cache: "none", prompts: prompts, batchSize: prompts.count)
        XCTAssertNil(exact.statistics)
        var methods = ["teacache", "pab"]
        let sweep = ProcessInfo.processInfo.environment["CACHE_QUALITY_SWEEP"] == "1"
        if sweep {
            methods += ["teacache:0.2", "teacache:0.3"]
        }
        print("| method | behaviour (both) | PSNR vs exact | SSIM vs exact | full / skipped forwards | self-attn reused | cross-attn reused | cache peak | denoise+decode s |")
        func row(_ label: String, _ run: Run) -> Double {
            var both = 0
            for (video, want) in zip(run.videos, DemoBehaviourTests.heldOut) {
                let seen = ClipProbe.measure(video.frames)
                both += seen.colour == want.colour && seen.direction == want.direction ? 1 : 0
            }
            let got = concat(run.videos.map(\.frames), axis: 0), ref = concat(exact.videos.map(\.frames), axis: 0)
            let s = run.statistics ?? StepCacheStatistics()
            print(String(format: "| %@ | %d/12 | %.2f dB | %.4f | %d / %d | %d / %d | %d / %d | %.1f MiB | %.1f |", label, both,
                         VideoSimilarity.psnr(got, ref), sweep ? VideoSimilarity.ssim(got, ref) : .nan, s.fullForwards, s.skippedForwards,
                         s.reusedAttention, s.reusedAttention + s.computedAttention, s.reusedCrossAttention,
                         s.reusedCrossAttention + s.computedCrossAttention, Double(s.peakBytes) / 1_048_576, run.seconds))
            return Double(both) / Double(run.videos.count)
        }
        XCTAssertGreaterThanOrEqual(row("none", exact), DemoBehaviourTests.requiredFraction)
        for m in methods {
            let run = try generate(cache: m, prompts: prompts, batchSize: prompts.count)
            let score = row(m, run)
            let s = try XCTUnwrap(run.statistics)
            XCTAssertEqual(s.fullForwards + s.skippedForwards, 30, m)
            if m.hasPrefix("teacache") { XCTAssertGreaterThan(s.skippedForwards, 0, "\(m) skipped nothing") }
            if m == "pab" { XCTAssertGreaterThan(s.reusedAttention + s.reusedCrossAttention, 0, "pab reused nothing") }
            // Each method's default setting must keep the demo's behaviour (issue 20).
            if m == "teacache" || m == "pab" {
                XCTAssertGreaterThanOrEqual(score, DemoBehaviourTests.requiredFraction, "\(m) at its default breaks the demo's behaviour")
            }
        }
    }

    /// One cache per sampling run: with the same noise for every draw, a prompt's videos are the
    /// same bits whether it runs alone or after another prompt (another batch), and its second
    /// sample equals its first. (8 steps to keep it short: the window and ranges still apply.)
    func testCacheStateDoesNotCarryOverBetweenPromptsBatchesAndSamples() throws {
        let prompts = ["a red circle moving right on a blue background", "a yellow square moving up on a purple background"]
        for method in ["teacache:10", "pab"] {     // a high threshold, so that 8 big steps skip some
            let both = try generate(cache: method, prompts: prompts, batchSize: 1, numSample: 2, steps: 8, noise: SameNoise())
            let alone = try generate(cache: method, prompts: [prompts[1]], batchSize: 1, numSample: 1, steps: 8, noise: SameNoise())
            XCTAssertEqual(both.videos.count, 4)
            let second = both.videos.filter { $0.index == 1 }
            XCTAssertEqual(second.count, 2)
            for v in second { XCTAssertEqual(v.frames.array, alone.videos[0].frames.array, "\(method): prompt 2, sample \(v.sample)") }
            let s = try XCTUnwrap(both.statistics)
            XCTAssertEqual(s.fullForwards + s.skippedForwards, 4 * 8, "statistics add up over 4 sampling runs")
            XCTAssertGreaterThan(s.skippedForwards + s.reusedAttention, 0, "\(method) did nothing in 8 steps")
        }
    }
}

/// The same standard-normal draws for every request of a shape.
final class SameNoise: NoiseSource {
    func standardNormal(_ shape: [Int]) throws -> Tensor { NativeNoise(seed: 7).standardNormal(shape) }
}
