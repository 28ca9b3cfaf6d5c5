// STDiT's MLP over the shared Linear (Weights/ParameterScope.swift).

import TensorCore
import Weights

/// timm Mlp with tanh GELU: fc1 -> GELU -> fc2.
struct MLP {
    let fc1: Linear, fc2: Linear
    /// Rows per pass: a [rows, hidden] activation of <= ~20 MB is recycled by malloc, where the
    /// whole [R, hidden] (80 MB for XL/2 at 15x18x32, batch 2) is a fresh mapping every call.
    static let rowsPerChunk = 1024

    init(_ p: ParameterScope, in inF: Int, hidden: Int, out outF: Int) throws {
        fc1 = try Linear(p.scope("fc1"), in: inF, out: hidden)
        fc2 = try Linear(p.scope("fc2"), in: hidden, out: outF)
    }

    /// x: [..., in] -> [..., out]
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (inF, hid, outF) = (fc1.inFeatures, fc1.outFeatures, fc2.outFeatures)
        let rows = x.count / inF
        let chunks = max(1, (rows + Self.rowsPerChunk - 1) / Self.rowsPerChunk)
        let per = (rows + chunks - 1) / chunks
        var out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
        let op = out.mutablePointer
        fc1.withPreparedWeight { w1 in
            fc2.withPreparedWeight { w2 in
                var r0 = 0
                while r0 < rows {
                    let m = min(per, rows - r0)
                    var h = Tensor(uninitialized: [m, hid])
                    fc1.apply(x.pointer + r0 * inF, rows: m, weight: w1, into: h.mutablePointer)
                    geluInPlace(&h, approximation: .tanh)
                    fc2.apply(h.pointer, rows: m, weight: w2, into: op + r0 * outF)
                    r0 += m
                }
            }
        }
        return out
    }
}
