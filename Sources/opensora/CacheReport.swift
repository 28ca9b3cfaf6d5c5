// How `generate --verbose` reports what the step cache did (docs/caching.md; the bench JSON's
// "cache" object is the Benchmarks module's cacheStatisticsJSON).

import Foundation
import STDiT

/// One line for --verbose.
func cacheSummary(_ s: StepCacheStatistics, method: String) -> String {
    String(format: "cache %@: %d full forwards, %d skipped; self-attention %d computed, %d reused; cross-attention %d computed, %d reused; MLP %d reused; cache memory peak %.1f MiB",
           method, s.fullForwards, s.skippedForwards, s.computedAttention, s.reusedAttention,
           s.computedCrossAttention, s.reusedCrossAttention, s.reusedMLP, Double(s.peakBytes) / 1_048_576)
}
