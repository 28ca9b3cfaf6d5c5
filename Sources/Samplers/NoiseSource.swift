// Where a sampler's random draws come from. The caller (the pipeline) owns one source, seeds it
// once, draws the initial latent from it and hands it to the sampler, which draws every further
// sample from it in a fixed order. Golden checks hand in the draws the reference recorded.

import TensorCore

public protocol NoiseSource: AnyObject {
    /// Standard normal samples in row-major order, like `torch.randn(shape)`.
    func standardNormal(_ shape: [Int]) throws -> Tensor
}

public enum NoiseError: Error, CustomStringConvertible, Equatable {
    case exhausted(source: String, drawn: Int)
    case shapeMismatch(source: String, draw: Int, expected: [Int], recorded: [Int])

    public var description: String {
        switch self {
        case let .exhausted(s, n):
            return "\(s): asked for noise draw #\(n) but only \(n) draws were recorded"
        case let .shapeMismatch(s, i, e, r):
            return "\(s): noise draw #\(i) has shape \(r), the sampler asked for \(e)"
        }
    }
}

/// Replays draws recorded elsewhere (a golden case's `noise_draw0`, `noise_draw1`, ...), in order.
public final class RecordedNoise: NoiseSource {
    public let name: String
    private let draws: [Tensor]
    public private(set) var used = 0

    public init(_ draws: [Tensor], name: String = "recorded noise") {
        self.draws = draws
        self.name = name
    }

    public var remaining: Int { draws.count - used }

    public func standardNormal(_ shape: [Int]) throws -> Tensor {
        guard used < draws.count else { throw NoiseError.exhausted(source: name, drawn: used) }
        let d = draws[used]
        guard d.count == shape.reduce(1, *) else {
            throw NoiseError.shapeMismatch(source: name, draw: used, expected: shape, recorded: d.shape)
        }
        used += 1
        return d.reshaped(shape)
    }
}
