// Golden checker for kind 'stdit' (Open-Sora v1.0): the plain call and the x_mask call.

import STDiT
import TensorCore

enum STDiTCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let model = try STDiTV1(weights: c.modelWeights(override: options.weights), config: STDiT3Check.config(c))
        var input = STDiTV1Input(latent: try c.tensor("x"), timesteps: try c.tensor("timestep").array, caption: try c.tensor("y"),
                                 captionMask: try c.boolRows("mask"))
        var results = [OutputCheck(name: "out", got: try model(input), expected: try c.tensor("out"), tolerance: c.tolerance(for: "out"))]
        input.frameMask = try c.boolRows("x_mask")
        results.append(OutputCheck(name: "xmask_out", got: try model(input), expected: try c.tensor("xmask_out"),
                                   tolerance: c.tolerance(for: "xmask_out")))
        return results
    }
}
