import XCTest
@testable import TensorCore

/// The int8 linear against (1) the exact float product, within the quantisation error, and
/// (2) the same quantisation computed naively here, to float rounding: the second catches a
/// wrong zero point, scale or GEMM layout that the first's loose bound would hide.
final class Int8LinearTests: XCTestCase {
    func random(_ shape: [Int], seed: UInt64, scale: Float) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in scale * Float(Double(rng.next() >> 11) / 4503599627370496 - 1) })
    }

    func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
        var d = 0.0, r = 0.0
        for i in 0..<a.count { d += Double(a[flat: i] - b[flat: i]) * Double(a[flat: i] - b[flat: i]); r += Double(b[flat: i]) * Double(b[flat: i]) }
        return (d / r).squareRoot()
    }

    /// Rows of odd length and count (the AVX2 loops' tails) and a shifted, one-sided activation
    /// range (a non-trivial zero point).
    let (m, k, n) = (37, 203, 45)

    func testCloseToFloatLinear() {
        let x = random([m, k], seed: 1, scale: 1) + 0.3, w = random([n, k], seed: 2, scale: 0.1), b = random([n], seed: 3, scale: 1)
        let exact = linear(x, weight: WeightTensor(w), bias: WeightTensor(b))
        let q = linear(x, int8: Int8Weight(quantizing: WeightTensor(w, name: "w")), bias: WeightTensor(b))
        let err = relativeL2(q, exact)
        XCTAssertLessThan(err, 1e-2)
        XCTAssertGreaterThan(err, 1e-6, "the int8 path must really quantise")
    }

    func testMatchesNaiveQuantisedProduct() {
        let x = random([m, k], seed: 4, scale: 2) + (-0.5), w = random([n, k], seed: 5, scale: 0.1), b = random([n], seed: 6, scale: 1)
        let qw = Int8Weight(quantizing: WeightTensor(w, name: "w"))
        let got = linear(x, int8: qw, bias: WeightTensor(b))
        let levels = Float(Int8GEMM.activationLevels)
        for r in 0..<m {
            var lo: Float = 0, hi: Float = 0
            for j in 0..<k { lo = min(lo, x[flat: r * k + j]); hi = max(hi, x[flat: r * k + j]) }
            let s = (hi - lo) / levels
            let z = min(max((-lo / s).rounded(.toNearestOrEven), 0), levels)
            for c in 0..<n {
                var acc = 0
                for j in 0..<k {
                    let qa = Int(min(max((x[flat: r * k + j] * (1 / s)).rounded(.toNearestOrEven) + z, 0), levels))
                    acc += (qa - Int(z)) * Int(qw.values[c * k + j])
                }
                let want = s * qw.scales[c] * Float(acc) + b[flat: c]
                XCTAssertEqual(got[flat: r * n + c], want, accuracy: 1e-5 * max(1, abs(want)), "row \(r) col \(c)")
            }
        }
    }

    func testAccumulateAddsToOutput() {
        let x = random([m, k], seed: 7, scale: 1), w = random([n, k], seed: 8, scale: 0.1), b = random([n], seed: 9, scale: 1)
        let qw = Int8Weight(quantizing: WeightTensor(w, name: "w"))
        let base = random([m, n], seed: 10, scale: 1)
        var acc = base
        b.withData { bp in int8Linear(x.pointer, rows: m, weight: qw, bias: bp.baseAddress!, into: acc.mutablePointer, accumulate: true) }
        let plain = linear(x, int8: qw, bias: WeightTensor(b))
        XCTAssertLessThan((acc - base - plain).array.map(abs).max()!, 1e-5)
    }

    func testSameBytesAtAnyThreadCount() {
        // More rows than one GEMM chunk, so chunking and the parallel passes both run.
        let rows = Int8GEMM.rowsPerChunk(outFeatures: n) + 17
        let x = random([rows, k], seed: 11, scale: 1), w = random([n, k], seed: 12, scale: 0.1)
        let qw = Int8Weight(quantizing: WeightTensor(w, name: "w"))
        let before = Runtime.threads
        defer { Runtime.setThreads(before) }
        Runtime.setThreads(1)
        let one = linear(x, int8: qw)
        Runtime.setThreads(2)
        let two = linear(x, int8: qw)
        XCTAssertEqual(one.array, two.array)
    }

    func testWeightQuantisationRoundTrip() {
        let w = random([n, k], seed: 13, scale: 0.2)
        let qw = Int8Weight(quantizing: WeightTensor(w, name: "w"))
        for r in 0..<n { XCTAssertEqual((0..<k).map { abs(qw.values[r * k + $0]) }.max(), 127, "row \(r) uses the full range") }
        XCTAssertLessThan(relativeL2(qw.dequantized(), w), 1e-2)
    }

    func testBadOptionAndTensorsAreOneLineErrors() {
        XCTAssertThrowsError(try Quantization(option: "int4")) { e in
            XCTAssertEqual("\(e)", "--quantize int4: unsupported; expected one of none, int8")
        }
        XCTAssertEqual(try Quantization(option: "INT8"), .int8)
        let values = Tensor(zeros: [4, 3])
        let i8 = values.withData { p in WeightTensor(name: "l.weight", shape: [4, 3], dtype: .i8, raw: UnsafeRawPointer(p.baseAddress!), owner: values.storage) }
        XCTAssertThrowsError(try Int8Weight(values: i8, scales: WeightTensor(Tensor(repeating: 1, shape: [3]), name: "l.weight_scale"))) { e in
            XCTAssertTrue("\(e)".contains("l.weight_scale: expected F32 [4]"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"))
        }
        XCTAssertThrowsError(try Int8Weight(values: i8, scales: WeightTensor(Tensor(zeros: [4]), name: "l.weight_scale"))) { e in
            XCTAssertTrue("\(e)".contains("must be positive and finite"), "\(e)")
        }
    }
}
