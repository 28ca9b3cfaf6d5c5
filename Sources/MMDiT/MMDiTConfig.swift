// Sizes of an Open-Sora 2.0 MMDiT (opensora/models/mmdit/model.py, Flux-type). Everything the
// checkpoint's tensor names and shapes tell is read from them (`inferred(from:)`); what they
// cannot tell (how head_dim splits over the three RoPE axes, RoPE's theta) comes from
// `Positional`, whose defaults are the released model's (configs/diffusion/inference/256px.py).

import TensorCore
import Weights

public enum MMDiTError: Error, CustomStringConvertible, Equatable {
    case badConfig(String)
    case badInput(String)
    case notMMDiT(String)

    public var description: String {
        switch self {
        case let .badConfig(m): return "MMDiT config: \(m)"
        case let .badInput(m): return "MMDiT input: \(m)"
        case let .notMMDiT(m): return m
        }
    }
}

public struct MMDiTConfig: Sendable, Equatable {
    /// Packed latent channels per token: C * patch^2 (64 = 16 x 2 x 2; 128 for the DC-AE, patch 1).
    public var inChannels: Int
    /// CLIP pooled width (768).
    public var vecInDim: Int
    /// T5 hidden width (4096).
    public var contextInDim: Int
    public var hiddenSize: Int
    /// MLP width, hidden_size * mlp_ratio.
    public var mlpHidden: Int
    public var numHeads: Int
    /// Double-stream blocks (`depth`) and single-stream blocks (`depth_single_blocks`).
    public var depth: Int
    public var depthSingleBlocks: Int
    public var positional: Positional
    public var qkvBias: Bool
    /// `cond_in`: image/video conditions packed as (mask, masked reference), in_channels + patch^2 wide.
    public var condEmbed: Bool
    /// Spatial patch of the packing (2; 1 with the DC-AE). With cond_embed it is read off cond_in.
    public var patchSize: Int

    /// RoPE parameters the weights do not carry.
    public struct Positional: Sendable, Equatable {
        /// Per-axis (t, row, col) share of head_dim; sums to head_dim.
        public var axesDim: [Int]
        public var theta: Float
        public init(axesDim: [Int] = [16, 56, 56], theta: Float = 10000) { self.axesDim = axesDim; self.theta = theta }
        /// The released model's: axes [16, 56, 56] of head_dim 128, theta 10000.
        public static let openSora2 = Positional()
    }

    public init(inChannels: Int, vecInDim: Int, contextInDim: Int, hiddenSize: Int, mlpHidden: Int, numHeads: Int,
                depth: Int, depthSingleBlocks: Int, positional: Positional = .openSora2, qkvBias: Bool = true,
                condEmbed: Bool = true, patchSize: Int = 2) {
        self.inChannels = inChannels; self.vecInDim = vecInDim; self.contextInDim = contextInDim
        self.hiddenSize = hiddenSize; self.mlpHidden = mlpHidden; self.numHeads = numHeads
        self.depth = depth; self.depthSingleBlocks = depthSingleBlocks; self.positional = positional
        self.qkvBias = qkvBias; self.condEmbed = condEmbed; self.patchSize = patchSize
    }

    /// The released 11B model (hpcai-tech/Open-Sora-v2 Open_Sora_v2.safetensors, 256px.py / 768px.py):
    /// hidden 3072, 24 heads, 19 double + 38 single blocks, T5-XXL context, CLIP-L vector.
    public static let openSora2 = MMDiTConfig(inChannels: 64, vecInDim: 768, contextInDim: 4096, hiddenSize: 3072,
                                              mlpHidden: 12288, numHeads: 24, depth: 19, depthSingleBlocks: 38)

    public var headDim: Int { hiddenSize / numHeads }
    /// Width of cond_in's input: the mask's patch^2 channels, then the reference latent's.
    public var condChannels: Int { inChannels + patchSize * patchSize }

    public func validate() throws {
        guard hiddenSize > 0, numHeads > 0, hiddenSize % numHeads == 0 else {
            throw MMDiTError.badConfig("hidden size \(hiddenSize) is not divisible into \(numHeads) heads")
        }
        guard headDim % 2 == 0, positional.axesDim.count == 3, positional.axesDim.allSatisfy({ $0 > 0 && $0 % 2 == 0 }),
              positional.axesDim.reduce(0, +) == headDim else {
            throw MMDiTError.badConfig("RoPE axes_dim \(positional.axesDim) must be 3 even sizes summing to head_dim \(headDim)")
        }
        guard positional.theta > 1 else { throw MMDiTError.badConfig("RoPE theta must be > 1, got \(positional.theta)") }
        guard [inChannels, vecInDim, contextInDim, mlpHidden, patchSize].allSatisfy({ $0 > 0 }), depth >= 0, depthSingleBlocks >= 0 else {
            throw MMDiTError.badConfig("sizes must be positive: \(self)")
        }
    }

    /// Every tensor name and shape of a checkpoint of this size (the reference's state_dict with
    /// fused_qkv False, guidance_embed False), in the reference's module order.
    public func parameterShapes() -> [(String, [Int])] {
        let c = hiddenSize, m = mlpHidden, d = headDim
        func linear(_ name: String, _ inF: Int, _ outF: Int, bias: Bool = true) -> [(String, [Int])] {
            [(name + ".weight", [outF, inF])] + (bias ? [(name + ".bias", [outF])] : [])
        }
        var s: [(String, [Int])] = []
        s += linear("img_in", inChannels, c)
        s += linear("time_in.in_layer", 256, c) + linear("time_in.out_layer", c, c)
        s += linear("vector_in.in_layer", vecInDim, c) + linear("vector_in.out_layer", c, c)
        if condEmbed { s += linear("cond_in", condChannels, c) }
        s += linear("txt_in", contextInDim, c)
        for i in 0..<depth {
            for stream in ["img", "txt"] {
                let p = "double_blocks.\(i).\(stream)_"
                s += linear(p + "mod.lin", c, 6 * c)
                for proj in ["q_proj", "k_proj", "v_proj"] { s += linear(p + "attn." + proj, c, c, bias: qkvBias) }
                s += [(p + "attn.norm.query_norm.scale", [d]), (p + "attn.norm.key_norm.scale", [d])]
                s += linear(p + "attn.proj", c, c)
                s += linear(p + "mlp.0", c, m) + linear(p + "mlp.2", m, c)
            }
        }
        for i in 0..<depthSingleBlocks {
            let p = "single_blocks.\(i)."
            s += linear(p + "q_proj", c, c) + linear(p + "k_proj", c, c) + linear(p + "v_mlp", c, c + m)
            s += linear(p + "linear2", c + m, c)
            s += [(p + "norm.query_norm.scale", [d]), (p + "norm.key_norm.scale", [d])]
            s += linear(p + "modulation.lin", c, 3 * c)
        }
        s += linear("final_layer.linear", c, inChannels)
        s += linear("final_layer.adaLN_modulation.1", c, 2 * c)
        return s
    }

    /// Sizes read off a checkpoint: widths from the embedders, depths from the block indices,
    /// head_dim from the qk-norm gains, patch from cond_in. Checkpoints of another family (an
    /// Open-Sora 1.x STDiT, a fused-qkv or guidance-distilled Flux) are refused naming the tensor.
    public static func inferred(from store: WeightStore, positional: Positional = .openSora2) throws -> MMDiTConfig {
        let src = store.sourceDescription
        func shape(_ name: String) throws -> [Int] {
            guard let i = store.info(name) else {
                let hint = ["x_embedder.proj.weight", "spatial_blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.weight"]
                    .first(where: store.contains).map { "; it has \($0): an Open-Sora 1.x STDiT checkpoint, not Open-Sora 2.0's MMDiT" } ?? ""
                throw MMDiTError.notMMDiT("\(src): not an MMDiT checkpoint: missing tensor \(name)\(hint)")
            }
            return i.shape
        }
        for (name, what) in [("double_blocks.0.img_attn.qkv.weight", "fused qkv (fused_qkv=True)"),
                             ("single_blocks.0.linear1.weight", "fused qkv (fused_qkv=True)"),
                             ("guidance_in.in_layer.weight", "a guidance embedder (guidance_embed=True)")] where store.contains(name) {
            throw MMDiTError.notMMDiT("\(src): unexpected tensor \(name): \(what) is not Open-Sora 2.0's layout")
        }
        let imgIn = try shape("img_in.weight")
        let (hidden, inChannels) = (imgIn[0], imgIn[1])
        func count(_ prefix: String, _ suffix: String) -> Int {
            var n = 0
            while store.contains("\(prefix)\(n).\(suffix)") { n += 1 }
            return n
        }
        let depth = count("double_blocks.", "img_mod.lin.weight")
        let single = count("single_blocks.", "modulation.lin.weight")
        let headDim: Int
        if depth > 0 { headDim = try shape("double_blocks.0.img_attn.norm.query_norm.scale")[0] }
        else if single > 0 { headDim = try shape("single_blocks.0.norm.query_norm.scale")[0] }
        else { throw MMDiTError.notMMDiT("\(src): MMDiT checkpoint without blocks: missing tensor double_blocks.0.img_mod.lin.weight") }
        let mlp = depth > 0 ? try shape("double_blocks.0.img_mlp.0.weight")[0] : try shape("single_blocks.0.v_mlp.weight")[0] - hidden
        var patch = 2
        let condEmbed = store.contains("cond_in.weight")
        if condEmbed {
            let extra = try shape("cond_in.weight")[1] - inChannels
            patch = Int(Double(max(extra, 0)).squareRoot().rounded())
            guard patch > 0, patch * patch == extra else {
                throw MMDiTError.notMMDiT("\(src): cond_in.weight has \(extra + inChannels) inputs; expected in_channels \(inChannels) + patch^2")
            }
        }
        let qkvBias = depth > 0 ? store.contains("double_blocks.0.img_attn.q_proj.bias") : true
        guard headDim > 0, hidden % headDim == 0 else {
            throw MMDiTError.notMMDiT("\(src): hidden size \(hidden) (img_in.weight) is not a multiple of head_dim \(headDim) (query_norm.scale)")
        }
        let c = MMDiTConfig(inChannels: inChannels, vecInDim: try shape("vector_in.in_layer.weight")[1],
                            contextInDim: try shape("txt_in.weight")[1], hiddenSize: hidden, mlpHidden: mlp,
                            numHeads: hidden / headDim, depth: depth, depthSingleBlocks: single, positional: positional,
                            qkvBias: qkvBias, condEmbed: condEmbed, patchSize: patch)
        try c.validate()
        return c
    }
}
