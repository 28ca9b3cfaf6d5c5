// The CLIP text tower's sizes, read from the checkpoint's tensor shapes. The head count is the
// one size no tensor shows: it defaults to hidden / 64 (openai/clip-vit-large-patch14: 768 / 64
// = 12) and can be given.

import Weights

public struct CLIPTextConfig: Sendable, Equatable, CustomStringConvertible {
    public var vocabSize: Int
    public var hidden: Int
    public var positions: Int
    public var layers: Int
    public var intermediate: Int
    public var heads: Int
    public var eps: Float

    static let prefix = "text_model."

    /// - Parameter heads: attention heads; nil: hidden / 64.
    public static func infer(from store: WeightStore, heads: Int? = nil, eps: Float = 1e-5) throws -> CLIPTextConfig {
        let p = prefix
        func shape(_ name: String) throws -> [Int] {
            guard let i = store.info(p + name) else { throw WeightsError.missingTensor(name: p + name, source: store.sourceDescription) }
            return i.shape
        }
        let token = try shape("embeddings.token_embedding.weight")
        let position = try shape("embeddings.position_embedding.weight")
        guard token.count == 2, position.count == 2, position[1] == token[1] else {
            throw CLIPError.badCheckpoint(source: store.sourceDescription,
                                          detail: "token embedding \(token) and position embedding \(position) must be [vocab, D] and [positions, D]")
        }
        var layers = 0
        while store.contains("\(p)encoder.layers.\(layers).self_attn.q_proj.weight") { layers += 1 }
        guard layers > 0 else {
            throw CLIPError.badCheckpoint(source: store.sourceDescription, detail: "no \(p)encoder.layers.0.* tensors (is this a CLIP text model?)")
        }
        let fc1 = try shape("encoder.layers.0.mlp.fc1.weight")
        let d = token[1]
        let h = heads ?? max(1, d / 64)
        guard h > 0, d % h == 0 else {
            throw CLIPError.badCheckpoint(source: store.sourceDescription, detail: "hidden size \(d) does not split into \(h) heads")
        }
        return CLIPTextConfig(vocabSize: token[0], hidden: d, positions: position[0], layers: layers,
                              intermediate: fc1[0], heads: h, eps: eps)
    }

    public var description: String {
        "CLIP text: vocab \(vocabSize), hidden \(hidden), \(layers) layers, \(heads) heads, mlp \(intermediate), \(positions) positions"
    }
}
