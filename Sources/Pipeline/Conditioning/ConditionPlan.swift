// What conditions each prompt, worked out and checked before any model loads: the prompt's
// JSON options over the config's per-prompt lists, its text per loop, its references (images
// or videos, their latent lengths) and its mask strategy, placed once for every loop so an entry
// that points outside a reference or the video is refused up front, naming prompt and field.

import Foundation
import TensorCore
import VideoIO

public struct PromptConditioning: Sendable {
    /// The prompt's text without its JSON options (loop segments and all).
    public var text: String
    /// The text v1.2 encodes for each loop (score suffixes, cleaning). [loop]
    public var loopPrompts: [String]
    /// Reference files ("" entries never occur; empty = none).
    public var referencePaths: [String]
    /// Each reference's latent length (1 for an image).
    public var referenceLatentFrames: [Int]
    /// The mask_strategy string (the loop appends to it).
    public var maskStrategy: String
}

extension GenerationConfig {
    /// Every prompt's conditioning; errors name the prompt (1-based) and the field.
    /// `videoFrameCount` tells a reference video's frame count (decoded frames may be supplied).
    public func conditioning(prompts: [String], videoFrameCount: (String) throws -> Int) throws -> [PromptConditioning] {
        try prompts.enumerated().map { i, prompt in
            let n = i + 1
            func fail(_ field: String, _ why: String) -> PipelineError { PipelineError("prompt \(n): \(field): \(why)") }
            let options: PromptOptions.Extracted
            do { options = try PromptOptions.extractJSON(prompt) } catch let e as ConditioningError {
                switch e.kind {
                case .assertion where e.message.hasPrefix("Invalid key"):
                    throw fail("JSON options", "\(e.message.dropFirst("Invalid key: ".count).debugDescription) is not an option (only \"reference_path\" and \"mask_strategy\")")
                case .assertion:
                    throw fail("JSON options", "more than one '{' (the options must be one flat JSON object at the end of the prompt)")
                default:
                    throw fail("JSON options", e.message)
                }
            }
            let spec = options.referencePath ?? (i < referencePaths.count ? referencePaths[i] : "")
            let strategy = options.maskStrategy ?? (i < maskStrategies.count ? maskStrategies[i] : "")
            let field = options.maskStrategy != nil ? "mask_strategy (prompt JSON)" : "mask_strategy"
            let pathField = options.referencePath != nil ? "reference_path (prompt JSON)" : "reference_path"
            if options.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw fail("prompt", "no text before the JSON options") }

            let loopPrompts: [String]
            do {
                loopPrompts = try PromptOptions.perLoopPrompts(options.text, loops: loop) { TextStage.preparePrompt($0, config: self) }
            } catch let e as ConditioningError {
                throw fail("prompt", "its loop segments '|k|text' do not parse (\(e.message))")
            }

            let paths = referenceImagePaths(spec)
            var latentFrames: [Int] = []
            for path in paths {
                guard let kind = ReferenceLoader.kind(of: path) else {
                    throw fail(pathField, "'\(path)': unsupported format (images: png, jpg, ...; videos: mp4, avi, mov, mkv)")
                }
                if let why = FileChecks.notRegularFile(path) { throw fail(pathField, "'\(path)': \(why)") }
                guard FileManager.default.isReadableFile(atPath: path) else { throw fail(pathField, "'\(path)' is not readable") }
                switch kind {
                case .image: latentFrames.append(1)
                case .video:
                    let frames: Int
                    do { frames = try videoFrameCount(path) } catch { throw fail(pathField, "'\(path)': \(error)") }
                    latentFrames.append(vae.latentFrames(frames))
                }
            }

            let conditions: [MaskCondition]
            do { conditions = try GenerationConfig.parseMaskStrategy(strategy) } catch let e as ConfigError { throw fail(field, e.message) }
            if !paths.isEmpty && strategy.isEmpty { throw fail(field, "reference_path is set but no mask_strategy says where the references go (e.g. \"0\": the first one at the first frame)") }
            for m in conditions {
                let entry = "'\(m.loop),\(m.referenceIndex),\(m.referenceStart),\(m.targetStart),\(m.length),\(m.editRatio)'"
                guard m.loop < loop else { throw fail(field, "entry \(entry) is for loop \(m.loop), but the run has \(loop) loop(s); it would be ignored") }
                // References by then: the given ones, plus one per earlier loop (append_generated).
                let available = latentFrames + [Int](repeating: latentSize[0], count: m.loop)
                guard m.referenceIndex < available.count else {
                    throw fail(field, "entry \(entry) uses reference #\(m.referenceIndex), but \(m.loop == 0 ? "only \(paths.count) were given" : "loop \(m.loop) has \(available.count)") (reference_path '\(spec)')")
                }
                guard m.length > 0 else { throw fail(field, "entry \(entry) has length \(m.length): it conditions nothing") }
                guard (0...1).contains(m.editRatio) else { throw fail(field, "entry \(entry): edit_ratio must be in 0 ... 1") }
                let placed: MaskStrategy.Placement
                do {
                    placed = try MaskStrategy.place(frames: latentSize[0], referenceFrames: available, conditions: [m], loop: m.loop, align: align)
                } catch let e as ConditioningError {
                    throw fail(field, "entry \(entry) points outside reference #\(m.referenceIndex) (\(available[m.referenceIndex]) latent frames) or the video (\(latentSize[0]) latent frames): \(e.message)")
                }
                guard placed.sources.contains(where: { $0 != nil }) else {
                    throw fail(field, "entry \(entry) places no frame: after negative indices\(align.map { " and align \($0)" } ?? "") it points outside reference #\(m.referenceIndex) (\(available[m.referenceIndex]) latent frames) or the video (\(latentSize[0]) latent frames)")
                }
            }
            return PromptConditioning(text: options.text, loopPrompts: loopPrompts, referencePaths: paths,
                                      referenceLatentFrames: latentFrames, maskStrategy: strategy)
        }
    }

    /// Frames of the whole video: the first loop's, then each later loop's minus the
    /// dframe_to_frame(condition_frame_length) frames it shares with the one before.
    public var totalFrames: Int {
        guard loop > 1, let dropped = try? MaskStrategy.pixelFrames(latentFrames: conditionFrameLength) else { return numFrames }
        return numFrames + (loop - 1) * max(0, numFrames - dropped)
    }
}
