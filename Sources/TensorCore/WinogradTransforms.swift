// The input and output transforms of Winograd F(m x m, 3 x 3), m = 2 or 4, written out as
// straight-line arithmetic over whole rows of tiles so LLVM vectorises every loop.

/// Up to six row pointers (F(4,3) uses six, F(2,3) four).
typealias Rows6 = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                   UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)
typealias OutRows6 = (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                      UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)

/// d[j][t] = sum_s Bᵀ[j][s] x[s][t] for t < n.
@inline(__always)
func applyBT(m: Int, _ x: Rows6, _ d: OutRows6, _ n: Int) {
    if m == 4 {
        for t in 0..<n {
            let (x0, x1, x2, x3, x4, x5) = (x.0[t], x.1[t], x.2[t], x.3[t], x.4[t], x.5[t])
            d.0[t] = 4 * x0 - 5 * x2 + x4
            d.1[t] = -4 * (x1 + x2) + (x3 + x4)
            d.2[t] = 4 * (x1 - x2) + (x4 - x3)
            d.3[t] = 2 * (x3 - x1) + (x4 - x2)
            d.4[t] = 2 * (x1 - x3) + (x4 - x2)
            d.5[t] = 4 * x1 - 5 * x3 + x5
        }
    } else {
        for t in 0..<n {
            let (x0, x1, x2, x3) = (x.0[t], x.1[t], x.2[t], x.3[t])
            d.0[t] = x0 - x2
            d.1[t] = x1 + x2
            d.2[t] = x2 - x1
            d.3[t] = x1 - x3
        }
    }
}

/// d[r][t] = sum_i Aᵀ[r][i] x[i][t] for t < n (m outputs from a = m + 2 inputs).
@inline(__always)
func applyAT(m: Int, _ x: Rows6, _ d: OutRows6, _ n: Int) {
    if m == 4 {
        for t in 0..<n {
            let (x0, x1, x2, x3, x4, x5) = (x.0[t], x.1[t], x.2[t], x.3[t], x.4[t], x.5[t])
            let p12 = x1 + x2, m12 = x1 - x2, p34 = x3 + x4, m34 = x3 - x4
            d.0[t] = x0 + p12 + p34
            d.1[t] = m12 + 2 * m34
            d.2[t] = p12 + 4 * p34
            d.3[t] = m12 + 8 * m34 + x5
        }
    } else {
        for t in 0..<n {
            let (x0, x1, x2, x3) = (x.0[t], x.1[t], x.2[t], x.3[t])
            d.0[t] = x0 + x1 + x2
            d.1[t] = x1 - x2 - x3
        }
    }
}

@inline(__always) func rows6(_ f: (Int) -> UnsafePointer<Float>) -> Rows6 { (f(0), f(1), f(2), f(3), f(4), f(5)) }
@inline(__always) func outRows6(_ f: (Int) -> UnsafeMutablePointer<Float>) -> OutRows6 { (f(0), f(1), f(2), f(3), f(4), f(5)) }

/// V[e][k][col] for tile rows `rows` (col = (row - rows.lowerBound) * tilesW + tx), k = c*kt + dt.
///
/// Each of the a input rows of a tile row is split into m phase rows (phase p, tile t holds
/// input column t*m + p - 1), so Bᵀ down the rows and Bᵀ across the columns both read and write
/// whole contiguous rows.
func inputTransform(_ x: Tensor, _ g: Geometry, m: Int, rows: Range<Int>, into v: UnsafeMutablePointer<Float>) {
    let a = m + 2
    let k = g.c * g.kt, cols = rows.count * g.tilesW
    let tw = g.tilesW, pl = tw + 1                    // phase row length (the last tile reads one more)
    let span = m * pl
    let xs = SendablePointer(x.pointer), vs = SendablePointer(v)
    parallelFor(k * rows.count, minPerThread: 4) { r in
        let line = UnsafeMutablePointer<Float>.allocate(capacity: span)            // one zero-padded input row
        let phases = UnsafeMutablePointer<Float>.allocate(capacity: 6 * span)      // [input row][phase][tile]
        let down = UnsafeMutablePointer<Float>.allocate(capacity: 6 * span)        // Bᵀ applied down the rows
        defer { line.deallocate(); phases.deallocate(); down.deallocate() }
        phases.update(repeating: 0, count: 6 * span)
        for item in r {
            let kk = item / rows.count, local = item % rows.count, rowIdx = rows.lowerBound + local
            let ci = kk / g.kt, dt = kk % g.kt
            let ty = rowIdx % g.tilesH, toi = (rowIdx / g.tilesH) % g.to, ni = rowIdx / (g.tilesH * g.to)
            var ti = toi * g.timeStride - g.padFront + dt
            let colBase = local * tw
            if g.replicate {
                ti = min(max(ti, 0), g.t - 1)
            } else if ti < 0 || ti >= g.t {             // causal padding frame: all zeros
                for e in 0..<(a * a) { (vs.p + (e * k + kk) * cols + colBase).update(repeating: 0, count: tw) }
                continue
            }
            let plane = xs.p + ((ni * g.c + ci) * g.t + ti) * g.h * g.w
            for i in 0..<a {
                var y = ty * m - 1 + i
                if g.replicate { y = min(max(y, 0), g.h - 1) }
                line.update(repeating: 0, count: span)
                if y >= 0 && y < g.h {
                    let row = plane + y * g.w
                    (line + 1).update(from: row, count: min(g.w, span - 1))
                    if g.replicate {                    // the left and right padding columns
                        line[0] = row[0]
                        if g.w + 1 < span { line[g.w + 1] = row[g.w - 1] }
                    }
                }
                let ph = phases + i * span
                if m == 4 {
                    for t in 0..<pl { ph[t] = line[4 * t]; ph[pl + t] = line[4 * t + 1]; ph[2 * pl + t] = line[4 * t + 2]; ph[3 * pl + t] = line[4 * t + 3] }
                } else {
                    for t in 0..<pl { ph[t] = line[2 * t]; ph[pl + t] = line[2 * t + 1] }
                }
            }
            applyBT(m: m, rows6 { UnsafePointer(phases + $0 * span) }, outRows6 { down + $0 * span }, span)
            for i in 0..<a {
                let src = down + i * span
                // Column s of tile t is phase s % m at tile t + s / m.
                applyBT(m: m, rows6 { UnsafePointer(src + ($0 % m) * pl + $0 / m) },
                        outRows6 { vs.p + ((i * a + min($0, a - 1)) * k + kk) * cols + colBase }, tw)
            }
        }
    }
}

/// out[n, o, to, ty*m + r, tx*m + q] = (Aᵀ M A)[r][q] + bias[o], clipped to H x W.
func outputTransform(_ mOut: UnsafeMutablePointer<Float>, _ g: Geometry, m: Int, rows: Range<Int>,
                     bias: Tensor?, into out: inout Tensor) {
    let a = m + 2
    let cols = rows.count * g.tilesW
    let tw = g.tilesW
    let ms = SendablePointer(mOut), os = SendablePointer(out.mutablePointer)
    let bp = bias.map { SendablePointer($0.pointer) }
    parallelFor(g.o * rows.count, minPerThread: 4) { r in
        let down = UnsafeMutablePointer<Float>.allocate(capacity: 6 * a * tw)    // [row r][column j][tile]
        let across = UnsafeMutablePointer<Float>.allocate(capacity: 6 * tw)      // [q][tile] of one output row
        let line = UnsafeMutablePointer<Float>.allocate(capacity: tw * m)
        defer { down.deallocate(); across.deallocate(); line.deallocate() }
        for item in r {
            let oi = item / rows.count, local = item % rows.count, rowIdx = rows.lowerBound + local
            let ty = rowIdx % g.tilesH, toi = (rowIdx / g.tilesH) % g.to, ni = rowIdx / (g.tilesH * g.to)
            let b = bp?.p[oi] ?? 0
            // Down: down[r][j] = sum_i Aᵀ[r][i] M[i*a + j].
            for j in 0..<a {
                applyAT(m: m, rows6 { UnsafePointer(ms.p + ((min($0, a - 1) * a + j) * g.o + oi) * cols + local * tw) },
                        outRows6 { down + (min($0, m - 1) * a + j) * tw }, tw)
            }
            for rr in 0..<m {
                let y = ty * m + rr
                if y >= g.h { break }
                let d = down + rr * a * tw
                applyAT(m: m, rows6 { UnsafePointer(d + min($0, a - 1) * tw) }, outRows6 { across + $0 * tw }, tw)
                // Interleave the m phases into pixels and add the bias.
                if m == 4 {
                    for t in 0..<tw {
                        line[4 * t] = across[t] + b; line[4 * t + 1] = across[tw + t] + b
                        line[4 * t + 2] = across[2 * tw + t] + b; line[4 * t + 3] = across[3 * tw + t] + b
                    }
                } else {
                    for t in 0..<tw { line[2 * t] = across[t] + b; line[2 * t + 1] = across[tw + t] + b }
                }
                (os.p + (((ni * g.o + oi) * g.to + toi) * g.h + y) * g.w).update(from: line, count: g.w)
            }
        }
    }
}
