// DiT (Peebles & Xie; facebookresearch/DiT models.py), the class-conditional image model STDiT
// grew from: patchify + the checkpoint's fixed 2D sin-cos `pos_embed`, conditioning
// c = t_embedder(t) + y_embedder(label), `depth` adaLN-Zero blocks (self-attention and MLP, each
// modulated and gated by chunks of Linear(SiLU(c))), a final layer modulated by c, unpatchify.
// Shares the patch embedder, timestep embedder, attention, MLP and modulation kernels with STDiT.

import Foundation
import TensorCore
import Weights

public struct DiTConfig: Sendable, Equatable {
    public var inChannels: Int
    /// 2 * inChannels with learn_sigma (eps, then the learned-range variance values).
    public var outChannels: Int
    public var patchSize: Int
    public var hiddenSize: Int
    public var depth: Int
    public var numHeads: Int
    /// MLP width, hidden_size * mlp_ratio.
    public var mlpHidden: Int
    /// Real classes; the label table has one more row, the null class (label `numClasses`).
    public var numClasses: Int
    /// Latent side the model was built for (pos_embed covers (inputSize / patch)^2 tokens).
    public var inputSize: Int

    public init(inChannels: Int = 4, outChannels: Int = 8, patchSize: Int = 2, hiddenSize: Int = 1152, depth: Int = 28,
                numHeads: Int = 16, mlpHidden: Int = 4608, numClasses: Int = 1000, inputSize: Int = 32) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.patchSize = patchSize
        self.hiddenSize = hiddenSize; self.depth = depth; self.numHeads = numHeads; self.mlpHidden = mlpHidden
        self.numClasses = numClasses; self.inputSize = inputSize
    }

    /// DiT-XL/2 at 256x256 (latent 32) and 512x512 (latent 64).
    public static let xl2_256 = DiTConfig()
    public static let xl2_512 = DiTConfig(inputSize: 64)

    /// The head count of each published width (DiT-S, -B, -L, -XL); checkpoints do not store it.
    public static let headsByHiddenSize: [Int: Int] = [384: 6, 768: 12, 1024: 16, 1152: 16]

    /// forward_with_cfg guides only the first 3 output channels (hard-coded in models.py "for
    /// exact reproducibility"); the 4th eps channel and the variance values stay per half.
    public static let guidedChannels = 3

    public var nullClass: Int { numClasses }
    public var tokens: Int { (inputSize / patchSize) * (inputSize / patchSize) }
    public var learnSigma: Bool { outChannels == 2 * inChannels }

    /// The fixed sin-cos table DiT builds at construction and stores as `pos_embed` (MAE's
    /// get_2d_sincos_pos_embed: first half the column, second half the row, [sin, cos]). [T, D]
    public func positionTable() -> Tensor {
        let side = inputSize / patchSize
        return positionEmbedding2D(dim: hiddenSize, h: side, w: side, scale: 1, baseSize: nil)
    }

    /// The state dict's names and shapes, in models.py's order.
    public func parameterShapes() -> [(String, [Int])] {
        let d = hiddenSize
        func linear(_ name: String, _ inF: Int, _ outF: Int) -> [(String, [Int])] { [(name + ".weight", [outF, inF]), (name + ".bias", [outF])] }
        var shapes: [(String, [Int])] = [("pos_embed", [1, tokens, d]),
                                         ("x_embedder.proj.weight", [d, inChannels, patchSize, patchSize]), ("x_embedder.proj.bias", [d])]
        shapes += linear("t_embedder.mlp.0", TimestepEmbedder.frequencyDim, d) + linear("t_embedder.mlp.2", d, d)
        shapes.append(("y_embedder.embedding_table.weight", [numClasses + 1, d]))
        for i in 0..<depth {
            let b = "blocks.\(i)."
            shapes += linear(b + "attn.qkv", d, 3 * d) + linear(b + "attn.proj", d, d)
            shapes += linear(b + "mlp.fc1", d, mlpHidden) + linear(b + "mlp.fc2", mlpHidden, d) + linear(b + "adaLN_modulation.1", d, 6 * d)
        }
        shapes += linear("final_layer.linear", d, patchSize * patchSize * outChannels) + linear("final_layer.adaLN_modulation.1", d, 2 * d)
        return shapes
    }

    public func validate() throws {
        guard hiddenSize > 0, numHeads > 0, hiddenSize % numHeads == 0 else {
            throw STDiTError.badConfig("DiT hidden_size \(hiddenSize) is not divisible by num_heads \(numHeads)")
        }
        guard depth > 0, inChannels > 0, outChannels > 0, patchSize > 0, mlpHidden > 0, numClasses > 0,
              inputSize > 0, inputSize % patchSize == 0 else {
            throw STDiTError.badConfig("DiT sizes must be positive and input_size \(inputSize) a multiple of patch \(patchSize)")
        }
    }

    /// Reads the sizes off a DiT state dict: channels and patch from `x_embedder.proj.weight`,
    /// depth from the block count, MLP width, classes (table rows - 1: the null row), input size
    /// from `pos_embed`. The head count is not stored: `numHeads`, else the published model of
    /// that width.
    public static func inferred(from store: WeightStore, numHeads: Int? = nil) throws -> DiTConfig {
        let src = store.sourceDescription
        let xw = try store.shape("x_embedder.proj.weight")
        guard xw.count == 4, xw[2] == xw[3] else {
            throw WeightsError.shapeMismatch(name: "x_embedder.proj.weight", source: src, expected: [-1, -1, -1, -1], found: xw)
        }
        let (hidden, patch) = (xw[0], xw[2])
        var depth = 0
        while store.contains("blocks.\(depth).adaLN_modulation.1.weight") { depth += 1 }
        guard depth > 0 else { throw WeightsError.missingTensor(name: "blocks.0.adaLN_modulation.1.weight", source: src) }
        let finalOut = try store.shape("final_layer.linear.weight").first ?? 0
        guard finalOut % (patch * patch) == 0 else {
            throw STDiTError.badConfig("\(src): final_layer.linear.weight has \(finalOut) rows, not a multiple of patch^2 = \(patch * patch)")
        }
        let table = try store.shape("y_embedder.embedding_table.weight")
        guard table.count == 2, table[0] >= 2 else {
            throw STDiTError.badConfig("\(src): y_embedder.embedding_table.weight is \(table); DiT needs the class rows plus the null-class row (class_dropout_prob > 0) for guidance")
        }
        let pos = try store.shape("pos_embed")
        let side = Int(Double(pos.last == hidden && pos.count == 3 ? pos[1] : 0).squareRoot().rounded())
        guard pos.count == 3, pos[0] == 1, pos[2] == hidden, side > 0, side * side == pos[1] else {
            throw STDiTError.badConfig("\(src): pos_embed is \(pos), expected [1, side^2, \(hidden)] for a square grid")
        }
        guard let heads = numHeads ?? headsByHiddenSize[hidden] else {
            throw STDiTError.badConfig("\(src): hidden size \(hidden) is not a published DiT width (384, 768, 1024, 1152); give num_heads")
        }
        let config = DiTConfig(inChannels: xw[1], outChannels: finalOut / (patch * patch), patchSize: patch, hiddenSize: hidden,
                               depth: depth, numHeads: heads, mlpHidden: try store.shape("blocks.0.mlp.fc1.weight").first ?? 0,
                               numClasses: table[0] - 1, inputSize: side * patch)
        try config.validate()
        return config
    }
}

/// Sees a forward call's intermediates by the reference's names ("t_emb", "block0.attn_out", ...).
public typealias DiTObserver = (_ name: String, _ value: Tensor) -> Void

public struct DiT: Sendable {
    public let config: DiTConfig
    let xEmbedder: PatchEmbed3D
    let posEmbed: Tensor                    // [T, D]
    let tEmbedder: TimestepEmbedder
    let labelTable: WeightTensor            // [num_classes + 1, D]
    let blocks: [DiTBlock]
    let finalModulation: Linear             // c -> shift | scale
    let finalLinear: Linear

    /// Builds the model over `weights` (the reference state dict's names), checking every tensor
    /// first. Without `config` the sizes are read off the checkpoint.
    public init(weights: WeightStore, config: DiTConfig? = nil) throws {
        let c = try config ?? DiTConfig.inferred(from: weights)
        try c.validate()
        self.config = c
        let p = ParameterScope(weights)
        let d = c.hiddenSize
        xEmbedder = try PatchEmbed3D(p.scope("x_embedder"), inChannels: c.inChannels, hidden: d, patch2D: c.patchSize)
        posEmbed = try p("pos_embed", [1, c.tokens, d]).toTensor().reshaped([c.tokens, d])
        tEmbedder = try TimestepEmbedder(p.scope("t_embedder"), hidden: d)
        labelTable = try p("y_embedder.embedding_table.weight", [c.numClasses + 1, d])
        blocks = try (0..<c.depth).map { try DiTBlock(p.scope("blocks.\($0)"), config: c) }
        finalModulation = try Linear(p.scope("final_layer.adaLN_modulation.1"), in: d, out: 2 * d)
        finalLinear = try Linear(p.scope("final_layer.linear"), in: d, out: c.patchSize * c.patchSize * c.outChannels)
    }

    /// DiT.forward. x: [B, C_in, S, S] latents; timesteps: the original diffusion timesteps
    /// (0..999), one per sample; labels: class ids, `numClasses` = the null class.
    /// -> [B, C_out, S, S]
    public func callAsFunction(_ x: Tensor, timesteps: [Float], labels: [Int], observe: DiTObserver? = nil) throws -> Tensor {
        let c = config, d = c.hiddenSize
        guard x.rank == 4, x.shape[1] == c.inChannels, x.shape[2] == c.inputSize, x.shape[3] == c.inputSize, x.shape[0] > 0 else {
            throw STDiTError.badInput("DiT takes latents [B, \(c.inChannels), \(c.inputSize), \(c.inputSize)] (it only runs at the size it was built for), got \(x.shape)")
        }
        let b = x.shape[0]
        guard timesteps.count == b else { throw STDiTError.badInput("\(timesteps.count) timesteps for a batch of \(b)") }
        guard labels.count == b else { throw STDiTError.badInput("\(labels.count) class labels for a batch of \(b)") }
        if let bad = labels.first(where: { !(0...c.nullClass).contains($0) }) {
            throw STDiTError.badInput("class label \(bad) is out of range: the model has classes 0..<\(c.numClasses) and the null class \(c.nullClass)")
        }
        let side = c.inputSize / c.patchSize
        let grid = TokenGrid(batch: b, frames: 1, spatial: side * side)

        // Tokens: patch embedding + pos_embed. [B * T, D]
        let embedded = xEmbedder(x.reshaped([b, c.inChannels, 1, c.inputSize, c.inputSize])).reshaped([grid.tokens, d])
        observe?("x_embed", embedded)
        var tokens = embedded
        addRowwise(&tokens, posEmbed, period: grid.spatial)

        // Conditioning c = t_emb + y_emb. [B, D]
        if let observe { observe("t_freq", sinusoidalEmbedding(timesteps, dim: TimestepEmbedder.frequencyDim)) }
        let tEmb = tEmbedder(timesteps)
        let yEmb = labelRows(labels)
        let cond = tEmb + yEmb
        observe?("t_emb", tEmb); observe?("y_emb", yEmb); observe?("c", cond)
        let activated = silu(cond)

        for (i, block) in blocks.enumerated() {
            observe?("block\(i).in", tokens)
            block(&tokens, activatedCondition: activated, grid: grid, observe: observe.map { o in { o("block\(i).\($0)", $1) } })
            observe?("block\(i).out", tokens)
        }

        // Final layer: (shift, scale) = Linear(SiLU(c)).chunk(2), shift first; modulate(LN(x)) -> Linear. [B * T, p * p * C_out]
        let finalMod = finalModulation(activated)
        observe?("final.adaLN", finalMod)
        let h = modulatedLayerNorm(tokens, FrameModulation(perSample: finalMod, chunks: 2), shift: 0, scale: 1, tokensPerFrame: grid.spatial)
        let patches = finalLinear(h)
        observe?("final.out", patches)

        let geometry = Geometry(grid: grid, patchesH: side, patchesW: side, frameMask: nil, latentSize: [1, c.inputSize, c.inputSize])
        let out = unpatchifyTokens(patches, patch: [1, c.patchSize, c.patchSize], outChannels: c.outChannels, geometry: geometry)
        return out.reshaped([b, c.outChannels, c.inputSize, c.inputSize])
    }

    /// y_embedder in eval mode: rows of the label table (no label dropout). -> [B, D]
    func labelRows(_ labels: [Int]) -> Tensor {
        let d = config.hiddenSize
        let table = labelTable.toTensor()
        var out = Tensor(uninitialized: [labels.count, d])
        for (i, label) in labels.enumerated() {
            (out.mutablePointer + i * d).update(from: table.pointer + label * d, count: d)
        }
        return out
    }
}

/// DiTBlock (adaLN-Zero): x += gate_msa * attn(modulate(LN(x), shift_msa, scale_msa));
/// x += gate_mlp * mlp(modulate(LN(x), shift_mlp, scale_mlp)), the six chunks from Linear(SiLU(c)).
struct DiTBlock {
    let attn: SelfAttention
    let mlp: MLP
    let modulation: Linear                  // SiLU(c) -> [shift, scale, gate]_msa, [shift, scale, gate]_mlp
    /// adaLN_modulation(c).chunk(6), in models.py's order.
    enum Chunk { static let shiftMSA = 0, scaleMSA = 1, gateMSA = 2, shiftMLP = 3, scaleMLP = 4, gateMLP = 5 }

    init(_ p: ParameterScope, config c: DiTConfig) throws {
        attn = try SelfAttention(p.scope("attn"), hidden: c.hiddenSize, heads: c.numHeads, qkNorm: false)
        mlp = try MLP(p.scope("mlp"), in: c.hiddenSize, hidden: c.mlpHidden, out: c.hiddenSize)
        modulation = try Linear(p.scope("adaLN_modulation.1"), in: c.hiddenSize, out: 6 * c.hiddenSize)
    }

    /// x: [B * T, D], updated in place; activatedCondition: SiLU(c), [B, D].
    func callAsFunction(_ x: inout Tensor, activatedCondition: Tensor, grid: TokenGrid, observe: DiTObserver?) {
        let chunks = modulation(activatedCondition)
        observe?("adaLN", chunks)
        let mod = FrameModulation(perSample: chunks, chunks: 6)
        let attnIn = modulatedLayerNorm(x, mod, shift: Chunk.shiftMSA, scale: Chunk.scaleMSA, tokensPerFrame: grid.spatial)
        let a = attn(attnIn, grid: grid, axis: .spatial, rope: nil)
        observe?("attn_in", attnIn); observe?("attn_out", a)
        addGated(&x, a, mod, gate: Chunk.gateMSA, grid: grid)

        let mlpIn = modulatedLayerNorm(x, mod, shift: Chunk.shiftMLP, scale: Chunk.scaleMLP, tokensPerFrame: grid.spatial)
        let m = mlp(mlpIn)
        observe?("mlp_in", mlpIn); observe?("mlp_out", m)
        addGated(&x, m, mod, gate: Chunk.gateMLP, grid: grid)
    }
}

/// x[r] += rows[r % period]. x: [R, C], rows: [period, C]
func addRowwise(_ x: inout Tensor, _ rows: Tensor, period: Int) {
    let c = rows.shape.last!, count = x.count / c
    let xp = SendablePointer(x.mutablePointer), pp = SendablePointer(rows.pointer)
    parallelFor(count, minPerThread: max(1, 8192 / c)) { r in
        for row in r {
            let d = xp.p + row * c, e = pp.p + (row % period) * c
            for j in 0..<c { d[j] += e[j] }
        }
    }
}
