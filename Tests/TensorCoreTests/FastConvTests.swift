import XCTest
@testable import TensorCore

/// `convolution`'s kernels (im2col rows, Winograd F(2,3) and F(4,3)) against the reference conv3d.
final class FastConvTests: XCTestCase {
    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var s = seed
        var t = Tensor(uninitialized: shape)
        let p = t.mutablePointer
        for i in 0..<t.count {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            p[i] = Float(s >> 40) / Float(1 << 23) - 1
        }
        return t
    }

    func check(_ x: [Int], o: Int, kernel: [Int], stride: (Int, Int, Int), padding: Padding3D, file: StaticString = #filePath, line: UInt = #line) {
        let xt = random(x, seed: UInt64(x.reduce(0, +) + o))
        let w = WeightTensor(random([o, x[1]] + kernel, seed: 3), name: "w")
        let b = WeightTensor(random([o], seed: 4), name: "b")
        let reference = conv3d(xt, weight: w, bias: b, stride: stride, padding: padding)
        for alg in ConvAlgorithm.allCases {
            let y = convolution(xt, weight: w, bias: b, stride: stride, padding: padding, algorithm: alg)
            XCTAssertEqual(y.shape, reference.shape, "\(alg)", file: file, line: line)
            // F(4,3) rounds more (its transforms use ±8, 1/24): still ~1e-6 relative here.
            let tol: Float = alg == .winograd4 || alg == .auto ? 2e-5 : 3e-6
            XCTAssertLessThan(y.maxAbsDifference(reference), tol * Float(x[1] * kernel.reduce(1, *)).squareRoot(),
                              "\(alg) \(x) k\(kernel)", file: file, line: line)
        }
    }

    func testSpatial3x3() {
        check([2, 5, 1, 9, 11], o: 7, kernel: [1, 3, 3], stride: (1, 1, 1), padding: .spatial(1))
        check([1, 16, 1, 8, 8], o: 3, kernel: [1, 3, 3], stride: (1, 1, 1), padding: .spatial(1))
        check([1, 17, 1, 2, 3], o: 4, kernel: [1, 3, 3], stride: (1, 1, 1), padding: .spatial(1))   // smaller than a tile
        check([1, 20, 1, 13, 6], o: 18, kernel: [1, 3, 3], stride: (1, 1, 1), padding: .spatial(1))
    }

    func testCausal3x3x3() {
        check([1, 6, 5, 7, 9], o: 5, kernel: [3, 3, 3], stride: (1, 1, 1), padding: .spatial(1, front: 2))
        check([2, 8, 4, 5, 6], o: 8, kernel: [3, 3, 3], stride: (2, 1, 1), padding: .spatial(1, front: 1))
        check([1, 16, 1, 6, 6], o: 4, kernel: [3, 3, 3], stride: (1, 1, 1), padding: .spatial(1, front: 2))  // one frame
    }

    func testIm2colShapes() {
        check([1, 4, 1, 8, 10], o: 6, kernel: [1, 3, 3], stride: (1, 2, 2), padding: Padding3D(bottom: 1, right: 1))
        check([1, 3, 6, 5, 5], o: 2, kernel: [1, 1, 1], stride: (1, 1, 1), padding: Padding3D())
        check([1, 3, 6, 5, 5], o: 2, kernel: [2, 1, 1], stride: (2, 1, 1), padding: Padding3D())
        check([1, 2, 3, 7, 7], o: 3, kernel: [3, 5, 3], stride: (1, 2, 1), padding: .spatial(2, front: 2, back: 1))
    }

    func testCountersRecordNominalFlops() {
        ConvCounters.shared.reset()
        let x = random([1, 4, 1, 6, 6], seed: 1)
        let w = WeightTensor(random([2, 4, 1, 3, 3], seed: 2), name: "w")
        _ = convolution(x, weight: w, bias: nil, padding: .spatial(1))
        XCTAssertEqual(ConvCounters.shared.flops, 2 * 2 * 36 * 4 * 9)
        XCTAssertEqual(ConvCounters.shared.calls, 1)
    }
}

extension FastConvTests {
    /// A layer wide enough that U exceeds its cap runs in output-channel slices.
    func testWideLayerRunsInSlices() {
        let x = random([1, 6, 3, 5, 7], seed: 8)
        let w = WeightTensor(random([10, 6, 3, 3, 3], seed: 9), name: "w"), b = WeightTensor(random([10], seed: 10), name: "b")
        let pad = Padding3D.spatial(1, front: 2)
        let whole = winogradConv(x, weight: w, bias: b, padding: pad)
        let sliced = winogradConv(x, weight: w, bias: b, padding: pad, maxU: 36 * 18 * 3)   // 3 channels a slice
        XCTAssertEqual(sliced.shape, whole.shape)
        // Weights here are in ±1 (outputs ~5): rounding differs with the GEMM's M only at 1e-5.
        XCTAssertLessThan(sliced.maxAbsDifference(whole), 1e-4)
        XCTAssertLessThan(whole.maxAbsDifference(conv3d(x, weight: w, bias: b, padding: pad)), 2e-4)
    }
}

extension FastConvTests {
    /// The written-out transforms equal the Bᵀ and Aᵀ matrices they implement.
    func testTransformsMatchTheirMatrices() {
        for tf in [WinogradTransform.f2, WinogradTransform.f4] {
            let (m, a) = (tf.m, tf.a)
            let x: [[Float]] = (0..<6).map { i in (0..<3).map { Float(i * 3 + $0) * 0.37 - 2 } }
            var dBT = [[Float]](repeating: [Float](repeating: 0, count: 3), count: 6), dAT = dBT
            let alloc = { (_: Int) in UnsafeMutablePointer<Float>.allocate(capacity: 3) }
            let xs = (0..<6).map(alloc), ds = (0..<6).map(alloc), ds2 = (0..<6).map(alloc)
            for i in 0..<6 { xs[i].update(from: x[i], count: 3) }
            applyBT(m: m, rows6 { UnsafePointer(xs[$0]) }, outRows6 { ds[$0] }, 3)
            applyAT(m: m, rows6 { UnsafePointer(xs[$0]) }, outRows6 { ds2[$0] }, 3)
            for j in 0..<a { for t in 0..<3 { dBT[j][t] = ds[j][t] } }
            for r in 0..<m { for t in 0..<3 { dAT[r][t] = ds2[r][t] } }
            for t in 0..<3 {
                for j in 0..<a {
                    let expect = (0..<a).reduce(Float(0)) { $0 + tf.bt[j * a + $1] * x[$1][t] }
                    XCTAssertEqual(dBT[j][t], expect, accuracy: 1e-4, "Bᵀ m=\(m) row \(j)")
                }
                for r in 0..<m {
                    let expect = (0..<a).reduce(Float(0)) { $0 + tf.at[r * a + $1] * x[$1][t] }
                    XCTAssertEqual(dAT[r][t], expect, accuracy: 1e-4, "Aᵀ m=\(m) row \(r)")
                }
            }
            (xs + ds + ds2).forEach { $0.deallocate() }
        }
    }

    /// Replicate padding (HunyuanVideo's causal conv): every algorithm against the reference conv
    /// of an explicitly replicate-padded copy, including a time-strided conv and tiny frames.
    func testReplicatePadding() {
        let cases: [([Int], [Int], (Int, Int, Int), Padding3D)] = [
            ([1, 6, 5, 7, 9], [3, 3, 3], (1, 1, 1), .spatial(1, front: 2)),
            ([2, 17, 4, 5, 6], [3, 3, 3], (1, 1, 1), .spatial(1, front: 2)),
            ([1, 8, 5, 2, 3], [3, 3, 3], (2, 2, 2), .spatial(1, front: 2)),
            ([1, 16, 1, 1, 1], [3, 3, 3], (1, 1, 1), .spatial(1, front: 2)),
        ]
        for (x, kernel, stride, padding) in cases {
            let xt = random(x, seed: UInt64(x.reduce(0, +)))
            let w = WeightTensor(random([5, x[1]] + kernel, seed: 3), name: "w")
            let reference = conv3d(pad(xt, padding, replicate: true), weight: w, bias: nil, stride: stride)
            for alg in ConvAlgorithm.allCases {
                let y = convolution(xt, weight: w, bias: nil, stride: stride, padding: padding, paddingMode: .replicate, algorithm: alg)
                XCTAssertEqual(y.shape, reference.shape, "\(alg) \(x)")
                XCTAssertLessThan(y.maxAbsDifference(reference), 2e-5 * Float(x[1] * 27).squareRoot(), "\(alg) \(x) stride \(stride)")
            }
        }
    }
}
