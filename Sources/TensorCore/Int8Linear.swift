// W8A8 linear layers (`--quantize int8`, docs/quantization.md). Weights are int8, symmetric per
// output channel, quantised (or read from an int8 file) once when the model is built. Activations
// are quantised per row (token) to uint8 with a zero point on every call; oneDNN's
// gemm_u8s8s32 multiplies them with int32 accumulation; one pass turns the products back into
// float32 together with the bias and, for residual branches, the add into the hidden states.
//
// With a zero point z per row: x ~ s_x (q - z), W ~ s_w w, so
//   x W^T ~ s_x s_w (q w^T - z colSum(w)),  colSum(w)[n] = sum_k w[n, k] (kept with the weight).

import CDNNL
import CInt8
import Foundation

/// A bad quantisation option or int8 tensor, in one line naming it.
public struct QuantizationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// How the denoiser's block linears compute (the `quantize` option).
public enum Quantization: String, Sendable, CaseIterable, Codable {
    /// float32, the exact default.
    case none
    /// W8A8: int8 weights, uint8 activations, int32 accumulation.
    case int8

    /// Parses the option's value; anything else is a one-line error naming the option.
    public init(option value: String, name: String = "--quantize") throws {
        guard let q = Quantization(rawValue: value.lowercased()) else {
            throw QuantizationError("\(name) \(value): unsupported; expected one of \(Quantization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = q
    }
}

/// A Linear weight [out, in] as int8 with one float32 scale per output channel.
public final class Int8Weight: @unchecked Sendable {
    public let name: String
    public let outFeatures: Int, inFeatures: Int
    /// In a checkpoint, an int8 weight `X.weight` (I8 [out, in]) has its scales in
    /// `X.weight_scale` (F32 [out]).
    public static let scaleSuffix = "_scale"
    /// [out, in], row-major.
    public let values: UnsafePointer<Int8>
    /// [out]: W[n, :] ~ scales[n] * values[n, :].
    public let scales: [Float]
    /// [out]: sum of each row of `values`, for the activations' zero points.
    let columnSums: [Int32]
    /// Keeps `values` alive: a mapped file, or the allocation made when quantising.
    private let owner: AnyObject?
    private let ownsValues: Bool

    /// Quantises a float weight [out, in]: scale = max |W[n, :]| / 127, values = round(W / scale).
    /// The source's mapped pages are released afterwards (the int8 copy replaces them).
    public init(quantizing w: WeightTensor) {
        precondition(w.shape.count == 2, "int8 weight \(w.name) must be 2-D, is \(w.shape)")
        name = w.name
        outFeatures = w.shape[0]; inFeatures = w.shape[1]
        let (n, k) = (outFeatures, inFeatures)
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: max(n * k, 1))
        var scales = [Float](repeating: 1, count: n)
        w.withFloatPointer { wp in
            let src = SendablePointer(wp), dst = SendablePointer(q)
            scales.withUnsafeMutableBufferPointer { sb in
                let sp = SendablePointer(sb.baseAddress!)
                parallelFor(n, minPerThread: 64) { rows in
                    for r in rows {
                        let row = src.p + r * k
                        var peak: Float = 0
                        for j in 0..<k { peak = Swift.max(peak, abs(row[j])) }
                        let s: Float = peak > 0 && peak.isFinite ? peak / 127 : 1
                        sp.p[r] = s
                        let inv = 1 / s
                        for j in 0..<k { dst.p[r * k + j] = Int8(Swift.max(-127, Swift.min(127, (row[j] * inv).rounded(.toNearestOrEven)))) }
                    }
                }
            }
        }
        w.releasePages()
        self.scales = scales
        values = UnsafePointer(q)
        columnSums = Self.rowSums(values, n, k)
        owner = nil
        ownsValues = true
    }

    /// Wraps an int8 tensor [out, in] and its float32 scales [out] as stored in an int8 file
    /// (`opensora weights quantize`): checked here, errors name the tensor.
    public init(values v: WeightTensor, scales s: WeightTensor) throws {
        guard v.dtype == .i8, v.shape.count == 2 else {
            throw QuantizationError("int8 weight \(v.name): expected a 2-D I8 tensor, found \(v.dtype.rawValue) \(v.shape)")
        }
        guard s.dtype == .f32, s.shape == [v.shape[0]] else {
            throw QuantizationError("int8 scales \(s.name): expected F32 [\(v.shape[0])] for \(v.name) \(v.shape), found \(s.dtype.rawValue) \(s.shape)")
        }
        let sc = s.toTensor().array
        if let bad = sc.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
            throw QuantizationError("int8 scales \(s.name): element \(bad) is \(sc[bad]); scales must be positive and finite")
        }
        name = v.name
        outFeatures = v.shape[0]; inFeatures = v.shape[1]
        values = v.raw.assumingMemoryBound(to: Int8.self)
        scales = sc
        columnSums = Self.rowSums(values, outFeatures, inFeatures)
        owner = v.owner
        ownsValues = false
    }

    deinit { if ownsValues { UnsafeMutablePointer(mutating: values).deallocate() } }

    private static func rowSums(_ v: UnsafePointer<Int8>, _ n: Int, _ k: Int) -> [Int32] {
        (0..<n).map { r in var s: Int32 = 0; for j in 0..<k { s &+= Int32(v[r * k + j]) }; return s }
    }

    /// The float weight this stands for (scales[n] * values[n, k]); for tests and error reports.
    public func dequantized() -> Tensor {
        var t = Tensor(uninitialized: [outFeatures, inFeatures])
        let p = t.mutablePointer
        for r in 0..<outFeatures { for j in 0..<inFeatures { p[r * inFeatures + j] = scales[r] * Float(values[r * inFeatures + j]) } }
        return t
    }
}

public enum Int8GEMM {
    /// Activation levels: 0...255 where oneDNN multiplies with VNNI (vpdpbusd, exact), 0...127
    /// where it falls back to AVX2's vpmaddubsw, whose int16 pair sums saturate above 32767 with
    /// full-range uint8 (127 * 127 * 2 does not). Measured in docs/quantization.md.
    public static let activationLevels: Int32 = hasVNNI ? 255 : 127

    /// True when oneDNN runs a VNNI kernel on this CPU (AVX512-VNNI or AVX-VNNI).
    public static let hasVNNI: Bool = {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & 0x40 != 0 || isa & 0x400 != 0
    }()

    /// Rows per GEMM call: bounds each worker's int32 product buffer to ~16 MB for any output width.
    static func rowsPerChunk(outFeatures n: Int) -> Int { max(64, (4 << 20) / max(n, 1)) }

    /// C[m, n] = A[m, k] B[n, k]^T in int32, one oneDNN thread: the caller parallelises.
    /// (oneDNN's own OpenMP threads spin for milliseconds after each call, taking a core from
    /// the engine's threads; libgomp reads OMP_WAIT_POLICY only when it loads, before `main`.)
    public static func multiply(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<Int8>, m: Int, n: Int, k: Int,
                                into c: UnsafeMutablePointer<Int32>) {
        omp_set_num_threads(1)
        var zero: Int32 = 0
        let status = dnnl_gemm_u8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                                       dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), 1, a, dnnl_dim_t(k), 0, b, dnnl_dim_t(k), 0, 0,
                                       c, dnnl_dim_t(n), &zero)
        precondition(status == dnnl_success, "oneDNN gemm_u8s8s32 failed (status \(status.rawValue)) on \(m)x\(n)x\(k)")
    }
}

/// out[rows, out] = x[rows, in] W^T + b through the int8 path; `accumulate` adds to out instead
/// (x += branch, without a temporary). x and out are dense rows. Each engine worker takes a
/// slice of rows and runs all three steps on it (quantise, GEMM, dequantise), chunk by chunk,
/// so there is one fork-join per call and no second thread pool.
public func int8Linear(_ x: UnsafePointer<Float>, rows m: Int, weight w: Int8Weight, bias: UnsafePointer<Float>?,
                       into out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
    let (n, k) = (w.outFeatures, w.inFeatures)
    if m == 0 { return }
    let chunk = Int8GEMM.rowsPerChunk(outFeatures: n)
    let levels = Int8GEMM.activationLevels
    let (xs, os) = (SendablePointer(x), SendablePointer(out))
    let bs = bias.map { SendablePointer($0) }
    w.scales.withUnsafeBufferPointer { sc in
        w.columnSums.withUnsafeBufferPointer { cs in
            let (scp, csp, wv) = (SendablePointer(sc.baseAddress!), SendablePointer(cs.baseAddress!), SendablePointer(w.values))
            // Slices of at least 64 rows: below that the GEMM's own packing of W dominates.
            parallelFor(m, minPerThread: 64) { slice in
                ScratchArena.shared.withBuffer(count: chunk * n + (chunk * k + 3) / 4 + 2 * chunk) { buf in
                    let raw = UnsafeMutableRawPointer(buf)
                    let acc = raw.assumingMemoryBound(to: Int32.self)
                    let rowScale = (raw + 4 * chunk * n).assumingMemoryBound(to: Float.self)
                    let rowZero = (raw + 4 * (chunk * n + chunk)).assumingMemoryBound(to: Int32.self)
                    let q = (raw + 4 * (chunk * n + 2 * chunk)).assumingMemoryBound(to: UInt8.self)
                    var r0 = slice.lowerBound
                    while r0 < slice.upperBound {
                        let rows = min(chunk, slice.upperBound - r0)
                        int8_quantize_rows(xs.p + r0 * k, Int64(rows), Int64(k), Int64(k), levels, q, rowScale, rowZero)
                        Int8GEMM.multiply(q, wv.p, m: rows, n: n, k: k, into: acc)
                        int8_dequantize_rows(acc, Int64(rows), Int64(n), rowScale, rowZero, scp.p, csp.p, bs?.p,
                                             os.p + r0 * n, Int64(n), accumulate ? 1 : 0)
                        r0 += rows
                    }
                }
            }
        }
    }
}

/// PyTorch Linear through the int8 path: x: [..., in] -> [..., out].
public func linear(_ x: Tensor, int8 weight: Int8Weight, bias: WeightTensor? = nil) -> Tensor {
    precondition(x.shape.last == weight.inFeatures, "linear \(weight.name): input features \(x.shape.last ?? 0) != \(weight.inFeatures)")
    let m = x.count / max(weight.inFeatures, 1)
    var out = Tensor(uninitialized: Array(x.shape.dropLast()) + [weight.outFeatures])
    let op = out.mutablePointer
    if let bias {
        precondition(bias.count == weight.outFeatures, "linear bias \(bias.name) has \(bias.count) elements, expected \(weight.outFeatures)")
        bias.withFloatPointer { bp in int8Linear(x.pointer, rows: m, weight: weight, bias: bp, into: op) }
    } else {
        int8Linear(x.pointer, rows: m, weight: weight, bias: nil, into: op)
    }
    return out
}
