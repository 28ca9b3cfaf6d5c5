// Reading a model's parameters from a WeightStore by the checkpoint's own names. Every tensor is
// checked (present, shape, floating point) when the model is built; errors name the tensor.
// Weights stay WeightTensors (memory-mapped, maybe bf16): nothing is copied here.

import TensorCore
import Weights

/// A store seen under a name prefix ("spatial_blocks.3.").
struct ParameterScope {
    let store: WeightStore
    let prefix: String
    /// How the Linears built under this scope compute (`.int8` only for the blocks' linears).
    var quantization: Quantization = .none

    init(_ store: WeightStore, prefix: String = "", quantization: Quantization = .none) {
        self.store = store; self.prefix = prefix; self.quantization = quantization
    }

    func callAsFunction(_ name: String, _ shape: [Int]) throws -> WeightTensor {
        try store.weight(prefix + name, shape: shape)
    }

    func scope(_ name: String) -> ParameterScope { ParameterScope(store, prefix: prefix + name + ".", quantization: quantization) }

    /// The same scope with its Linears computed as `q`.
    func quantized(_ q: Quantization) -> ParameterScope { ParameterScope(store, prefix: prefix, quantization: q) }

    func contains(_ name: String) -> Bool { store.contains(prefix + name) }
}

/// PyTorch nn.Linear: weight [out, in], bias [out]. Computed in float32, or through the int8
/// path (docs/quantization.md) when its scope asks for int8 or the checkpoint stores the weight
/// as int8 (`<name>.weight` I8 + `<name>.weight_scale` F32 [out], `opensora weights quantize`).
struct Linear {
    let weight: WeightTensor
    let bias: WeightTensor?
    /// The int8 form; nil = float32.
    let int8: Int8Weight?
    var inFeatures: Int { weight.shape[1] }
    var outFeatures: Int { weight.shape[0] }

    init(_ p: ParameterScope, in inF: Int, out outF: Int, bias hasBias: Bool = true) throws {
        let name = p.prefix + "weight"
        let info = p.store.info(name)
        if let info, info.dtype == .i8 {
            // An int8 file: values and scales as stored, whatever the option says.
            let src = p.store.sourceDescription
            guard info.shape == [outF, inF] else { throw WeightsError.shapeMismatch(name: name, source: src, expected: [outF, inF], found: info.shape) }
            let scaleName = name + Int8Weight.scaleSuffix
            guard let s = p.store.info(scaleName) else { throw WeightsError.missingTensor(name: scaleName, source: src) }
            guard s.shape == [outF] else { throw WeightsError.shapeMismatch(name: scaleName, source: src, expected: [outF], found: s.shape) }
            guard s.dtype == .f32 else { throw WeightsError.dtypeMismatch(name: scaleName, source: src, expected: "F32", found: s.dtype.rawValue) }
            weight = try p.store.weight(name)
            do { int8 = try Int8Weight(values: weight, scales: try p.store.weight(scaleName)) }
            catch let e as QuantizationError { throw WeightsError.other("\(src): \(e.description)") }
        } else {
            weight = try p("weight", [outF, inF])
            int8 = p.quantization == .int8 ? Int8Weight(quantizing: weight) : nil
        }
        bias = hasBias ? try p("bias", [outF]) : nil
    }

    /// x: [..., in] -> [..., out]
    func callAsFunction(_ x: Tensor) -> Tensor {
        if let int8 { return linear(x, int8: int8, bias: bias) }
        return linear(x, weight: weight, bias: bias)
    }

    /// x += input W^T + b, accumulating in place (a residual branch without a temporary).
    func accumulate(_ input: Tensor, into x: inout Tensor) {
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
}

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

extension Linear {
    /// Calls `body` with the weight as float32 (converted once for several `apply` calls), or
    /// with nil on the int8 path, which needs no conversion.
    func withPreparedWeight<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        if int8 != nil { return body(nil) }
        return weight.withFloatPointer { body($0) }
    }

    /// Calls `body` with the bias as float32 (nil without one).
    func withBias<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let bias else { return body(nil) }
        return bias.withFloatPointer { body($0) }
    }

    /// out[rows, out] = x[rows, in] W^T + b with the weight from `withPreparedWeight`.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, weight w: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
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
