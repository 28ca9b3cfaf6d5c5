// A strict reader over a YAML mapping: typed getters that name the key and line on a type error,
// and `finish()`, which rejects every key nobody asked for (so typos are errors, not silence).

import Yams

/// A value as written: absent, written as null, or given.
enum Setting<T> {
    case absent
    case null
    case value(T)

    /// The given value; `fallback` when absent; nil when written as null.
    func or(_ fallback: T?) -> T? {
        switch self {
        case .absent: return fallback
        case .null: return nil
        case .value(let v): return v
        }
    }
}

/// Line of every key read so far, by qualified key ("scheduler.cfg_scale"), for later messages.
final class KeyLines {
    var lines: [String: Int] = [:]
    /// Keys whose values came from command-line flags: their errors name the command line.
    var commandLine: Set<String> = []
}

final class YAMLSection {
    let source: String
    let path: String
    let line: Int?
    let keyLines: KeyLines
    private var entries: [(key: String, value: Node, line: Int?)] = []
    private var used: Set<String> = []

    /// `node` must be a mapping (or null, read as empty).
    init(source: String, path: String, node: Node?, keyLines: KeyLines = KeyLines()) throws {
        self.source = source
        self.path = path
        self.keyLines = keyLines
        line = node?.mark.map { $0.line }
        guard let node else { return }
        if node.tag.description == Tag.Name.null.rawValue { return }
        guard let mapping = node.mapping else {
            throw ConfigError(source: source, line: line, key: path.isEmpty ? nil : path, "expected a mapping of keys to values")
        }
        var seen = Set<String>()
        for (k, v) in mapping {
            guard let key = k.scalar?.string else {
                throw ConfigError(source: source, line: k.mark?.line, key: path.isEmpty ? nil : path, "keys must be plain names")
            }
            guard seen.insert(key).inserted else {
                throw ConfigError(source: source, line: k.mark?.line, key: qualified(key), "key appears twice")
            }
            entries.append((key, v, k.mark?.line))
        }
    }

    func qualified(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func lineOf(_ key: String) -> Int? { entries.first { $0.key == key }?.line }

    func error(_ key: String, _ message: String) -> ConfigError {
        if keyLines.commandLine.contains(qualified(key)) { return ConfigError(source: "command line", key: qualified(key), message) }
        return ConfigError(source: source, line: lineOf(key) ?? line, key: qualified(key), message)
    }

    /// The raw node, marking the key as known.
    func node(_ key: String) -> Node? {
        used.insert(key)
        guard let entry = entries.first(where: { $0.key == key }) else { return nil }
        if let line = entry.line, !keyLines.commandLine.contains(qualified(key)) { keyLines.lines[qualified(key)] = line }
        return entry.value
    }

    private func scalar(_ key: String) throws -> Setting<(text: String, tag: String)> {
        guard let n = node(key) else { return .absent }
        guard let s = n.scalar else { throw error(key, "expected a single value, got a \(n.mapping != nil ? "mapping" : "list")") }
        let tag = n.tag.description
        if tag == Tag.Name.null.rawValue { return .null }
        return .value((s.string, tag))
    }

    /// An integer; with `names` (a key's named values, `ConfigCoding.namedInts`) also one of the
    /// names, or a count written as a string (a flag's value).
    func int(_ key: String, names: [String: Int]? = nil) throws -> Setting<Int> {
        switch try scalar(key) {
        case .absent: return .absent
        case .null: return .null
        case .value(let s):
            if let names, let v = names[s.text] ?? Int(s.text.trimmingCharacters(in: .whitespaces)) { return .value(v) }
            guard s.tag == Tag.Name.int.rawValue, let v = Int(s.text.replacingOccurrences(of: "_", with: "")) else {
                let named = names.map { " or one of \($0.keys.sorted().joined(separator: ", "))" } ?? ""
                throw error(key, "expected an integer\(named), got '\(s.text)'")
            }
            return .value(v)
        }
    }

    func double(_ key: String) throws -> Setting<Double> {
        switch try scalar(key) {
        case .absent: return .absent
        case .null: return .null
        case .value(let s):
            guard s.tag == Tag.Name.int.rawValue || s.tag == Tag.Name.float.rawValue,
                  let v = Double(s.text.replacingOccurrences(of: "_", with: "")), v.isFinite else {
                throw error(key, "expected a number, got '\(s.text)'")
            }
            return .value(v)
        }
    }

    func bool(_ key: String) throws -> Setting<Bool> {
        switch try scalar(key) {
        case .absent: return .absent
        case .null: return .null
        case .value(let s):
            switch s.text.lowercased() {
            case "true", "yes", "on": return .value(true)
            case "false", "no", "off": return .value(false)
            default: throw error(key, "expected true or false, got '\(s.text)'")
            }
        }
    }

    /// Any scalar, as written (so `aspect_ratio: 9:16` stays "9:16", not YAML 1.1's base-60 556).
    func string(_ key: String) throws -> Setting<String> {
        switch try scalar(key) {
        case .absent: return .absent
        case .null: return .null
        case .value(let s): return .value(s.text)
        }
    }

    /// A string or a list of strings.
    func strings(_ key: String) throws -> Setting<[String]> {
        guard let n = node(key) else { return .absent }
        if n.scalar != nil {
            return try string(key).map { [$0] }
        }
        guard let seq = n.sequence else { throw error(key, "expected a string or a list of strings") }
        return .value(try seq.map { item in
            guard let s = item.scalar, item.tag.description != Tag.Name.null.rawValue else {
                throw error(key, "expected a list of strings")
            }
            return s.string
        })
    }

    func ints(_ key: String) throws -> Setting<[Int]> {
        guard let n = node(key) else { return .absent }
        if n.tag.description == Tag.Name.null.rawValue { return .null }
        guard let seq = n.sequence else { throw error(key, "expected a list of integers") }
        return .value(try seq.map { item in
            guard let s = item.scalar, item.tag.description == Tag.Name.int.rawValue,
                  let v = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
                throw error(key, "expected a list of integers, got '\(item.scalar?.string ?? "a nested value")'")
            }
            return v
        })
    }

    func doubles(_ key: String) throws -> Setting<[Double]> {
        guard let n = node(key) else { return .absent }
        if n.tag.description == Tag.Name.null.rawValue { return .null }
        guard let seq = n.sequence else { throw error(key, "expected a list of numbers") }
        return .value(try seq.map { item in
            let tag = item.tag.description
            guard let s = item.scalar, tag == Tag.Name.int.rawValue || tag == Tag.Name.float.rawValue,
                  let v = Double(s.string.replacingOccurrences(of: "_", with: "")), v.isFinite else {
                throw error(key, "expected a list of numbers, got '\(item.scalar?.string ?? "a nested value")'")
            }
            return v
        })
    }

    func bools(_ key: String) throws -> Setting<[Bool]> {
        guard let n = node(key) else { return .absent }
        if n.tag.description == Tag.Name.null.rawValue { return .null }
        guard let seq = n.sequence else { throw error(key, "expected a list of true/false values") }
        return .value(try seq.map { item in
            switch item.scalar?.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw error(key, "expected a list of true/false values, got '\(item.scalar?.string ?? "a nested value")'")
            }
        })
    }

    /// A nested mapping; nil when absent or null.
    func section(_ key: String) throws -> YAMLSection? {
        guard let n = node(key) else { return nil }
        return try YAMLSection(source: source, path: qualified(key), node: n, keyLines: keyLines)
    }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    /// Keys present in the file that nobody read.
    func finish() throws {
        if let unknown = entries.first(where: { !used.contains($0.key) }) {
            let known = used.sorted().joined(separator: ", ")
            let hint = referenceKeyHints[unknown.key].map { "; " + $0 } ?? ""
            throw ConfigError(source: source, line: unknown.line, key: qualified(unknown.key),
                              "unknown key\(hint) (known here: \(known))")
        }
    }
}

extension Setting {
    func map<U>(_ f: (T) throws -> U) rethrows -> Setting<U> {
        switch self {
        case .absent: return .absent
        case .null: return .null
        case .value(let v): return .value(try f(v))
        }
    }
}

/// Keys of Open-Sora's Python configs that have no place here, with what to do instead.
private let referenceKeyHints: [String: String] = [
    "from_pretrained": "it is called 'path' here",
    "save_dir": "use output.path",
    "sample_name": "use output.path",
    "enable_flash_attn": "a GPU-only switch of the reference: leave it out",
    "enable_layernorm_kernel": "a GPU-only switch of the reference: leave it out",
    "enable_sequence_parallelism": "a GPU-only switch of the reference: leave it out",
    "multi_resolution": "implied by the denoiser type: leave it out",
    "cache_dir": "models are found by local path or in the Hugging Face cache: leave it out",
    "local_files_only": "models are always loaded locally: leave it out",
    // Open-Sora 2.0's names (configs/diffusion/inference/256px.py).
    "sampling_option": "Open-Sora 2.0's sampling options are scheduler (type v2: num_sampling_steps, guidance, guidance_img, text_osci, image_osci, scale_temporal_osci, shift, flow_shift) and the top-level resolution, aspect_ratio, num_frames, seed",
    "num_steps": "it is scheduler.num_sampling_steps here",
    "fps_save": "it is save_fps here",
    "ae": "it is model.vae here (type hunyuan_vae or dc_ae)",
    "t5": "it is model.text_encoder here",
    "guidance_embed": "a Flux-dev setting: Open-Sora 2.0's MMDiT has none; leave it out",
    "fused_qkv": "read off the checkpoint: leave it out",
    "use_liger_rope": "a GPU kernel switch (the RoPE is rotate-half either way): leave it out",
]
// Model sizes: every model reads them off its checkpoint.
.merging(["hidden_size", "depth", "patch_size", "mlp_ratio", "in_channels", "caption_channels", "pred_sigma", "qk_norm",
          "d_model", "num_layers", "num_heads", "d_kv", "d_ff", "vocab_size", "relative_attention_num_buckets",
          "block_out_channels", "layers_per_block", "latent_channels", "filters", "channel_multipliers", "num_res_blocks",
          "temporal_downsample"].map { ($0, "the model reads it off its checkpoint: leave it out") }) { a, _ in a }
