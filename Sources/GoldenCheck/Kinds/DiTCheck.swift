// Golden checkers for facebookresearch/DiT: 'dit_model' (forward with every intermediate, and
// forward_with_cfg's quirk), 'dit_ddpm' / 'dit_ddim' (p_sample_loop / ddim_sample_loop with
// every step), 'dit_vae_decode' (sd-vae decode, sample.py's grid, sample_ddp.py's bytes).

import Foundation
import Pipeline
import Samplers
import STDiT
import TensorCore
import VAE
import VideoIO
import Weights

enum DiTModelCheck {
    static let intermediates = ["x_embed", "t_freq", "t_emb", "y_emb", "c", "final.adaLN", "final.out"]
        + (0..<2).flatMap { i in ["in", "adaLN", "attn_in", "attn_out", "mlp_in", "mlp_out", "out"].map { "block\(i).\($0)" } }

    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let model = try DiTCaseModel.load(c, options)
        var results = CaseResults(c)
        let io = try c.io()

        // The fixed sin-cos table the checkpoint carries, recomputed (column half first, [sin, cos]):
        // [N, C] here, a [1, N, C] Parameter in the reference.
        let table = model.config.positionTable()
        try results.check("pos_embed", table.reshaped([1] + table.shape))

        var seen: [String: Tensor] = [:]
        let out = try model(try c.tensor("x"), timesteps: try io.integers("t").map(Float.init), labels: try io.integers("y")) { seen[$0] = $1 }
        for name in intermediates where io.contains(name) {
            guard let got = seen[name] else {
                results.all.append(OutputCheck(name: "\(name) (not produced)", mismatches: 1, total: 1))
                continue
            }
            // Token tensors are [B * N, C] in the engine, [B, N, C] in the reference.
            let batch = try c.tensor("x").shape[0]
            let isTokens = got.rank == 2 && got.shape[0] != batch && got.shape[0] % batch == 0
            try results.check(name, isTokens ? got.reshaped([batch, got.shape[0] / batch, got.shape[1]]) : got)
        }
        try results.check("out", out)

        // forward_with_cfg: the model sees cat([x[:n], x[:n]]); 3 channels guided.
        let xCfg = try c.tensor("x_cfg")
        let n = xCfg.shape[0] / 2
        let half = narrow(xCfg, axis: 0, 0..<n)
        let modelIn = concat([half, half], axis: 0)
        try results.check("cfg.model_in", modelIn)
        let raw = try model(modelIn, timesteps: try io.integers("t_cfg").map(Float.init), labels: try io.integers("y_cfg"))
        try results.check("cfg.model_out", raw)
        let scale = Float((c.json["cfg_scale"] as? Double) ?? 4)
        try results.check("out_cfg", guidedModelOutput(raw, scale: scale, channels: DiTConfig.guidedChannels))
        return results.all
    }
}

/// The tiny DiT of the dit_model case (whose config holds num_heads, which checkpoints do not).
enum DiTCaseModel {
    static func load(_ c: GoldenCase, _ options: CheckOptions) throws -> DiT {
        let store = try c.modelWeights(override: options.weights)
        return try DiT(weights: store, config: DiTConfig.inferred(from: store, numHeads: try modelCase(c).config["num_heads"] as? Int))
    }

    /// The case that made the weights (a sampler case reuses dit_model's): it holds num_heads
    /// and the model's output tolerance.
    static func modelCase(_ c: GoldenCase) throws -> GoldenCase {
        guard c.config["num_heads"] == nil, let weightsFile = c.weightFiles.first, weightsFile.hasSuffix(".weights.safetensors") else { return c }
        return try GoldenCase(path: c.file(String(weightsFile.dropLast(".weights.safetensors".count)) + ".json"))
    }
}

/// dit_ddpm and dit_ddim: sample.py's CFG sampling of the case's labels with its recorded noise.
enum DiTSampleCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let cfg = c.config
        guard let spec = cfg["timestep_respacing"] as? String, let labels = cfg["class_labels"] as? [Int],
              let scale = (cfg["cfg_scale"] as? NSNumber)?.floatValue else {
            throw GoldenError.badCase(path: c.path, detail: "config needs timestep_respacing, class_labels and cfg_scale")
        }
        let (respacing, steps) = try DiffusionSchedule.parseRespacing(spec)
        let diffusionSteps = SamplerCaseFields.optionalInt(c, "diffusion_steps") ?? 1000
        let sampler: Sampler
        if c.kind == "dit_ddim" {
            sampler = DDIMSampler(steps: steps, eta: (cfg["eta"] as? NSNumber)?.floatValue ?? 0, guidanceScale: scale,
                                  guidanceChannels: DiTConfig.guidedChannels, diffusionSteps: diffusionSteps,
                                  respacing: respacing, tables: .float64)
        } else {
            sampler = IDDPMSampler(steps: steps, guidanceScale: scale, guidanceChannels: DiTConfig.guidedChannels,
                                   diffusionSteps: diffusionSteps, respacing: respacing, tables: .float64)
        }
        let schedule = try DiffusionSchedule(samplingSteps: steps, diffusionSteps: diffusionSteps, respacing: respacing, tables: .float64)
        var results = try DiffusionCaseCheck.scheduleChecks(c, schedule, baseBetas: DiffusionSchedule.numpyLinearBetas(diffusionSteps))
        results.append(scheduleArrayCheck("log_betas", got: schedule.logBetas, expected: try c.tensor("log_betas")))

        let tolerance = c.tolerance(for: "samples")
        // Model outputs are of order 1 at every step: the model case's tolerance applies.
        let modelTolerance = try DiTCaseModel.modelCase(c).tolerance(for: "out_cfg")
        let n = labels.count
        func firstHalf(_ t: Tensor) -> Tensor { narrow(t, axis: 0, 0..<n) }
        // The samplers run on video latents [B, C, 1, S, S]; the reference's tensors are images [B, C, S, S].
        func image(_ t: Tensor) -> Tensor { t.rank == 5 && t.shape[2] == 1 ? t.reshaped([t.shape[0], t.shape[1], t.shape[3], t.shape[4]]) : t }
        let model = options.replay ? nil : try DiTCaseModel.load(c, options)
        var calls = 0
        let denoiser: Denoiser = { x, t, _ in
            let step = "step\(calls)"
            calls += 1
            guard SamplerCaseFields.has(c, "\(step).model_out") else {
                throw GoldenError.badCase(path: c.path, detail: "the sampler made more model calls than the \(calls - 1) recorded")
            }
            let (b, ch, s) = (x.shape[0], x.shape[1], x.shape[4])
            let xImage = x.reshaped([b, ch, s, s])
            results.append(OutputCheck(name: "\(step).x[:n]", got: firstHalf(xImage), expected: firstHalf(try c.tensor("\(step).x")), tolerance: tolerance))
            results.append(OutputCheck(name: "\(step).t", got: Tensor(shape: [t.count], data: t),
                                       expected: Tensor(shape: [t.count], data: try c.io().integers("\(step).t").map(Float.init)), tolerance: 0))
            let out: Tensor
            if let model {
                out = try ImageGenerator.denoiser(model, labels: labels)(x, t, nil)
                results.append(OutputCheck(name: "\(step).model_out", got: image(out), expected: try c.tensor("\(step).model_out"), tolerance: modelTolerance))
                let guidedOut = guidedModelOutput(out, scale: scale, channels: DiTConfig.guidedChannels)
                results.append(OutputCheck(name: "\(step).cfg_out", got: image(guidedOut), expected: try c.tensor("\(step).cfg_out"), tolerance: modelTolerance))
            } else {
                out = try c.tensor("\(step).model_out").reshaped([b, 2 * ch, 1, s, s])
            }
            return out
        }
        let noise = RecordedNoise(try SamplerCaseFields.numbered(c, "noise_draw"), name: "\(c.name) noise_draw*")
        let z = try c.tensor("z_init")
        let run = try sampler.start(SamplingInputs(latent: z.reshaped([z.shape[0], z.shape[1], 1, z.shape[2], z.shape[3]])),
                                    model: denoiser, noise: noise)
        for step in run {
            let name = "step\(step.index).sample[:n]"
            results.append(OutputCheck(name: name, got: image(step.latent), expected: firstHalf(try c.tensor("step\(step.index).sample")), tolerance: tolerance))
        }
        let samples = try run.finish()
        results.append(OutputCheck(name: "samples", got: image(samples), expected: try c.tensor("samples"), tolerance: tolerance))
        var recorded = 0
        while SamplerCaseFields.has(c, "step\(recorded).model_out") { recorded += 1 }
        results.append(OutputCheck(name: "model calls (\(calls) of \(recorded))", mismatches: abs(recorded - calls), total: recorded))
        results.append(OutputCheck(name: "noise draws used (\(noise.used))", mismatches: noise.remaining, total: noise.used + noise.remaining))
        return results
    }
}

/// dit_vae_decode: vae.decode(samples / 0.18215), sample.py's save_image grid and sample_ddp.py's bytes.
enum DiTVAEDecodeCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let groups = (c.config["autoencoderkl"] as? [String: Any])?["norm_num_groups"] as? Int ?? 32
        let nrow = c.config["nrow"] as? Int ?? 4
        let vae = try SpatialVideoVAE(store: c.modelWeights(override: options.weights), normGroups: groups, microBatchSize: 1)
        let image = try ImageGenerator.decode(try c.tensor("z"), vae: vae)
        var results = [OutputCheck(name: "image", got: image, expected: try c.tensor("image"), tolerance: c.tolerance(for: "image"))]

        let uint8Tolerance = Float((c.json["suggested_tolerance"] as? [String: Any])?["uint8_max_abs"] as? Double ?? 0)
        func bytes(_ b: [UInt8]) -> Tensor { Tensor(shape: [b.count], data: b.map(Float.init)) }
        let grid = try RGBImage(grid: image, columns: nrow)
        let pngShape = try c.io().shape("png_uint8")
        let sizeOK = [grid.height, grid.width, 3] == pngShape
        results.append(OutputCheck(name: "png_uint8 size \(grid.height)x\(grid.width)", mismatches: sizeOK ? 0 : 1, total: 1))
        results.append(OutputCheck(name: "png_uint8", got: bytes(grid.pixels),
                                   expected: Tensor(shape: [pngShape.reduce(1, *)], data: try c.io().integers("png_uint8").map(Float.init)),
                                   tolerance: uint8Tolerance))
        let perImage = try (0..<image.shape[0]).flatMap { try RGBImage(perImageTensor: narrow(image, axis: 0, $0..<($0 + 1)).reshaped(Array(image.shape.dropFirst()))).pixels }
        results.append(OutputCheck(name: "ddp_uint8", got: bytes(perImage),
                                   expected: Tensor(shape: [perImage.count], data: try c.io().integers("ddp_uint8").map(Float.init)),
                                   tolerance: uint8Tolerance))
        return results
    }
}
