// A model's parameters read from a WeightStore by the checkpoint's own names, and the one
// nn.Linear every denoiser (STDiT, STDiT2, STDiT3, the MMDiT) builds from them. Every tensor is
// checked (present, shape, floating point) when the model is built; errors name the tensor.
// Weights stay WeightTensors (memory-mapped, maybe bf16): nothing is copied here.

import TensorCore

/// A store seen under a name prefix ("spatial_blocks.3.").
public struct ParameterScope {
    public let store: WeightStore
    public let prefix: String
    /// How the Linears built under this scope compute (`.int8` only for the blocks' linears).
    public var quantization: Quantization = .none

    public init(_ store: WeightStore, prefix: String = "", quantization: Quantization = .none) {
        self.store = store; self.prefix = prefix; self.quantization = quantization
    }

    public func callAsFunction(_ name: String, _ shape: [Int]) throws -> WeightTensor {
        try store.weight(prefix + name, shape: shape)
    }

    public func scope(_ name: String) -> ParameterScope { ParameterScope(store, prefix: prefix + name + ".", quantization: quantization) }

    /// The same scope with its Linears computed as `q`.
    public func quantized(_ q: Quantization) -> ParameterScope { ParameterScope(store, prefix: prefix, quantization: q) }

    public func contains(_ name: String) -> Bool { store.contains(prefix + name) }
}

/// PyTorch nn.Linear: weight [out, in], bias [out]. Computed in float32, or through the int8
/// path (docs/quantization.md) when its scope asks for int8 or the checkpoint stores the weight
/// as int8 (`<name>.weight` I8 + `<name>.weight_scale` F32 [out], `opensora weights quantize`).
public struct Linear: Sendable {
    public let weight: WeightTensor
    public let bias: WeightTensor?
    /// The int8 form; nil = float32.
    public let int8: Int8Weight?
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(_ p: ParameterScope, in inF: Int, out outF: Int, bias hasBias: Bool = true) throws {
        (weight, int8) = try p.store.linearWeight(p.prefix + "weight", out: outF, in: inF, quantization: p.quantization)
        bias = hasBias ? try p("bias", [outF]) : nil
    }

    /// x: [..., in] -> [..., out]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let int8 { return linear(x, int8: int8, bias: bias) }
        return linear(x, weight: weight, bias: bias)
    }

    /// x += input W^T + b, accumulating in place (a residual branch without a temporary).
    public func accumulate(_ input: Tensor, into x: inout Tensor) {
        let m = input.count / inFeatures
        precondition(x.count == m * outFeatures, "accumulate \(weight.name): output has \(x.count) elements, expected \(m * outFeatures)")
        let xp = x.mutablePointer
        if let int8 {
            withBias { bp in int8Linear(input.pointer, rows: m, weight: int8, bias: bp, into: xp, accumulate: true) }
            return
        }
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

    /// Its tensors (to release their pages after use).
    public var tensors: [WeightTensor] { [weight] + (bias.map { [$0] } ?? []) }
}

extension Linear {
    /// Calls `body` with the weight as float32 (converted once for several `apply` calls), or
    /// with nil on the int8 path, which needs no conversion.
    public func withPreparedWeight<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        if int8 != nil { return body(nil) }
        return weight.withFloatPointer { body($0) }
    }

    /// Calls `body` with the bias as float32 (nil without one).
    public func withBias<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let bias else { return body(nil) }
        return bias.withFloatPointer { body($0) }
    }

    /// out[rows, out] = x[rows, in] W^T + b with the weight from `withPreparedWeight`.
    public func apply(_ x: UnsafePointer<Float>, rows m: Int, weight w: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
        let n = outFeatures, k = inFeatures
        guard let w else {
            withBias { bp in int8Linear(x, rows: m, weight: int8!, bias: bp, into: out) }
            return
        }
        if let bias {
            bias.withFloatPointer { bp in
                let os = SendablePointer(out), bs = SendablePointer(bp)
                parallelFor(m, minPerThread: max(1, 16384 / n)) { r in
                    for row in r { (os.p + row * n).update(from: bs.p, count: n) }
                }
            }
        }
        sgemm(transB: true, m: m, n: n, k: k, a: x, lda: k, b: w, ldb: k, beta: bias == nil ? 0 : 1, c: out, ldc: n)
    }
}
