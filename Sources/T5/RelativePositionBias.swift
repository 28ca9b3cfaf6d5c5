// T5's relative position bias: each (query, key) offset falls into one of `buckets` buckets
// (half per direction; exact for small offsets, logarithmic up to maxDistance), and a learned
// table [buckets, heads] gives the score bias. Computed once, in layer 0, and shared by all layers.

import Foundation
import TensorCore

public enum RelativePositionBias {
    /// Bucket of `relative = key - query` for the bidirectional (encoder) case, in float32 like
    /// transformers' `_relative_position_bucket`.
    public static func bucket(_ relative: Int, buckets: Int, maxDistance: Int) -> Int {
        let half = buckets / 2
        var result = relative > 0 ? half : 0
        let distance = abs(relative)
        let maxExact = half / 2
        if distance < maxExact { return result + distance }
        let logRatio = Float(log(Float(distance) / Float(maxExact)))
        let scaled = logRatio / Float(log(Double(maxDistance) / Double(maxExact))) * Float(half - maxExact)
        result += min(maxExact + Int(scaled), half - 1)
        return result
    }

    /// The bias for `length` positions: [heads, length, length], from table [buckets, heads].
    public static func compute(table: Tensor, length: Int, maxDistance: Int) -> Tensor {
        let buckets = table.shape[0], heads = table.shape[1]
        // One bucket per offset -(length-1) ... length-1.
        let offsets = (-(length - 1)...(max(length - 1, 0))).map { bucket($0, buckets: buckets, maxDistance: maxDistance) }
        var out = Tensor(uninitialized: [heads, length, length])
        let o = out.mutablePointer, t = table.pointer
        for h in 0..<heads {
            for q in 0..<length {
                let row = o + (h * length + q) * length
                for k in 0..<length { row[k] = t[offsets[k - q + length - 1] * heads + h] }
            }
        }
        return out
    }
}
