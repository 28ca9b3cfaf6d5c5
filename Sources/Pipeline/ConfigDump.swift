// The resolved config as YAML in the same schema (every key spelled out), e.g. for
// `generate --print-config`; reading it back gives the same config.

import Foundation
import TensorCore

extension GenerationConfig {
    public func yamlText() -> String {
        var out: [String] = []
        func line(_ indent: Int, _ key: String, _ value: String) { out.append(String(repeating: "  ", count: indent) + key + ": " + value) }
        func q(_ s: String) -> String {  // a JSON string is a valid YAML double-quoted scalar
            let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
            return String(decoding: data, as: UTF8.self).dropFirst().dropLast().description
        }
        func num(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(format: "%.1f", v) : "\(v)" }
        func opt<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "null" }
        func list<T>(_ v: [T], _ f: (T) -> String) -> String { "[" + v.map(f).joined(separator: ", ") + "]" }

        out.append("model:")
        out.append("  text_encoder:")
        let t = textEncoder
        line(2, "type", t.type.rawValue)
        line(2, "path", q(t.path))
        line(2, "tokenizer", opt(t.tokenizer, q))
        line(2, "model_max_length", "\(t.modelMaxLength)")
        line(2, "d_model", "\(t.dModel)")
        line(2, "num_layers", "\(t.numLayers)")
        line(2, "num_heads", "\(t.numHeads)")
        line(2, "d_kv", "\(t.dKV)")
        line(2, "d_ff", "\(t.dFF)")
        line(2, "vocab_size", "\(t.vocabSize)")
        line(2, "relative_attention_num_buckets", "\(t.relativeAttentionNumBuckets)")
        line(2, "relative_attention_max_distance", "\(t.relativeAttentionMaxDistance)")
        line(2, "layer_norm_epsilon", "\(t.layerNormEpsilon)")
        out.append("  denoiser:")
        let d = denoiser
        line(2, "type", d.type.rawValue)
        line(2, "path", q(d.path))
        line(2, "hidden_size", "\(d.hiddenSize)")
        line(2, "depth", "\(d.depth)")
        line(2, "num_heads", "\(d.numHeads)")
        line(2, "patch_size", list(d.patchSize) { "\($0)" })
        line(2, "mlp_ratio", num(d.mlpRatio))
        line(2, "in_channels", "\(d.inChannels)")
        line(2, "caption_channels", "\(d.captionChannels)")
        line(2, "pred_sigma", "\(d.predSigma)")
        if d.type != .stdit {
            line(2, "qk_norm", "\(d.qkNorm)")
            line(2, "input_sq_size", "\(d.inputSqSize)")
        }
        if d.type == .stdit2 { line(2, "qk_norm_legacy", "\(d.qkNormLegacy)") }
        if d.type != .stdit3 { line(2, "no_temporal_pos_emb", "\(d.noTemporalPosEmb)") }
        if d.type == .stdit {
            line(2, "space_scale", num(d.spaceScale))
            line(2, "time_scale", num(d.timeScale))
        }
        out.append("  vae:")
        let v = vae
        line(2, "type", v.type.rawValue)
        line(2, "path", q(v.path))
        if v.temporal != nil { line(2, "micro_frame_size", opt(v.microFrameSize) { "\($0)" }) }
        line(2, "micro_batch_size", "\(v.microBatchSize)")
        out.append("    spatial:")
        line(3, "block_out_channels", list(v.spatial.blockOutChannels) { "\($0)" })
        line(3, "layers_per_block", "\(v.spatial.layersPerBlock)")
        line(3, "norm_num_groups", "\(v.spatial.normNumGroups)")
        line(3, "latent_channels", "\(v.spatial.latentChannels)")
        if let tv = v.temporal {
            out.append("    temporal:")
            line(3, "filters", "\(tv.filters)")
            line(3, "channel_multipliers", list(tv.channelMultipliers) { "\($0)" })
            line(3, "num_res_blocks", "\(tv.numResBlocks)")
            line(3, "num_groups", "\(tv.numGroups)")
            line(3, "temporal_downsample", list(tv.temporalDownsample) { "\($0)" })
            line(3, "latent_channels", "\(tv.latentChannels)")
        }
        out.append("scheduler:")
        let s = scheduler
        line(1, "type", s.type.rawValue)
        line(1, "num_sampling_steps", "\(s.numSamplingSteps)")
        line(1, "num_timesteps", "\(s.numTimesteps)")
        line(1, "cfg_scale", num(s.cfgScale))
        if s.type == .rflow {
            line(1, "use_timestep_transform", "\(s.useTimestepTransform)")
            line(1, "use_discrete_timesteps", "\(s.useDiscreteTimesteps)")
        } else {
            line(1, "cfg_channel", opt(s.cfgChannel) { "\($0)" })
        }
        if s.type == .ddim { line(1, "eta", num(s.eta)) }

        line(0, "resolution", opt(resolution, q))
        line(0, "aspect_ratio", opt(aspectRatio, q))
        line(0, "image_size", opt(imageSize) { list($0) { "\($0)" } })
        line(0, "num_frames", "\(numFrames)")
        line(0, "fps", "\(fps)")
        line(0, "frame_interval", "\(frameInterval)")
        line(0, "save_fps", "\(saveFPS)")
        line(0, "seed", "\(seed)")
        line(0, "batch_size", "\(batchSize)")
        line(0, "num_sample", "\(numSample)")
        line(0, "prompt", prompts.isEmpty ? "null" : list(prompts, q))
        line(0, "prompt_path", opt(promptPath, q))
        line(0, "aes", opt(aes, num))
        line(0, "flow", opt(flow, num))
        line(0, "camera_motion", opt(cameraMotion, q))
        line(0, "reference_path", referencePaths.isEmpty ? "null" : list(referencePaths, q))
        line(0, "mask_strategy", maskStrategies.isEmpty ? "null" : list(maskStrategies, q))
        line(0, "loop", "\(loop)")
        line(0, "condition_frame_length", "\(conditionFrameLength)")
        line(0, "condition_frame_edit", num(conditionFrameEdit))
        line(0, "align", opt(align) { "\($0)" })
        line(0, "dtype", dtype.rawValue)
        line(0, "rng", rng.rawValue)
        line(0, "quantize", quantize.rawValue)
        out.append("output:")
        line(1, "path", q(output.path))
        line(1, "format", output.format.rawValue)
        line(1, "overwrite", "\(output.overwrite)")
        out += cache.yamlLines(list: { "[" + $0.joined(separator: ", ") + "]" }, num: num)
        return out.joined(separator: "\n") + "\n"
    }
}
