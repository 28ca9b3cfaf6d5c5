// Bicubic resizing bit-exact with PIL's Image.resize(size, Image.BICUBIC) on 8-bit RGB, and the
// resize-then-center-crop Open-Sora applies to reference images.
//
// PIL resamples separably (horizontal pass, then vertical) with a filter whose support widens by
// the scale when shrinking (so downscaling antialiases), weights normalised per output pixel and
// rounded to 22-bit fixed point, and 8-bit rounding after each pass.

private let precisionBits = 32 - 8 - 2

/// The a = -0.5 cubic kernel PIL calls bicubic (support 2).
private func bicubic(_ x: Double) -> Double {
    let a = -0.5
    let x = abs(x)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
}

/// Per output pixel: first input index, tap count, and `taps` fixed-point weights.
private struct Taps {
    var first: [Int]
    var count: [Int]
    var weights: [Int32]
    var stride: Int
}

private func precomputeTaps(inSize: Int, outSize: Int) -> Taps {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = Swift.max(scale, 1)
    let support = 2.0 * filterScale
    let stride = Int(support.rounded(.up)) * 2 + 1
    var taps = Taps(first: [], count: [], weights: [Int32](repeating: 0, count: outSize * stride), stride: stride)
    var k = [Double](repeating: 0, count: stride)
    for xx in 0..<outSize {
        let center = (Double(xx) + 0.5) * scale
        let ss = 1.0 / filterScale
        let xmin = Swift.max(Int(center - support + 0.5), 0)  // Int() truncates like C's (int)
        let xmax = Swift.min(Int(center + support + 0.5), inSize) - xmin
        var ww = 0.0
        for x in 0..<xmax {
            let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
            k[x] = w
            ww += w
        }
        for x in 0..<xmax {
            let v = ww != 0 ? k[x] / ww : k[x]
            let fixed = v < 0 ? Int32(-0.5 + v * Double(1 << precisionBits)) : Int32(0.5 + v * Double(1 << precisionBits))
            taps.weights[xx * stride + x] = fixed
        }
        taps.first.append(xmin)
        taps.count.append(xmax)
    }
    return taps
}

@inline(__always)
private func clip8(_ v: Int32) -> UInt8 {
    if v >= (1 << (precisionBits + 8)) { return 255 }
    if v <= 0 { return 0 }
    return UInt8(v >> precisionBits)
}

/// Resamples one axis. `src` is [outer, n, inner*3] seen as lines along the middle axis.
private func resampleAxis(_ src: [UInt8], outer: Int, n: Int, inner: Int, to m: Int) -> [UInt8] {
    let taps = precomputeTaps(inSize: n, outSize: m)
    let group = inner * 3
    var dst = [UInt8](repeating: 0, count: outer * m * group)
    src.withUnsafeBufferPointer { s in
        dst.withUnsafeMutableBufferPointer { d in
            taps.weights.withUnsafeBufferPointer { kk in
                for o in 0..<outer {
                    for xx in 0..<m {
                        let first = taps.first[xx], count = taps.count[xx]
                        let k = kk.baseAddress! + xx * taps.stride
                        for j in 0..<group {
                            var acc: Int32 = 1 << (precisionBits - 1)
                            for x in 0..<count {
                                acc &+= Int32(s[(o * n + first + x) * group + j]) &* k[x]
                            }
                            d[(o * m + xx) * group + j] = clip8(acc)
                        }
                    }
                }
            }
        }
    }
    return dst
}

extension RGBImage {
    /// PIL's `Image.resize((width, height), Image.BICUBIC)`.
    public func resizedBicubic(width newWidth: Int, height newHeight: Int) throws -> RGBImage {
        guard newWidth > 0, newHeight > 0 else {
            throw VideoIOError(path: "<image>", "resize target \(newWidth) x \(newHeight) must be positive")
        }
        var pixels = self.pixels
        if newWidth != width {  // horizontal pass: lines along x, one per row
            pixels = resampleAxis(pixels, outer: height, n: width, inner: 1, to: newWidth)
        }
        if newHeight != height {  // vertical pass: lines along y, all columns at once
            pixels = resampleAxis(pixels, outer: 1, n: height, inner: newWidth, to: newHeight)
        }
        return try RGBImage(width: newWidth, height: newHeight, pixels: pixels)
    }

    /// Rows y ..< y+h, columns x ..< x+w.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) throws -> RGBImage {
        guard x >= 0, y >= 0, w > 0, h > 0, x + w <= width, y + h <= height else {
            throw VideoIOError(path: "<image>", "crop \(w) x \(h) at (\(x), \(y)) is outside the \(width) x \(height) image")
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for r in 0..<h {
            let src = ((y + r) * width + x) * 3
            out.replaceSubrange((r * w * 3)..<((r + 1) * w * 3), with: pixels[src..<(src + w * 3)])
        }
        return try RGBImage(width: w, height: h, pixels: out)
    }

    /// Open-Sora's resize_crop_to_fill: scale (bicubic) so the image covers height x width, keeping
    /// its aspect ratio, then cut the middle out. Python's round (half to even) decides sizes and offsets.
    public func resizedToFill(height th: Int, width tw: Int) throws -> RGBImage {
        guard th > 0, tw > 0 else { throw VideoIOError(path: "<image>", "target size \(tw) x \(th) must be positive") }
        let rh = Double(th) / Double(height), rw = Double(tw) / Double(width)
        if rh > rw {
            let sw = Int((Double(width) * rh).rounded(.toNearestOrEven))
            let scaled = try resizedBicubic(width: sw, height: th)
            let j = Int((Double(sw - tw) / 2.0).rounded(.toNearestOrEven))
            return try scaled.cropped(x: j, y: 0, width: tw, height: th)
        } else {
            let sh = Int((Double(height) * rw).rounded(.toNearestOrEven))
            let scaled = try resizedBicubic(width: tw, height: sh)
            let i = Int((Double(sh - th) / 2.0).rounded(.toNearestOrEven))
            return try scaled.cropped(x: 0, y: i, width: tw, height: th)
        }
    }
}
