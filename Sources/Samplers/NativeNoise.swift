// The engine's own noise source: xoshiro256** seeded through SplitMix64, Box-Muller in double
// precision. Same distribution as TorchNoise, different numbers, and no per-size code paths.

import Foundation
import TensorCore

public final class NativeNoise: NoiseSource {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    private func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in (0, 1].
    private func uniform() -> Double { (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0) }

    public func standardNormal(_ shape: [Int]) -> Tensor {
        var t = Tensor(uninitialized: shape)
        let n = t.count, p = t.mutablePointer
        var i = 0
        while i < n {
            let r = (-2 * Foundation.log(uniform())).squareRoot(), theta = 2 * Double.pi * uniform()
            p[i] = Float(r * cos(theta))
            if i + 1 < n { p[i + 1] = Float(r * sin(theta)) }
            i += 2
        }
        return t
    }
}
