// Reading a model's parameters from a WeightStore by the checkpoint's own names. Every tensor is
// checked (present, shape, floating point) when the model is built; errors name the tensor.
// Weights stay WeightTensors (memory-mapped, maybe bf16): nothing is copied here.

import TensorCore
import Weights

/// A store seen under a name prefix ("spatial_blocks.3.").
struct ParameterScope {
    let store: WeightStore
    let prefix: String

    init(_ store: WeightStore, prefix: String = "") { self.store = store; self.prefix = prefix }

    func callAsFunction(_ name: String, _ shape: [Int]) throws -> WeightTensor {
        try store.weight(prefix + name, shape: shape)
    }

    func scope(_ name: String) -> ParameterScope { ParameterScope(store, prefix: prefix + name + ".") }

    func contains(_ name: String) -> Bool { store.contains(prefix + name) }
}

/// PyTorch nn.Linear: weight [out, in], bias [out].
struct Linear {
    let weight: WeightTensor
    let bias: WeightTensor?
    var inFeatures: Int { weight.shape[1] }
    var outFeatures: Int { weight.shape[0] }

    init(_ p: ParameterScope, in inF: Int, out outF: Int, bias hasBias: Bool = true) throws {
        weight = try p("weight", [outF, inF])
        bias = hasBias ? try p("bias", [outF]) : nil
    }

    /// x: [..., in] -> [..., out]
    func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }

    /// x += input W^T + b, accumulating in place (a residual branch without a temporary).
    func accumulate(_ input: Tensor, into x: inout Tensor) {
        let m = input.count / inFeatures
        precondition(x.count == m * outFeatures, "accumulate \(weight.name): output has \(x.count) elements, expected \(m * outFeatures)")
        let xp = x.mutablePointer
        if let bias {
            let n = outFeatures
            bias.withFloatPointer { bp in
                let xs = SendablePointer(xp), bs = SendablePointer(bp)
                parallelFor(m, minPerThread: max(1, 16384 / n)) { r in
                    for row in r { let d = xs.p + row * n; for j in 0..<n { d[j] += bs.p[j] } }
                }
            }
        }
        weight.withFloatPointer { wp in
            sgemm(transB: true, m: m, n: outFeatures, k: inFeatures, a: input.pointer, lda: inFeatures,
                  b: wp, ldb: inFeatures, beta: 1, c: xp, ldc: outFeatures)
        }
    }
}

/// timm Mlp with tanh GELU: fc1 -> GELU -> fc2.
struct MLP {
    let fc1: Linear, fc2: Linear

    init(_ p: ParameterScope, in inF: Int, hidden: Int, out outF: Int) throws {
        fc1 = try Linear(p.scope("fc1"), in: inF, out: hidden)
        fc2 = try Linear(p.scope("fc2"), in: hidden, out: outF)
    }

    /// x: [..., in] -> [..., out]
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = fc1(x)
        geluInPlace(&h, approximation: .tanh)
        return fc2(h)
    }
}
