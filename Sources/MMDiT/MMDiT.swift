// Open-Sora 2.0's denoiser (opensora/models/mmdit/model.py MMDiTModel.forward_ckpt), a Flux-type
// MMDiT on packed latent tokens:
//
//   img [B, N, 64] ──img_in (+ cond_in(cond))──▶ x [B, N, C]
//   txt [B, L, 4096] ──txt_in──▶ y [B, L, C]              vec = time_in(temb(t)) + vector_in(clip) [B, C]
//   ids = cat(txt_ids, img_ids) ──RoPE──▶ cos, sin [B, L + N, D/2]
//   19 x DoubleStreamBlock(x, y)  ─▶  z = cat(y, x) [B, L + N, C]  ─▶  38 x SingleStreamBlock(z)
//   drop the L text rows ─▶ FinalLayer ─▶ velocity [B, N, 64]
//
// Weights stay as the store hands them out (memory-mapped, bf16 for the real checkpoint, I8 for an
// int8 one); each block's pages are given back after it runs, so the resident set is about one
// block. With `--quantize int8` the blocks' projections and MLPs run W8A8 (docs/quantization.md).

import TensorCore
import Weights

/// One call of the model, the reference's forward arguments (sampling.prepare_ids builds them).
public struct MMDiTInput {
    /// Packed noisy latent. [B, N, in_channels]
    public var img: Tensor
    /// (t, row, col) of each image token. [B, N, 3]
    public var imgIds: Tensor
    /// T5 states, every padded position included. [B, L, context_in_dim]
    public var txt: Tensor
    /// Text positions (all zero). [B, L, 3]
    public var txtIds: Tensor
    /// t in [0, 1], one per sample (the model multiplies by 1000).
    public var timesteps: [Float]
    /// CLIP pooled text. [B, vec_in_dim]
    public var yVec: Tensor
    /// Packed cat(mask, masked reference) for cond_embed models, zeros for t2v. [B, N, in_channels + patch^2]
    public var cond: Tensor?

    public init(img: Tensor, imgIds: Tensor, txt: Tensor, txtIds: Tensor, timesteps: [Float], yVec: Tensor, cond: Tensor?) {
        self.img = img; self.imgIds = imgIds; self.txt = txt; self.txtIds = txtIds
        self.timesteps = timesteps; self.yVec = yVec; self.cond = cond
    }

    public var batch: Int { img.shape.first ?? 0 }
}

public struct MMDiT: Sendable {
    public let config: MMDiTConfig
    let embedders: InputEmbedders
    let doubleBlocks: [DoubleStreamBlock]
    let singleBlocks: [SingleStreamBlock]
    let finalLayer: FinalLayer
    /// Give back each block's mapped pages after it runs (the default; off keeps them resident).
    public var releasesPages = true

    /// Builds the model over `weights` (the reference's state_dict names), checking every tensor's
    /// presence and shape first. Without `config` the sizes are read off the checkpoint and RoPE
    /// takes `positional` (the released model's by default). `quantization`: how the blocks'
    /// projections and MLPs compute (embedders, modulation, final layer, norms, RoPE and attention
    /// stay float32); I8 weights of an int8 checkpoint always run int8.
    public init(weights: WeightStore, config: MMDiTConfig? = nil, positional: MMDiTConfig.Positional = .openSora2,
                quantization: Quantization = .none) throws {
        let c = try config ?? MMDiTConfig.inferred(from: weights, positional: positional)
        try c.validate()
        if config != nil {
            // An explicit config must still describe this checkpoint: the same inference refuses
            // foreign checkpoints with the tensor at fault.
            _ = try MMDiTConfig.inferred(from: weights, positional: c.positional)
        }
        self.config = c
        let p = ParameterScope(weights)
        embedders = try InputEmbedders(p, c)
        let blocks = p.quantized(quantization)
        doubleBlocks = try (0..<c.depth).map { try DoubleStreamBlock(blocks.scope("double_blocks.\($0)"), c) }
        singleBlocks = try (0..<c.depthSingleBlocks).map { try SingleStreamBlock(blocks.scope("single_blocks.\($0)"), c) }
        finalLayer = try FinalLayer(p.scope("final_layer"), c)
    }

    /// Bytes of int8 weight values the model holds (0 on the float path).
    public var int8WeightBytes: Int {
        let streams = doubleBlocks.flatMap { [$0.img, $0.txt] }
        let linears = streams.flatMap { [$0.mod.lin, $0.attn.q, $0.attn.k, $0.attn.v, $0.attn.proj, $0.mlp.fc1, $0.mlp.fc2] }
            + singleBlocks.flatMap { [$0.mod.lin, $0.q, $0.k, $0.vMLP, $0.linear2] }
        return linears.reduce(0) { sum, d in sum + (d.int8.map { $0.outFeatures * $0.inFeatures } ?? 0) }
    }

    /// Intermediates `callAsFunction` can report, named as in the golden cases.
    public enum Stage: Sendable, Equatable {
        case imageTokens, textTokens, vector           // block inputs [B, N, C], [B, L, C], [B, C]
        case ropeCos, ropeSin                           // [B, L + N, D] (halves repeated, as the reference's pe)
        case doubleAttention(block: Int, stream: String) // "txt" / "img" attention rows before proj
        case doubleOutput(block: Int, stream: String)
        case singleLinear2Input(block: Int)             // [B, L + N, C + mlp_hidden]
        case singleOutput(block: Int)                   // [B, L + N, C]
        case finalInput                                 // [B, N, C]
        case output                                     // [B, N, in_channels]

        public var name: String {
            switch self {
            case .imageTokens: return "block_in.img"
            case .textTokens: return "block_in.txt"
            case .vector: return "block_in.vec"
            case .ropeCos: return "pe.cos"
            case .ropeSin: return "pe.sin"
            case let .doubleAttention(i, s): return "double\(i).\(s)_attn"
            case let .doubleOutput(i, s): return "double\(i).\(s)"
            case let .singleLinear2Input(i): return "single\(i).linear2_in"
            case let .singleOutput(i): return "single\(i).x"
            case .finalInput: return "final_in"
            case .output: return "out"
            }
        }
    }

    /// The predicted velocity, packed. -> [B, N, in_channels]
    public func callAsFunction(_ input: MMDiTInput, observe: ((Stage, Tensor) -> Void)? = nil) throws -> Tensor {
        try check(input)
        let b = input.batch, l = input.txt.shape[1]
        var x = embedders.image(input.img, cond: input.cond)                        // [B, N, C]
        var y = embedders.text(input.txt)                                           // [B, L, C]
        let vec = embedders.vector(timesteps: input.timesteps, y: input.yVec)       // [B, C]
        let rope = RotaryTable(ids: concat([input.txtIds, input.imgIds], axis: 1), axesDim: config.positional.axesDim,
                               theta: config.positional.theta)                      // [B, L + N, D/2]
        if let observe {
            observe(.imageTokens, x); observe(.textTokens, y); observe(.vector, vec)
            let pe = rope.fullWidth
            observe(.ropeCos, pe.cos); observe(.ropeSin, pe.sin)
        }
        for (i, block) in doubleBlocks.enumerated() {
            block(img: &x, txt: &y, vec: vec, rope: rope,
                  observe: observe.map { o in { o(.doubleAttention(block: i, stream: String($0.prefix(3))), $1) } })
            if releasesPages { block.releasePages() }
            observe?(.doubleOutput(block: i, stream: "img"), x)
            observe?(.doubleOutput(block: i, stream: "txt"), y)
        }
        var z = concat([y, x], axis: 1)                                             // [B, L + N, C]
        for (i, block) in singleBlocks.enumerated() {
            block(&z, vec: vec, rope: rope, observe: observe.map { o in { _, t in o(.singleLinear2Input(block: i), t) } })
            if releasesPages { block.releasePages() }
            observe?(.singleOutput(block: i), z)
        }
        let imageRows = narrow(z, axis: 1, l..<z.shape[1])                          // [B, N, C]
        observe?(.finalInput, imageRows)
        let out = finalLayer(imageRows, vec: vec)
        observe?(.output, out)
        precondition(out.shape == [b, input.img.shape[1], config.inChannels])
        return out
    }

    /// Every input's shape against the config and the others, before any compute.
    func check(_ input: MMDiTInput) throws {
        let c = config, b = input.batch
        func expect(_ name: String, _ t: Tensor, _ shape: [Int]) throws {
            guard t.shape == shape else { throw MMDiTError.badInput("\(name) must be \(shape), got \(t.shape)") }
        }
        guard input.img.rank == 3, b > 0, input.img.shape[1] > 0 else {
            throw MMDiTError.badInput("img must be [B, N, \(c.inChannels)] packed tokens, got \(input.img.shape)")
        }
        let n = input.img.shape[1]
        guard input.txt.rank == 3, input.txt.shape[0] == b else {
            throw MMDiTError.badInput("txt must be [\(b), L, \(c.contextInDim)], got \(input.txt.shape)")
        }
        let l = input.txt.shape[1]
        try expect("img", input.img, [b, n, c.inChannels])
        try expect("img_ids", input.imgIds, [b, n, 3])
        try expect("txt", input.txt, [b, l, c.contextInDim])
        try expect("txt_ids", input.txtIds, [b, l, 3])
        try expect("y_vec", input.yVec, [b, c.vecInDim])
        guard input.timesteps.count == b else { throw MMDiTError.badInput("\(input.timesteps.count) timesteps for a batch of \(b)") }
        if c.condEmbed {
            guard let cond = input.cond else { throw MMDiTError.badInput("this model has cond_in: cond [\(b), \(n), \(c.condChannels)] is required (zeros for t2v)") }
            try expect("cond", cond, [b, n, c.condChannels])
        } else if input.cond != nil {
            throw MMDiTError.badInput("cond given, but the checkpoint has no cond_in")
        }
    }
}
