// Sinusoidal features of scalars (DiT / STDiT timestep and fps embedders, Flux / MMDiT
// timestep_embedding), shared so every model rounds the same way.

import Foundation

/// [cos(s v f_i), sin(s v f_i)] with f_i = exp(-ln(maxPeriod) i / half) and s = `scale`
/// (MMDiT's time_factor 1000, applied to the value first), all in float32 like the references
/// (the arguments reach ~1000 radians, where float32 rounding shows). -> [N, dim], an odd
/// dim's last column zero.
public func sinusoidalEmbedding(_ values: [Float], dim: Int = 256, maxPeriod: Double = 10000, scale: Float = 1) -> Tensor {
    let half = dim / 2
    let logScale = Float(-Foundation.log(maxPeriod))
    let freqs: [Float] = (0..<half).map { i in Float(Foundation.exp(Double(logScale * Float(i) / Float(half)))) }
    var out = Tensor(zeros: [values.count, dim])      // zeros: the odd-dim pad column
    let p = out.mutablePointer
    for (n, value) in values.enumerated() {
        let v = scale == 1 ? value : scale * value
        for i in 0..<half {
            let arg = Double(v * freqs[i])
            p[n * dim + i] = Float(Foundation.cos(arg))
            p[n * dim + half + i] = Float(Foundation.sin(arg))
        }
    }
    return out
}
