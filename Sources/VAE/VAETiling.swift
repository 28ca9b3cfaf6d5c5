// Tiled encode/decode as HunyuanVideo's and DC-AE's reference code does it: overlapping tiles,
// each run through the model on its own, then cross-faded into their neighbours and cropped.
//
// The cross-fades write into the stored tiles IN PLACE, as the reference does, so a tile blends
// against neighbours that have already been blended with theirs (an out-of-place version differs
// by ~0.9 on the golden cases).

import TensorCore

/// Linear cross-fade along `axis`: for y < e = min(a's size, b's size, extent),
/// b[y] = a[size(a) - e + y] * (1 - y/e) + b[y] * (y/e). a, b: 5-D with equal sizes off `axis`.
func blend(_ a: Tensor, into b: inout Tensor, axis: Int, extent: Int) {
    let (na, nb) = (a.shape[axis], b.shape[axis])
    let e = min(na, nb, extent)
    guard e > 0 else { return }
    let outer = b.shape[..<axis].reduce(1, *), inner = b.shape[(axis + 1)...].reduce(1, *)
    let ap = a.pointer, bp = b.mutablePointer
    for y in 0..<e {
        // The weights are Python floats (double), applied in float32.
        let wa = Float(1 - Double(y) / Double(e)), wb = Float(Double(y) / Double(e))
        for o in 0..<outer {
            let src = ap + (o * na + na - e + y) * inner, dst = bp + (o * nb + y) * inner
            for k in 0..<inner { dst[k] = src[k] * wa + dst[k] * wb }
        }
    }
}

/// Spatial tiling of x: [B, C, T, H, W]: tiles of `tile` x `tile` starting every `stride` in
/// BOTH H and W (edge tiles are smaller), each mapped by `f`; outputs blended over `blend`
/// rows/columns with the tile above and the tile to the left, then cropped to `keep` x `keep`
/// and concatenated.
func tiledSpatial(_ x: Tensor, tile: Int, stride: Int, blend extent: Int, keep: Int,
                  _ f: (Tensor) throws -> Tensor) rethrows -> Tensor {
    let (h, w) = (x.shape[3], x.shape[4])
    var rows: [[Tensor]] = []
    for i in Swift.stride(from: 0, to: h, by: stride) {
        var row: [Tensor] = []
        for j in Swift.stride(from: 0, to: w, by: stride) {
            let part = narrow(narrow(x, axis: 3, i..<min(i + tile, h)), axis: 4, j..<min(j + tile, w))
            row.append(try f(part))
        }
        rows.append(row)
    }
    var bands: [Tensor] = []
    for i in rows.indices {
        var kept: [Tensor] = []
        for j in rows[i].indices {
            if i > 0 { blend(rows[i - 1][j], into: &rows[i][j], axis: 3, extent: extent) }
            if j > 0 { blend(rows[i][j - 1], into: &rows[i][j], axis: 4, extent: extent) }
            let t = rows[i][j]
            kept.append(narrow(narrow(t, axis: 3, 0..<min(keep, t.shape[3])), axis: 4, 0..<min(keep, t.shape[4])))
        }
        bands.append(concat(kept, axis: 4))
    }
    return concat(bands, axis: 3)
}

/// How a temporal tiling treats its tiles.
struct TemporalTiling {
    /// Frames each tile takes (the input axis).
    var take: Int
    /// Tiles start every `stride` frames.
    var stride: Int
    /// Output frames cross-faded with the previous tile.
    var blend: Int
    /// Output frames each tile keeps (the first keeps `keep + firstExtra`).
    var keep: Int
    var firstExtra: Int
    /// Every tile but the first drops its first output frame (HunyuanVideo's causal overlap).
    var dropFirst: Bool
}

/// Temporal tiling of x: [B, C, T, H, W] along T (axis 2), each tile mapped by `f`.
func tiledTemporal(_ x: Tensor, _ s: TemporalTiling, _ f: (Tensor) throws -> Tensor) rethrows -> Tensor {
    let t = x.shape[2]
    var tiles: [Tensor] = []
    for i in Swift.stride(from: 0, to: t, by: s.stride) {
        var y = try f(narrow(x, axis: 2, i..<min(i + s.take, t)))
        if i > 0 && s.dropFirst { y = narrow(y, axis: 2, min(1, y.shape[2])..<y.shape[2]) }
        tiles.append(y)
    }
    var kept: [Tensor] = []
    for i in tiles.indices {
        if i > 0 { blend(tiles[i - 1], into: &tiles[i], axis: 2, extent: s.blend) }
        let n = min(tiles[i].shape[2], i == 0 ? s.keep + s.firstExtra : s.keep)
        if n > 0 { kept.append(narrow(tiles[i], axis: 2, 0..<n)) }
    }
    return concat(kept, axis: 2)
}
