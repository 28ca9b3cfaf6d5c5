// Winograd convolution F(m x m, 3 x 3) for convolutions whose spatial part is 3x3, stride 1,
// padding 1 (the bulk of both VAEs), with any temporal kernel, time stride and time padding.
//
// Each output tile of m x m pixels is computed from an a x a input patch (a = m + 2) in a
// transformed domain where the convolution becomes a[e]-wise product: for every one of the
// a*a transformed elements e, one GEMM  M_e[O, cols] = U_e[O, K] * V_e[K, cols]  with
// K = C * kt (time taps stacked like channels) and cols = output tiles. That needs
// 9 m^2 / a^2 fewer multiplications than direct convolution: 2.25x for m = 2, 4x for m = 4.
//
// Tiles are processed in blocks of whole tile rows so the transformed buffers stay around
// 100 MB; the transforms themselves are in WinogradTransforms.swift.

import Foundation

/// The transform matrices of F(m, 3) (Lavin & Gray 2015, interpolation points 0, ±1, ±2, ±1/2).
struct WinogradTransform: Sendable {
    let m: Int, a: Int
    let bt: [Float]      // [a, a]   input:  V = Bᵀ d B
    let g: [Float]       // [a, 3]   weight: U = G w Gᵀ
    let at: [Float]      // [m, a]   output: Y = Aᵀ M A

    static let f2 = WinogradTransform(
        m: 2, a: 4,
        bt: [1, 0, -1, 0,
             0, 1, 1, 0,
             0, -1, 1, 0,
             0, 1, 0, -1],
        g: [1, 0, 0,
            0.5, 0.5, 0.5,
            0.5, -0.5, 0.5,
            0, 0, 1],
        at: [1, 1, 1, 0,
             0, 1, -1, -1])

    static let f4 = WinogradTransform(
        m: 4, a: 6,
        bt: [4, 0, -5, 0, 1, 0,
             0, -4, -4, 1, 1, 0,
             0, 4, -4, -1, 1, 0,
             0, -2, -1, 2, 1, 0,
             0, 2, -1, -2, 1, 0,
             0, 4, 0, -5, 0, 1],
        g: [1.0 / 4, 0, 0,
            -1.0 / 6, -1.0 / 6, -1.0 / 6,
            -1.0 / 6, 1.0 / 6, -1.0 / 6,
            1.0 / 24, 1.0 / 12, 1.0 / 6,
            1.0 / 24, -1.0 / 12, 1.0 / 6,
            0, 0, 1],
        at: [1, 1, 1, 1, 1, 0,
             0, 1, -1, 2, -2, 0,
             0, 1, 1, 4, 4, 0,
             0, 1, -1, 8, -8, 1])

    static func tileSize(_ m: Int) -> WinogradTransform? { m == 2 ? f2 : m == 4 ? f4 : nil }
}

/// Whether `winogradConv` handles this convolution: 3x3 spatial kernel, spatial stride 1,
/// spatial padding 1 on every side.
public func winogradApplies(weightShape s: [Int], stride: (Int, Int, Int), padding p: Padding3D) -> Bool {
    s.count == 5 && s[3] == 3 && s[4] == 3 && stride.1 == 1 && stride.2 == 1
        && p.top == 1 && p.bottom == 1 && p.left == 1 && p.right == 1
}

/// x: [N, C, T, H, W], weight: [O, C, kt, 3, 3], bias: [O] -> [N, O, T', H, W] with
/// T' = (T + front + back - kt) / timeStride + 1. `tile` is m: 2 or 4.
/// `maxU` caps the transformed weights (floats); wider layers run in output-channel slices.
public func winogradConv(_ x: Tensor, weight: WeightTensor, bias: WeightTensor?, timeStride: Int = 1,
                         padding: Padding3D, paddingMode: PaddingMode = .zeros, tile: Int = 4, maxU: Int = 32 << 20) -> Tensor {
    precondition(winogradApplies(weightShape: weight.shape, stride: (timeStride, 1, 1), padding: padding),
                 "winogradConv: weight \(weight.name) \(weight.shape) / padding \(padding) is not a 3x3 stride-1 pad-1 conv")
    guard let tf = WinogradTransform.tileSize(tile) else { preconditionFailure("winogradConv: tile must be 2 or 4, got \(tile)") }
    precondition(x.rank == 5 && weight.shape[1] == x.shape[1], "winogradConv: input \(x.shape) does not match weight \(weight.name) \(weight.shape)")
    let (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let (o, kt) = (weight.shape[0], weight.shape[2])
    let to = (t + padding.front + padding.back - kt) / timeStride + 1
    precondition(to > 0, "winogradConv \(weight.name): input \(x.shape) too short for kernel \(weight.shape)")
    let (m, a) = (tf.m, tf.a)
    let e2 = a * a
    let k = c * kt
    let tilesH = (h + m - 1) / m, tilesW = (w + m - 1) / m
    let rowsTotal = n * to * tilesH                    // tile rows over batch and output frames

    // Wide layers (the temporal decoder's 512 -> 1024 upsampler: U would be 226 MB) run in
    // slices of output channels; each slice transforms the input again, which is cheap there.
    if e2 * o * k > maxU && o > 1 {
        let slice = max(1, maxU / (e2 * k))
        let parts = stride(from: 0, to: o, by: slice).map { o0 in
            winogradConv(x, weight: weight.rows(o0..<min(o0 + slice, o)), bias: bias?.rows(o0..<min(o0 + slice, o)),
                         timeStride: timeStride, padding: padding, paddingMode: paddingMode, tile: tile, maxU: maxU)
        }
        return concat(parts, axis: 1)
    }

    var out = Tensor(uninitialized: [n, o, to, h, w])
    // Columns per block: whole tile rows, V + M around 24M floats.
    let rowsPerBlock = max(1, min(rowsTotal, (24 << 20) / max(e2 * (k + o) * tilesW, 1)))
    let colsMax = rowsPerBlock * tilesW
    let biasT = bias.map { $0.toTensor() }
    let geo = Geometry(c: c, t: t, h: h, w: w, kt: kt, timeStride: timeStride, padFront: padding.front,
                       to: to, o: o, tilesH: tilesH, tilesW: tilesW, replicate: paddingMode == .replicate)
    // Scratch buffers are reused across calls: fresh 100 MB allocations cost as much in page
    // faults as the transforms themselves.
    let arena = ScratchArena.shared
    arena.withBuffer(count: e2 * o * k) { u in                  // U: [a*a, O, K]
        weightTransform(weight, tf, into: u)
        arena.withBuffer(count: e2 * k * colsMax) { v in        // V: [a*a, K, cols]
            arena.withBuffer(count: e2 * o * colsMax) { mOut in // M: [a*a, O, cols]
                let (us, vs, ms) = (SendablePointer(u), SendablePointer(v), SendablePointer(mOut))
                var row0 = 0
                while row0 < rowsTotal {
                    let rows = min(rowsPerBlock, rowsTotal - row0)
                    let cols = rows * tilesW
                    inputTransform(x, geo, m: m, rows: row0..<(row0 + rows), into: v)
                    // The a*a GEMMs are independent: spread them over our threads, one BLAS thread each.
                    BLAS.singleThreaded {
                        parallelFor(e2) { r in
                            for e in r {
                                sgemm(m: o, n: cols, k: k, a: us.p + e * o * k, lda: k, b: vs.p + e * k * cols, ldb: cols,
                                      c: ms.p + e * o * cols, ldc: cols)
                            }
                        }
                    }
                    outputTransform(mOut, geo, m: m, rows: row0..<(row0 + rows), bias: biasT, into: &out)
                    row0 += rows
                }
            }
        }
    }
    return out
}

struct Geometry: Sendable {
    let c, t, h, w, kt, timeStride, padFront, to, o, tilesH, tilesW: Int
    /// Out-of-range taps read the nearest edge value instead of zero.
    var replicate = false
}

/// U[e][o][c*kt + dt] = (G w[o, c, dt] Gᵀ)[e], e = row * a + column, into `u` ([a*a, O, C*kt]).
/// Vectorised across the C*kt kernels of one output channel: their 9 taps are first
/// transposed into tap-major rows.
func weightTransform(_ weight: WeightTensor, _ tf: WinogradTransform, into u: UnsafeMutablePointer<Float>) {
    let (o, c, kt) = (weight.shape[0], weight.shape[1], weight.shape[2])
    let a = tf.a, k = c * kt
    let up = SendablePointer(u)
    let g = tf.g
    weight.withFloatPointer { wp in
        let ws = SendablePointer(wp)
        parallelFor(o) { r in
            let taps = UnsafeMutablePointer<Float>.allocate(capacity: 9 * k)       // [dh*3 + dw][kernel]
            let half = UnsafeMutablePointer<Float>.allocate(capacity: a * 3 * k)   // (G w)[row][dw][kernel]
            defer { taps.deallocate(); half.deallocate() }
            for oi in r {
                let src = ws.p + oi * k * 9                 // k kernels of 3x3, contiguous
                for kk in 0..<k { for tap in 0..<9 { taps[tap * k + kk] = src[kk * 9 + tap] } }
                for row in 0..<a {
                    for dw in 0..<3 {
                        let dst = half + (row * 3 + dw) * k
                        dst.update(repeating: 0, count: k)
                        for dh in 0..<3 {
                            let coef = g[row * 3 + dh]
                            if coef == 0 { continue }
                            let s = taps + (dh * 3 + dw) * k
                            for kk in 0..<k { dst[kk] += coef * s[kk] }
                        }
                    }
                }
                for row in 0..<a {
                    for col in 0..<a {
                        let dst = up.p + ((row * a + col) * o + oi) * k
                        dst.update(repeating: 0, count: k)
                        for dw in 0..<3 {
                            let coef = g[col * 3 + dw]
                            if coef == 0 { continue }
                            let s = half + (row * 3 + dw) * k
                            for kk in 0..<k { dst[kk] += coef * s[kk] }
                        }
                    }
                }
            }
        }
    }
}

extension WeightTensor {
    /// Rows `range` of the first axis (no copy).
    func rows(_ range: Range<Int>) -> WeightTensor {
        let inner = count / max(shape[0], 1)
        return WeightTensor(name: name, shape: [range.count] + shape.dropFirst(), dtype: dtype,
                            raw: raw + range.lowerBound * inner * dtype.byteSize, owner: owner)
    }
}
