// A noise source that reproduces `torch.manual_seed(seed); torch.randn(shape)` on the CPU bit for
// bit (float32, x86-64 PyTorch builds, whose normal kernel is compiled for AVX2 or AVX-512).
//
// PyTorch's CPU generator is MT19937 plus a cached second Box-Muller value. `randn` takes one of
// two paths (aten/src/ATen/native/cpu/DistributionTemplates.h):
// - fewer than 16 elements: per element, `normal_distribution<double>`: two 53-bit uniforms
//   (two MT words each), r = sqrt(-2 log1p(-u2)), theta = 2 pi u1; returns r cos(theta) and
//   caches r sin(theta) in the generator for the next scalar draw;
// - 16 or more: fill the tensor with 24-bit uniform floats (one MT word each), then transform
//   each block of 16 in place: u1 = 1 - d[j], u2 = d[j + 8] gives d[j] = r cos, d[j + 8] = r sin
//   for j in 0..<8, with float32 log/sincos from avx_mathfun.h (Cephes polynomials). A tail that
//   is not a multiple of 16 is redone as the last 16 elements with 16 fresh uniforms.
// The float path is emulated lane by lane below, including the multiply-adds GCC fuses when it
// compiles those intrinsics with FMA enabled (checked against Tests/Fixtures/golden/torch_randn).

import Foundation
import TensorCore

public final class TorchNoise: NoiseSource {
    private var engine: MersenneTwister
    /// PyTorch's `next_double_normal_sample`: the sine half of the last scalar Box-Muller pair.
    private var cachedNormal: Double?

    /// Same state as `torch.manual_seed(seed)` on a fresh CPU generator.
    public init(seed: UInt64) {
        engine = MersenneTwister(seed: seed)
    }

    public func standardNormal(_ shape: [Int]) -> Tensor {
        var t = Tensor(uninitialized: shape)
        let n = t.count
        let p = t.mutablePointer
        if n >= 16 {
            fillVectorised(p, count: n)
        } else {
            for i in 0..<n { p[i] = Float(scalarNormal()) }
        }
        return t
    }

    // MARK: scalar path (< 16 elements)

    private func uniformDouble() -> Double {
        let hi = UInt64(engine.next()), lo = UInt64(engine.next())
        let bits = ((hi << 32) | lo) & ((1 << 53) - 1)
        return Double(bits) * (1.0 / 9_007_199_254_740_992.0)
    }

    private func scalarNormal() -> Double {
        if let c = cachedNormal {
            cachedNormal = nil
            return c
        }
        let u1 = uniformDouble(), u2 = uniformDouble()
        let r = (-2.0 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = r * Foundation.sin(theta)
        return r * Foundation.cos(theta)
    }

    // MARK: vectorised path (>= 16 elements)

    private func uniformFloat() -> Float {
        Float(engine.next() & 0xFF_FFFF) * (1.0 / 16_777_216.0)
    }

    private func fillVectorised(_ p: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { p[i] = uniformFloat() }
        var i = 0
        while i + 16 <= n {
            Self.boxMuller16(p + i)
            i += 16
        }
        if n % 16 != 0 {
            let tail = p + (n - 16)
            for k in 0..<16 { tail[k] = uniformFloat() }
            Self.boxMuller16(tail)
        }
    }

    private static let twoPi = Float(2.0 * Double.pi)

    /// 16 uniforms in [0, 1) -> 16 standard normals, in place.
    static func boxMuller16(_ d: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1 = 1 - d[j]
            let u2 = d[j + 8]
            let radius = (-2 * CephesFloat.log(u1)).squareRoot()
            let (s, c) = CephesFloat.sincos(twoPi * u2)
            d[j] = radius * c
            d[j + 8] = radius * s
        }
    }
}

/// avx_mathfun.h's `log256_ps` and `sincos256_ps`, one lane at a time. Each fused multiply-add
/// below is one GCC forms from a separate multiply and add in that file.
public enum CephesFloat {
    private static let logP: [Float] = [
        7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
        -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1,
    ]
    private static let logQ1: Float = -2.12194440e-4
    private static let logQ2: Float = 0.693359375
    private static let sqrtHalf: Float = 0.707106781186547524

    /// Natural log for x > 0 (the only inputs Box-Muller gives it: 1 - u is in (0, 1]).
    public static func log(_ input: Float) -> Float {
        var x = max(input, Float(bitPattern: 0x0080_0000))     // no denormals
        let bits = x.bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7F) + 1
        x = Float(bitPattern: (bits & ~0x7F80_0000) | Float(0.5).bitPattern)   // mantissa in [0.5, 1)
        if x < sqrtHalf {
            e -= 1
            x = (x - 1) + x
        } else {
            x = x - 1
        }
        let z = x * x
        var y = logP[0]
        for k in 1..<logP.count { y = logP[k].addingProduct(y, x) }
        y = y * x
        y = (e * logQ1).addingProduct(y, z)
        y = y.addingProduct(-z, 0.5)
        return (x + y).addingProduct(e, logQ2)
    }

    private static let fourOverPi: Float = 1.27323954473516
    private static let minusDP1: Float = -0.78515625
    private static let minusDP2: Float = -2.4187564849853515625e-4
    private static let minusDP3: Float = -3.77489497744594108e-8
    private static let sinP: (Float, Float, Float) = (-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1)
    private static let cosP: (Float, Float, Float) = (2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002)

    public static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var sinNegative = input.sign == .minus
        var x = abs(input)
        // Octant: j = (trunc(x * 4/pi) + 1) & ~1.
        let j = (Int32(x * fourOverPi) &+ 1) & ~1
        let y = Float(j)
        sinNegative = sinNegative != ((j & 4) != 0)
        let cosNegative = (~(j &- 2) & 4) != 0
        let firstPolyForCos = (j & 2) == 0
        // Extended-precision reduction x - y * pi/4.
        x = x.addingProduct(y, minusDP1)
        x = x.addingProduct(y, minusDP2)
        x = x.addingProduct(y, minusDP3)
        let z = x * x
        var yc = cosP.1.addingProduct(cosP.0, z)
        yc = cosP.2.addingProduct(yc, z)
        yc = yc * z
        yc = (-(z * 0.5)).addingProduct(yc, z)
        yc = yc + 1
        var ys = sinP.1.addingProduct(sinP.0, z)
        ys = sinP.2.addingProduct(ys, z)
        ys = ys * z
        ys = x.addingProduct(ys, x)
        var s = firstPolyForCos ? ys : yc
        var c = firstPolyForCos ? yc : ys
        if sinNegative { s = -s }
        if cosNegative { c = -c }
        return (s, c)
    }
}
