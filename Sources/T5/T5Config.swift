// T5 v1.1 encoder hyper-parameters, read off a checkpoint's tensor shapes (Hugging Face names).
// Only relative_attention_max_distance and the norm epsilon cannot be seen in the shapes; both
// have the same value in every released T5 (128, 1e-6).

import Weights

public struct T5Config: Sendable, Equatable, CustomStringConvertible {
    public var vocabSize: Int
    public var dModel: Int
    public var heads: Int
    public var dKV: Int
    public var dFF: Int
    public var layers: Int
    public var buckets: Int
    public var maxDistance: Int = 128
    public var eps: Float = 1e-6

    public var inner: Int { heads * dKV }

    public init(vocabSize: Int, dModel: Int, heads: Int, dKV: Int, dFF: Int, layers: Int, buckets: Int,
                maxDistance: Int = 128, eps: Float = 1e-6) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.heads = heads; self.dKV = dKV; self.dFF = dFF
        self.layers = layers; self.buckets = buckets; self.maxDistance = maxDistance; self.eps = eps
    }

    /// T5 v1.1 XXL (DeepFloyd/t5-v1_1-xxl), the encoder Open-Sora uses.
    public static let xxl = T5Config(vocabSize: 32128, dModel: 4096, heads: 64, dKV: 64, dFF: 10240, layers: 24, buckets: 32)

    public var description: String {
        "T5Config(vocab \(vocabSize), d_model \(dModel), heads \(heads) x d_kv \(dKV), d_ff \(dFF), layers \(layers), buckets \(buckets), max_distance \(maxDistance))"
    }

    /// Name of the token embedding in `store`: the encoder's own, else the shared one.
    public static func embeddingName(in store: WeightStore) -> String? {
        ["encoder.embed_tokens.weight", "shared.weight"].first { store.contains($0) }
    }

    /// Infers the configuration from tensor shapes. Checks only what the inference reads; the
    /// encoder checks every tensor when it is built.
    public static func infer(from store: WeightStore, maxDistance: Int = 128, eps: Float = 1e-6) throws -> T5Config {
        let src = store.sourceDescription
        func fail(_ msg: String) -> T5Error { .badCheckpoint(source: src, detail: msg) }
        guard let embName = embeddingName(in: store) else {
            throw fail("no token embedding (expected 'encoder.embed_tokens.weight' or 'shared.weight'); is this a T5 checkpoint?")
        }
        let emb = try store.shape(embName)
        guard emb.count == 2, emb[0] > 0, emb[1] > 0 else { throw fail("'\(embName)' must be [vocab, d_model], is \(emb)") }

        // Blocks present: encoder.block.N.*, which must be 0..<layers with no gap.
        var blocks = Set<Int>()
        for n in store.names where n.hasPrefix("encoder.block.") {
            let rest = n.dropFirst("encoder.block.".count)
            if let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0 { blocks.insert(i) }
        }
        guard let last = blocks.max() else { throw fail("no encoder blocks (no tensor named 'encoder.block.N.…')") }
        if let missing = (0...last).first(where: { !blocks.contains($0) }) {
            throw fail("encoder block \(missing) is missing (blocks 0...\(last) expected, found \(blocks.sorted()))")
        }
        let p = "encoder.block.0.layer."
        if store.contains(p + "1.DenseReluDense.wi.weight") {
            throw fail("this is a T5 v1.0 checkpoint (ReLU feed-forward 'DenseReluDense.wi'); only T5 v1.1 (gated-GELU wi_0/wi_1) is supported")
        }
        let bias = try store.shape(p + "0.SelfAttention.relative_attention_bias.weight")
        guard bias.count == 2, bias[0] >= 4, bias[1] > 0 else {
            throw fail("'\(p)0.SelfAttention.relative_attention_bias.weight' must be [buckets >= 4, heads], is \(bias)")
        }
        let q = try store.shape(p + "0.SelfAttention.q.weight")
        guard q.count == 2, q[0] % bias[1] == 0, q[0] > 0 else {
            throw fail("'\(p)0.SelfAttention.q.weight' is \(q); its rows must be heads (\(bias[1])) x d_kv")
        }
        let wi = try store.shape(p + "1.DenseReluDense.wi_0.weight")
        guard wi.count == 2, wi[0] > 0 else { throw fail("'\(p)1.DenseReluDense.wi_0.weight' must be [d_ff, d_model], is \(wi)") }
        return T5Config(vocabSize: emb[0], dModel: emb[1], heads: bias[1], dKV: q[0] / bias[1], dFF: wi[0],
                        layers: last + 1, buckets: bias[0], maxDistance: maxDistance, eps: eps)
    }
}

public enum T5Error: Error, CustomStringConvertible, Equatable {
    case badCheckpoint(source: String, detail: String)
    case badInput(String)

    public var description: String {
        switch self {
        case let .badCheckpoint(s, d): return "\(s): not a usable T5 encoder checkpoint: \(d)"
        case let .badInput(d): return "T5 encoder input: \(d)"
        }
    }
}
