// Golden checker for kind 'stdit3': the plain call (`out`) and the x_mask call (`xmask_out`).

import STDiT
import TensorCore

enum STDiT3Check {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let config = try STDiT3Check.config(c)
        let model = try STDiT3(weights: c.modelWeights(override: options.weights), config: config, quantization: options.quantization)
        let input = try STDiT3Check.input(c)
        var results = [OutputCheck]()
        results.append(OutputCheck(name: "out", got: try model(input), expected: try c.tensor("out"), tolerance: c.tolerance(for: "out")))
        var masked = input
        masked.frameMask = try c.boolRows("x_mask")
        results.append(OutputCheck(name: "xmask_out", got: try model(masked), expected: try c.tensor("xmask_out"),
                                   tolerance: c.tolerance(for: "xmask_out")))
        return results
    }

    /// STDiTConfig from the case's constructor arguments (any STDiT version).
    static func config(_ c: GoldenCase) throws -> STDiTConfig {
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
        return STDiTConfig(inChannels: inChannels, outChannels: predSigma ? 2 * inChannels : inChannels, patchSize: patch,
                           hiddenSize: hidden, depth: try int("depth"), numHeads: try int("num_heads"),
                           mlpHidden: Int(Double(hidden) * ratio), captionChannels: try int("caption_channels"),
                           modelMaxLength: try int("model_max_length"), inputSqSize: j["input_sq_size"] as? Int ?? 512,
                           qkNorm: j["qk_norm"] as? Bool ?? false, qkNormLegacy: j["qk_norm_legacy"] as? Bool ?? false)
    }

    /// The call-1 arguments recorded in the case.
    static func input(_ c: GoldenCase) throws -> STDiT3Input {
        let height = try c.tensor("height"), width = try c.tensor("width")
        return STDiT3Input(latent: try c.tensor("x"), timesteps: try c.tensor("timestep").array, caption: try c.tensor("y"),
                           captionMask: try c.boolRows("mask"), fps: try c.tensor("fps").array,
                           height: height[flat: 0], width: width[flat: 0])
    }
}

extension GoldenCase {
    /// A 2-D 0/1 tensor of the io file as rows of flags.
    func boolRows(_ name: String) throws -> [[Bool]] {
        let io = try io()
        let shape = try io.shape(name)
        let flat = try io.integers(name)
        guard shape.count == 2 else { throw GoldenError.badCase(path: path, detail: "\(name) should be 2-D, is \(shape)") }
        return (0..<shape[0]).map { r in flat[(r * shape[1])..<((r + 1) * shape[1])].map { $0 != 0 } }
    }
}
