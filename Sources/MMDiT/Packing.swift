// Latents to MMDiT tokens and back (opensora/utils/sampling.py pack / unpack / prepare_ids):
// 'b c t (h ph) (w pw) -> b (t h w) (c ph pw)': tokens t-major, then row, then column; channels
// c-major, then ph, then pw (index c * p^2 + ph * p + pw). Position ids are (t, row, col) per
// token; text tokens sit at (0, 0, 0).

import TensorCore

public enum Packing {
    /// The token grid of a latent: (frames, rows, cols) = (T, H / p, W / p).
    public static func grid(latent shape: [Int], patchSize p: Int) throws -> (t: Int, h: Int, w: Int) {
        guard shape.count == 5, shape.allSatisfy({ $0 > 0 }), p > 0 else {
            throw MMDiTError.badInput("a latent to pack must be [B, C, T, H, W] with positive sizes, got \(shape)")
        }
        guard shape[3] % p == 0, shape[4] % p == 0 else {
            throw MMDiTError.badInput("latent height x width \(shape[3])x\(shape[4]) is not a multiple of the patch size \(p)")
        }
        return (shape[2], shape[3] / p, shape[4] / p)
    }

    /// x: [B, C, T, H, W] -> [B, T * (H/p) * (W/p), C * p * p]
    public static func pack(_ x: Tensor, patchSize p: Int) throws -> Tensor {
        let g = try grid(latent: x.shape, patchSize: p)
        let (b, c) = (x.shape[0], x.shape[1])
        let (h, w) = (g.h * p, g.w * p)
        var out = Tensor(uninitialized: [b, g.t * g.h * g.w, c * p * p])
        let src = x.pointer, dst = out.mutablePointer
        var o = 0
        for bi in 0..<b { for t in 0..<g.t { for r in 0..<g.h { for col in 0..<g.w {
            for ci in 0..<c { for ph in 0..<p { for pw in 0..<p {
                dst[o] = src[(((bi * c + ci) * g.t + t) * h + r * p + ph) * w + col * p + pw]
                o += 1
            } } }
        } } } }
        return out
    }

    /// The inverse: tokens [B, t * h * w, C * p * p] -> [B, C, t, h * p, w * p].
    public static func unpack(_ x: Tensor, grid g: (t: Int, h: Int, w: Int), patchSize p: Int) throws -> Tensor {
        guard x.rank == 3, x.shape[1] == g.t * g.h * g.w, p > 0, x.shape[2] % (p * p) == 0 else {
            throw MMDiTError.badInput("tokens \(x.shape) do not unpack to a \(g.t)x\(g.h)x\(g.w) grid with patch \(p)")
        }
        let (b, c) = (x.shape[0], x.shape[2] / (p * p))
        let (h, w) = (g.h * p, g.w * p)
        var out = Tensor(uninitialized: [b, c, g.t, h, w])
        let src = x.pointer, dst = out.mutablePointer
        var i = 0
        for bi in 0..<b { for t in 0..<g.t { for r in 0..<g.h { for col in 0..<g.w {
            for ci in 0..<c { for ph in 0..<p { for pw in 0..<p {
                dst[(((bi * c + ci) * g.t + t) * h + r * p + ph) * w + col * p + pw] = src[i]
                i += 1
            } } }
        } } } }
        return out
    }

    /// img_ids: (t, row, col) of every token of a t x h x w grid, for each of `batch` samples. [B, t * h * w, 3]
    public static func imageIds(batch: Int, grid g: (t: Int, h: Int, w: Int)) -> Tensor {
        let n = g.t * g.h * g.w
        var ids = Tensor(uninitialized: [batch, n, 3])
        let p = ids.mutablePointer
        for bi in 0..<batch {
            var token = 0
            for t in 0..<g.t { for r in 0..<g.h { for col in 0..<g.w {
                let o = (bi * n + token) * 3
                (p[o], p[o + 1], p[o + 2]) = (Float(t), Float(r), Float(col))
                token += 1
            } } }
        }
        return ids
    }

    /// txt_ids: all zero. [B, L, 3]
    public static func textIds(batch: Int, length: Int) -> Tensor { Tensor(zeros: [batch, length, 3]) }

    /// The cond_embed input: pack(cat(mask, masked reference)) with the mask's p^2 channels first.
    /// mask: [B, 1, T, H, W], maskedRef: [B, C, T, H, W] -> [B, N, (1 + C) * p^2]
    public static func condition(mask: Tensor, maskedReference: Tensor, patchSize p: Int) throws -> Tensor {
        guard mask.rank == 5, mask.shape[1] == 1, maskedReference.rank == 5,
              mask.shape[0] == maskedReference.shape[0], Array(mask.shape[2...]) == Array(maskedReference.shape[2...]) else {
            throw MMDiTError.badInput("condition mask \(mask.shape) and masked reference \(maskedReference.shape) must be [B, 1, T, H, W] and [B, C, T, H, W]")
        }
        return try pack(concat([mask, maskedReference], axis: 1), patchSize: p)
    }

    /// prepare_ids: the model inputs of a latent and its text embeddings (T5 states and CLIP
    /// pooled, batch 1 repeated to the latent's batch as the reference does).
    /// z: [B, C, T, H, W], t5: [1 or B, L, D], clip: [1 or B, V] -> img, img_ids, txt, txt_ids, y_vec
    public static func prepareIds(latent z: Tensor, t5: Tensor, clip: Tensor, patchSize p: Int = 2) throws
        -> (img: Tensor, imgIds: Tensor, txt: Tensor, txtIds: Tensor, yVec: Tensor) {
        let b = z.shape.first ?? 0
        let g = try grid(latent: z.shape, patchSize: p)
        func repeated(_ x: Tensor, _ name: String, rank: Int) throws -> Tensor {
            guard x.rank == rank, x.shape[0] == b || x.shape[0] == 1 else {
                throw MMDiTError.badInput("\(name) must be \(rank)-D with batch 1 or \(b), got \(x.shape)")
            }
            return x.shape[0] == b ? x : concat([Tensor](repeating: x, count: b), axis: 0)
        }
        let txt = try repeated(t5, "T5 embedding", rank: 3)
        return (try pack(z, patchSize: p), imageIds(batch: b, grid: g), txt, textIds(batch: b, length: txt.shape[1]),
                try repeated(clip, "CLIP embedding", rank: 2))
    }
}
