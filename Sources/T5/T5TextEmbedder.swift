// Open-Sora 2.0's HFEmbedder for T5 (opensora/models/text/conditioner.py): tokenize every prompt
// to exactly max_length (truncation keeps max_length - 1 pieces and </s>, pads with <pad>), run
// the encoder with attention_mask=None (the pads are ordinary tokens every position attends
// to), and return last_hidden_state over all max_length rows: the MMDiT's `txt` [B, L, 4096],
// L = 512 in the real config. (Open-Sora 1.2 masks the pads instead: T5Encoder's default.)

import TensorCore

public final class T5TextEmbedder: @unchecked Sendable {
    public let tokenizer: T5Tokenizer
    public let encoder: T5Encoder
    public let maxLength: Int

    public init(tokenizer: T5Tokenizer, encoder: T5Encoder, maxLength: Int) throws {
        guard maxLength >= 1 else { throw T5Error.badInput("T5 max_length \(maxLength) must be at least 1") }
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maxLength = maxLength
    }

    /// The ids as HFEmbedder feeds them, with every position marked valid (no attention mask).
    public func tokens(_ prompts: [String]) throws -> TokenBatch {
        var batch = try tokenizer.encode(prompts, maxLength: maxLength)
        batch.mask = batch.ids.map { [Int](repeating: 1, count: $0.count) }
        return batch
    }

    /// txt: [B, maxLength, d_model]
    public func callAsFunction(_ prompts: [String]) throws -> Tensor {
        try encoder.encode(try tokens(prompts))
    }
}
