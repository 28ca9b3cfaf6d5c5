import Foundation
import XCTest
import Pipeline
import STDiT
import T5

/// The `cache:` section and `--cache` (docs/caching.md, docs/configuration.md).
final class ConfigCacheTests: XCTestCase {
    func testDefaultIsNoCacheWithPublishedParameters() throws {
        let c = try GenerationConfig.load(path: repoRoot + "/configs/opensora-v1.2.yaml")
        XCTAssertEqual(c.cache.method, .none)
        XCTAssertNil(c.cache.stepCacheMethod)
        XCTAssertEqual(c.cache.teaCache.threshold, 0.1)
        XCTAssertEqual(c.cache.teaCache.coefficients, [2.17546007e+02, -1.18329252e+02, 2.68662585e+01, -4.59364272e-02, 4.84426240e-02])
        let p = c.cache.pab
        XCTAssertEqual([p.spatialRange, p.temporalRange, p.crossRange], [2, 4, 6])
        XCTAssertEqual(p.window, 450...930)
        XCTAssertEqual(p.mlpTimesteps, [676, 788, 864])
        XCTAssertEqual(p.mlpBlocks, [0, 1, 2, 3, 4])
        XCTAssertEqual(p.mlpSkipCount, 2)
    }

    func testSectionIsReadAndDumpedBack() throws {
        let c = try parse("""
        cache:
          method: pab
          teacache:
            threshold: 0.2
            coefficients: [1, 0.5]
          pab:
            spatial_range: 3
            temporal_range: 5
            cross_range: 7
            timestep_window: [400, 950]
            mlp_timesteps: [700]
            mlp_blocks: [0, 1]
            mlp_skip_count: 1
        """)
        XCTAssertEqual(c.cache.method, .pab)
        XCTAssertEqual(c.cache.teaCache.threshold, 0.2)
        XCTAssertEqual(c.cache.teaCache.coefficients, [1, 0.5])
        XCTAssertEqual(c.cache.pab.window, 400...950)
        XCTAssertEqual([c.cache.pab.spatialRange, c.cache.pab.temporalRange, c.cache.pab.crossRange, c.cache.pab.mlpSkipCount], [3, 5, 7, 1])
        XCTAssertEqual(c.cache.pab.mlpTimesteps, [700])
        XCTAssertEqual(c.cache.pab.mlpBlocks, [0, 1])
        XCTAssertEqual(try parse(c.yamlText()), c, "the dumped config reads back the same")
    }

    func testCommandLineSpec() throws {
        var c = GenerationConfig.defaults
        var o = ConfigOverrides()
        o.cache = "teacache:0.2"
        try c.apply(overrides: o)
        XCTAssertEqual(c.cache.method, .teacache)
        XCTAssertEqual(c.cache.stepCacheMethod, .teaCache(TeaCacheSettings(threshold: 0.2)))
        o.cache = "pab"
        try c.apply(overrides: o)
        XCTAssertEqual(c.cache.stepCacheMethod, .pab(PABSettings()))
        o.cache = "none"
        try c.apply(overrides: o)
        XCTAssertNil(c.cache.stepCacheMethod)
        for bad in ["fast", "pab:2", "teacache:x", "teacache:-1"] {
            o.cache = bad
            var copy = c
            XCTAssertThrowsError(try copy.apply(overrides: o), bad) { e in
                XCTAssertTrue("\(e)".contains("command line") && "\(e)".contains("cache"), "\(e)")
            }
            XCTAssertEqual(copy, c, "a failed override leaves the config unchanged")
        }
    }

    func testBadValuesNameTheKey() {
        assertConfigError("cache:\n  method: fast\n", "cache.method", "none, teacache or pab")
        assertConfigError("cache:\n  methd: pab\n", "cache.methd", "unknown key")
        assertConfigError("cache:\n  pab:\n    spatial_range: 0\n", "cache.pab.spatial_range")
        assertConfigError("cache:\n  pab:\n    timestep_window: [900, 400]\n", "cache.pab.timestep_window")
        assertConfigError("cache:\n  teacache:\n    coefficients: [1, x]\n", "cache.teacache.coefficients")
        assertConfigError("cache:\n  teacache:\n    threshold: -0.5\n", "cache.teacache.threshold")
    }

    /// The memory estimate that refuses impossible requests counts the cache's bound: at 144p 2 s
    /// (latent 15x18x32, guidance batch 2), 122 hidden-state tensors for PAB on STDiT3-XL/2, 2 for TeaCache.
    func testMemoryEstimateIncludesTheCacheBound() throws {
        var c = GenerationConfig.defaults
        var o = ConfigOverrides()
        o.resolution = "144p"
        o.numFrames = "2s"
        try c.apply(overrides: o)
        XCTAssertEqual(c.latentSize, [15, 18, 32])
        let hidden = 2.0 * 2160 * 1152 * 4
        func bytes(_ spec: String) throws -> Double {
            o.cache = spec
            var copy = c
            try copy.apply(overrides: o)
            return MemoryEstimate(config: copy, videos: 1, sizes: .xl2(copy), denoiserWeightBytes: 0, vaeWeightBytes: 0).cacheBytes
        }
        XCTAssertEqual(try bytes("none"), 0)
        XCTAssertEqual(try bytes("teacache"), 2 * hidden)
        XCTAssertEqual(try bytes("pab"), 122 * hidden)
    }

    /// Every video of a run keeps its frames until the run ends, so the estimate grows with the
    /// number of prompts; the batch (activations) is at most batch_size videos and at most the run.
    func testMemoryEstimateCountsVideosAndBatch() throws {
        var c = GenerationConfig.defaults
        c.batchSize = 4
        func estimate(_ videos: Int) -> MemoryEstimate { MemoryEstimate(config: c, videos: videos, sizes: .xl2(c), denoiserWeightBytes: 0, vaeWeightBytes: 0) }
        let frames = 3.0 * 51 * 240 * 424 * 4                       // 240p 9:16 decodes to 240 x 424
        XCTAssertGreaterThan(estimate(100).heldBytes, 100 * frames)
        XCTAssertEqual(estimate(100).heldBytes, 100 * estimate(1).heldBytes, accuracy: 1)
        XCTAssertLessThan(estimate(1).denoiseBytes - estimate(1).heldBytes, estimate(4).denoiseBytes - estimate(4).heldBytes,
                          "one video is a batch of one, whatever batch_size says")
        XCTAssertEqual(estimate(4).denoiseBytes - estimate(4).heldBytes, estimate(40).denoiseBytes - estimate(40).heldBytes, accuracy: 1,
                       "a batch is at most batch_size videos")
    }
}

extension CheckpointSizes {
    /// The released v1.2 models' sizes (T5-XXL, STDiT3-XL/2, the v1.2 VAE) for `c`'s video.
    static func xl2(_ c: GenerationConfig) -> CheckpointSizes {
        CheckpointSizes(text: .xxl, denoiser: STDiTConfig(), latentShape: [4] + c.latentSize, decoderWidth: 128)
    }
}
