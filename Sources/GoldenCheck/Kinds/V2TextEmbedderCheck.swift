// Golden checkers for Open-Sora 2.0's text conditioner (HFEmbedder), kinds 'v2_clip_embedder'
// and 'v2_t5_embedder': tokenize config.prompts as HFEmbedder does, compare the ids exactly,
// then run the model on them and compare its outputs at the case's tolerance.

import CLIP
import Foundation
import T5
import TensorCore

enum V2CLIPEmbedderCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let prompts = try V2TextCase.prompts(c)
        let modelConfig = c.config["CLIPTextConfig"] as? [String: Any] ?? [:]
        let model = try CLIPTextModel(weights: try c.modelWeights(override: options.weights),
                                      heads: (modelConfig["num_attention_heads"] as? NSNumber)?.intValue)
        let tokenizer = try CLIPTokenizer(vocabularyPath: c.file(try CLIPTokenizerCheck.vocabularyFile(c)))
        let maxLength = try V2TextCase.maxLength(c)
        let embedder = try CLIPTextEmbedder(tokenizer: tokenizer, model: model, maxLength: maxLength)
        let ids = try embedder.tokenIds(prompts)
        var results = CaseResults(c)
        results.all.append(OutputCheck(name: "input_ids", got: ids.flatMap { $0 }, expected: try c.io().integers("input_ids")))
        let out = try model(ids)
        results.all.append(OutputCheck(name: "eos_index", got: out.poolIndex, expected: try c.io().integers("eos_index")))
        try results.check("last_hidden_state", out.lastHiddenState)
        try results.check("pooler_output", try embedder(prompts))
        return results.all
    }
}

enum V2T5EmbedderCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let prompts = try V2TextCase.prompts(c)
        let tokenizerConfig = c.config["tokenizer"] as? [String: Any] ?? [:]
        guard let spiece = tokenizerConfig["spiece_model"] as? String else {
            throw GoldenError.badCase(path: c.path, detail: "config.tokenizer.spiece_model missing")
        }
        let tokenizer = try T5Tokenizer(modelPath: c.file(spiece), extraIds: (tokenizerConfig["extra_ids"] as? NSNumber)?.intValue ?? 0)
        let embedder = try T5TextEmbedder(tokenizer: tokenizer, encoder: try T5Encoder(weights: try c.modelWeights(override: options.weights)),
                                          maxLength: try V2TextCase.maxLength(c))
        let tokens = try embedder.tokens(prompts)
        var results = CaseResults(c)
        results.all.append(OutputCheck(name: "input_ids", got: tokens.ids.flatMap { $0 }, expected: try c.io().integers("input_ids")))
        try results.check("last_hidden_state", try embedder(prompts))
        return results.all
    }
}

enum V2TextCase {
    static func prompts(_ c: GoldenCase) throws -> [String] {
        guard let p = c.config["prompts"] as? [String], !p.isEmpty else { throw GoldenError.badCase(path: c.path, detail: "config.prompts missing or empty") }
        return p
    }

    static func maxLength(_ c: GoldenCase) throws -> Int {
        guard let e = c.config["HFEmbedder"] as? [String: Any], let n = (e["max_length"] as? NSNumber)?.intValue else {
            throw GoldenError.badCase(path: c.path, detail: "config.HFEmbedder.max_length missing")
        }
        return n
    }
}
