// T5 v1.1 encoder (transformers' T5EncoderModel), reading Hugging Face tensor names unchanged.
//
//   h = embed(ids)                                   // no scaling in T5
//   bias = relative position bias (layer 0's table, shared by every layer)
//   per block:  h += o(attention(q, k, v of rmsNorm(h)) + bias, padded keys masked, no 1/sqrt(d))
//               h += wo(gelu_tanh(wi_0 n) * wi_1 n),  n = rmsNorm(h)
//   out = rmsNorm(h)                                 // final_layer_norm
//
// Weights stay as the checkpoint stores them (bf16 in a mapped file costs half the memory);
// `linear` converts one matrix at a time into a reused float32 buffer.

import TensorCore
import Weights

public final class T5Encoder: @unchecked Sendable {
    public let config: T5Config
    let embedding: WeightTensor          // [vocab, D]
    let positionTable: Tensor            // [buckets, heads]
    let blocks: [Block]
    let finalNorm: WeightTensor          // [D]

    struct Block {
        let attentionNorm: WeightTensor  // [D]
        let q, k, v: WeightTensor        // [H*dkv, D]
        let o: WeightTensor              // [D, H*dkv]
        let feedForwardNorm: WeightTensor // [D]
        let wi0, wi1: WeightTensor       // [dff, D]
        let wo: WeightTensor             // [D, dff]

        /// Gives back the block's mapped pages: T5-XXL's 24 blocks are 9.5 GB in bf16 (19 GB
        /// in fp32), so only the block in use stays resident.
        func releasePages() {
            for w in [attentionNorm, q, k, v, o, feedForwardNorm, wi0, wi1, wo] { w.releasePages() }
        }
    }

    /// What `encode` can report as it runs (for golden checks and debugging).
    public enum Stage: Sendable, Equatable {
        case embeddings                  // [B, L, D]
        case positionBias                // [H, L, L]
        case block(Int)                  // [B, L, D], output of block i
        case output                      // [B, L, D], after the final norm
    }

    /// Builds the encoder and checks every tensor's name, shape and dtype before any compute.
    /// - Parameter config: expected configuration; inferred from the shapes when nil.
    public init(weights store: WeightStore, config expected: T5Config? = nil) throws {
        let inferred = try T5Config.infer(from: store, maxDistance: expected?.maxDistance ?? 128, eps: expected?.eps ?? 1e-6)
        if let expected, expected != inferred {
            throw T5Error.badCheckpoint(source: store.sourceDescription, detail: "expected \(expected), the tensors say \(inferred)")
        }
        let c = inferred
        config = c
        embedding = try store.weight(T5Config.embeddingName(in: store)!, shape: [c.vocabSize, c.dModel])
        positionTable = try store.tensor("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", shape: [c.buckets, c.heads])
        var blocks: [Block] = []
        for i in 0..<c.layers {
            let a = "encoder.block.\(i).layer.0.", f = "encoder.block.\(i).layer.1."
            func w(_ name: String, _ shape: [Int]) throws -> WeightTensor { try store.weight(name, shape: shape) }
            blocks.append(Block(
                attentionNorm: try w(a + "layer_norm.weight", [c.dModel]),
                q: try w(a + "SelfAttention.q.weight", [c.inner, c.dModel]),
                k: try w(a + "SelfAttention.k.weight", [c.inner, c.dModel]),
                v: try w(a + "SelfAttention.v.weight", [c.inner, c.dModel]),
                o: try w(a + "SelfAttention.o.weight", [c.dModel, c.inner]),
                feedForwardNorm: try w(f + "layer_norm.weight", [c.dModel]),
                wi0: try w(f + "DenseReluDense.wi_0.weight", [c.dFF, c.dModel]),
                wi1: try w(f + "DenseReluDense.wi_1.weight", [c.dFF, c.dModel]),
                wo: try w(f + "DenseReluDense.wo.weight", [c.dModel, c.dFF])))
        }
        self.blocks = blocks
        finalNorm = try store.weight("encoder.final_layer_norm.weight", shape: [c.dModel])
    }

    /// last_hidden_state: [B, L, D] for every position (padded ones too, as the reference).
    public func callAsFunction(_ tokens: TokenBatch) throws -> Tensor { try encode(tokens) }

    /// - Parameters:
    ///   - skipPadding: stop at the last position any row uses. Outputs at real tokens are the
    ///     same (real tokens never attend to padding, and the position bias depends only on
    ///     offsets); the trailing padded positions are zero instead of the reference's values,
    ///     which Open-Sora's consumers mask out anyway. A 40-token prompt padded to 300 costs
    ///     about 1/7 of the full run.
    ///   - observe: called with each intermediate (shapes of the computed length).
    public func encode(_ tokens: TokenBatch, skipPadding: Bool = false, observe: ((Stage, Tensor) -> Void)? = nil) throws -> Tensor {
        try validate(tokens)
        let l = tokens.length
        if skipPadding, let last = (0..<l).last(where: { j in tokens.mask.contains { $0[j] != 0 } }), last + 1 < l {
            let used = last + 1
            let trimmed = TokenBatch(ids: tokens.ids.map { Array($0.prefix(used)) }, mask: tokens.mask.map { Array($0.prefix(used)) })
            return pad(try encode(trimmed, observe: observe), axis: 1, before: 0, after: l - used)
        }
        var h = embed(tokens)                                            // [B, L, D]
        observe?(.embeddings, h)
        let bias = positionBias(length: l)                               // [H, L, L]
        observe?(.positionBias, bias)
        let mask = AttentionMask(keyValid: tokens.mask.flatMap { $0.map { $0 != 0 } }, keys: l)
        for (i, blk) in blocks.enumerated() {
            // Self-attention sub-layer. q, k, v: [B, L, H*dkv]
            let n = rmsNorm(h, weight: blk.attentionNorm, eps: config.eps)
            let q = linear(n, weight: blk.q), k = linear(n, weight: blk.k), v = linear(n, weight: blk.v)
            let a = attention(q: q, k: k, v: v, heads: config.heads, scale: 1, mask: mask, bias: bias)
            h.add(linear(a, weight: blk.o))
            // Gated-GELU feed-forward sub-layer. gate, up: [B, L, dff]
            let m = rmsNorm(h, weight: blk.feedForwardNorm, eps: config.eps)
            var gate = linear(m, weight: blk.wi0)
            geluInPlace(&gate, approximation: .tanh)
            gate = gate * linear(m, weight: blk.wi1)
            h.add(linear(gate, weight: blk.wo))
            blk.releasePages()
            observe?(.block(i), h)
        }
        let out = rmsNorm(h, weight: finalNorm, eps: config.eps)
        observe?(.output, out)
        return out
    }

    /// Token embeddings [B, L, D] (rows converted from the stored dtype).
    public func embed(_ tokens: TokenBatch) -> Tensor {
        let b = tokens.batchSize, l = tokens.length, d = config.dModel
        var out = Tensor(uninitialized: [b, l, d])
        let o = out.mutablePointer
        let rowBytes = d * embedding.dtype.byteSize
        for (bi, row) in tokens.ids.enumerated() {
            for (li, id) in row.enumerated() {
                convertToFloat(embedding.raw + id * rowBytes, dtype: embedding.dtype, count: d, into: o + (bi * l + li) * d)
            }
        }
        return out
    }

    /// The relative position bias for `length` tokens: [H, L, L].
    public func positionBias(length: Int) -> Tensor {
        RelativePositionBias.compute(table: positionTable, length: length, maxDistance: config.maxDistance)
    }

    private func validate(_ t: TokenBatch) throws {
        guard t.batchSize > 0, t.length > 0 else { throw T5Error.badInput("empty batch (\(t.batchSize) rows of \(t.length) tokens)") }
        guard t.mask.count == t.batchSize else { throw T5Error.badInput("\(t.batchSize) id rows but \(t.mask.count) mask rows") }
        for (i, (ids, mask)) in zip(t.ids, t.mask).enumerated() {
            guard ids.count == t.length, mask.count == t.length else {
                throw T5Error.badInput("row \(i) has \(ids.count) ids and \(mask.count) mask entries; every row needs \(t.length)")
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw T5Error.badInput("row \(i): token id \(bad) is outside the vocabulary (0..<\(config.vocabSize))")
            }
            guard mask.contains(where: { $0 != 0 }) else { throw T5Error.badInput("row \(i): the attention mask has no token (all zeros)") }
        }
    }
}
