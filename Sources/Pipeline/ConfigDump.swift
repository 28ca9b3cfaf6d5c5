// The resolved config as YAML in the same schema (every key spelled out), e.g. for
// `generate --print-config`; reading it back gives the same config.

import Foundation

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
        out += ConfigCoding.yamlLines(textEncoder, key: "text_encoder", level: 1)
        out += ConfigCoding.yamlLines(denoiser, key: "denoiser", level: 1)
        out += ConfigCoding.yamlLines(vae, key: "vae", level: 1)
        out += ConfigCoding.yamlLines(scheduler, key: "scheduler", level: 0)

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
        line(0, "align", opt(align) { "\($0)" })
        line(0, "dtype", dtype.rawValue)
        line(0, "rng", rng.rawValue)
        out += ConfigCoding.yamlLines(output, key: "output", level: 0)
        out += cache.yamlLines(list: { "[" + $0.joined(separator: ", ") + "]" }, num: num)
        return out.joined(separator: "\n") + "\n"
    }
}
