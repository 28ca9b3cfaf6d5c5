// What the blocks get (model.py prepare_block_inputs): image tokens img_in(img) + cond_in(cond),
// text tokens txt_in(T5 states), and the conditioning vector
// vec = time_in(timestep_embedding(t)) + vector_in(CLIP pooled).

import TensorCore
import Weights

/// MLPEmbedder: in_layer -> SiLU -> out_layer.
struct MLPEmbedder {
    let inLayer: Linear, outLayer: Linear

    init(_ p: ParameterScope, in inF: Int, hidden: Int) throws {
        inLayer = try Linear(p.scope("in_layer"), in: inF, out: hidden)
        outLayer = try Linear(p.scope("out_layer"), in: hidden, out: hidden)
    }

    /// x: [B, in] -> [B, hidden]
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = inLayer(x)
        siluInPlace(&h)
        return outLayer(h)
    }
}

/// The input projections of the two streams and the vector.
struct InputEmbedders {
    let imgIn: Linear, condIn: Linear?, txtIn: Linear
    let timeIn: MLPEmbedder, vectorIn: MLPEmbedder

    init(_ p: ParameterScope, _ c: MMDiTConfig) throws {
        imgIn = try Linear(p.scope("img_in"), in: c.inChannels, out: c.hiddenSize)
        condIn = c.condEmbed ? try Linear(p.scope("cond_in"), in: c.condChannels, out: c.hiddenSize) : nil
        txtIn = try Linear(p.scope("txt_in"), in: c.contextInDim, out: c.hiddenSize)
        timeIn = try MLPEmbedder(p.scope("time_in"), in: 256, hidden: c.hiddenSize)
        vectorIn = try MLPEmbedder(p.scope("vector_in"), in: c.vecInDim, hidden: c.hiddenSize)
    }

    /// img: [B, N, in_channels], cond: [B, N, in_channels + patch^2] -> [B, N, C]. An all-zero
    /// (t2v) cond still adds cond_in's bias, as in the reference.
    func image(_ img: Tensor, cond: Tensor?) -> Tensor {
        var x = imgIn(img)
        if let condIn, let cond { x.add(condIn(cond)) }
        return x
    }

    /// txt: [B, L, context_in_dim] -> [B, L, C]
    func text(_ txt: Tensor) -> Tensor { txtIn(txt) }

    /// timesteps: B values in [0, 1], y: [B, vec_in_dim] -> vec [B, C]
    func vector(timesteps: [Float], y: Tensor) -> Tensor {
        var vec = timeIn(sinusoidalEmbedding(timesteps, dim: 256, scale: 1000))   // t in [0, 1] x 1000 first
        vec.add(vectorIn(y))
        return vec
    }
}
