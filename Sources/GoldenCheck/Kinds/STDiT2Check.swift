// Golden checker for kind 'stdit2' (Open-Sora v1.1).

import STDiT
import TensorCore

enum STDiT2Check {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let model = try STDiT2(weights: c.modelWeights(override: options.weights), config: STDiT3Check.config(c), quantization: options.quantization)
        let input = try STDiT2Check.input(c)
        return [OutputCheck(name: "out", got: try model(input), expected: try c.tensor("out"), tolerance: c.tolerance(for: "out"))]
    }

    static func input(_ c: GoldenCase) throws -> STDiT2Input {
        STDiT2Input(latent: try c.tensor("x"), timesteps: try c.tensor("timestep").array, caption: try c.tensor("y"),
                    captionMask: try c.boolRows("mask"), numFrames: try c.tensor("num_frames").array,
                    height: try c.tensor("height").array, width: try c.tensor("width").array,
                    aspectRatio: try c.tensor("ar").array, fps: try c.tensor("fps").array)
    }
}
