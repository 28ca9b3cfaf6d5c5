// The two spellings of the same 2D autoencoder's tensor names: diffusers' AutoencoderKL
// ("encoder.down_blocks.0.resnets.1", decoder levels deepest first) and the original LDM / Flux
// AutoEncoder ("encoder.down.0.block.1", decoder levels indexed like the encoder, finest first).
// The layers are identical; only the names differ, so one model reads both.

import Weights

public enum AutoencoderKLNames: Sendable, Equatable {
    /// diffusers AutoencoderKL (SD / SDXL VAE).
    case diffusers
    /// LDM / Flux AutoEncoder (Open-Sora 2.0's `autoencoder_2d`, flux1-dev ae.safetensors).
    case ldm

    /// The spelling a checkpoint uses (by its conv_in and level-0 names).
    public static func detect(in store: WeightStore) -> AutoencoderKLNames {
        store.contains("encoder.down.0.block.0.conv1.weight") ? .ldm : .diffusers
    }

    /// Encoder level `i` (finest first).
    func encoderLevel(_ i: Int) -> String { self == .diffusers ? "encoder.down_blocks.\(i)" : "encoder.down.\(i)" }
    /// Decoder level `i` counted deepest first, of `levels`.
    func decoderLevel(_ i: Int, of levels: Int) -> String {
        self == .diffusers ? "decoder.up_blocks.\(i)" : "decoder.up.\(levels - 1 - i)"
    }
    func resnet(_ level: String, _ j: Int) -> String { self == .diffusers ? "\(level).resnets.\(j)" : "\(level).block.\(j)" }
    func downsampler(_ level: String) -> String { self == .diffusers ? level + ".downsamplers.0" : level + ".downsample" }
    func upsampler(_ level: String) -> String { self == .diffusers ? level + ".upsamplers.0" : level + ".upsample" }
    func mid(_ part: String) -> String { self == .diffusers ? part + ".mid_block" : part + ".mid" }
    /// The mid block's first (0) and second (1) resnet.
    func midResnet(_ mid: String, _ j: Int) -> String { self == .diffusers ? "\(mid).resnets.\(j)" : "\(mid).block_\(j + 1)" }
    func midAttention(_ mid: String) -> String { self == .diffusers ? mid + ".attentions.0" : mid + ".attn_1" }
    var shortcut: String { self == .diffusers ? "conv_shortcut" : "nin_shortcut" }
    func normOut(_ part: String) -> String { self == .diffusers ? part + ".conv_norm_out" : part + ".norm_out" }
    /// Attention parts: norm, q, k, v, out (legacy diffusers names are tried by the layer).
    var attentionParts: (norm: String, q: String, k: String, v: String, out: String) {
        self == .diffusers ? ("group_norm", "to_q", "to_k", "to_v", "to_out.0") : ("norm", "q", "k", "v", "proj_out")
    }
}
