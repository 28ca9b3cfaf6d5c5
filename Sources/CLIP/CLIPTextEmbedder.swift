// Open-Sora 2.0's HFEmbedder for CLIP (opensora/models/text/conditioner.py): tokenize to
// max_length with truncation and padding, run CLIPTextModel with attention_mask=None, return
// pooler_output. Its pooled vector is the MMDiT's `y_vec` (vec_in_dim = 768 for CLIP-L).

import TensorCore

public final class CLIPTextEmbedder: @unchecked Sendable {
    public let tokenizer: CLIPTokenizer
    public let model: CLIPTextModel
    public let maxLength: Int

    public init(tokenizer: CLIPTokenizer, model: CLIPTextModel, maxLength: Int = CLIPTokenizer.defaultMaxLength) throws {
        guard maxLength >= 2, maxLength <= model.config.positions else {
            throw CLIPError.badInput("max_length \(maxLength) must be in 2...\(model.config.positions) (the model's positions)")
        }
        self.tokenizer = tokenizer
        self.model = model
        self.maxLength = maxLength
    }

    /// The ids HFEmbedder feeds the model: [B][maxLength].
    public func tokenIds(_ prompts: [String]) throws -> [[Int]] {
        try prompts.map { try tokenizer.encode($0, maxLength: maxLength).ids }
    }

    /// pooled: [B, D]
    public func callAsFunction(_ prompts: [String]) throws -> Tensor {
        try model(try tokenIds(prompts)).pooled
    }
}
