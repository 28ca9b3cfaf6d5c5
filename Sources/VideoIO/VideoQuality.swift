// Reconstruction quality of an 8-bit clip against a reference: PSNR and SSIM, the numbers
// Open-Sora's VAE evaluation reports.

import Foundation

public enum VideoQuality {
    /// PSNR in dB over all pixels and channels of all frames: 10 log10(255^2 / MSE)
    /// (infinity for identical clips).
    public static func psnr(_ a: RGBVideo, _ b: RGBVideo) throws -> Double {
        try checkSameSize(a, b)
        var sum = 0.0
        a.pixels.withUnsafeBufferPointer { pa in
            b.pixels.withUnsafeBufferPointer { pb in
                for i in 0..<pa.count { let d = Double(pa[i]) - Double(pb[i]); sum += d * d }
            }
        }
        let mse = sum / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Mean SSIM (Wang et al. 2004): per frame and channel, an 11 x 11 Gaussian window
    /// (sigma 1.5) over the positions where it fits, C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2;
    /// averaged over channels and frames. Frames smaller than the window use the whole frame.
    public static func ssim(_ a: RGBVideo, _ b: RGBVideo) throws -> Double {
        try checkSameSize(a, b)
        let (h, w) = (a.height, a.width)
        let size = min(11, h, w), sigma = 1.5
        var g = (0..<size).map { i -> Double in let x = Double(i) - Double(size - 1) / 2; return exp(-x * x / (2 * sigma * sigma)) }
        let gs = g.reduce(0, +)
        g = g.map { $0 / gs }
        let c1: Double = (0.01 * 255) * (0.01 * 255), c2: Double = (0.03 * 255) * (0.03 * 255)
        let (oh, ow) = (h - size + 1, w - size + 1)
        var total = 0.0
        var plane = [Double](repeating: 0, count: h * w), other = plane
        for t in 0..<a.frameCount {
            for c in 0..<3 {
                for i in 0..<(h * w) {
                    plane[i] = Double(a.pixels[(t * h * w + i) * 3 + c])
                    other[i] = Double(b.pixels[(t * h * w + i) * 3 + c])
                }
                // Separable Gaussian filtering of x, y, x^2, y^2, xy ("valid" positions).
                func filter(_ f: (Int) -> Double) -> [Double] {
                    var rows = [Double](repeating: 0, count: h * ow)
                    for y in 0..<h { for x in 0..<ow { var s = 0.0; for k in 0..<size { s += g[k] * f(y * w + x + k) }; rows[y * ow + x] = s } }
                    var out = [Double](repeating: 0, count: oh * ow)
                    for y in 0..<oh { for x in 0..<ow { var s = 0.0; for k in 0..<size { s += g[k] * rows[(y + k) * ow + x] }; out[y * ow + x] = s } }
                    return out
                }
                let mx = filter { plane[$0] }, my = filter { other[$0] }
                let sxx = filter { plane[$0] * plane[$0] }, syy = filter { other[$0] * other[$0] }, sxy = filter { plane[$0] * other[$0] }
                var s = 0.0
                for i in 0..<(oh * ow) {
                    let (vx, vy, cov) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i])
                    s += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
                }
                total += s / Double(oh * ow)
            }
        }
        return total / Double(a.frameCount * 3)
    }

    private static func checkSameSize(_ a: RGBVideo, _ b: RGBVideo) throws {
        guard a.frameCount == b.frameCount, a.width == b.width, a.height == b.height else {
            throw VideoIOError(path: "<video>", "cannot compare \(a.frameCount) frames of \(a.width) x \(a.height) with \(b.frameCount) frames of \(b.width) x \(b.height)")
        }
    }
}
