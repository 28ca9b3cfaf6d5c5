// Golden checker for kind 'stdit' (Open-Sora v1.0): the plain call (`out`) and the x_mask call
// (`xmask_out`).

import STDiT
import TensorCore

enum STDiTCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let input = c.config["input_size"] as? [Int]
        let model = try STDiTV1(weights: c.modelWeights(override: options.weights),
                                config: STDiTV1Config(sizes: try sizes(c), inputSize: input))
        let call = try STDiTCheck.input(c)
        var masked = call
        masked.frameMask = try c.boolRows("x_mask")
        return [
            OutputCheck(name: "out", got: try model(call), expected: try c.tensor("out"), tolerance: c.tolerance(for: "out")),
            OutputCheck(name: "xmask_out", got: try model(masked), expected: try c.tensor("xmask_out"), tolerance: c.tolerance(for: "xmask_out")),
        ]
    }

    /// The sizes both legacy models take, from the case's constructor arguments.
    static func sizes(_ c: GoldenCase) throws -> LegacySTDiTSizes {
        let j = c.config
        func int(_ k: String) throws -> Int {
            guard let v = j[k] as? Int else { throw GoldenError.badCase(path: c.path, detail: "config.\(k) missing or not an integer") }
            return v
        }
        let hidden = try int("hidden_size"), inChannels = try int("in_channels")
        guard let patch = j["patch_size"] as? [Int], let ratio = j["mlp_ratio"] as? Double else {
            throw GoldenError.badCase(path: c.path, detail: "config.patch_size or config.mlp_ratio missing")
        }
        let predSigma = j["pred_sigma"] as? Bool ?? true
        return LegacySTDiTSizes(inChannels: inChannels, outChannels: predSigma ? 2 * inChannels : inChannels, patchSize: patch,
                                hiddenSize: hidden, depth: try int("depth"), numHeads: try int("num_heads"),
                                mlpHidden: Int(Double(hidden) * ratio), captionChannels: try int("caption_channels"),
                                modelMaxLength: try int("model_max_length"))
    }

    /// The recorded call: x, timestep, y, mask.
    static func input(_ c: GoldenCase) throws -> LegacySTDiTInput {
        LegacySTDiTInput(latent: try c.tensor("x"), timesteps: try c.tensor("timestep").array, caption: try c.tensor("y"),
                         captionMask: try c.boolRows("mask"))
    }
}
