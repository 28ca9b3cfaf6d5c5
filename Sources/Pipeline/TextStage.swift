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

    /// The configured T5's tokenizer and encoder (weights memory-mapped, checked against the config).
    static func openT5(config: GenerationConfig) throws -> (T5Tokenizer, T5Encoder) {
        let te = config.textEncoder
        let weightsPath = try WeightLocator.resolve(te.path, component: "t5-v1_1-xxl", option: "model.text_encoder.path")
        let tokenizerPath = try te.tokenizer ?? locateTokenizer(near: weightsPath)
        let store = try Checkpoint.open(weightsPath)
        let expected = T5Config(vocabSize: te.vocabSize, dModel: te.dModel, heads: te.numHeads, dKV: te.dKV, dFF: te.dFF,
                                layers: te.numLayers, buckets: te.relativeAttentionNumBuckets,
                                maxDistance: te.relativeAttentionMaxDistance, eps: Float(te.layerNormEpsilon))
        let encoder = try T5Encoder(weights: store, config: expected)
        // Sentinel ids: released T5 tokenizers add 100 <extra_id_N> pieces after the model's own,
        // when the embedding table has room for them (32000 + 100 <= 32128).
        let probe = try T5Tokenizer(modelPath: tokenizerPath)
        let tokenizer = probe.pieceCount + 100 <= te.vocabSize ? try T5Tokenizer(modelPath: tokenizerPath, extraIds: 100) : probe
        return (tokenizer, encoder)
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
