// Reading a GenerationConfig from YAML and checking every value.

import Foundation
import Samplers
import TensorCore
import Yams

extension GenerationConfig {
    static let maxConfigBytes = 1 << 20

    /// Reads and checks a config file.
    public static func load(path: String) throws -> GenerationConfig {
        let text: String
        do {
            text = try FileChecks.readText(path, what: "config file", maxBytes: maxConfigBytes)
        } catch let e as FileCheckError {
            throw ConfigError(source: path, key: nil, e.reason)
        }
        var config = try parse(yaml: text, source: path)
        config.resolveModelPaths(relativeTo: (path as NSString).deletingLastPathComponent)
        return config
    }

    /// Relative model paths are read from the current directory, as Open-Sora does; one that names
    /// nothing there but exists beside the config file is taken from there, so a config that ships
    /// with its weights (configs/demo.yaml: `../models/demo/...`) works from any directory.
    mutating func resolveModelPaths(relativeTo configDir: String) {
        func resolved(_ path: String) -> String {
            let fm = FileManager.default
            guard !path.hasPrefix("/"), !fm.fileExists(atPath: path) else { return path }
            let candidate = ((configDir.isEmpty ? "." : configDir) as NSString).appendingPathComponent(path)
            return fm.fileExists(atPath: candidate) ? (candidate as NSString).standardizingPath : path
        }
        textEncoder.path = resolved(textEncoder.path)
        textEncoder.tokenizer = textEncoder.tokenizer.map(resolved)
        denoiser.path = resolved(denoiser.path)
        vae.path = resolved(vae.path)
        clip.path = resolved(clip.path)
        clip.vocabulary = clip.vocabulary.map(resolved)
    }

    /// Bounds a config before the YAML library sees it: its node builder recurses once per
    /// nesting level, and a few thousand `[` overflow the stack (found by `make fuzz`).
    static func checkSize(_ yaml: String, source: String) throws {
        let maxBytes = maxConfigBytes, maxDepth = 64
        guard yaml.utf8.count <= maxBytes else {
            throw ConfigError(source: source, key: nil, "config is \(yaml.utf8.count) bytes; the limit is \(maxBytes)")
        }
        var depth = 0, deepest = 0, line = 1, quote: UInt8? = nil, comment = false
        for b in yaml.utf8 {
            if b == UInt8(ascii: "\n") { line += 1; comment = false; continue }
            if comment { continue }
            if let q = quote { if b == q { quote = nil }; continue }
            switch b {
            case UInt8(ascii: "#"): comment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = b
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
                if depth > maxDepth { throw ConfigError(source: source, line: line, key: nil, "nested more than \(maxDepth) levels deep") }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        // Block nesting: every level indents at least one column.
        for (i, l) in yaml.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indent = l.prefix { $0 == " " }.count
            if indent > 4 * maxDepth { throw ConfigError(source: source, line: i + 1, key: nil, "indented more than \(4 * maxDepth) columns") }
        }
    }

    /// Parses and checks YAML text; `source` names it in errors.
    public static func parse(yaml: String, source: String) throws -> GenerationConfig {
        try checkSize(yaml, source: source)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let e as YamlError {
            throw ConfigError(source: source, key: nil, "not valid YAML: \(yamlProblem(e))")
        }
        let keyLines = KeyLines()
        let top = try YAMLSection(source: source, path: "", node: root, keyLines: keyLines)
        var c = try ConfigCoding.decode(GenerationConfig.self, from: top, defaults: GenerationConfig())
        for key in c.inapplicableKeys.sorted() {
            let parts = key.split(separator: ".").map(String.init)
            let holder = try parts.dropLast().reduce(Optional(top)) { section, name in try section?.section(name) }
            if let holder, holder.has(parts.last!) { throw holder.error(parts.last!, c.inapplicableKeyError(key)) }
        }
        // Defaults that follow other keys: the family's text length, save_fps = fps // frame_interval.
        let given = { (key: String) in keyLines.lines[key] != nil }
        if !given("model.text_encoder.model_max_length") { c.textEncoder.modelMaxLength = c.denoiser.type.defaultTextLength }
        if !given("save_fps") { c.saveFPS = c.fps / max(c.frameInterval, 1) }
        if c.seed == GenerationConfig.randomSeed { c.seed = GenerationConfig.drawSeed() }

        c.provenance = Provenance(source: source, lines: keyLines.lines, overridden: [])
        try c.validate()
        return c
    }

    /// Checks every value and combination; errors name the key and where it was set.
    public func validate() throws {
        let check = provenance.checker
        try textEncoder.validate(check)
        try denoiser.validate(check)
        try vae.validate(check)
        try scheduler.validate(check)
        if denoiser.type.isOpenSora2 {
            try validateOpenSora2(check)
        } else {
            try validateOpenSora1(check)
        }

        try check.range("num_frames", numFrames, 1...4096)
        if scheduler.type == .rflow && scheduler.useTimestepTransform && (2...16).contains(numFrames) {
            throw check.error("num_frames", "\(numFrames) frames break the rflow timestep transform (it uses num_frames // 17 * 5 = 0, a 0/0 in the reference); use 1 or at least 17 frames, or set scheduler.use_timestep_transform: false")
        }
        try validateCommon(check)
    }

    /// Open-Sora 1.x: the models' channels agree, and the size comes from the v1.2 tables.
    func validateOpenSora1(_ check: ConfigChecker) throws {
        for (key, v2) in [("scheduler.type", scheduler.type == .v2), ("model.vae.type", vae.type.isOpenSora2)] where v2 {
            throw check.error(key, "is Open-Sora 2.0's; model.denoiser.type \(denoiser.type.rawValue) is Open-Sora 1.x (use mmdit, or configs/opensora-v2.0-256px.yaml)")
        }

        if let imageSize {
            guard imageSize.count == 2 else { throw check.error("image_size", "expected [H, W], got \(imageSize)") }
            for v in imageSize { try check.range("image_size", v, 8...8192) }
        } else {
            let presets = OpenSoraTables.sizes.map(\.key)
            guard let resolution else { throw check.error("resolution", "set resolution and aspect_ratio, or image_size") }
            guard presets.contains(resolution) else {
                throw check.error("resolution", "unknown preset '\(resolution)' (known: \(presets.joined(separator: ", ")))")
            }
            let ratios = OpenSoraTables.aspectRatioKeys.map(\.key)
            guard let aspectRatio else { throw check.error("aspect_ratio", "set aspect_ratio (H:W) with resolution, or image_size") }
            guard ratios.contains(aspectRatio) else {
                throw check.error("aspect_ratio", "unknown aspect ratio '\(aspectRatio)' (H:W; known: \(ratios.joined(separator: ", ")))")
            }
            guard resolvedSize() != nil else {
                let table = OpenSoraTables.sizes.first { $0.key == resolution }?.value ?? [:]
                let available = OpenSoraTables.aspectRatioKeys.filter { table[$0.value] != nil }.map(\.key)
                throw check.error("aspect_ratio", "\(aspectRatio) is not available at resolution \(resolution) (available: \(available.joined(separator: ", ")))")
            }
        }
        guard latentSize[1] >= 1, latentSize[2] >= 1 else {
            throw check.error("image_size", "\(height) x \(width) is smaller than one latent pixel (\(vae.spatialDownsample) pixels)")
        }
    }

    /// Open-Sora 2.0: its own sampler and autoencoders, 2.0's size names, frame counts the VAE
    /// decodes exactly, a known condition type with its reference.
    func validateOpenSora2(_ check: ConfigChecker) throws {
        guard scheduler.type == .v2 else {
            throw check.error("scheduler.type", "is \(scheduler.type.rawValue), but the mmdit denoiser samples with Open-Sora 2.0's sampler: use v2")
        }
        guard vae.type.isOpenSora2 else {
            throw check.error("model.vae.type", "is \(vae.type.rawValue), but the mmdit denoiser works on Open-Sora 2.0's latents: use hunyuan_vae or dc_ae")
        }
        if cache.method != .none { throw check.error("cache.method", inapplicableKeyError("cache")) }
        try clip.validate(check)
        if let imageSize {
            guard imageSize.count == 2 else { throw check.error("image_size", "expected [H, W], got \(imageSize)") }
            for v in imageSize { try check.range("image_size", v, 16...8192) }
        } else {
            let given = { (v: String?) in v.map { "'" + $0 + "'" } ?? "null" }
            guard let resolution, OpenSora2Sizes.pixels(resolution) != nil else {
                throw check.error("resolution", "expected an Open-Sora 2.0 size name such as 256px or 768px, got \(given(resolution))")
            }
            guard resolvedSize() != nil else {
                throw check.error("aspect_ratio", "expected a width:height ratio of Open-Sora 2.0 (\(OpenSora2Sizes.aspectRatioNames.joined(separator: ", "))) available at \(resolution), got \(given(aspectRatio))")
            }
        }
        // HunyuanVideo's causal VAE decodes 4(T-1)+1 frames; the DC-AE decodes 4T (the reference
        // computes T = (frames - 1) // 4 + 1 for both, so other counts lose or pad frames).
        if vae.type == .dcAE {
            guard numFrames == 1 || numFrames % 4 == 0 else {
                let k = numFrames / 4
                throw check.error("num_frames", "\(numFrames): the DC-AE decodes 4 frames per latent frame, so Open-Sora 2.0's high-compression model takes 1 or a multiple of 4 frames (e.g. \(max(4, 4 * k)), \(4 * k + 4); 128 in its config)")
            }
        } else {
            guard (numFrames - 1) % 4 == 0 else {
                let k = (numFrames - 1) / 4
                throw check.error("num_frames", "\(numFrames): Open-Sora 2.0's causal VAE needs 4k+1 frames (1, 5, 9, ..., 33, ..., 129), e.g. \(4 * k + 1) or \(4 * k + 5)")
            }
        }
        let type: V2ConditionType
        do { type = try V2ConditionType(option: condType) } catch { throw check.error("cond_type", "\(error)") }
        if type == .t2v {
            if !ref.isEmpty { throw check.error("ref", "cond_type t2v uses no reference; set cond_type (i2v_head, i2v_tail, i2v_loop, v2v_head, ...) or drop ref") }
        } else if ref.isEmpty {
            throw check.error("cond_type", "\(condType) needs a reference image or video: give --ref PATH (ref)")
        }
        if !prompts.isEmpty && ref.count > 1 && ref.count != prompts.count {
            throw check.error("ref", "has \(ref.count) entries for \(prompts.count) prompts (one for every prompt, or one per prompt)")
        }
        if let empty = ref.firstIndex(where: { $0.isEmpty }) { throw check.error("ref", "entry \(empty + 1) is empty") }
        if let motionScore { try check.range("motion_score", motionScore, 0...100) }
    }

    func validateCommon(_ check: ConfigChecker) throws {
        try check.range("fps", fps, 1...1000)
        try check.range("frame_interval", frameInterval, 1...100)
        try check.range("save_fps", saveFPS, 1...1000)
        try check.range("seed", seed, 0...Int.max)
        try check.range("batch_size", batchSize, 1...1024)
        try check.range("num_sample", numSample, 1...10000)

        if let empty = prompts.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw check.error("prompt", "prompt \(empty + 1) is empty; give the text to generate")
        }
        if let promptPath { try check.nonEmpty("prompt_path", promptPath) }
        if let aes { try check.range("aes", aes, 0...10) }
        if let flow { try check.range("flow", flow, 0...1000) }
        if let cameraMotion {
            try check.nonEmpty("camera_motion", cameraMotion)
            guard !cameraMotion.contains(where: \.isNewline) else { throw check.error("camera_motion", "must be one line") }
        }
        if !prompts.isEmpty {
            for (key, list) in [("reference_path", referencePaths), ("mask_strategy", maskStrategies)] where !list.isEmpty && list.count != prompts.count {
                throw check.error(key, "has \(list.count) entries for \(prompts.count) prompts (one per prompt; \"\" for none)")
            }
        }
        try check.range("loop", loop, 1...1000)
        try check.range("condition_frame_length", conditionFrameLength, 0...1000)
        if loop > 1 && conditionFrameLength % 5 != 0 {
            throw check.error("condition_frame_length", "must be a multiple of 5 latent frames when loop > 1, got \(conditionFrameLength)")
        }
        try check.range("condition_frame_edit", conditionFrameEdit, 0...1)
        if loop > 1 {
            // Each later loop conditions its first condition_frame_length latent frames on the
            // previous loop's end and drops the matching dframe_to_frame(...) pixel frames.
            let carried = (try? MaskStrategy.pixelFrames(latentFrames: conditionFrameLength)) ?? 0
            if conditionFrameLength < 1 || conditionFrameLength >= latentSize[0] || carried >= numFrames {
                // The fewest frames with which this condition_frame_length leaves each loop something new.
                let fewest = conditionFrameLength < 1 ? nil
                    : (numFrames...4096).first { vae.latentFrames($0) > conditionFrameLength && carried < $0 }
                let remedy = fewest.map { ": raise num_frames to \($0) or more, or lower condition_frame_length" } ?? ""
                throw check.error("condition_frame_length", "with loop > 1 it must be 5, 10, ... and below the \(latentSize[0]) latent frames of num_frames \(numFrames) (so each loop adds frames), got \(conditionFrameLength)\(remedy)")
            }
        }
        for m in maskStrategies {
            let conditions: [MaskCondition]
            do { conditions = try Self.parseMaskStrategy(m) } catch let e as ConfigError { throw check.error("mask_strategy", e.message) }
            if let late = conditions.first(where: { $0.loop >= loop }) {
                throw check.error("mask_strategy", "'\(m)': a condition for loop \(late.loop), but the run has \(loop) loop\(loop == 1 ? "" : "s") (0 ... \(loop - 1)); it would be ignored")
            }
        }
        if let align { try check.range("align", align, 1...1000) }

        try cache.validate(check)
        try check.nonEmpty("output.path", output.path)
        if let ext = outputExtension, output.format != .auto, ext != output.format {
            throw check.error("output.format", "is \(output.format.rawValue) but output.path '\(output.path)' ends in .\(ext.rawValue)")
        }
    }
}

private func yamlProblem(_ e: YamlError) -> String {
    switch e {
    case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
        return "\(problem) at line \(mark.line)"
    default:
        return "\(e)"
    }
}
