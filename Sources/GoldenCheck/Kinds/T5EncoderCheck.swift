// Golden checker for kind 't5_encoder': runs the encoder on the recorded ids and mask and
// compares the embeddings, layer 0's position bias, every recorded hidden state and
// last_hidden_state. `--weights` swaps in another copy of the weights (e.g. the .bin shards).

import Foundation
import T5
import TensorCore
import Weights

enum T5EncoderCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let store = try c.modelWeights(override: options.weights)
        let encoder = try T5Encoder(weights: store)
        let io = try c.io()
        let ids = try io.integers("input_ids"), mask = try io.integers("attention_mask")
        let shape = try io.shape("input_ids")
        guard shape.count == 2, try io.shape("attention_mask") == shape else {
            throw GoldenError.badCase(path: c.path, detail: "input_ids and attention_mask must both be [B, L]")
        }
        let (b, l) = (shape[0], shape[1])
        let tokens = TokenBatch(ids: (0..<b).map { Array(ids[($0 * l)..<(($0 + 1) * l)]) },
                                mask: (0..<b).map { Array(mask[($0 * l)..<(($0 + 1) * l)]) })
        var got: [String: Tensor] = [:]
        _ = try encoder.encode(tokens) { stage, t in
            switch stage {
            case .embeddings: got["embeddings"] = t; got["hidden_state_0"] = t
            case .positionBias: got["position_bias_layer0"] = t
            case let .block(i): got["hidden_state_\(i + 1)"] = t
            case .output: got["last_hidden_state"] = t
            }
        }
        // hidden_states[num_layers] is taken after the final norm in transformers.
        got["hidden_state_\(encoder.config.layers)"] = got["last_hidden_state"]
        var results: [OutputCheck] = []
        for name in io.names.sorted() where name != "input_ids" && name != "attention_mask" {
            guard let mine = got[name] else {
                throw GoldenError.badCase(path: c.path, detail: "recorded tensor '\(name)' has no counterpart in the encoder")
            }
            results.append(OutputCheck(name: name, got: mine, expected: try io.tensor(name), tolerance: c.tolerance(for: name)))
        }
        return results
    }
}
