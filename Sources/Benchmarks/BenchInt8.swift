// `opensora bench --component int8-gemm --shape M,N,K`: oneDNN's u8s8s32 GEMM alone, the whole
// int8 linear (quantise rows + GEMM + dequantise with bias) and plain float32 sgemm, on the same
// shape in the same process (docs/quantization.md). Also the int8 rate the denoiser benchmarks
// report with --quantize int8.

import Foundation
import Pipeline
import TensorCore
import Weights

enum Int8Bench {
    /// Random operands of a Linear-shaped product: activations [M, K] in [-1, 1), weights [N, K].
    static func operands(m: Int, n: Int, k: Int, seed: UInt64) -> (x: Tensor, w: Int8Weight) {
        var rng = SplitMix64(seed: seed)
        func random(_ shape: [Int], _ scale: Float) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in scale * Float(Double(rng.next() >> 11) / 4503599627370496 - 1) })
        }
        let x = random([m, k], 1)
        return (x, Int8Weight(quantizing: WeightTensor(random([n, k], 0.05), name: "bench.weight")))
    }

    /// One JSON line: int8_gemm_one_thread_gops (oneDNN gemm_u8s8s32 alone, on one thread, as each
    /// engine worker calls it), int8_linear_gops (quantise + GEMM + dequantise + bias on all
    /// threads), sgemm_gflops (all threads), each the best of `repeats`, and the linear's speedup.
    static func gemm(shape: String, repeats: Int) throws -> String {
        let d = try InputLimits.shape(shape, count: 3, layout: "M,N,K (int8-gemm)")
        let (m, n, k) = (d[0], d[1], d[2])
        try InputLimits.requireMemory(2 * InputLimits.bytes([m, k]) + InputLimits.bytes([n, k]) + 2 * InputLimits.bytes([m, n]),
                                      for: "--shape \(shape) (int8-gemm)")
        let (x, w) = operands(m: m, n: n, k: k, seed: 7)
        let a = [UInt8](repeating: 100, count: m * k)
        var acc = [Int32](repeating: 0, count: m * n)
        var out = Tensor(zeros: [m, n])
        let bias = Tensor(repeating: 0.1, shape: [n])
        func best(_ body: () -> Void) -> Double {
            var b = Double.infinity
            for _ in 0..<max(1, repeats) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                b = min(b, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return b
        }
        let gemmSeconds = best { a.withUnsafeBufferPointer { ap in acc.withUnsafeMutableBufferPointer { cp in
            Int8GEMM.multiply(ap.baseAddress!, w.values, m: m, n: n, k: k, into: cp.baseAddress!) } } }
        let linearSeconds = best { int8Linear(x.pointer, rows: m, weight: w, bias: bias.pointer, into: out.mutablePointer) }
        let sgemmSeconds = SGEMMBench.bestSeconds(m: m, n: n, k: k, repeats: max(1, repeats))
        let ops = 2.0 * Double(m) * Double(n) * Double(k) / 1e9
        return #"{"component":"int8-gemm","shape":[\#(m),\#(n),\#(k)],"int8_gemm_one_thread_gops":\#(ops / gemmSeconds),"int8_linear_gops":\#(ops / linearSeconds),"sgemm_gflops":\#(ops / sgemmSeconds),"int8_linear_speedup":\#(sgemmSeconds / linearSeconds),"activation_levels":\#(Int8GEMM.activationLevels),"vnni":\#(Int8GEMM.hasVNNI),\#(runtimeJSONFields)}"#
    }

    /// Average GOP/s of the whole int8 linear cycling through `shapes` ([(N, K)] at M rows) for
    /// at least `seconds` and one whole cycle, as SGEMMBench.rate does for float32.
    static func linearRate(m: Int, shapes: [(n: Int, k: Int)], seconds: Double) -> Double {
        let operands = shapes.enumerated().map { i, s in Self.operands(m: m, n: s.n, k: s.k, seed: UInt64(11 + i)) }
        var out = Tensor(zeros: [m * (shapes.map(\.n).max() ?? 1)])
        var ops = 0.0, elapsed = 0.0
        let t0 = DispatchTime.now().uptimeNanoseconds
        repeat {
            for (i, (n, k)) in shapes.enumerated() {
                int8Linear(operands[i].x.pointer, rows: m, weight: operands[i].w, bias: nil, into: out.mutablePointer)
                ops += 2 * Double(m) * Double(n) * Double(k)
            }
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        } while elapsed < seconds
        return ops / elapsed / 1e9
    }
}
