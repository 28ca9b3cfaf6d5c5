// What the v1.0 (STDiT) and v1.1 (STDiT2) denoisers share: their call arguments, the input
// checks, the caption projection, adding per-token / per-frame embeddings, and unpatchify.
// Both run one block list (spatial, temporal, cross-attention, MLP inside each block).

import TensorCore

/// One call of STDiT (v1.0) or STDiT2 (v1.1).
public struct LegacySTDiTInput {
    /// Latent video. [B, C_in, T, H, W]
    public var latent: Tensor
    /// Raw timesteps in [0, 1000], one per sample (IDDPM passes integers).
    public var timesteps: [Float]
    /// Text-encoder states. [B, L, caption_channels] ([B, 1, L, caption_channels] is accepted)
    public var caption: Tensor
    /// [B][L]: true = a real token. nil = all real.
    public var captionMask: [[Bool]]?
    /// x_mask, [B][T / patch_t]: false = a conditioning frame (modulated as at t = 0). nil = none.
    public var frameMask: [[Bool]]?

    public init(latent: Tensor, timesteps: [Float], caption: Tensor, captionMask: [[Bool]]? = nil, frameMask: [[Bool]]? = nil) {
        self.latent = latent; self.timesteps = timesteps; self.caption = caption
        self.captionMask = captionMask; self.frameMask = frameMask
    }

    public var batch: Int { latent.shape.first ?? 0 }

    /// The classifier-free-guidance batch: these samples, then the same with `nullCaption`
    /// ([L, caption_channels]). As in the reference, the null half reuses the caption mask.
    public func doubledForGuidance(nullCaption: Tensor) throws -> LegacySTDiTInput {
        let b = batch
        let y = caption.rank == 4 && caption.shape[1] == 1 ? caption.reshaped([b, caption.shape[2], caption.shape[3]]) : caption
        guard y.rank == 3, y.shape[0] == b, nullCaption.rank == 2, y.shape[1] == nullCaption.shape[0], y.shape[2] == nullCaption.shape[1] else {
            throw STDiTError.badInput("guidance needs captions of shape [\(b), \(nullCaption.shape.first ?? 0), \(nullCaption.shape.last ?? 0)] to pair with the null caption, got \(caption.shape)")
        }
        var out = self
        out.latent = concat([latent, latent], axis: 0)
        out.timesteps = timesteps + timesteps
        out.caption = concat([y] + [Tensor](repeating: nullCaption.reshaped([1] + nullCaption.shape), count: b), axis: 0)
        out.captionMask = captionMask.map { $0 + $0 }
        out.frameMask = frameMask.map { $0 + $0 }
        return out
    }
}

struct LegacyGeometry {
    let grid: TokenGrid
    let patchesH: Int, patchesW: Int
    let frameMask: [Bool]?
}

/// Validates a call against the model's sizes; returns the token grid (T, H, W padded up to
/// multiples of the patch).
func checkLegacyInput(_ input: LegacySTDiTInput, inChannels: Int, captionChannels: Int, patch: [Int]) throws -> LegacyGeometry {
    let x = input.latent
    guard x.rank == 5, x.shape[1] == inChannels, x.shape.allSatisfy({ $0 > 0 }) else {
        throw STDiTError.badInput("latent must be [B, \(inChannels), T, H, W] with positive sizes, got \(x.shape)")
    }
    let b = x.shape[0]
    let (gt, gh, gw) = ((x.shape[2] + patch[0] - 1) / patch[0], (x.shape[3] + patch[1] - 1) / patch[1], (x.shape[4] + patch[2] - 1) / patch[2])
    guard input.timesteps.count == b else { throw STDiTError.badInput("\(input.timesteps.count) timesteps for a batch of \(b)") }
    let y = input.caption
    let yOK = (y.rank == 3 && y.shape[0] == b && y.shape[2] == captionChannels)
        || (y.rank == 4 && y.shape[0] == b && y.shape[1] == 1 && y.shape[3] == captionChannels)
    guard yOK, y.shape[y.rank - 2] > 0 else {
        throw STDiTError.badInput("caption must be [\(b), L, \(captionChannels)] (or [\(b), 1, L, \(captionChannels)]), got \(y.shape)")
    }
    let length = y.shape[y.rank - 2]
    if let m = input.captionMask {
        guard m.count == b, m.allSatisfy({ $0.count == length }) else {
            throw STDiTError.badInput("caption mask must be [\(b)][\(length)], got \(m.count) rows of \(m.map(\.count))")
        }
        if let empty = m.firstIndex(where: { !$0.contains(true) }) {
            throw STDiTError.badInput("caption mask of sample \(empty) selects no tokens")
        }
    }
    var frameMask: [Bool]?
    if let m = input.frameMask {
        guard m.count == b, m.allSatisfy({ $0.count == gt }) else {
            throw STDiTError.badInput("frame mask (x_mask) must be [\(b)][\(gt)], got \(m.count) rows of \(m.map(\.count))")
        }
        frameMask = m.flatMap { $0 }
    }
    return LegacyGeometry(grid: TokenGrid(batch: b, frames: gt, spatial: gh * gw), patchesH: gh, patchesW: gw, frameMask: frameMask)
}

extension CaptionEmbedder {
    /// Caption tokens through y_proj, cut after the last real token of any sample. The reference
    /// packs the real tokens (masked_select + per-sample lengths); masking the padding keys
    /// gives the same attention. -> ([B, L', C], mask over the L' keys or nil when all are real)
    func embed(_ caption: Tensor, mask: [[Bool]]?) -> (Tensor, AttentionMask?) {
        let b = caption.shape[0], length = caption.shape[caption.rank - 2], cc = caption.shape[caption.rank - 1]
        let used = mask.map { m in m.map { ($0.lastIndex(of: true) ?? 0) + 1 }.max() ?? length } ?? length
        var tokens = caption.reshaped([b, length, cc])
        if used < length { tokens = narrow(tokens, axis: 1, 0..<used) }
        let projected = projection(tokens)                                     // [B, L', C]
        guard let m = mask, m.contains(where: { $0.prefix(used).contains(false) }) else { return (projected, nil) }
        return (projected, AttentionMask(keyValid: m.flatMap { $0.prefix(used) }, keys: used))
    }
}

/// x[r] + table[(r / every) % table rows] for every row r: a spatial position embedding
/// (every = 1, S rows) or a per-frame one (every = S, T rows). x: [R, C], table: [P, C] -> [R, C]
func addingRowEmbedding(_ x: Tensor, _ table: Tensor, every: Int) -> Tensor {
    let c = table.shape[1], period = table.shape[0], rows = x.count / c
    precondition(x.count == rows * c, "addingRowEmbedding: \(x.shape) vs table \(table.shape)")
    var out = x
    let op = SendablePointer(out.mutablePointer), tp = SendablePointer(table.pointer)
    parallelFor(rows, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let d = op.p + row * c, e = tp.p + ((row / every) % period) * c
            for j in 0..<c { d[j] += e[j] }
        }
    }
    return out
}

/// [B * T' * H' * W', (pt ph pw C_out)] -> [B, C_out, T, H, W], dropping the patch padding
/// (crop = the latent's T, H, W).
func unpatchifyTokens(_ x: Tensor, grid: TokenGrid, patchesH gh: Int, patchesW gw: Int, patch: [Int], outChannels co: Int,
                      crop: [Int]) -> Tensor {
    let (pt, ph, pw) = (patch[0], patch[1], patch[2])
    let (t, h, w) = (crop[0], crop[1], crop[2])
    let b = grid.batch, gt = grid.frames
    var out = Tensor(uninitialized: [b, co, t, h, w])
    let src = SendablePointer(x.pointer), dst = SendablePointer(out.mutablePointer)
    let width = pt * ph * pw * co
    parallelFor(b * co) { r in
        for bc in r {
            let bi = bc / co, c = bc % co
            for ti in 0..<t {
                for hi in 0..<h {
                    for wi in 0..<w {
                        let token = ((bi * gt + ti / pt) * gh + hi / ph) * gw + wi / pw
                        let inner = (((ti % pt) * ph + hi % ph) * pw + wi % pw) * co + c
                        dst.p[(((bi * co + c) * t + ti) * h + hi) * w + wi] = src.p[token * width + inner]
                    }
                }
            }
        }
    }
    return out
}
