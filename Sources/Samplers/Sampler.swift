// The sampler interface the pipeline uses without knowing which sampler it has.
//
//     let run = try sampler.start(inputs, model: denoiser, noise: noise)
//     for step in run {                 // one model call per step
//         report(step.index + 1, of: step.count)
//         if cancelled { break }         // cancellation: stop iterating
//     }
//     let latent = try run.finish()     // rethrows a model error; runs any steps left
//
// Samplers are configuration only (value types); a `SamplingRun` holds one sampling's state.

import TensorCore

/// The denoising network with classifier-free guidance batching, as the samplers call it:
/// - x: [2B, C, T, H, W], rows 0..<B conditioned on the prompts, rows B..<2B on the null caption
///   (the caller's closure captures the text embeddings in that order);
/// - timesteps: [2B], the raw timestep per row, in [0, 1000];
/// - frameMask: [2B * T] row-major (true = ordinary frame, false = conditioning frame that the
///   model treats as t = 0), or nil when every frame is ordinary.
/// Returns [2B, C_out, T, H, W]; C_out = 2C for models that also predict sigma.
public typealias Denoiser = (_ x: Tensor, _ timesteps: [Float], _ frameMask: [Bool]?) throws -> Tensor

/// Pixel size of one video of the batch: the rectified-flow timestep transform depends on it.
public struct VideoSize: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var frames: Int
    public init(height: Int, width: Int, frames: Int) {
        self.height = height
        self.width = width
        self.frames = frames
    }
}

public struct SamplingInputs {
    /// z: [B, C, T, H, W] initial noise; for image-to-video the conditioning frames hold the
    /// reference latents.
    public var latent: Tensor
    /// [B, T] per latent frame: 0 = conditioning frame (kept clean), 1 = generated. Nil: all 1.
    public var frameMask: Tensor?
    /// One per batch row, or one for all rows.
    public var sizes: [VideoSize]

    public init(latent: Tensor, frameMask: Tensor? = nil, sizes: [VideoSize] = []) {
        self.latent = latent
        self.frameMask = frameMask
        self.sizes = sizes
    }

    var batch: Int { latent.shape.first ?? 0 }
}

public protocol Sampler: Sendable {
    /// Number of steps, i.e. of model calls (each on the doubled CFG batch).
    var stepCount: Int { get }
    /// Checks the inputs and prepares a run; no model call happens until the run is iterated.
    func start(_ inputs: SamplingInputs, model: @escaping Denoiser, noise: NoiseSource) throws -> SamplingRun
}

/// What a step reports once it is done.
public struct SamplerStep {
    /// 0-based.
    public let index: Int
    public let count: Int
    /// [B] the timestep the model saw at this step, per batch row.
    public let timesteps: [Float]
    /// [B, C, T, H, W] the latent after this step.
    public let latent: Tensor

    public var fractionDone: Double { Double(index + 1) / Double(count) }
}

public enum SamplerError: Error, CustomStringConvertible, Equatable {
    case invalidInput(String)
    case badModelOutput(String)

    public var description: String {
        switch self {
        case let .invalidInput(s): return s
        case let .badModelOutput(s): return "model output: \(s)"
        }
    }
}

/// The state machine of one sampler; `SamplingRun` drives it.
protocol SamplerStepper: AnyObject {
    var count: Int { get }
    /// [B, C, T, H, W] the current latent.
    var latent: Tensor { get }
    /// Runs step `index` (called with 0, 1, ... count-1) and returns the timesteps it used.
    func step(_ index: Int) throws -> [Float]
}

/// One sampling, as a sequence of steps. A class, so that breaking out of a `for` loop and then
/// calling `finish()` or reading `latent` see the same state.
public final class SamplingRun: Sequence, IteratorProtocol {
    private let stepper: SamplerStepper
    public var count: Int { stepper.count }
    public private(set) var completed = 0
    /// The error that ended the iteration early, if any (`finish()` rethrows it).
    public private(set) var error: Error?

    init(_ stepper: SamplerStepper) { self.stepper = stepper }

    /// [B, C, T, H, W] the latent so far (the final sample once `completed == count`).
    public var latent: Tensor { stepper.latent }
    public var isFinished: Bool { completed == count }

    /// Runs the next step; nil when all are done or a step failed (see `error`).
    public func next() -> SamplerStep? {
        guard error == nil, completed < count else { return nil }
        do {
            let t = try stepper.step(completed)
            completed += 1
            return SamplerStep(index: completed - 1, count: count, timesteps: t, latent: stepper.latent)
        } catch {
            self.error = error
            return nil
        }
    }

    /// Runs the remaining steps and returns the final latent [B, C, T, H, W].
    public func finish() throws -> Tensor {
        while next() != nil {}
        if let error { throw error }
        return stepper.latent
    }
}
