// CLIP's text tower (transformers' CLIPTextModel), reading Hugging Face tensor names unchanged:
//
//   h = token_embedding(ids) + position_embedding(0..<L)
//   per layer (pre-LN):  h += out_proj(causal attention(q, k, v of layer_norm1(h)), q scaled by D^-0.5)
//                        h += fc2(quick_gelu(fc1(layer_norm2(h))))      quick_gelu(x) = x * sigmoid(1.702 x)
//   last_hidden_state = final_layer_norm(h)
//   pooled[b] = last_hidden_state[b, argmax(ids[b])]    (the first <|endoftext|>, the largest id)
//
// No text projection (CLIPTextModel, not ...WithProjection). Open-Sora 2.0 calls it with
// attention_mask=None: the causal mask alone applies, so the pads after <|endoftext|> cannot
// change the pooled row.

import TensorCore
import Weights

public final class CLIPTextModel: @unchecked Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: WeightTensor     // [vocab, D]
    let positionEmbedding: Tensor        // [positions, D]
    let layers: [Layer]
    let finalNorm: (weight: WeightTensor, bias: WeightTensor)   // [D]

    struct Layer {
        let norm1, norm2: (weight: WeightTensor, bias: WeightTensor)   // [D]
        let q, k, v, out: (weight: WeightTensor, bias: WeightTensor)   // [D, D], [D]
        let fc1: (weight: WeightTensor, bias: WeightTensor)            // [I, D], [I]
        let fc2: (weight: WeightTensor, bias: WeightTensor)            // [D, I], [D]

        func releasePages() {
            for p in [norm1, norm2, q, k, v, out, fc1, fc2] { p.weight.releasePages(); p.bias.releasePages() }
        }
    }

    public struct Output {
        /// [B, L, D] after the final layer norm.
        public var lastHiddenState: Tensor
        /// [B, D] the row at each sequence's argmax id.
        public var pooled: Tensor
        /// The pooled position per row.
        public var poolIndex: [Int]
    }

    /// Builds the model and checks every tensor's name and shape before any compute.
    /// - Parameter heads: attention heads (nil: hidden / 64, as CLIP-L).
    public init(weights store: WeightStore, heads: Int? = nil) throws {
        let c = try CLIPTextConfig.infer(from: store, heads: heads)
        config = c
        let p = CLIPTextConfig.prefix
        func w(_ name: String, _ shape: [Int]) throws -> WeightTensor { try store.weight(p + name, shape: shape) }
        func affine(_ name: String, out: Int, in inF: Int?) throws -> (weight: WeightTensor, bias: WeightTensor) {
            (try w(name + ".weight", inF.map { [out, $0] } ?? [out]), try w(name + ".bias", [out]))
        }
        tokenEmbedding = try w("embeddings.token_embedding.weight", [c.vocabSize, c.hidden])
        positionEmbedding = try w("embeddings.position_embedding.weight", [c.positions, c.hidden]).toTensor()
        layers = try (0..<c.layers).map { i in
            let l = "encoder.layers.\(i)."
            return Layer(norm1: try affine(l + "layer_norm1", out: c.hidden, in: nil),
                         norm2: try affine(l + "layer_norm2", out: c.hidden, in: nil),
                         q: try affine(l + "self_attn.q_proj", out: c.hidden, in: c.hidden),
                         k: try affine(l + "self_attn.k_proj", out: c.hidden, in: c.hidden),
                         v: try affine(l + "self_attn.v_proj", out: c.hidden, in: c.hidden),
                         out: try affine(l + "self_attn.out_proj", out: c.hidden, in: c.hidden),
                         fc1: try affine(l + "mlp.fc1", out: c.intermediate, in: c.hidden),
                         fc2: try affine(l + "mlp.fc2", out: c.hidden, in: c.intermediate))
        }
        finalNorm = try affine("final_layer_norm", out: c.hidden, in: nil)
    }

    /// ids: B rows of L ids each (L <= positions).
    public func callAsFunction(_ ids: [[Int]]) throws -> Output {
        try validate(ids)
        let b = ids.count, l = ids[0].count, d = config.hidden
        // Embeddings. h: [B, L, D]
        var h = Tensor(uninitialized: [b, l, d])
        let hp = h.mutablePointer, pp = positionEmbedding.pointer
        let rowBytes = d * tokenEmbedding.dtype.byteSize
        for (bi, row) in ids.enumerated() {
            for (li, id) in row.enumerated() {
                let dst = hp + (bi * l + li) * d
                convertToFloat(tokenEmbedding.raw + id * rowBytes, dtype: tokenEmbedding.dtype, count: d, into: dst)
                for j in 0..<d { dst[j] += pp[li * d + j] }
            }
        }
        let causal = Self.causalBias(length: l, heads: config.heads)          // [H, L, L]
        let scale = 1 / Float(d / config.heads).squareRoot()
        for layer in layers {
            // Self-attention sub-layer. q, k, v: [B, L, D]
            let n = layerNorm(h, weight: layer.norm1.weight, bias: layer.norm1.bias, eps: config.eps)
            let q = linear(n, weight: layer.q.weight, bias: layer.q.bias)
            let k = linear(n, weight: layer.k.weight, bias: layer.k.bias)
            let v = linear(n, weight: layer.v.weight, bias: layer.v.bias)
            let a = attention(q: q, k: k, v: v, heads: config.heads, scale: scale, bias: causal)
            h.add(linear(a, weight: layer.out.weight, bias: layer.out.bias))
            // MLP sub-layer. m: [B, L, I]
            var m = linear(layerNorm(h, weight: layer.norm2.weight, bias: layer.norm2.bias, eps: config.eps),
                           weight: layer.fc1.weight, bias: layer.fc1.bias)
            mapInPlace(&m) { x in x * sigmoidApprox(1.702 * x) }
            h.add(linear(m, weight: layer.fc2.weight, bias: layer.fc2.bias))
            layer.releasePages()
        }
        let last = layerNorm(h, weight: finalNorm.weight, bias: finalNorm.bias, eps: config.eps)
        // Pooling at argmax(ids): the first occurrence of the largest id.
        let poolIndex = ids.map { row in row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! }
        var pooled = Tensor(uninitialized: [b, d])
        for bi in 0..<b {
            (pooled.mutablePointer + bi * d).update(from: last.pointer + (bi * l + poolIndex[bi]) * d, count: d)
        }
        return Output(lastHiddenState: last, pooled: pooled, poolIndex: poolIndex)
    }

    /// 0 on and below the diagonal, a large negative number above it (keys after the query). [H, L, L]
    static func causalBias(length l: Int, heads: Int) -> Tensor {
        var bias = Tensor(repeating: 0, shape: [heads, l, l])
        let p = bias.mutablePointer
        for h in 0..<heads { for i in 0..<l { for j in (i + 1)..<max(i + 1, l) { p[(h * l + i) * l + j] = -1e30 } } }
        return bias
    }

    private func validate(_ ids: [[Int]]) throws {
        guard let l = ids.first?.count, l > 0 else { throw CLIPError.badInput("empty batch (\(ids.count) rows)") }
        guard l <= config.positions else { throw CLIPError.badInput("\(l) tokens but the model has \(config.positions) positions") }
        for (i, row) in ids.enumerated() {
            guard row.count == l else { throw CLIPError.badInput("row \(i) has \(row.count) ids, row 0 has \(l)") }
            if let bad = row.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw CLIPError.badInput("row \(i): id \(bad) outside the vocabulary (0..<\(config.vocabSize))")
            }
        }
    }
}
