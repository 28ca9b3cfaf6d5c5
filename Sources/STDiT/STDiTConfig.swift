// STDiT hyper-parameters (all three versions share them): explicit, a preset, or read off a
// checkpoint.

import Weights

public enum STDiTError: Error, CustomStringConvertible, Equatable {
    case badConfig(String)
    case badInput(String)

    public var description: String {
        switch self {
        case let .badConfig(m): return "STDiT config: \(m)"
        case let .badInput(m): return "STDiT input: \(m)"
        }
    }
}

/// v1.2 (STDiT3) is the main model; the older versions use the same sizes.
public typealias STDiT3Config = STDiTConfig

public struct STDiTConfig: Sendable, Equatable {
    public var inChannels: Int
    /// 2 * inChannels when the model predicts sigma too (v1.2 does: `pred_sigma=True`).
    public var outChannels: Int
    /// (t, h, w) patch of the 3D patch embedder.
    public var patchSize: [Int]
    public var hiddenSize: Int
    public var depth: Int
    public var numHeads: Int
    /// MLP width, hidden_size * mlp_ratio.
    public var mlpHidden: Int
    public var captionChannels: Int
    /// Token count of the null caption (`y_embedder.y_embedding` rows).
    public var modelMaxLength: Int
    /// Pixel resolution at which the position-embedding scale is 1.
    public var inputSqSize: Int
    /// RMSNorm on q and k (then RoPE on temporal blocks).
    public var qkNorm: Bool
    /// v1.1's `qk_norm_legacy`: RoPE first, then the norm.
    public var qkNormLegacy: Bool

    public init(inChannels: Int = 4, outChannels: Int = 8, patchSize: [Int] = [1, 2, 2], hiddenSize: Int = 1152,
                depth: Int = 28, numHeads: Int = 16, mlpHidden: Int = 4608, captionChannels: Int = 4096,
                modelMaxLength: Int = 300, inputSqSize: Int = 512, qkNorm: Bool = true, qkNormLegacy: Bool = false) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.patchSize = patchSize
        self.hiddenSize = hiddenSize; self.depth = depth; self.numHeads = numHeads; self.mlpHidden = mlpHidden
        self.captionChannels = captionChannels; self.modelMaxLength = modelMaxLength
        self.inputSqSize = inputSqSize; self.qkNorm = qkNorm; self.qkNormLegacy = qkNormLegacy
    }

    /// STDiT3-XL/2, the v1.2 release (hpcai-tech/OpenSora-STDiT-v3).
    public static let xl2 = STDiTConfig()
    /// STDiT2-XL/2, the v1.1 release (200 caption tokens, legacy qk-norm order).
    public static let stdit2XL2 = STDiTConfig(modelMaxLength: 200, qkNormLegacy: true)
    /// STDiT-XL/2, the v1.0 release (120 caption tokens, no qk-norm, no RoPE).
    public static let stditXL2 = STDiTConfig(modelMaxLength: 120, qkNorm: false)

    public var headDim: Int { hiddenSize / numHeads }
    public var patchVolume: Int { patchSize.reduce(1, *) }

    public func validate() throws {
        guard patchSize.count == 3, patchSize.allSatisfy({ $0 > 0 }) else { throw STDiTError.badConfig("patch_size must be 3 positive integers, got \(patchSize)") }
        guard hiddenSize > 0, numHeads > 0, hiddenSize % numHeads == 0 else {
            throw STDiTError.badConfig("hidden_size \(hiddenSize) is not divisible by num_heads \(numHeads)")
        }
        guard hiddenSize % 4 == 0 else { throw STDiTError.badConfig("hidden_size \(hiddenSize) must be a multiple of 4 (2D sin-cos position embedding)") }
        guard headDim % 2 == 0 else { throw STDiTError.badConfig("head_dim \(headDim) must be even (rotary embedding pairs)") }
        guard depth > 0, inChannels > 0, outChannels > 0, mlpHidden > 0, captionChannels > 0, modelMaxLength > 0, inputSqSize > 0 else {
            throw STDiTError.badConfig("depth, channels, mlp width, caption size and input_sq_size must be positive")
        }
    }

    /// Reads the sizes off a checkpoint of any version: hidden size, input channels and patch
    /// from `x_embedder.proj.weight`, depth from the block count, heads from the qk-norm width
    /// (or `rope.freqs`; v1.0 has neither: pass `numHeads`), MLP width, caption size and
    /// null-caption length from their tensors. `inputSqSize` is not stored in checkpoints.
    public static func inferred(from store: WeightStore, numHeads: Int? = nil, inputSqSize: Int = 512) throws -> STDiTConfig {
        let src = store.sourceDescription
        let xw = try store.shape("x_embedder.proj.weight")
        guard xw.count == 5 else {
            throw WeightsError.shapeMismatch(name: "x_embedder.proj.weight", source: src, expected: [-1, -1, -1, -1, -1], found: xw)
        }
        let hidden = xw[0]
        let blocks = store.contains("spatial_blocks.0.scale_shift_table") ? "spatial_blocks" : "blocks"
        var depth = 0
        while store.contains("\(blocks).\(depth).scale_shift_table") { depth += 1 }
        guard depth > 0 else { throw WeightsError.missingTensor(name: "spatial_blocks.0.scale_shift_table", source: src) }
        let qkNorm = store.contains("\(blocks).0.attn.q_norm.weight")
        var headDim = 0
        if qkNorm {
            headDim = try store.shape("\(blocks).0.attn.q_norm.weight").first ?? 0
        } else if store.contains("rope.freqs") {
            headDim = 2 * (try store.shape("rope.freqs").first ?? 0)
        } else if let numHeads, numHeads > 0, hidden % numHeads == 0 {
            headDim = hidden / numHeads
        }
        guard headDim > 0, hidden % headDim == 0 else {
            throw STDiTError.badConfig("\(src): cannot tell the head count (no qk-norm or rope.freqs tensor; pass it explicitly) or it does not divide hidden size \(hidden)")
        }
        if let numHeads, numHeads != hidden / headDim {
            throw STDiTError.badConfig("\(src): its heads are \(headDim) wide, so hidden size \(hidden) has \(hidden / headDim) of them, not the \(numHeads) asked for")
        }
        let patch = Array(xw[2...4])
        let finalOut = try store.shape("final_layer.linear.weight").first ?? 0
        let volume = patch.reduce(1, *)
        guard volume > 0, finalOut % volume == 0 else {
            throw STDiTError.badConfig("\(src): final_layer.linear.weight has \(finalOut) rows, not a multiple of the patch volume \(volume)")
        }
        let yEmb = try store.shape("y_embedder.y_embedding")
        guard yEmb.count == 2 else {
            throw WeightsError.shapeMismatch(name: "y_embedder.y_embedding", source: src, expected: [-1, -1], found: yEmb)
        }
        let config = STDiTConfig(
            inChannels: xw[1], outChannels: finalOut / volume, patchSize: patch, hiddenSize: hidden, depth: depth,
            numHeads: hidden / headDim, mlpHidden: try store.shape("\(blocks).0.mlp.fc1.weight").first ?? 0,
            captionChannels: yEmb[1], modelMaxLength: yEmb[0], inputSqSize: inputSqSize, qkNorm: qkNorm,
            qkNormLegacy: blocks == "blocks" && qkNorm)
        try config.validate()
        return config
    }
}
