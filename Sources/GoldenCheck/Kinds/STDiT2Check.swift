// Golden checker for kind 'stdit2' (Open-Sora v1.1, qk-norm in the legacy order).

import STDiT
import TensorCore

enum STDiT2Check {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let config = STDiT2Config(sizes: try STDiTCheck.sizes(c), inputSqSize: c.config["input_sq_size"] as? Int ?? 512,
                                  qkNorm: c.config["qk_norm"] as? Bool ?? false, qkNormLegacy: c.config["qk_norm_legacy"] as? Bool ?? false)
        let model = try STDiT2(weights: c.modelWeights(override: options.weights), config: config)
        let got = try model(STDiTCheck.input(c), resolution: try resolution(c, prefix: ""))
        return [OutputCheck(name: "out", got: got, expected: try c.tensor("out"), tolerance: c.tolerance(for: "out"))]
    }

    /// num_frames, height, width, ar, fps as recorded (`prefix` "additional_args." in sampler cases).
    static func resolution(_ c: GoldenCase, prefix: String) throws -> MultiResolutionInfo {
        MultiResolutionInfo(height: try c.tensor(prefix + "height").array, width: try c.tensor(prefix + "width").array,
                       aspectRatio: try c.tensor(prefix + "ar").array, numFrames: try c.tensor(prefix + "num_frames").array,
                       fps: try c.tensor(prefix + "fps").array)
    }
}
