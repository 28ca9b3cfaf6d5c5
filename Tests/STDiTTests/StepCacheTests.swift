import XCTest
@testable import STDiT
import TensorCore
import Weights

/// The step cache's decisions (TeaCache, PAB), its invalidation, and that its hooks leave the
/// exact path's numbers alone (docs/caching.md).
final class StepCacheTests: XCTestCase {
    /// The demo config's 30-step schedule (no timestep transform): t = 1000 * (1 - i / 30).
    let demoSchedule: [Float] = (0..<30).map { Float((1.0 - Double($0) / 30) * 1000) }

    // MARK: TeaCache

    /// With the identity rescaling, the accumulated relative L1 change of the probe decides: skip
    /// while the sum stays under the threshold, compute (and restart the sum) when it reaches it;
    /// the first and the last step always compute.
    func testTeaCacheSkipsWhileAccumulatedChangeStaysUnderThreshold() {
        var settings = TeaCacheSettings(threshold: 0.25)
        settings.coefficients = [1, 0]          // rescaled(x) = x
        let steps = 8
        let cache = StepCache(method: .teaCache(settings), steps: steps)
        // Probe values whose relative L1 change from the previous step is 0.1 each step.
        var probe: Float = 1
        var computed: [Bool] = []
        var x = Tensor(repeating: 0, shape: [4, 2])
        for _ in 0..<steps {
            cache.beginForward(timestep: 500, tokenShape: x.shape)
            let p = Tensor(repeating: probe, shape: [4, 2])
            var ran = false
            cache.blockStack(&x, probe: { p }, run: { x in ran = true; x = x + 1 })
            computed.append(ran)
            probe *= 1.1
        }
        // step 0: compute; 1: 0.1; 2: 0.2 skip; 3: 0.3 >= 0.25 compute, reset; 4: 0.1; 5: 0.2; 6: 0.3 compute; 7: last.
        XCTAssertEqual(computed, [true, false, false, true, false, false, true, true])
        XCTAssertEqual(cache.statistics.fullForwards, 4)
        XCTAssertEqual(cache.statistics.skippedForwards, 4)
        // A skipped step adds the residual of the last computed stack (+1 here).
        XCTAssertEqual(x.array, [Float](repeating: 8, count: 8))
        XCTAssertEqual(cache.statistics.peakBytes, 2 * 8 * 4, "probe + residual")
    }

    func testTeaCachePolynomialIsTheReferenceOne() {
        let s = TeaCacheSettings()
        XCTAssertEqual(s.threshold, 0.1)
        // np.poly1d([2.17546007e+02, -1.18329252e+02, 2.68662585e+01, -4.59364272e-02, 4.84426240e-02])(0.1)
        let x = 0.1
        let expected = 2.17546007e+02 * pow(x, 4) - 1.18329252e+02 * pow(x, 3) + 2.68662585e+01 * x * x - 4.59364272e-02 * x + 4.84426240e-02
        XCTAssertEqual(s.rescaled(x), expected, accuracy: 1e-12)
    }

    // MARK: PAB

    /// Which branches PAB reuses over the demo schedule, block by block, with VideoSys's
    /// Open-Sora defaults: inside 450 < int(t) < 930 (steps 3 ... 16 here), spatial attention on
    /// odd steps, temporal on steps not divisible by 4, cross-attention on steps not divisible by 6.
    func testPABBroadcastPattern() {
        let cache = StepCache(method: .pab(PABSettings()), steps: 30)
        let sites = [CacheSite(stack: 0, block: 0, branch: .spatialAttention), CacheSite(stack: 1, block: 0, branch: .temporalAttention),
                     CacheSite(stack: 0, block: 0, branch: .crossAttention)]
        var reused: [[Int]] = [[], [], []]
        for (i, t) in demoSchedule.enumerated() {
            cache.beginForward(timestep: t, tokenShape: [6, 2])
            for (k, site) in sites.enumerated() {
                var x = Tensor(repeating: 0, shape: [6, 2])
                if cache.replay(site, into: &x) { reused[k].append(i); continue }
                cache.keeper(site)?(Tensor(repeating: 1, shape: [6, 2]))
            }
        }
        let window = Array(3...16)
        XCTAssertEqual(reused[0], window.filter { $0 % 2 != 0 })
        XCTAssertEqual(reused[1], window.filter { $0 % 4 != 0 })
        XCTAssertEqual(reused[2], window.filter { $0 % 6 != 0 })
        XCTAssertEqual(cache.statistics.reusedAttention, 7 + 10)
        XCTAssertEqual(cache.statistics.reusedCrossAttention, 12)
        XCTAssertEqual(cache.heldBytes, 0, "past the window nothing is kept")
        XCTAssertEqual(cache.statistics.peakBytes, 3 * 12 * 4)
    }

    /// MLP reuse: at a listed timestep the MLPs of the listed blocks are computed and kept, and
    /// replayed for the next `mlpSkipCount` steps; other blocks always compute.
    func testPABMLPReuse() {
        var p = PABSettings()
        p.mlpTimesteps = [900]
        p.mlpBlocks = [0]
        let cache = StepCache(method: .pab(p), steps: 6)
        let listed = CacheSite(stack: 1, block: 0, branch: .mlp), other = CacheSite(stack: 1, block: 1, branch: .mlp)
        var reused: [Int] = []
        for (i, t) in [Float(1000), 900.4, 850, 800, 750, 700].enumerated() {
            cache.beginForward(timestep: t, tokenShape: [2, 2])
            var x = Tensor(repeating: 0, shape: [2, 2])
            XCTAssertNil(cache.keeper(other))
            XCTAssertFalse(cache.replay(other, into: &x))
            if cache.replay(listed, into: &x) { reused.append(i); XCTAssertEqual(x.array, [5, 5, 5, 5]); continue }
            cache.keeper(listed)?(Tensor(repeating: 5, shape: [2, 2]))
        }
        XCTAssertEqual(reused, [2, 3])
        XCTAssertEqual(cache.statistics.reusedMLP, 2)
        XCTAssertEqual(cache.heldBytes, 0)
    }

    /// Timesteps are compared as the reference does, int() of t in the compute dtype: with bf16
    /// rounding 929.5 becomes 928 (inside the window), without it 929.
    func testTimestepKeyUsesTheGivenRounding() {
        var p = PABSettings()
        p.mlpTimesteps = [928]
        let rounded = StepCache(method: .pab(p), steps: 3, timestepKey: { Int(bf16ToFloat(floatToBF16($0))) })
        let plain = StepCache(method: .pab(p), steps: 3)
        for cache in [rounded, plain] { cache.beginForward(timestep: 929.5, tokenShape: [1, 1]) }
        XCTAssertNotNil(rounded.keeper(CacheSite(stack: 0, block: 0, branch: .mlp)))
        XCTAssertNil(plain.keeper(CacheSite(stack: 0, block: 0, branch: .mlp)))
    }

    // MARK: invalidation

    /// A new run (after `steps` calls, after reset(), or on hidden states of another shape) keeps
    /// nothing from the last one.
    func testNothingCarriesOverBetweenRuns() {
        let cache = StepCache(method: .pab(PABSettings()), steps: 3)
        let site = CacheSite(stack: 0, block: 0, branch: .crossAttention)
        func run(_ shape: [Int]) -> [Bool] {
            (0..<3).map { i in
                cache.beginForward(timestep: [1000, 900, 800][i], tokenShape: shape)
                var x = Tensor(repeating: 0, shape: shape)
                if cache.replay(site, into: &x) { return true }
                cache.keeper(site)?(Tensor(repeating: 1, shape: shape))
                return false
            }
        }
        XCTAssertEqual(run([2, 2]), [false, true, true])
        XCTAssertEqual(cache.step, 2)
        XCTAssertEqual(run([2, 2]), [false, true, true], "a second run starts over at step 0")
        cache.beginForward(timestep: 1000, tokenShape: [2, 2])
        cache.beginForward(timestep: 900, tokenShape: [3, 2])        // another batch or size mid-run
        XCTAssertEqual(cache.step, 0)
        var x = Tensor(repeating: 0, shape: [3, 2])
        XCTAssertFalse(cache.replay(site, into: &x))
        cache.reset()
        XCTAssertEqual(cache.step, -1)
        XCTAssertEqual(cache.heldBytes, 0)

        let tea = StepCache(method: .teaCache(TeaCacheSettings(threshold: 100)), steps: 3)
        var y = Tensor(repeating: 0, shape: [2, 2])
        for _ in 0..<2 {
            tea.beginForward(timestep: 1, tokenShape: y.shape)
            tea.blockStack(&y, probe: { Tensor(repeating: 1, shape: [2, 2]) }, run: { $0 = $0 + 1 })
        }
        tea.reset()
        tea.beginForward(timestep: 1, tokenShape: y.shape)
        var ran = false
        tea.blockStack(&y, probe: { Tensor(repeating: 1, shape: [2, 2]) }, run: { ran = true; $0 = $0 + 1 })
        XCTAssertTrue(ran, "the first step after a reset computes")
    }

    // MARK: models

    /// Steps the cache computes go through every hook (block stack, each branch's replay and keep
    /// points) and give the same bits as no cache: PAB's first step (everything computed and
    /// kept), a PAB that never reuses, TeaCache with threshold 0; for STDiT3 and STDiT2.
    func testComputedStepsAreBitIdenticalToNoCache() throws {
        var never = PABSettings()
        (never.spatialRange, never.temporalRange, never.crossRange, never.mlpTimesteps) = (1, 1, 1, [])
        var keepAll = PABSettings()
        keepAll.mlpTimesteps = [1000]
        let methods: [StepCacheMethod] = [.pab(keepAll), .pab(never), .teaCache(TeaCacheSettings(threshold: 0))]
        var k = try STDiT3Case().input
        k.timesteps = [Float](repeating: 1000, count: k.batch)
        let model3 = try STDiT3Case().model
        let exact = try model3(k)
        for m in methods {
            let cache = StepCache(method: m, steps: 3)
            XCTAssertEqual(try model3(k, cache: cache).array, exact.array, "stdit3 \(m), step 0")
            if case .pab(keepAll) = m { continue }
            XCTAssertEqual(try model3(k, cache: cache).array, exact.array, "stdit3 \(m), step 1")
        }
        let io = try SafetensorsFile(path: fixtures + "/stdit2.io.safetensors")
        let mask = try rows(io, "mask")
        var v2 = STDiT2Input(latent: try io.tensor("x"), timesteps: try io.tensor("timestep").array, caption: try io.tensor("y"),
                             captionMask: mask, numFrames: try io.tensor("num_frames").array, height: try io.tensor("height").array,
                             width: try io.tensor("width").array, aspectRatio: try io.tensor("ar").array, fps: try io.tensor("fps").array)
        v2.timesteps = v2.timesteps.map { _ in 1000 }
        let w2 = try SafetensorsFile(path: fixtures + "/stdit2.weights.safetensors")
        var c2 = try STDiTConfig.inferred(from: w2, numHeads: 4)
        c2.qkNormLegacy = true
        let model2 = try STDiT2(weights: w2, config: c2)
        let exact2 = try model2(v2)
        for m in methods { XCTAssertEqual(try model2(v2, cache: StepCache(method: m, steps: 3)).array, exact2.array, "stdit2 \(m)") }
    }

    /// PAB through STDiT3 with CFG batch and x_mask: reused steps stay close to the exact call on
    /// the same input (here the input does not change, so reuse should be nearly exact) and every
    /// branch kind is exercised.
    func testPABAndTeaCacheReplayThroughModels() throws {
        let k = try STDiT3Case()
        var input = k.input
        let b = input.batch, frames = input.latent.shape[2]
        input.frameMask = (0..<b).map { _ in (0..<frames).map { $0 != 0 } }     // first frame conditions
        var p = PABSettings()
        p.mlpTimesteps = [900]
        p.mlpBlocks = [0, 1]
        let cache = StepCache(method: .pab(p), steps: 4)
        for t in [Float(900), 899, 898, 897] {
            input.timesteps = [Float](repeating: t, count: b)
            let out = try k.model(input, cache: cache)
            let exact = try k.model(input)
            XCTAssertTrue(out.array.allSatisfy(\.isFinite))
            let scale = exact.array.map(abs).max() ?? 1
            print("PAB at t = \(t): max |cached - exact| = \(out.maxAbsDifference(exact)) (max |exact| \(scale))")
            XCTAssertLessThan(out.maxAbsDifference(exact), 0.1 * scale, "t = \(t)")
        }
        let s = cache.statistics
        XCTAssertGreaterThan(s.reusedAttention, 0)
        XCTAssertGreaterThan(s.reusedCrossAttention, 0)
        XCTAssertEqual(s.reusedMLP, 2 * 2 * 2, "2 stacks x 2 blocks x 2 steps")

        // TeaCache: an unchanged input is skipped after the first step, and replaying the residual
        // reproduces the computed output up to rounding.
        let tea = StepCache(method: .teaCache(TeaCacheSettings(threshold: 0.1)), steps: 3)
        input.timesteps = [Float](repeating: 500, count: b)
        let computed = try k.model(input, cache: tea)
        let replayed = try k.model(input, cache: tea)
        XCTAssertEqual(tea.statistics.skippedForwards, 1)
        XCTAssertLessThan(replayed.maxAbsDifference(computed), 1e-4)
    }
}
