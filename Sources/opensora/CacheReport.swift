// How `generate --verbose` and `bench` report what the step cache did (docs/caching.md).

import Foundation
import STDiT

/// One line for --verbose.
func cacheSummary(_ s: StepCacheStatistics, method: String) -> String {
    String(format: "cache %@: %d full forwards, %d skipped; self-attention %d computed, %d reused; cross-attention %d computed, %d reused; MLP %d reused; cache memory peak %.1f MiB",
           method, s.fullForwards, s.skippedForwards, s.computedAttention, s.reusedAttention,
           s.computedCrossAttention, s.reusedCrossAttention, s.reusedMLP, Double(s.peakBytes) / 1_048_576)
}

/// The bench JSON's "cache" object.
func cacheStatisticsJSON(_ s: StepCacheStatistics?, method: String) -> String {
    let s = s ?? StepCacheStatistics()
    return #"{"method":"\#(method)","full_forwards":\#(s.fullForwards),"skipped_forwards":\#(s.skippedForwards),"computed_attention":\#(s.computedAttention),"reused_attention":\#(s.reusedAttention),"computed_cross_attention":\#(s.computedCrossAttention),"reused_cross_attention":\#(s.reusedCrossAttention),"reused_mlp":\#(s.reusedMLP),"peak_bytes":\#(s.peakBytes)}"#
}
