// STDiT (Open-Sora v1.0) and STDiT2 (v1.1) hyper-parameters: explicit, or read off a checkpoint.

import Weights

/// Sizes both legacy models share with STDiT3.
public struct LegacySTDiTSizes: Sendable, Equatable {
    public var inChannels: Int
    /// 2 * inChannels when the model predicts sigma (IDDPM's learned variance).
    public var outChannels: Int
    public var patchSize: [Int]
    public var hiddenSize: Int
    public var depth: Int
    public var numHeads: Int
    public var mlpHidden: Int
    public var captionChannels: Int
    public var modelMaxLength: Int

    public init(inChannels: Int = 4, outChannels: Int = 8, patchSize: [Int] = [1, 2, 2], hiddenSize: Int = 1152, depth: Int = 28,
                numHeads: Int = 16, mlpHidden: Int = 4608, captionChannels: Int = 4096, modelMaxLength: Int = 120) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.patchSize = patchSize; self.hiddenSize = hiddenSize
        self.depth = depth; self.numHeads = numHeads; self.mlpHidden = mlpHidden; self.captionChannels = captionChannels
        self.modelMaxLength = modelMaxLength
    }

    public var headDim: Int { hiddenSize / numHeads }
    public var patchVolume: Int { patchSize.reduce(1, *) }

    func validate() throws {
        guard patchSize.count == 3, patchSize.allSatisfy({ $0 > 0 }) else { throw STDiTError.badConfig("patch_size must be 3 positive integers, got \(patchSize)") }
        guard hiddenSize > 0, numHeads > 0, hiddenSize % numHeads == 0 else {
            throw STDiTError.badConfig("hidden_size \(hiddenSize) is not divisible by num_heads \(numHeads)")
        }
        guard depth > 0, inChannels > 0, outChannels > 0, mlpHidden > 0, captionChannels > 0, modelMaxLength > 0 else {
            throw STDiTError.badConfig("depth, channels, mlp width and caption size must be positive")
        }
    }

    /// Reads the sizes off a checkpoint whose blocks are `blocks.N.` and whose head width is
    /// `headDim` (nil: from the q_norm weight).
    static func inferred(from store: WeightStore, headDim given: Int?) throws -> LegacySTDiTSizes {
        let xw = try store.shape("x_embedder.proj.weight")
        guard xw.count == 5 else {
            throw WeightsError.shapeMismatch(name: "x_embedder.proj.weight", source: store.sourceDescription, expected: [-1, -1, -1, -1, -1], found: xw)
        }
        let hidden = xw[0]
        var depth = 0
        while store.contains("blocks.\(depth).scale_shift_table") { depth += 1 }
        guard depth > 0 else { throw WeightsError.missingTensor(name: "blocks.0.scale_shift_table", source: store.sourceDescription) }
        let headDim = try given ?? (store.shape("blocks.0.attn.q_norm.weight").first ?? 0)
        guard headDim > 0, hidden % headDim == 0 else {
            throw STDiTError.badConfig("\(store.sourceDescription): head width \(headDim) does not divide hidden size \(hidden)")
        }
        let patch = Array(xw[2...4])
        let finalOut = try store.shape("final_layer.linear.weight").first ?? 0
        let volume = patch.reduce(1, *)
        guard volume > 0, finalOut % volume == 0 else {
            throw STDiTError.badConfig("\(store.sourceDescription): final_layer.linear.weight has \(finalOut) rows, not a multiple of the patch volume \(volume)")
        }
        let yEmb = try store.shape("y_embedder.y_embedding")
        guard yEmb.count == 2 else {
            throw WeightsError.shapeMismatch(name: "y_embedder.y_embedding", source: store.sourceDescription, expected: [-1, -1], found: yEmb)
        }
        return LegacySTDiTSizes(inChannels: xw[1], outChannels: finalOut / volume, patchSize: patch, hiddenSize: hidden, depth: depth,
                                numHeads: hidden / headDim, mlpHidden: try store.shape("blocks.0.mlp.fc1.weight").first ?? 0,
                                captionChannels: yEmb[1], modelMaxLength: yEmb[0])
    }
}

/// STDiT (v1.0): fixed input size, its position tables stored in the checkpoint.
public struct STDiTV1Config: Sendable, Equatable {
    public var sizes: LegacySTDiTSizes
    /// Latent (T, H, W) the model was built for; nil = whatever `pos_embed` covers.
    public var inputSize: [Int]?

    public init(sizes: LegacySTDiTSizes = LegacySTDiTSizes(), inputSize: [Int]? = nil) {
        self.sizes = sizes; self.inputSize = inputSize
    }

    /// STDiT-XL/2 (v1.0 release), 16 x 512 x 512 video: latent 16 x 64 x 64.
    public static let xl2 = STDiTV1Config(inputSize: [16, 64, 64])

    public func validate() throws {
        try sizes.validate()
        if let s = inputSize {
            guard s.count == 3, zip(s, sizes.patchSize).allSatisfy({ $0 > 0 && $0 % $1 == 0 }) else {
                throw STDiTError.badConfig("input_size \(s) must be 3 positive multiples of patch_size \(sizes.patchSize)")
            }
        }
    }

    /// Sizes read off a v1.0 checkpoint (head count is not stored: pass it; 16 for XL/2).
    public static func inferred(from store: WeightStore, numHeads: Int = 16) throws -> STDiTV1Config {
        let hidden = try store.shape("x_embedder.proj.weight").first ?? 0
        guard numHeads > 0, hidden % numHeads == 0 else { throw STDiTError.badConfig("hidden size \(hidden) is not divisible by num_heads \(numHeads)") }
        let c = STDiTV1Config(sizes: try LegacySTDiTSizes.inferred(from: store, headDim: hidden / numHeads))
        try c.validate()
        return c
    }
}

/// STDiT2 (v1.1): any resolution, multi-resolution conditioning, qk-norm and temporal RoPE.
public struct STDiT2Config: Sendable, Equatable {
    public var sizes: LegacySTDiTSizes
    /// Pixel resolution at which the position-embedding scale is 1 (v1.1 inference uses 512).
    public var inputSqSize: Int
    public var qkNorm: Bool
    /// qk_norm_legacy: RoPE before the q/k RMSNorm (as v1.1 was trained).
    public var qkNormLegacy: Bool

    public init(sizes: LegacySTDiTSizes = LegacySTDiTSizes(), inputSqSize: Int = 512, qkNorm: Bool = true, qkNormLegacy: Bool = true) {
        self.sizes = sizes; self.inputSqSize = inputSqSize; self.qkNorm = qkNorm; self.qkNormLegacy = qkNormLegacy
    }

    /// STDiT2-XL/2 (v1.1 release, hpcai-tech/OpenSora-STDiT-v2-stage3).
    public static let xl2 = STDiT2Config(sizes: LegacySTDiTSizes(modelMaxLength: 200))

    public func validate() throws {
        try sizes.validate()
        guard sizes.hiddenSize % 3 == 0 else { throw STDiTError.badConfig("hidden_size \(sizes.hiddenSize) must be divisible by 3 (size embedders)") }
        guard sizes.hiddenSize % 4 == 0 else { throw STDiTError.badConfig("hidden_size \(sizes.hiddenSize) must be a multiple of 4 (2D sin-cos position embedding)") }
        guard sizes.headDim % 2 == 0 else { throw STDiTError.badConfig("head_dim \(sizes.headDim) must be even (rotary embedding pairs)") }
        guard inputSqSize > 0 else { throw STDiTError.badConfig("input_sq_size must be positive") }
    }

    /// Sizes read off a v1.1 checkpoint: the head width from q_norm (or `rope.freqs`).
    public static func inferred(from store: WeightStore, inputSqSize: Int = 512, qkNormLegacy: Bool = true) throws -> STDiT2Config {
        let qkNorm = store.contains("blocks.0.attn.q_norm.weight")
        let headDim = qkNorm ? nil : 2 * (try store.shape("rope.freqs").first ?? 0)
        let c = STDiT2Config(sizes: try LegacySTDiTSizes.inferred(from: store, headDim: headDim), inputSqSize: inputSqSize,
                             qkNorm: qkNorm, qkNormLegacy: qkNormLegacy)
        try c.validate()
        return c
    }
}
