// Golden checker for kind 'v2_sample' (Open-Sora 2.0's sampler). With --replay the recorded raw
// outputs of the three branches stand in for the MMDiT; without it the MMDiT (the weights_file's
// mmdit checkpoint) runs on the T5 and CLIP embeddings the engine computes. Checked: the noise from the seed,
// the shifted schedule, the condition (masks, masked reference, the packed cond of each branch),
// per step the latent the model sees, its t, the guidance scales and the temporal image
// guidance, then the final packed latent and the final latent with the reference written back.
// The constant text inputs (model.txt, model.y_vec) are recomputed with the T5 and CLIP
// embedders from the case's own text weights (named in weights_file), at those cases' tolerances.
// Run twice: computing every branch (the reference's arithmetic) and skipping the branches whose
// contribution is zero; the second also reports the forwards it saved.

import CLIP
import Foundation
import MMDiT
import Pipeline
import Samplers
import T5
import TensorCore

enum V2SampleCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let setup = try Setup(c)
        var results = CaseResults(c)
        results.all.append(OutputCheck(name: "z_init (seed \(setup.seed))", got: setup.noise, expected: try c.tensor("z_init"), tolerance: 0))
        results.all.append(scheduleArrayCheck("timesteps", got: try V2Schedule.timesteps(steps: setup.sampler.steps, geometry: setup.geometry),
                                              expected: try c.tensor("timesteps"), ulps: 1))
        results.all.append(OutputCheck(name: "masks", got: setup.condition.masks, expected: try c.tensor("masks"), tolerance: 0))
        results.all.append(OutputCheck(name: "masked_ref", got: setup.condition.maskedReference, expected: try c.tensor("masked_ref"), tolerance: 0))
        let cond = pack(setup.condition.modelInput, patch: setup.geometry.patchSize)
        results.all.append(OutputCheck(name: "model.cond", got: concat([cond, cond, Tensor(repeating: 0, shape: cond.shape)], axis: 0),
                                       expected: try c.tensor("model.cond"), tolerance: 0))
        let text = try textConditioning(c)
        results.all += text.checks
        for skipping in [false, true] {
            results.all += options.replay ? try replay(c, setup, skipping: skipping)
                                          : try sample(c, setup, text: (text.txt, text.yVec), skipping: skipping)
        }
        return results.all
    }

    /// One replayed run; names end in " [all branches]" or " [skipping]".
    static func replay(_ c: GoldenCase, _ s: Setup, skipping: Bool) throws -> [OutputCheck] {
        var sampler = s.sampler
        sampler.guidance.computeAllBranches = !skipping
        let tag = skipping ? " [skipping]" : " [all branches]"
        let tolerance = c.tolerance(for: "final")
        let p = s.geometry.patchSize, b = s.noise.shape[0]
        var checks: [OutputCheck] = []
        var forwards = 0
        let textScales = try c.tensor("text_gs").array, imageScales = try c.tensor("image_gs_scalar").array
        var current = 0
        let replayed: V2Denoiser = { x, t, branches in
            let i = current
            guard SamplerCaseFields.has(c, "step\(i).out") else {
                throw GoldenError.badCase(path: c.path, detail: "the sampler made more steps than the \(i) recorded")
            }
            checks.append(OutputCheck(name: "step\(i).img\(tag)", got: pack(x, patch: p), expected: try c.tensor("step\(i).img"), tolerance: tolerance))
            checks.append(OutputCheck(name: "step\(i).t\(tag)", got: Tensor(shape: [1], data: [t]), expected: try c.tensor("step\(i).t"), tolerance: 0))
            forwards += branches.count
            let out = try c.tensor("step\(i).out")                                 // [3B, N, C p²], branch-major
            let rows = branches.map { out.slice(($0.rawValue * b)..<(($0.rawValue + 1) * b)) }
            current += 1
            return unpack(concat(rows, axis: 0), like: x, patch: p)
        }
        let final = try sampler.denoise(noise: s.noise, geometry: s.geometry, condition: s.condition, model: replayed) { r in
            checks.append(OutputCheck(name: "step\(r.index).text_gs\(tag)", got: [r.textScale], expected: [textScales[r.index]]))
            checks.append(OutputCheck(name: "step\(r.index).image_gs\(tag)", got: [r.imageScale], expected: [imageScales[r.index]]))
            let recorded = SamplerCaseFields.has(c, "step\(r.index).image_gs")
            if let perFrame = r.imagePerFrame, recorded {
                var ramp = Tensor(uninitialized: r.latent.shape)
                let (t, plane) = (ramp.shape[2], ramp.shape[3] * ramp.shape[4])
                ramp.withMutableData { d in for j in d.indices { d[j] = perFrame[(j / plane) % t] } }
                checks.append(OutputCheck(name: "step\(r.index).image_gs (temporal)\(tag)", got: pack(ramp, patch: p),
                                          expected: (try? c.tensor("step\(r.index).image_gs")) ?? ramp, tolerance: 0))
            } else if (r.imagePerFrame != nil) != recorded {
                checks.append(OutputCheck(name: "step\(r.index).image_gs: temporal guidance \(recorded ? "recorded but not applied" : "applied but not recorded")\(tag)",
                                          mismatches: 1, total: 1))
            }
        }
        checks.append(OutputCheck(name: "steps replayed (\(current) of \(sampler.steps))", mismatches: abs(current - textScales.count), total: textScales.count))
        return checks + (try finalChecks(c, s, sampler: sampler, final: final, forwards: forwards, tolerance: tolerance, tag: tag))
    }

    /// The final latents (packed and with the condition written back) and the forward count, as
    /// both the replay and the full run end.
    static func finalChecks(_ c: GoldenCase, _ s: Setup, sampler: V2Sampler, final: Tensor, forwards: Int,
                            tolerance: Float, tag: String) throws -> [OutputCheck] {
        let p = s.geometry.patchSize
        var written = final
        s.condition.writeBack(into: &written)
        let expected = sampler.forwardCount(geometry: s.geometry, condition: s.condition.type, unconditioned: s.condition.isEmpty)
        return [OutputCheck(name: "final_packed\(tag)", got: pack(final, patch: p), expected: try c.tensor("final_packed"), tolerance: tolerance),
                OutputCheck(name: "final\(tag)", got: written, expected: try c.tensor("final"), tolerance: tolerance),
                OutputCheck(name: "forwards made \(forwards) of the reference's \(expected.reference)\(tag)",
                            mismatches: abs(forwards - expected.made), total: expected.made)]
    }

    /// One full run: the MMDiT computes each step's branches from the engine's own text embeddings.
    /// Every step's latent, t and branch outputs are compared with the recorded ones, then the final
    /// latents; names end in " [all branches]" or " [skipping]".
    static func sample(_ c: GoldenCase, _ s: Setup, text: (txt: Tensor, yVec: Tensor), skipping: Bool) throws -> [OutputCheck] {
        guard let files = c.json["weights_file"] as? [String: Any], let mmditFile = files["mmdit"] as? String else {
            throw GoldenError.badCase(path: c.path, detail: "weights_file must name mmdit")
        }
        let model = MMDiTDenoiser(model: try MMDiT(weights: try c.weights(named: mmditFile),
                                                   positional: try MMDiTCheck.positional(try siblingCase(c, kind: "mmdit", weights: mmditFile))))
        var sampler = s.sampler
        sampler.guidance.computeAllBranches = !skipping
        let tag = skipping ? " [skipping]" : " [all branches]"
        let tolerance = c.tolerance(for: "final")
        let b = s.noise.shape[0]
        var checks: [OutputCheck] = []
        var forwards = 0, step = 0
        // The pipeline's own model adapter; each step's packed input and output are compared with the recording.
        let forward = try model.denoiser(text: V2TextConditioning(txt: text.txt, yVec: text.yVec), condition: s.condition) { branches, img, out in
            if SamplerCaseFields.has(c, "step\(step).out") {
                let recorded = try c.tensor("step\(step).out")                       // [3B, N, C p²], branch-major
                checks.append(OutputCheck(name: "step\(step).img\(tag)", got: img.slice(0..<b), expected: try c.tensor("step\(step).img"), tolerance: tolerance))
                checks.append(OutputCheck(name: "step\(step).out\(tag)", got: out,
                                          expected: concat(branches.map { recorded.slice(($0.rawValue * b)..<(($0.rawValue + 1) * b)) }, axis: 0),
                                          tolerance: tolerance))
            }
        }
        let denoiser: V2Denoiser = { x, t, branches in
            let v = try forward(x, t, branches)
            forwards += branches.count
            step += 1
            return v
        }
        let final = try sampler.denoise(noise: s.noise, geometry: s.geometry, condition: s.condition, model: denoiser) { _ in }
        checks.append(OutputCheck(name: "steps run (\(step) of \(sampler.steps))", mismatches: abs(step - sampler.steps), total: sampler.steps))
        return checks + (try finalChecks(c, s, sampler: sampler, final: final, forwards: forwards, tolerance: tolerance, tag: tag))
    }

    /// T5 and CLIP on [texts, "" x B, "" x B] against the recorded model.txt and model.y_vec.
    static func textConditioning(_ c: GoldenCase) throws -> (checks: [OutputCheck], txt: Tensor, yVec: Tensor) {
        guard let files = c.json["weights_file"] as? [String: Any], let t5File = files["t5"] as? String, let clipFile = files["clip"] as? String,
              let spiece = files["t5_spiece"] as? String, let vocab = files["clip_vocab"] as? String else {
            throw GoldenError.badCase(path: c.path, detail: "weights_file must name t5, clip, t5_spiece and clip_vocab")
        }
        guard let texts = c.config["texts_after_inference_script"] as? [String] else {
            throw GoldenError.badCase(path: c.path, detail: "config.texts_after_inference_script missing")
        }
        let prompts = texts + [String](repeating: "", count: 2 * texts.count)
        // The embedder cases beside this one that use the same weights say what the shapes cannot.
        let t5Case = try siblingCase(c, kind: "v2_t5_embedder", weights: t5File), clipCase = try siblingCase(c, kind: "v2_clip_embedder", weights: clipFile)
        let extraIds = ((t5Case.config["tokenizer"] as? [String: Any])?["extra_ids"] as? NSNumber)?.intValue ?? 0
        let heads = ((clipCase.config["CLIPTextConfig"] as? [String: Any])?["num_attention_heads"] as? NSNumber)?.intValue
        let txtShape = try c.io().shape("model.txt")
        let t5 = try T5TextEmbedder(tokenizer: try T5Tokenizer(modelPath: c.file(spiece), extraIds: extraIds),
                                    encoder: try T5Encoder(weights: try c.weights(named: t5File)), maxLength: txtShape[1])
        let clip = try CLIPTextEmbedder(tokenizer: try CLIPTokenizer(vocabularyPath: c.file(vocab)),
                                        model: try CLIPTextModel(weights: try c.weights(named: clipFile), heads: heads))
        let txt = try t5(prompts), yVec = try clip(prompts)
        return ([OutputCheck(name: "model.txt (T5)", got: txt, expected: try c.tensor("model.txt"), tolerance: t5Case.tolerance(for: "last_hidden_state")),
                 OutputCheck(name: "model.y_vec (CLIP)", got: yVec, expected: try c.tensor("model.y_vec"), tolerance: clipCase.tolerance(for: "pooler_output"))],
                txt, yVec)
    }

    /// The case of `kind` in the same folder whose weights_file is `weights`.
    static func siblingCase(_ c: GoldenCase, kind: String, weights: String) throws -> GoldenCase {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: c.directory.isEmpty ? "." : c.directory)) ?? []
        for n in names.sorted() where n.hasSuffix(".json") {
            if let other = try? GoldenCase(path: c.file(n)), other.kind == kind, other.json["weights_file"] as? String == weights { return other }
        }
        throw GoldenError.badCase(path: c.path, detail: "no \(kind) case beside it with weights_file \(weights) (it gives the text model's settings)")
    }

    struct Setup {
        let geometry: V2LatentGeometry
        let sampler: V2Sampler
        let condition: V2Condition
        let noise: Tensor
        let seed: UInt64

        init(_ c: GoldenCase) throws {
            guard let o = c.config["SamplingOption"] as? [String: Any] else { throw GoldenError.badCase(path: c.path, detail: "config.SamplingOption missing") }
            func int(_ k: String) throws -> Int {
                guard let v = (o[k] as? NSNumber)?.intValue else { throw GoldenError.badCase(path: c.path, detail: "config.SamplingOption.\(k) missing") }
                return v
            }
            func float(_ k: String) throws -> Float {
                guard let v = (o[k] as? NSNumber)?.floatValue else { throw GoldenError.badCase(path: c.path, detail: "config.SamplingOption.\(k) missing") }
                return v
            }
            func bool(_ k: String) -> Bool { (o[k] as? NSNumber)?.boolValue ?? false }
            guard (o["is_causal_vae"] as? NSNumber)?.boolValue ?? true else {
                throw GoldenError.badCase(path: c.path, detail: "only the causal VAE's geometry is implemented")
            }
            let type = try V2ConditionType(option: c.config["cond_type"] as? String ?? "t2v")
            geometry = try V2LatentGeometry(height: try int("height"), width: try int("width"), frames: try int("num_frames"),
                                            packedChannels: try SamplerCaseFields.int(c, "channel"), patchSize: try SamplerCaseFields.int(c, "patch_size"),
                                            temporalCompression: try int("temporal_reduction"))
            let guidance = V2Guidance(text: try float("guidance"), image: try float("guidance_img"),
                                      textOscillation: bool("text_osci"), imageOscillation: bool("image_osci"),
                                      temporalImageGuidance: bool("scale_temporal_osci"))
            sampler = V2Sampler(steps: try int("num_steps"), guidance: guidance, shift: bool("shift"),
                                shiftAlpha: (o["flow_shift"] as? NSNumber)?.doubleValue)
            seed = UInt64(try SamplerCaseFields.int(c, "seed"))
            let batch = try SamplerCaseFields.int(c, "batch")
            noise = V2Schedule.noise(batch: batch, geometry: geometry, seed: seed)
            let references = SamplerCaseFields.has(c, "ref_latent") ? [[try c.tensor("ref_latent")]] : []
            condition = try V2Condition(type, latentShape: noise.shape, references: references)
        }
    }

    /// b c t (h ph) (w pw) -> b (t h w) (c ph pw): how the reference packs latents for the MMDiT
    /// (the checker's own copy, to read the recorded packed tensors).
    static func pack(_ x: Tensor, patch p: Int) -> Tensor {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3] / p, x.shape[4] / p)
        var out = Tensor(uninitialized: [b, t * h * w, c * p * p])
        let src = x.pointer, dst = out.mutablePointer
        for bi in 0..<b { for ti in 0..<t { for hi in 0..<h { for wi in 0..<w { for ci in 0..<c { for ph in 0..<p { for pw in 0..<p {
            let token = (ti * h + hi) * w + wi, feature = (ci * p + ph) * p + pw
            dst[(bi * t * h * w + token) * c * p * p + feature] = src[(((bi * c + ci) * t + ti) * h * p + hi * p + ph) * w * p + wi * p + pw]
        } } } } } } }
        return out
    }

    /// The inverse of `pack`, to the shape of `like` with its leading axis from `x`.
    static func unpack(_ x: Tensor, like: Tensor, patch p: Int) -> Tensor {
        let (c, t, h, w) = (like.shape[1], like.shape[2], like.shape[3] / p, like.shape[4] / p)
        let b = x.shape[0]
        var out = Tensor(uninitialized: [b, c, t, h * p, w * p])
        let src = x.pointer, dst = out.mutablePointer
        for bi in 0..<b { for ti in 0..<t { for hi in 0..<h { for wi in 0..<w { for ci in 0..<c { for ph in 0..<p { for pw in 0..<p {
            let token = (ti * h + hi) * w + wi, feature = (ci * p + ph) * p + pw
            dst[(((bi * c + ci) * t + ti) * h * p + hi * p + ph) * w * p + wi * p + pw] = src[(bi * t * h * w + token) * c * p * p + feature]
        } } } } } } }
        return out
    }
}
