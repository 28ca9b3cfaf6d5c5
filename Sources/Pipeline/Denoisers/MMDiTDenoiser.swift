// Open-Sora 2.0's MMDiT behind the v2 sampler (the model calls of I2VDenoiser.denoise in
// opensora/utils/sampling.py): for the branches a step asks for, the latent is repeated once per
// branch, packed, given that branch's text rows (prompt or "") and image condition (the packed
// cat(mask, masked reference), zeros for the unconditioned branch), and the velocity unpacked.
// Used by the pipeline and by the golden check of the sampler cases (GoldenCheck/V2SampleCheck).

import Foundation
import TensorCore
import Weights
import MMDiT
import Samplers

/// The text inputs of one batch of B videos, branch-major as the reference tiles them:
/// rows [prompts (B) | "" (B) | "" (B)].
public struct V2TextConditioning: Sendable {
    /// T5 states. [3B, L, context_in_dim]
    public var txt: Tensor
    /// CLIP pooled. [3B, vec_in_dim]
    public var yVec: Tensor

    public init(txt: Tensor, yVec: Tensor) {
        self.txt = txt
        self.yVec = yVec
    }

    /// The batch's rows from each prompt's embedding and the empty prompt's (repeated).
    /// prompts: [B, L, D] and [B, V]; empty: [1, L, D] and [1, V].
    public init(prompts: (txt: Tensor, yVec: Tensor), empty: (txt: Tensor, yVec: Tensor)) {
        let b = prompts.txt.shape[0]
        txt = concat([prompts.txt] + [Tensor](repeating: empty.txt, count: 2 * b), axis: 0)
        yVec = concat([prompts.yVec] + [Tensor](repeating: empty.yVec, count: 2 * b), axis: 0)
    }
}

public struct MMDiTDenoiser: Sendable {
    public let model: MMDiT
    /// Guidance branches per forward (1 ... 3): fewer hold fewer activations at once.
    public var branchesPerForward = 3

    public init(model: MMDiT, branchesPerForward: Int = 3) {
        self.model = model
        self.branchesPerForward = max(1, branchesPerForward)
    }

    /// The configured checkpoint: memory-mapped, converted per GEMM (`dtype` keeps float32 files in
    /// bf16 / fp16 as the reference casts them), int8 linears with `quantize: int8`.
    init(config: GenerationConfig) throws {
        let path = try WeightLocator.resolve(config.denoiser.path, component: WeightLocator.component(for: .mmdit), option: "model.denoiser.path")
        let file = try Checkpoint.open(path)
        let store = config.quantize == .int8 ? file : HalfPrecision.store(file, dtype: config.dtype)
        model = try MMDiT(weights: store, positional: config.denoiser.positional, quantization: config.quantize)
        branchesPerForward = config.denoiser.branchesPerForward
    }

    /// The sampler's model for one batch.
    /// - Parameters:
    ///   - text: the batch's text rows (B prompts).
    ///   - condition: the batch's image condition (V2Condition over [B, C, T, H, W]).
    ///   - observe: called after each step's forwards with the branches, the packed latent rows the
    ///     model saw [branches·B, N, C p²] and its output [branches·B, N, C p²] (the golden check compares them).
    public func denoiser(text: V2TextConditioning, condition: V2Condition,
                         observe: ((_ branches: [V2Branch], _ img: Tensor, _ out: Tensor) throws -> Void)? = nil) throws -> V2Denoiser {
        let model = self.model, p = model.config.patchSize
        let b = condition.masks.shape[0]
        guard text.txt.rank == 3, text.txt.shape[0] == 3 * b, text.yVec.rank == 2, text.yVec.shape[0] == 3 * b else {
            throw PipelineError("MMDiT: text rows \(text.txt.shape) / \(text.yVec.shape) are not 3 branches of \(b) videos")
        }
        let cond = try Packing.condition(mask: condition.masks, maskedReference: condition.maskedReference, patchSize: p)
        let noCond = Tensor(repeating: 0, shape: cond.shape)
        let rows = { (all: Tensor, branch: V2Branch) in all.slice((branch.rawValue * b)..<((branch.rawValue + 1) * b)) }
        /// One forward over some branches. x: [B, C, T, H, W] -> packed img and velocity [k·B, N, C p²]
        func forward(_ x: Tensor, _ t: Float, _ branches: [V2Branch]) throws -> (img: Tensor, out: Tensor) {
            // Each branch's rows: text [prompts | "" | ""], cond [cond | cond | zeros].
            let z = concat([Tensor](repeating: x, count: branches.count), axis: 0)
            let prepared = try Packing.prepareIds(latent: z, t5: concat(branches.map { rows(text.txt, $0) }, axis: 0),
                                                  clip: concat(branches.map { rows(text.yVec, $0) }, axis: 0), patchSize: p)
            let input = MMDiTInput(img: prepared.img, imgIds: prepared.imgIds, txt: prepared.txt, txtIds: prepared.txtIds,
                                   timesteps: [Float](repeating: t, count: z.shape[0]), yVec: prepared.yVec,
                                   cond: model.config.condEmbed ? concat(branches.map { $0 == .unconditional ? noCond : cond }, axis: 0) : nil)
            return (prepared.img, try model(input))
        }
        let perForward = branchesPerForward
        return { x, t, branches in
            let parts = try stride(from: 0, to: branches.count, by: perForward).map {
                try forward(x, t, Array(branches[$0..<min($0 + perForward, branches.count)]))
            }
            let img = parts.count == 1 ? parts[0].img : concat(parts.map(\.img), axis: 0)
            let out = parts.count == 1 ? parts[0].out : concat(parts.map(\.out), axis: 0)    // [branches·B, N, C p²]
            try observe?(branches, img, out)
            return try Packing.unpack(out, grid: try Packing.grid(latent: x.shape, patchSize: p), patchSize: p)
        }
    }
}
