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
        let norm = g.reduce(0, +) * g.reduce(0, +)
        let x = unit(a), y = unit(b)
        let planes = x.count / (h * w)
        let (c1, c2) = (0.01 * 0.01, 0.03 * 0.03)
        var total = 0.0, count = 0
        for p in 0..<planes {
            let o = p * h * w
            for i in 0...(h - size) {
                for j in 0...(w - size) {
                    var mx = 0.0, my = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
                    for u in 0..<size {
                        for v in 0..<size {
                            let k = g[u] * g[v] / norm
                            let xv = Double(x[o + (i + u) * w + j + v]), yv = Double(y[o + (i + u) * w + j + v])
                            mx += k * xv; my += k * yv; sxx += k * xv * xv; syy += k * yv * yv; sxy += k * xv * yv
                        }
                    }
                    let vx = sxx - mx * mx, vy = syy - my * my, cov = sxy - mx * my
                    total += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
                    count += 1
                }
            }
        }
        return total / Double(max(count, 1))
    }

    private static func unit(_ t: Tensor) -> [Float] { t.array.map { (min(max($0, -1), 1) + 1) / 2 } }
}
