// Golden checker for kind 'mmdit' (v2_mmdit/mmdit, mmdit_p1): the packing of the recorded latent
// and condition (img, img_ids, txt_ids, cond, and the output unpacked), then one MMDiT forward on
// those inputs with every recorded intermediate (block inputs, RoPE tables, each block's streams,
// the final layer's input) and the output, all at the case's tolerance.

import MMDiT
import TensorCore

enum MMDiTCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let model = try MMDiT(weights: c.modelWeights(override: options.weights), positional: try positional(c))
        try checkSizes(c, model.config)
        let p = model.config.patchSize
        var r = CaseResults(c)

        // Inputs as sampling.prepare_ids / prepare build them from the latent and the condition.
        let z = try c.tensor("z_latent")
        let prepared = try Packing.prepareIds(latent: z, t5: try c.tensor("txt"), clip: try c.tensor("y_vec"), patchSize: p)
        let cond = try Packing.condition(mask: try c.tensor("masks"), maskedReference: try c.tensor("masked_ref"), patchSize: p)
        try r.check("img", prepared.img)
        try r.check("img_ids", prepared.imgIds)
        try r.check("txt_ids", prepared.txtIds)
        try r.check("cond", cond)

        let input = MMDiTInput(img: prepared.img, imgIds: prepared.imgIds, txt: prepared.txt, txtIds: prepared.txtIds,
                               timesteps: try c.tensor("timesteps").array, yVec: prepared.yVec, cond: model.config.condEmbed ? cond : nil)
        let recorded = Set(try c.io().names)
        var stageError: Error?
        let out = try model(input) { stage, t in
            guard recorded.contains(stage.name), stageError == nil else { return }
            do { try r.check(stage.name, t) } catch { stageError = error }
        }
        if let stageError { throw stageError }
        let grid = try Packing.grid(latent: z.shape, patchSize: p)
        try r.check("out_unpacked", try Packing.unpack(out, grid: grid, patchSize: p))
        let compared = Set(r.all.map(\.name))
        let missed = recorded.subtracting(compared).subtracting(["z_latent", "txt", "y_vec", "timesteps", "masks", "masked_ref", "ref_latents"])
        guard missed.isEmpty else { throw GoldenError.badCase(path: c.path, detail: "recorded outputs not compared: \(missed.sorted())") }
        return r.all
    }

    /// RoPE axes and theta from the case's MMDiTConfig (the weights do not carry them).
    static func positional(_ c: GoldenCase) throws -> MMDiTConfig.Positional {
        guard let j = c.config["MMDiTConfig"] as? [String: Any], let axes = j["axes_dim"] as? [Int], let theta = j["theta"] as? Double else {
            throw GoldenError.badCase(path: c.path, detail: "config.MMDiTConfig.axes_dim / theta missing")
        }
        return MMDiTConfig.Positional(axesDim: axes, theta: Float(theta))
    }

    /// The sizes read off the checkpoint must be the case's constructor arguments.
    static func checkSizes(_ c: GoldenCase, _ m: MMDiTConfig) throws {
        let j = c.config["MMDiTConfig"] as? [String: Any] ?? [:]
        let expected: [(String, Int)] = [("in_channels", m.inChannels), ("vec_in_dim", m.vecInDim), ("context_in_dim", m.contextInDim),
                                         ("hidden_size", m.hiddenSize), ("num_heads", m.numHeads), ("depth", m.depth),
                                         ("depth_single_blocks", m.depthSingleBlocks), ("patch_size", m.patchSize)]
        for (key, inferred) in expected where (j[key] as? Int) != inferred {
            throw GoldenError.badCase(path: c.path, detail: "config.MMDiTConfig.\(key) is \(j[key] ?? "missing"), the weights say \(inferred)")
        }
        let ratio = j["mlp_ratio"] as? Double ?? 4
        guard Int(Double(m.hiddenSize) * ratio) == m.mlpHidden, (j["qkv_bias"] as? Bool) == m.qkvBias, (j["cond_embed"] as? Bool) == m.condEmbed else {
            throw GoldenError.badCase(path: c.path, detail: "config.MMDiTConfig mlp_ratio / qkv_bias / cond_embed disagree with the weights")
        }
    }
}
