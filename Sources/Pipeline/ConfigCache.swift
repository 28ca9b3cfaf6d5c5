// The `cache:` section: step caching (TeaCache, Pyramid Attention Broadcast; docs/caching.md).
// `method: none` (the default) computes every step exactly as without the section.

import Foundation
import Yams
import STDiT
import TensorCore

public enum CacheMethodName: String, Sendable, CaseIterable {
    case none, teacache, pab
}

public struct CacheConfig: Equatable, Sendable {
    public var method = CacheMethodName.none
    public var teaCache = TeaCacheSettings()
    public var pab = PABSettings()

    public init() {}

    /// The method with its settings; nil for `none`.
    public var stepCacheMethod: StepCacheMethod? {
        switch method {
        case .none: return nil
        case .teacache: return .teaCache(teaCache)
        case .pab: return .pab(pab)
        }
    }

    /// A fresh step cache for one sampling run of `steps` model calls, or nil for `none`.
    /// Timesteps are compared as the reference does: int() of t in the compute dtype.
    public func stepCache(steps: Int, dtype: ComputeDType) -> StepCache? {
        guard let method = stepCacheMethod else { return nil }
        let round: (Float) -> Float
        switch dtype {
        case .bf16: round = { bf16ToFloat(floatToBF16($0)) }
        case .fp16: round = { f16ToFloat(floatToF16($0)) }
        case .fp32: round = { $0 }
        }
        return StepCache(method: method, steps: steps, timestepKey: { Int(round($0)) })
    }

    /// Applies a `--cache` value: none, pab, teacache or teacache:THRESHOLD.
    public mutating func apply(spec: String) throws {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first.flatMap({ CacheMethodName(rawValue: $0.lowercased()) }) else {
            throw ConfigError(source: "command line", key: "cache.method", "expected none, teacache[:THRESHOLD] or pab, got '\(spec)'")
        }
        method = name
        if parts.count == 2 {
            guard name == .teacache, let t = Double(parts[1]), t.isFinite else {
                throw ConfigError(source: "command line", key: "cache.teacache.threshold",
                                  "expected teacache:THRESHOLD with a number (e.g. teacache:0.2), got '\(spec)'")
            }
            teaCache.threshold = t
        }
    }

    static func parse(_ s: YAMLSection?) throws -> CacheConfig {
        var c = CacheConfig()
        guard let s else { return c }
        if let name = try s.string("method").or(nil) {
            guard let m = CacheMethodName(rawValue: name.lowercased()) else {
                throw s.error("method", "expected none, teacache or pab, got '\(name)'")
            }
            c.method = m
        }
        if let t = try s.section("teacache") {
            c.teaCache.threshold = try t.double("threshold").or(c.teaCache.threshold) ?? c.teaCache.threshold
            c.teaCache.coefficients = try t.doubles("coefficients").or(c.teaCache.coefficients) ?? c.teaCache.coefficients
            try t.finish()
        }
        if let p = try s.section("pab") {
            c.pab.spatialRange = try p.int("spatial_range").or(c.pab.spatialRange) ?? c.pab.spatialRange
            c.pab.temporalRange = try p.int("temporal_range").or(c.pab.temporalRange) ?? c.pab.temporalRange
            c.pab.crossRange = try p.int("cross_range").or(c.pab.crossRange) ?? c.pab.crossRange
            if let w = try p.ints("timestep_window").or(nil) {
                guard w.count == 2, w[0] < w[1] else { throw p.error("timestep_window", "expected [low, high] with low < high, got \(w)") }
                c.pab.window = w[0]...w[1]
            }
            c.pab.mlpTimesteps = try p.ints("mlp_timesteps").or(c.pab.mlpTimesteps) ?? []
            c.pab.mlpBlocks = try p.ints("mlp_blocks").or(c.pab.mlpBlocks) ?? []
            c.pab.mlpSkipCount = try p.int("mlp_skip_count").or(c.pab.mlpSkipCount) ?? c.pab.mlpSkipCount
            try p.finish()
        }
        try s.finish()
        return c
    }

    func validate(_ check: ConfigChecker) throws {
        try check.range("cache.teacache.threshold", teaCache.threshold, 0...1000)
        guard !teaCache.coefficients.isEmpty, teaCache.coefficients.allSatisfy(\.isFinite) else {
            throw check.error("cache.teacache.coefficients", "must be a non-empty list of finite numbers")
        }
        try check.range("cache.pab.spatial_range", pab.spatialRange, 1...1000)
        try check.range("cache.pab.temporal_range", pab.temporalRange, 1...1000)
        try check.range("cache.pab.cross_range", pab.crossRange, 1...1000)
        try check.range("cache.pab.mlp_skip_count", pab.mlpSkipCount, 0...1000)
        if let b = pab.mlpBlocks.first(where: { $0 < 0 }) { throw check.error("cache.pab.mlp_blocks", "block indices must not be negative, got \(b)") }
    }

    func yamlLines(list: ([String]) -> String, num: (Double) -> String) -> [String] {
        [
            "cache:",
            "  method: \(method.rawValue)",
            "  teacache:",
            "    threshold: \(num(teaCache.threshold))",
            "    coefficients: \(list(teaCache.coefficients.map { "\($0)" }))",
            "  pab:",
            "    spatial_range: \(pab.spatialRange)",
            "    temporal_range: \(pab.temporalRange)",
            "    cross_range: \(pab.crossRange)",
            "    timestep_window: [\(pab.window.lowerBound), \(pab.window.upperBound)]",
            "    mlp_timesteps: \(list(pab.mlpTimesteps.map { "\($0)" }))",
            "    mlp_blocks: \(list(pab.mlpBlocks.map { "\($0)" }))",
            "    mlp_skip_count: \(pab.mlpSkipCount)",
        ]
    }
}

extension YAMLSection {
    func doubles(_ key: String) throws -> Setting<[Double]> {
        guard let n = node(key) else { return .absent }
        if n.tag.description == Tag.Name.null.rawValue { return .null }
        guard let seq = n.sequence else { throw error(key, "expected a list of numbers") }
        return .value(try seq.map { item in
            let tag = item.tag.description
            guard let s = item.scalar, tag == Tag.Name.int.rawValue || tag == Tag.Name.float.rawValue,
                  let v = Double(s.string.replacingOccurrences(of: "_", with: "")), v.isFinite else {
                throw error(key, "expected a list of numbers, got '\(item.scalar?.string ?? "a nested value")'")
            }
            return v
        })
    }
}
