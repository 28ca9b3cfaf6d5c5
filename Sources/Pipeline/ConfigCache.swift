// The `cache:` section: step caching (TeaCache, Pyramid Attention Broadcast; docs/caching.md).
// `method: none` (the default) computes every step exactly as without the section.

import Foundation
import STDiT
import TensorCore

public enum CacheMethodName: String, Sendable, CaseIterable, ConfigName {
    case none, teacache, pab
    static let kind = ""
}

public struct CacheConfig: Equatable, Sendable, Codable {
    public var method = CacheMethodName.none
    public var teaCache = TeaCacheSettings()
    public var pab = PABSettings()

    public init() {}

    enum CodingKeys: String, CodingKey { case method, teaCache = "teacache", pab }

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
}

// The published settings' keys (STDiT's types): `cache.teacache.*` and `cache.pab.*`.
extension TeaCacheSettings: Codable {
    enum CodingKeys: String, CodingKey { case threshold, coefficients }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(threshold: try c.decode(Double.self, forKey: .threshold))
        coefficients = try c.decode([Double].self, forKey: .coefficients)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(coefficients, forKey: .coefficients)
    }
}

extension PABSettings: Codable {
    enum CodingKeys: String, CodingKey { case spatialRange, temporalRange, crossRange, timestepWindow, mlpTimesteps, mlpBlocks, mlpSkipCount }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        spatialRange = try c.decode(Int.self, forKey: .spatialRange)
        temporalRange = try c.decode(Int.self, forKey: .temporalRange)
        crossRange = try c.decode(Int.self, forKey: .crossRange)
        let w = try c.decode([Int].self, forKey: .timestepWindow)
        guard w.count == 2, w[0] < w[1] else {
            throw ConfigCoding.error(in: decoder, key: "timestep_window", "expected [low, high] with low < high, got \(w)")
        }
        window = w[0]...w[1]
        mlpTimesteps = try c.decodeIfPresent([Int].self, forKey: .mlpTimesteps) ?? []
        mlpBlocks = try c.decodeIfPresent([Int].self, forKey: .mlpBlocks) ?? []
        mlpSkipCount = try c.decode(Int.self, forKey: .mlpSkipCount)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(spatialRange, forKey: .spatialRange)
        try c.encode(temporalRange, forKey: .temporalRange)
        try c.encode(crossRange, forKey: .crossRange)
        try c.encode([window.lowerBound, window.upperBound], forKey: .timestepWindow)
        try c.encode(mlpTimesteps, forKey: .mlpTimesteps)
        try c.encode(mlpBlocks, forKey: .mlpBlocks)
        try c.encode(mlpSkipCount, forKey: .mlpSkipCount)
    }
}
