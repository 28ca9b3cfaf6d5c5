// How close a video is to another: PSNR and SSIM on frames in [-1, 1] (clamped, scaled to [0, 1]),
// as docs/caching.md reports approximate methods against the exact run.

import Foundation
import TensorCore

public enum VideoSimilarity {
    /// 10 log10(1 / MSE) over every value; infinity for identical videos. a, b: [..., H, W], same shape.
    public static func psnr(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.shape == b.shape, "psnr: \(a.shape) vs \(b.shape)")
        let x = unit(a), y = unit(b)
        let mse = zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(max(x.count, 1))
        return mse == 0 ? .infinity : 10 * log10(1 / mse)
    }

    /// Mean SSIM over every image plane (each channel of each frame of each video): 11 x 11
    /// Gaussian window, sigma 1.5, C1 = 0.01^2, C2 = 0.03^2 (Wang et al. 2004), valid positions
    /// only. a, b: [..., H, W] with H, W >= 11.
    public static func ssim(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.shape == b.shape && a.rank >= 2, "ssim: \(a.shape) vs \(b.shape)")
        let h = a.shape[a.rank - 2], w = a.shape[a.rank - 1]
        let size = 11, half = 5
        precondition(h >= size && w >= size, "ssim needs planes of at least 11 x 11, got \(h) x \(w)")
        let g = (0..<size).map { exp(-Double(($0 - half) * ($0 - half)) / (2 * 1.5 * 1.5)) }
        let k = g.map { $0 / g.reduce(0, +) }
        let x = unit(a).map(Double.init), y = unit(b).map(Double.init)
        let planes = x.count / (h * w)
        let (c1, c2) = (0.01 * 0.01, 0.03 * 0.03)
        let (oh, ow) = (h - size + 1, w - size + 1)
        // The window's weighted means of x, y, x^2, y^2, xy: one separable 11-tap pass per axis.
        func filtered(_ v: [Double]) -> [Double] {
            var rows = [Double](repeating: 0, count: h * ow)
            for i in 0..<h { for j in 0..<ow { var acc = 0.0; for u in 0..<size { acc += k[u] * v[i * w + j + u] }; rows[i * ow + j] = acc } }
            var out = [Double](repeating: 0, count: oh * ow)
            for i in 0..<oh { for j in 0..<ow { var acc = 0.0; for u in 0..<size { acc += k[u] * rows[(i + u) * ow + j] }; out[i * ow + j] = acc } }
            return out
        }
        var total = 0.0
        for p in 0..<planes {
            let px = Array(x[(p * h * w)..<((p + 1) * h * w)]), py = Array(y[(p * h * w)..<((p + 1) * h * w)])
            let mx = filtered(px), my = filtered(py)
            let sxx = filtered(px.map { $0 * $0 }), syy = filtered(py.map { $0 * $0 }), sxy = filtered(zip(px, py).map { $0 * $1 })
            for i in 0..<(oh * ow) {
                let vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cov = sxy[i] - mx[i] * my[i]
                total += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
            }
        }
        return total / Double(max(planes * oh * ow, 1))
    }

    private static func unit(_ t: Tensor) -> [Float] { t.array.map { (min(max($0, -1), 1) + 1) / 2 } }
}
