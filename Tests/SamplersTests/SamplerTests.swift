import XCTest
import Samplers
import TensorCore

/// Records what the sampler gives the model; answers cond/uncond rows with fixed values.
final class ToyModel {
    var calls: [(x: Tensor, t: [Float], mask: [Bool]?)] = []
    let cond: Float, uncond: Float
    let channelsOut: (Int) -> Int
    init(cond: Float, uncond: Float, channelsOut: @escaping (Int) -> Int = { 2 * $0 }) {
        self.cond = cond
        self.uncond = uncond
        self.channelsOut = channelsOut
    }

    func callAsFunction(_ x: Tensor, _ t: [Float], _ mask: [Bool]?) throws -> Tensor {
        calls.append((x, t, mask))
        var shape = x.shape
        shape[1] = channelsOut(x.shape[1])
        let half = shape[0] / 2
        var out = Tensor(zeros: shape)
        let row = out.count / shape[0]
        out.withMutableData { d in
            for r in 0..<shape[0] { for k in 0..<row { d[r * row + k] = r < half ? cond : uncond } }
        }
        return out
    }
}

func ramp(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, data: (0..<n).map { Float($0 % 7) - 3 })
}

final class RectifiedFlowTests: XCTestCase {
    let size = [VideoSize(height: 64, width: 64, frames: 1)]

    func testEulerStepsIntegrateTheGuidedVelocity() throws {
        let z = ramp([2, 4, 3, 2, 2])
        let model = ToyModel(cond: 0.5, uncond: 0.25)
        let s = RectifiedFlowSampler(steps: 5, guidanceScale: 3, useTimestepTransform: false)
        let out = try s.start(SamplingInputs(latent: z, sizes: size), model: model.callAsFunction, noise: RecordedNoise([])).finish()
        // v = 0.25 + 3 * 0.25 = 1 everywhere; the dt sum to t0 / 1000 = 1.
        for (a, b) in zip(out.array, z.array) { XCTAssertEqual(a, b + 1, accuracy: 1e-6) }
        XCTAssertEqual(model.calls.count, 5)
        for call in model.calls {
            XCTAssertEqual(call.x.shape, [4, 4, 3, 2, 2])
            XCTAssertEqual(call.x.slice(0..<2).array, call.x.slice(2..<4).array)   // cond and null halves
            XCTAssertEqual(call.t.count, 4)
            XCTAssertNil(call.mask)
        }
        XCTAssertEqual(model.calls.map { $0.t[0] }, [1000, 800, 600, 400, 200])
    }

    func testStepsAreASequenceThatCanStopAndResume() throws {
        let model = ToyModel(cond: 1, uncond: 1)
        let run = try RectifiedFlowSampler(steps: 4, useTimestepTransform: false)
            .start(SamplingInputs(latent: ramp([1, 4, 1, 2, 2]), sizes: size), model: model.callAsFunction, noise: RecordedNoise([]))
        var seen: [Int] = []
        for step in run {
            seen.append(step.index)
            XCTAssertEqual(step.count, 4)
            if step.index == 1 { break }        // cancel
        }
        XCTAssertEqual(seen, [0, 1])
        XCTAssertEqual(run.completed, 2)
        XCTAssertEqual(model.calls.count, 2)
        _ = try run.finish()
        XCTAssertTrue(run.isFinished)
        XCTAssertEqual(model.calls.count, 4)
        XCTAssertNil(run.next())
    }

    func testModelErrorsEndTheRunAndAreRethrown() throws {
        struct Boom: Error {}
        var calls = 0
        let run = try RectifiedFlowSampler(steps: 3, useTimestepTransform: false)
            .start(SamplingInputs(latent: ramp([1, 4, 1, 2, 2]), sizes: size), model: { x, _, _ in
                calls += 1
                if calls == 2 { throw Boom() }
                return Tensor(zeros: [x.shape[0], 8] + x.shape[2...])
            }, noise: RecordedNoise([]))
        XCTAssertEqual(Array(run).count, 1)
        XCTAssertTrue(run.error is Boom)
        XCTAssertThrowsError(try run.finish()) { XCTAssertTrue($0 is Boom) }
    }

    func testModelOutputShapeIsChecked() throws {
        let model = ToyModel(cond: 0, uncond: 0, channelsOut: { $0 })     // no sigma channels
        let run = try RectifiedFlowSampler(steps: 2, useTimestepTransform: false)
            .start(SamplingInputs(latent: ramp([1, 4, 1, 2, 2]), sizes: size), model: model.callAsFunction, noise: RecordedNoise([]))
        XCTAssertThrowsError(try run.finish()) { e in
            XCTAssertEqual("\(e)", "model output: rectified flow (velocity + sigma channels) expects shape [2, 8, 1, 2, 2], got [2, 4, 1, 2, 2]")
        }
    }

    /// Frames by mask value: 0 stays the reference latent, 1 is generated from the start (z is
    /// already noise there), 0.5 joins at t = 500, noised to that level first.
    func testImageToVideoMaskedFrames() throws {
        let z = ramp([1, 4, 3, 2, 2])
        let mask = Tensor(shape: [1, 3], data: [0, 1, 0.5])
        let noise = RecordedNoise((0..<4).map { _ in Tensor(repeating: 0.5, shape: z.shape) })
        let model = ToyModel(cond: 1, uncond: 1)                 // v = 1
        let out = try RectifiedFlowSampler(steps: 4, useTimestepTransform: false)
            .start(SamplingInputs(latent: z, frameMask: mask, sizes: size), model: model.callAsFunction, noise: noise).finish()
        XCTAssertEqual(noise.remaining, 0)                       // one draw per step
        XCTAssertEqual(model.calls.map { $0.t[0] }, [1000, 750, 500, 250])
        XCTAssertEqual(model.calls.map { $0.mask! }, [[false, true, false], [false, true, false], [false, true, true], [false, true, true]]
            .map { $0 + $0 })
        XCTAssertEqual(model.calls[0].x[0].array, z[0].array)
        for c in 0..<4 {
            for p in 0..<4 {
                let i = { (f: Int) in (c * 3 + f) * 4 + p }
                XCTAssertEqual(out[flat: i(0)], z[flat: i(0)])
                XCTAssertEqual(out[flat: i(1)], z[flat: i(1)] + 1, accuracy: 1e-6)
                // noised at t = 500: 0.5 * x0 + 0.5 * 0.5, then two steps of dt = 0.25
                XCTAssertEqual(out[flat: i(2)], 0.5 * z[flat: i(2)] + 0.75, accuracy: 1e-6)
            }
        }
    }

    func testBadInputsAreRefused() {
        let s = RectifiedFlowSampler(steps: 2)
        let model = ToyModel(cond: 0, uncond: 0)
        XCTAssertThrowsError(try s.start(SamplingInputs(latent: ramp([4, 3, 2, 2]), sizes: size), model: model.callAsFunction, noise: RecordedNoise([])))
        XCTAssertThrowsError(try s.start(SamplingInputs(latent: ramp([1, 4, 3, 2, 2]), frameMask: Tensor(zeros: [1, 2]), sizes: size),
                                         model: model.callAsFunction, noise: RecordedNoise([])))
        XCTAssertThrowsError(try s.start(SamplingInputs(latent: ramp([1, 4, 3, 2, 2]), sizes: [VideoSize(height: 64, width: 64, frames: 8)]),
                                         model: model.callAsFunction, noise: RecordedNoise([])))
        XCTAssertThrowsError(try RectifiedFlowSampler(steps: 0).start(SamplingInputs(latent: ramp([1, 4, 3, 2, 2]), sizes: size),
                                                                      model: model.callAsFunction, noise: RecordedNoise([])))
    }
}

final class GaussianDiffusionTests: XCTestCase {
    func testIDDPMCallsAndDraws() throws {
        let z = ramp([2, 4, 2, 2, 2])
        let model = ToyModel(cond: 0, uncond: 0)
        let noise = RecordedNoise((0..<5).map { _ in Tensor(zeros: [4, 4, 2, 2, 2]) })
        let out = try IDDPMSampler(steps: 5).start(SamplingInputs(latent: z), model: model.callAsFunction, noise: noise).finish()
        XCTAssertEqual(out.shape, z.shape)
        XCTAssertEqual(noise.remaining, 0)
        XCTAssertEqual(model.calls.map { $0.t }, [999, 749, 500, 250, 0].map { [Float](repeating: $0, count: 4) })
        XCTAssertTrue(model.calls.allSatisfy { $0.x.slice(0..<2).array == $0.x.slice(2..<4).array })
    }

    /// One DDIM step (spaced index 0, abar_prev = 1, sigma = 0) returns x0 = sra*x - srm1*eps,
    /// which shows which channels were guided.
    func testGuidanceChannels() throws {
        let z = Tensor(repeating: 2, shape: [1, 4, 1, 1, 1])
        let s = try DiffusionSchedule(samplingSteps: 1)
        let sra = s.sqrtRecipAlphasCumprod[0], srm1 = s.sqrtRecipm1AlphasCumprod[0]
        for (channels, guidedCount) in [(nil, 4), (3, 3)] as [(Int?, Int)] {
            let model = ToyModel(cond: 1, uncond: 0)
            let out = try DDIMSampler(steps: 1, guidanceScale: 7, guidanceChannels: channels)
                .start(SamplingInputs(latent: z), model: model.callAsFunction, noise: RecordedNoise([Tensor(zeros: [2, 4, 1, 1, 1])])).finish()
            for ch in 0..<4 {
                let eps: Float = ch < guidedCount ? 7 : 1
                XCTAssertEqual(out[flat: ch], sra * 2 - srm1 * eps, accuracy: 1e-5, "cfg_channel \(String(describing: channels)) channel \(ch)")
            }
        }
    }

    func testDDIMWithEtaZeroIgnoresNoiseAndEtaOneUsesIt() throws {
        let z = ramp([1, 4, 2, 2, 2])
        func sample(eta: Float, noiseValue: Float) throws -> [Float] {
            let noise = RecordedNoise((0..<4).map { _ in Tensor(repeating: noiseValue, shape: [2, 4, 2, 2, 2]) })
            return try DDIMSampler(steps: 4, eta: eta).start(SamplingInputs(latent: z), model: ToyModel(cond: 0.1, uncond: 0).callAsFunction,
                                                             noise: noise).finish().array
        }
        XCTAssertEqual(try sample(eta: 0, noiseValue: 0), try sample(eta: 0, noiseValue: 3))
        XCTAssertNotEqual(try sample(eta: 1, noiseValue: 0), try sample(eta: 1, noiseValue: 3))
    }

    func testSeededRunsRepeat() throws {
        func once() throws -> [Float] {
            let noise = TorchNoise(seed: 1234)
            let z = noise.standardNormal([1, 4, 2, 4, 4])
            return try IDDPMSampler(steps: 3).start(SamplingInputs(latent: z), model: ToyModel(cond: 0.3, uncond: -0.1).callAsFunction,
                                                    noise: noise).finish().array
        }
        XCTAssertEqual(try once(), try once())
    }

    func testBadInputsAreRefused() {
        let model = ToyModel(cond: 0, uncond: 0)
        let z = ramp([1, 4, 2, 2, 2])
        XCTAssertThrowsError(try IDDPMSampler(steps: 3).start(SamplingInputs(latent: z, frameMask: Tensor(zeros: [1, 2])),
                                                              model: model.callAsFunction, noise: RecordedNoise([])))
        XCTAssertThrowsError(try IDDPMSampler(steps: 3, guidanceChannels: 9).start(SamplingInputs(latent: z), model: model.callAsFunction, noise: RecordedNoise([])))
        XCTAssertThrowsError(try DDIMSampler(steps: 3, eta: -1).start(SamplingInputs(latent: z), model: model.callAsFunction, noise: RecordedNoise([])))
        XCTAssertThrowsError(try IDDPMSampler(steps: 0).start(SamplingInputs(latent: z), model: model.callAsFunction, noise: RecordedNoise([])))
        // A model without the variance channels.
        let narrow = ToyModel(cond: 0, uncond: 0, channelsOut: { $0 })
        XCTAssertThrowsError(try IDDPMSampler(steps: 2).start(SamplingInputs(latent: z), model: narrow.callAsFunction,
                                                              noise: RecordedNoise([Tensor(zeros: [2, 4, 2, 2, 2])])).finish())
    }
}
