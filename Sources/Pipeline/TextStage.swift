// Stage 1: prompts -> T5 hidden states. The tokenizer and encoder live only inside `run`, so
// their memory (9.5 GB of bf16 weights for T5-XXL) is released before the denoiser loads.

import Foundation
import TensorCore
import Weights
import T5

/// Text conditioning for N prompts.
public struct TextEmbeddings: Sendable {
    /// T5 last hidden states. [N, L, C]
    public var states: Tensor
    /// [N][L]: true for real tokens (incl. </s>), false for padding.
    public var masks: [[Bool]]

    /// Rows `range` of the batch.
    public func rows(_ range: Range<Int>) -> TextEmbeddings {
        TextEmbeddings(states: states.slice(range), masks: Array(masks[range]))
    }
}

public enum TextStage {
    /// The prompt exactly as v1.2 encodes it: score suffixes appended, then `text_preprocessing`.
    public static func preparePrompt(_ prompt: String, config: GenerationConfig) -> String {
        CaptionCleaner.preprocess(config.promptWithSuffixes(prompt))
    }

    /// Encodes every prompt (in groups of `batchSize`).
    public static func run(prompts: [String], config: GenerationConfig) throws -> TextEmbeddings {
        try run(preparedPrompts: prompts.map { preparePrompt($0, config: config) }, config: config)
    }

    /// Encodes texts already prepared (`preparePrompt`, or a loop's segment of a prepared prompt).
    public static func run(preparedPrompts prompts: [String], config: GenerationConfig) throws -> TextEmbeddings {
        let te = config.textEncoder
        let (tokenizer, encoder) = try openT5(config: config)
        var states: [Tensor] = []
        var masks: [[Bool]] = []
        let group = max(1, config.batchSize)
        for start in stride(from: 0, to: prompts.count, by: group) {
            let texts = Array(prompts[start..<min(start + group, prompts.count)])
            let tokens = try tokenizer.encode(texts, maxLength: te.modelMaxLength)
            states.append(try encoder.encode(tokens))                       // [b, L, C]
            masks += tokens.mask.map { $0.map { $0 != 0 } }
        }
        ScratchArena.shared.releaseAll()
        return TextEmbeddings(states: states.count == 1 ? states[0] : concat(states, axis: 0), masks: masks)
    }

    /// The configured T5's tokenizer and encoder (weights memory-mapped; architecture read off them).
    static func openT5(config: GenerationConfig) throws -> (T5Tokenizer, T5Encoder) {
        let weightsPath = try self.weightsPath(config: config)
        let tokenizerPath = try config.textEncoder.tokenizer ?? locateTokenizer(near: weightsPath)
        let store = try Checkpoint.open(weightsPath)
        let encoder = try T5Encoder(weights: store, config: try architecture(store, config: config))
        // Sentinel ids: released T5 tokenizers add 100 <extra_id_N> pieces after the model's own,
        // when the embedding table has room for them (32000 + 100 <= 32128).
        let probe = try T5Tokenizer(modelPath: tokenizerPath)
        let tokenizer = probe.pieceCount + 100 <= encoder.config.vocabSize ? try T5Tokenizer(modelPath: tokenizerPath, extraIds: 100) : probe
        return (tokenizer, encoder)
    }

    /// The configured T5's architecture: its tensors' sizes, with the two settings no tensor shows.
    static func architecture(config: GenerationConfig) throws -> T5Config {
        try architecture(try Checkpoint.open(try weightsPath(config: config)), config: config)
    }

    static func architecture(_ store: WeightStore, config: GenerationConfig) throws -> T5Config {
        let te = config.textEncoder
        return try T5Config.infer(from: store, maxDistance: te.relativeAttentionMaxDistance, eps: Float(te.layerNormEpsilon))
    }

    static func weightsPath(config: GenerationConfig) throws -> String {
        try WeightLocator.resolve(config.textEncoder.path, component: "t5-v1_1-xxl", option: "model.text_encoder.path")
    }

    /// `spiece.model` beside the weights (a folder, or the folder of a weights file).
    static func locateTokenizer(near weights: String) throws -> String {
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: weights, isDirectory: &isDir)
        let dir = isDir.boolValue ? weights : (weights as NSString).deletingLastPathComponent
        let candidate = (dir.isEmpty ? "." : dir) + "/spiece.model"
        guard FileManager.default.fileExists(atPath: candidate) else {
            throw PipelineError("model.text_encoder.tokenizer: no spiece.model found beside '\(weights)'; set the tokenizer path in the config")
        }
        return candidate
    }
}
