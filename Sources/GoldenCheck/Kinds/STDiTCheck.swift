// Golden checker for kind 'stdit' (Open-Sora v1.0): the plain call with its recorded
// intermediates (x_embedder + pos_embed, t_block's output, blocks[0]'s output), and the x_mask call.

import STDiT
import TensorCore

enum STDiTCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let model = try STDiTV1(weights: c.modelWeights(override: options.weights), config: STDiT3Check.config(c), quantization: options.quantization)
        var input = STDiTV1Input(latent: try c.tensor("x"), timesteps: try c.tensor("timestep").array, caption: try c.tensor("y"),
                                 captionMask: try c.boolRows("mask"))
        var stages: [String: Tensor] = [:]
        let out = try model(input) { stage, t in
            switch stage {
            case .embeddedTokens: stages["x_embed_plus_pos"] = t
            case .timestepMLP: stages["t_mlp"] = t
            case .block(0): stages["block0_out"] = t
            case .block: break
            }
        }
        var results = try ["x_embed_plus_pos", "t_mlp", "block0_out"].map { name in
            guard let got = stages[name] else { throw GoldenError.badCase(path: c.path, detail: "the model reported no '\(name)'") }
            return OutputCheck(name: name, got: got, expected: try c.tensor(name), tolerance: c.tolerance(for: name))
        }
        results.append(OutputCheck(name: "out", got: out, expected: try c.tensor("out"), tolerance: c.tolerance(for: "out")))
        input.frameMask = try c.boolRows("x_mask")
        results.append(OutputCheck(name: "xmask_out", got: try model(input), expected: try c.tensor("xmask_out"),
                                   tolerance: c.tolerance(for: "xmask_out")))
        return results
    }
}
