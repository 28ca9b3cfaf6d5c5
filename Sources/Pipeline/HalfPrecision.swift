// The config's `dtype` for STDiT and the VAE: float32 weights are kept as bf16/fp16 in memory
// (the reference casts them the same way); compute stays float32.

import TensorCore
import Weights

enum HalfPrecision {
    static func store(_ store: WeightStore, dtype: ComputeDType) -> WeightStore {
        switch dtype {
        case .fp32: return store
        case .bf16: return ConvertedStore(store, dtype: .bf16)
        case .fp16: return ConvertedStore(store, dtype: .f16)
        }
    }
}
