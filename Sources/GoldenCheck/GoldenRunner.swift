// Dispatches a case to the checker for its kind. Kinds without a checker fail, never pass.

import Foundation
import TensorCore

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
        "dit_model": DiTModelCheck.run,
        "dit_ddpm": DiTSampleCheck.run,
        "dit_ddim": DiTSampleCheck.run,
        "dit_vae_decode": DiTVAEDecodeCheck.run,
        "ae2d": Autoencoder2DCheck.run,
        "hunyuan_vae": HunyuanVAECheck.run,
        "dc_ae": VideoDCAECheck.run,
        "mask_parse": MaskParseCheck.run,
        "pipeline_mask": ConditionedPipelineCheck.run,
        "pipeline_loop": ConditionedPipelineCheck.run,
        "clip_tokenizer": CLIPTokenizerCheck.run,
        "v2_clip_embedder": V2CLIPEmbedderCheck.run,
        "v2_t5_embedder": V2T5EmbedderCheck.run,
        "v2_sample": V2SampleCheck.run,
        "mmdit": MMDiTCheck.run,
    ]

    /// Kinds whose checker reads `CheckOptions.replay` / `CheckOptions.weights` (without replay):
    /// an option a case would ignore is an error, not a silent no-op.
    public static let replayKinds: Set<String> = ["rflow", "iddpm", "ddim", "dit_ddpm", "dit_ddim", "v2_sample"]
    public static let weightsKinds: Set<String> = ["tokenizer", "t5_encoder", "stdit3", "stdit2", "stdit", "vae", "rflow", "iddpm", "ddim",
                                                   "dit_model", "dit_ddpm", "dit_ddim", "dit_vae_decode", "ae2d", "hunyuan_vae", "dc_ae",
                                                   "clip_tokenizer", "v2_clip_embedder", "v2_t5_embedder",
                                                   "mmdit"]

    /// Kinds whose checker builds its model with `CheckOptions.quantization`.
    public static let quantizeKinds: Set<String> = ["stdit3", "stdit2", "stdit"]
    /// An int8 model passes a case when every output's relative L2 error is within this
    /// (docs/quantization.md: measured 1e-2 .. 2e-2 on the golden cases).
    public static let int8RelativeL2Bound: Float = 5e-2

    public static func run(_ c: GoldenCase, options: CheckOptions = CheckOptions()) throws -> [OutputCheck] {
        guard let checker = checkers[c.kind] else { throw GoldenError.notImplemented(kind: c.kind) }
        if options.replay && !replayKinds.contains(c.kind) {
            throw GoldenError.badCase(path: c.path, detail: "--replay applies to sampler cases (\(replayKinds.sorted().joined(separator: ", "))), not kind '\(c.kind)'")
        }
        if options.weights != nil && (options.replay || !weightsKinds.contains(c.kind)) {
            throw GoldenError.badCase(path: c.path, detail: options.replay
                ? "--weights is not read with --replay (the recorded model outputs replace the model)"
                : "--weights applies to kinds \(weightsKinds.sorted().joined(separator: ", ")), not '\(c.kind)'")
        }
        if options.quantization != .none && !quantizeKinds.contains(c.kind) {
            throw GoldenError.badCase(path: c.path, detail: "--quantize applies to kinds \(quantizeKinds.sorted().joined(separator: ", ")), not '\(c.kind)'")
        }
        let results = try checker(c, options)
        if results.isEmpty { throw GoldenError.badCase(path: c.path, detail: "checker for '\(c.kind)' compared no outputs") }
        return options.quantization == .int8 ? results.map { $0.judgedOnRelativeL2(int8RelativeL2Bound) } : results
    }
}
