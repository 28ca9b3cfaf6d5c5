// Dispatches a case to the checker for its kind. Kinds without a checker fail, never pass.

import Foundation

public enum GoldenRunner {
    public typealias Checker = @Sendable (GoldenCase, CheckOptions) throws -> [OutputCheck]

    /// One entry per kind; each checker lives in its own file (Kinds/).
    public static let checkers: [String: Checker] = [
        "tokenizer": TokenizerCheck.run,
        "t5_encoder": T5EncoderCheck.run,
        "stdit3": STDiT3Check.run,
        "stdit2": STDiT2Check.run,
        "stdit": STDiTCheck.run,
        "vae": VAECheck.run,
        "rflow": RectifiedFlowCheck.run,
        "iddpm": IDDPMCheck.run,
        "ddim": DDIMCheck.run,
        "torch_randn": TorchRandnCheck.run,
        "pipeline_e2e": PipelineCheck.run,
        "ae2d": Autoencoder2DCheck.run,
        "hunyuan_vae": HunyuanVAECheck.run,
        "dc_ae": VideoDCAECheck.run,
    ]

    public static func run(_ c: GoldenCase, options: CheckOptions = CheckOptions()) throws -> [OutputCheck] {
        guard let checker = checkers[c.kind] else { throw GoldenError.notImplemented(kind: c.kind) }
        let results = try checker(c, options)
        if results.isEmpty { throw GoldenError.badCase(path: c.path, detail: "checker for '\(c.kind)' compared no outputs") }
        return results
    }
}
