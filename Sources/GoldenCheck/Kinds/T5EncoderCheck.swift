// Golden checker for kind 't5_encoder': runs the encoder on the recorded ids and mask and
// compares the embeddings, layer 0's position bias, every recorded hidden state and
// last_hidden_state.
//
// `--weights` swaps in another copy of the weights (e.g. the .bin shards). When that copy is
// stored in bf16/f16 the reference (computed from float32 weights) cannot be met at float32
// tolerance, so the check is done as a chain: the case's own float32 weights against the
// reference, then the given weights against the case's weights rounded to the same dtype.

import Foundation
import T5
import TensorCore
import Weights

enum T5EncoderCheck {
    static func run(_ c: GoldenCase, _ options: CheckOptions) throws -> [OutputCheck] {
        let tokens = try recordedTokens(c)
        let io = try c.io()
        let expectedNames = io.names.sorted().filter { $0 != "input_ids" && $0 != "attention_mask" }
        let store = try c.modelWeights(override: options.weights)
        let halfWidth = store.names.contains { n in store.info(n).map { $0.dtype == .bf16 || $0.dtype == .f16 } ?? false }
        if !halfWidth {
            let got = try stages(T5Encoder(weights: store), tokens)
            return try expectedNames.map { name in
                OutputCheck(name: name, got: try lookup(got, name, c), expected: try io.tensor(name), tolerance: c.tolerance(for: name))
            }
        }
        // Half-width weights: reference <-> case weights, then given weights <-> case weights rounded alike.
        let caseWeights = try c.modelWeights()
        let full = try stages(T5Encoder(weights: caseWeights), tokens)
        var results = try expectedNames.map { name in
            OutputCheck(name: "\(name) [case weights]", got: try lookup(full, name, c), expected: try io.tensor(name), tolerance: c.tolerance(for: name))
        }
        let rounded = try roundedCopy(of: caseWeights, like: store)
        let mine = try stages(T5Encoder(weights: store), tokens), theirs = try stages(T5Encoder(weights: rounded), tokens)
        let label = (options.weights.map { ($0 as NSString).lastPathComponent } ?? "weights") + " vs case weights rounded alike"
        for name in expectedNames {
            results.append(OutputCheck(name: "\(name) [\(label)]", got: try lookup(mine, name, c), expected: try lookup(theirs, name, c),
                                       tolerance: c.tolerance(for: name)))
        }
        return results
    }

    /// The case's input_ids and attention_mask as a batch.
    static func recordedTokens(_ c: GoldenCase) throws -> TokenBatch {
        let io = try c.io()
        let ids = try io.integers("input_ids"), mask = try io.integers("attention_mask")
        let shape = try io.shape("input_ids")
        guard shape.count == 2, try io.shape("attention_mask") == shape else {
            throw GoldenError.badCase(path: c.path, detail: "input_ids and attention_mask must both be [B, L]")
        }
        let (b, l) = (shape[0], shape[1])
        return TokenBatch(ids: (0..<b).map { Array(ids[($0 * l)..<(($0 + 1) * l)]) },
                          mask: (0..<b).map { Array(mask[($0 * l)..<(($0 + 1) * l)]) })
    }

    /// Every intermediate under the case's tensor names.
    static func stages(_ encoder: T5Encoder, _ tokens: TokenBatch) throws -> [String: Tensor] {
        var got: [String: Tensor] = [:]
        _ = try encoder.encode(tokens) { stage, t in
            switch stage {
            case .embeddings: got["embeddings"] = t; got["hidden_state_0"] = t
            case .positionBias: got["position_bias_layer0"] = t.reshaped([1] + t.shape)   // [1, H, L, L] as transformers returns it
            case let .block(i): got["hidden_state_\(i + 1)"] = t
            case .output: got["last_hidden_state"] = t
            }
        }
        // transformers takes hidden_states[num_layers] after the final norm.
        got["hidden_state_\(encoder.config.layers)"] = got["last_hidden_state"]
        return got
    }

    private static func lookup(_ got: [String: Tensor], _ name: String, _ c: GoldenCase) throws -> Tensor {
        guard let t = got[name] else { throw GoldenError.badCase(path: c.path, detail: "recorded tensor '\(name)' has no counterpart in the encoder") }
        return t
    }

    /// `source` with each tensor rounded to the dtype `like` stores it in (float32 values).
    private static func roundedCopy(of source: WeightStore, like: WeightStore) throws -> MemoryStore {
        var out: [String: Tensor] = [:]
        for n in source.names {
            var t = try source.tensor(n)
            let dtype = like.info(n)?.dtype ?? .f32
            if dtype == .bf16 || dtype == .f16 {
                t.withMutableData { d in
                    for i in d.indices { d[i] = dtype == .bf16 ? bf16ToFloat(floatToBF16(d[i])) : f16ToFloat(floatToF16(d[i])) }
                }
            }
            out[n] = t
        }
        return MemoryStore(out, description: source.sourceDescription + " (rounded)")
    }
}
