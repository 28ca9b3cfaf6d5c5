// Branch-free scalar math that LLVM auto-vectorises inside plain loops (see docs/performance.md).
// Accuracy: expApprox has relative error below 2e-7 on [-87, 88]; outside it clamps.

@inlinable @inline(__always)
public func expApprox(_ x: Float) -> Float {
    // Cephes-style: exp(x) = 2^n * exp(r), r = x - n ln2, |r| <= ln2/2, degree-6 polynomial.
    let xc = Swift.min(Swift.max(x, -87.33654), 88.72283)
    let magic: Float = 12582912.0                      // 1.5 * 2^23: rounds to nearest integer
    let fx = magic.addingProduct(xc, 1.44269504088896341)
    let n = fx - magic
    // Swift does not contract a * b + c into an FMA by itself: addingProduct is one
    // instruction on AVX2+FMA (the polynomial ran as separate multiplies and adds before).
    var r = xc.addingProduct(n, -0.693359375)
    r = r.addingProduct(n, 2.12194440e-4)
    var p: Float = 1.9875691500e-4
    p = (1.3981999507e-3 as Float).addingProduct(p, r)
    p = (8.3334519073e-3 as Float).addingProduct(p, r)
    p = (4.1665795894e-2 as Float).addingProduct(p, r)
    p = (1.6666665459e-1 as Float).addingProduct(p, r)
    p = (5.0000001201e-1 as Float).addingProduct(p, r)
    let r2 = r * r
    let e = (r + 1.0).addingProduct(p, r2)
    // 2^n through the exponent bits; n in [-126, 128] after the clamp. fx's low mantissa bits
    // hold n exactly, so integer ops on the bit patterns give it without a float->int
    // conversion (which does not vectorise).
    let bits = fx.bitPattern &- magic.bitPattern &+ 127
    let scale = Float(bitPattern: bits << 23)
    return e * scale
}

/// `expApprox` on 8 lanes, the same operations lane by lane (bit-identical results), for loops
/// that also reduce (a plain loop with a running sum does not vectorise).
@inlinable @inline(__always)
public func expApprox(_ x: SIMD8<Float>) -> SIMD8<Float> {
    typealias V = SIMD8<Float>
    var xc = x
    xc.replace(with: V(repeating: -87.33654), where: xc .< -87.33654)    // compare + blend (no NaN checks)
    xc.replace(with: V(repeating: 88.72283), where: xc .> 88.72283)
    let magic = V(repeating: 12582912.0)
    let fx = magic.addingProduct(xc, V(repeating: 1.44269504088896341))
    let n = fx - magic
    var r = xc.addingProduct(n, V(repeating: -0.693359375))
    r = r.addingProduct(n, V(repeating: 2.12194440e-4))
    var p = V(repeating: 1.9875691500e-4)
    p = V(repeating: 1.3981999507e-3).addingProduct(p, r)
    p = V(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = V(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = V(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = V(repeating: 5.0000001201e-1).addingProduct(p, r)
    let e = (r + 1).addingProduct(p, r * r)
    let bits = (unsafeBitCast(fx, to: SIMD8<UInt32>.self) &- magic[0].bitPattern &+ 127) &<< 23
    return e * unsafeBitCast(bits, to: V.self)
}

@inlinable @inline(__always)
public func sigmoidApprox(_ x: Float) -> Float { 1 / (1 + expApprox(-x)) }

@inlinable @inline(__always)
public func tanhApprox(_ x: Float) -> Float {
    // tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)); for tiny |x| use x to keep relative accuracy.
    let a = Swift.abs(x)
    let t = 1 - 2 / (expApprox(2 * a) + 1)
    let r = a < 0.0004 ? a : t
    return x < 0 ? -r : r
}
