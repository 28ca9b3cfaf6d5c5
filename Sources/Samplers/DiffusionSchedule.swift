// The Gaussian-diffusion schedule Open-Sora v1.0/v1.1 sample with (schedulers/iddpm, ADM code):
// a linear beta schedule over 1000 steps, respaced to N steps. The respaced betas are stored as
// float32 by the reference (torch.FloatTensor), so every array derived from them is float32 too;
// this type computes them the same way.

import Foundation

/// How ADM's `space_timesteps` picks the kept steps from its section string.
public enum Respacing: String, Sendable, Equatable {
    /// "N": N steps evenly strided over [0, T - 1] (rounded half to even), the last one included.
    case even
    /// "ddimN": range(0, T, i) for the first integer stride i giving N steps (T - 1 usually not included).
    case ddimStride
}

/// The precision of the schedule tables.
public enum ScheduleTables: String, Sendable, Equatable {
    /// Open-Sora's IDDPM copy: respaced betas stored as float32, every table derived in float32.
    case float32
    /// ADM / DiT's GaussianDiffusion: every table in float64 (numpy), each value rounded to
    /// float32 where it is looked up (`_extract_into_tensor`).
    case float64
}

public struct DiffusionSchedule: Sendable {
    /// Spaced index i -> original timestep, what the model receives. Ascending.
    public let timestepMap: [Int]
    /// All [N], float32.
    public let betas: [Float]
    public let alphasCumprod: [Float]
    public let alphasCumprodPrev: [Float]
    public let sqrtRecipAlphasCumprod: [Float]
    public let sqrtRecipm1AlphasCumprod: [Float]
    public let posteriorVariance: [Float]
    public let posteriorLogVarianceClipped: [Float]
    public let posteriorMeanCoef1: [Float]
    public let posteriorMeanCoef2: [Float]
    /// log(beta), the upper end of the learned variance range.
    public let logBetas: [Float]

    public var count: Int { betas.count }

    /// Linear schedule over `diffusionSteps`, respaced to `samplingSteps` evenly spaced steps.
    public init(samplingSteps: Int, diffusionSteps: Int = 1000) throws {
        guard diffusionSteps >= 2 else {
            throw SamplerError.invalidInput("diffusion schedule: diffusion_steps must be at least 2, got \(diffusionSteps)")
        }
        guard samplingSteps >= 1, samplingSteps <= diffusionSteps else {
            throw SamplerError.invalidInput("diffusion schedule: cannot respace \(diffusionSteps) steps to \(samplingSteps) (need 1...\(diffusionSteps))")
        }
        let kept = Self.spacedTimesteps(diffusionSteps, count: samplingSteps)
        let base = Self.linearBetas(diffusionSteps)
        // Respaced betas from the float64 cumulative product of the base schedule.
        var cumprod = 1.0, last = 1.0
        var betas: [Float] = [], map: [Int] = []
        let keep = Set(kept)
        for i in 0..<diffusionSteps {
            cumprod *= 1 - base[i]
            if keep.contains(i) {
                betas.append(Float(1 - cumprod / last))
                last = cumprod
                map.append(i)
            }
        }
        try self.init(betas: betas, timestepMap: map)
    }

    /// A linear schedule over `diffusionSteps` respaced to `samplingSteps` as `respacing` says,
    /// with tables of the given precision (DiT: `.float64`, with `linspace` as numpy computes it).
    public init(samplingSteps: Int, diffusionSteps: Int = 1000, respacing: Respacing, tables: ScheduleTables) throws {
        if respacing == .even && tables == .float32 { try self.init(samplingSteps: samplingSteps, diffusionSteps: diffusionSteps); return }
        guard diffusionSteps >= 2 else {
            throw SamplerError.invalidInput("diffusion schedule: diffusion_steps must be at least 2, got \(diffusionSteps)")
        }
        guard samplingSteps >= 1, samplingSteps <= diffusionSteps else {
            throw SamplerError.invalidInput("diffusion schedule: cannot respace \(diffusionSteps) steps to \(samplingSteps) (need 1...\(diffusionSteps))")
        }
        let kept: [Int]
        switch respacing {
        case .even: kept = Self.spacedTimesteps(diffusionSteps, count: samplingSteps)
        case .ddimStride: kept = try Self.ddimTimesteps(diffusionSteps, count: samplingSteps)
        }
        let base = tables == .float64 ? Self.numpyLinearBetas(diffusionSteps) : Self.linearBetas(diffusionSteps)
        var cumprod = 1.0, last = 1.0
        var betas: [Double] = [], map: [Int] = []
        let keep = Set(kept)
        for i in 0..<diffusionSteps {
            cumprod *= 1 - base[i]
            if keep.contains(i) {
                betas.append(1 - cumprod / last)
                last = cumprod
                map.append(i)
            }
        }
        switch tables {
        case .float32: try self.init(betas: betas.map { Float($0) }, timestepMap: map)
        case .float64: try self.init(float64Betas: betas, timestepMap: map)
        }
    }

    /// ADM's GaussianDiffusion tables, all in float64 in its operation order, rounded to float32 at the end.
    init(float64Betas betas: [Double], timestepMap: [Int]) throws {
        guard !betas.isEmpty, betas.count == timestepMap.count else {
            throw SamplerError.invalidInput("diffusion schedule: \(betas.count) betas for \(timestepMap.count) timesteps")
        }
        guard betas.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
            throw SamplerError.invalidInput("diffusion schedule: betas must lie in (0, 1]")
        }
        let n = betas.count
        let alphas = betas.map { 1 - $0 }
        var acc = 1.0
        let ac = alphas.map { a -> Double in acc *= a; return acc }
        let acPrev = [1] + ac.dropLast()
        let pv = (0..<n).map { betas[$0] * (1 - acPrev[$0]) / (1 - ac[$0]) }
        func f32(_ v: [Double]) -> [Float] { v.map { Float($0) } }
        self.timestepMap = timestepMap
        self.betas = f32(betas)
        alphasCumprod = f32(ac)
        alphasCumprodPrev = f32(acPrev)
        sqrtRecipAlphasCumprod = f32(ac.map { (1 / $0).squareRoot() })
        sqrtRecipm1AlphasCumprod = f32(ac.map { (1 / $0 - 1).squareRoot() })
        posteriorVariance = f32(pv)
        posteriorLogVarianceClipped = n > 1 ? f32(([pv[1]] + pv.dropFirst()).map { Foundation.log($0) }) : [-.infinity]
        posteriorMeanCoef1 = f32((0..<n).map { betas[$0] * acPrev[$0].squareRoot() / (1 - ac[$0]) })
        posteriorMeanCoef2 = f32((0..<n).map { (1 - acPrev[$0]) * alphas[$0].squareRoot() / (1 - ac[$0]) })
        logBetas = f32(betas.map { Foundation.log($0) })
    }

    /// Derived arrays from float32 betas, in the reference's operation order.
    public init(betas: [Float], timestepMap: [Int]) throws {
        guard !betas.isEmpty, betas.count == timestepMap.count else {
            throw SamplerError.invalidInput("diffusion schedule: \(betas.count) betas for \(timestepMap.count) timesteps")
        }
        guard betas.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
            throw SamplerError.invalidInput("diffusion schedule: betas must lie in (0, 1]")
        }
        let n = betas.count
        self.betas = betas
        self.timestepMap = timestepMap
        let alphas = betas.map { 1 - $0 }
        // torch.cumprod on float32 accumulates in double and rounds each output.
        var acc = 1.0
        let ac = alphas.map { a -> Float in acc *= Double(a); return Float(acc) }
        let acPrev = [1] + ac.dropLast()
        alphasCumprod = ac
        alphasCumprodPrev = acPrev
        sqrtRecipAlphasCumprod = ac.map { (1 / $0).squareRoot() }
        sqrtRecipm1AlphasCumprod = ac.map { (1 / $0 - 1).squareRoot() }
        let pv = (0..<n).map { betas[$0] * (1 - acPrev[$0]) / (1 - ac[$0]) }
        posteriorVariance = pv
        // The posterior variance is 0 at t = 0; the reference clips the log with the next value.
        // (With one step there is no next value; the last step adds no noise, so it is unused.)
        posteriorLogVarianceClipped = n > 1 ? ([pv[1]] + pv.dropFirst()).map { Foundation.log($0) } : [-.infinity]
        posteriorMeanCoef1 = (0..<n).map { betas[$0] * acPrev[$0].squareRoot() / (1 - ac[$0]) }
        posteriorMeanCoef2 = (0..<n).map { (1 - acPrev[$0]) * alphas[$0].squareRoot() / (1 - ac[$0]) }
        logBetas = betas.map { Foundation.log($0) }
    }

    /// `torch.linspace(1e-4, 0.02, n, dtype=float64)` (scaled for n != 1000), as ATen computes
    /// it: from the start for the first half, from the end for the second.
    public static func linearBetas(_ n: Int) -> [Double] {
        let scale = 1000 / Double(n)
        let start = scale * 0.0001, end = scale * 0.02
        let step = (end - start) / Double(n - 1)
        let half = n / 2
        return (0..<n).map { i in i < half ? start + step * Double(i) : end - step * Double(n - i - 1) }
    }

    /// ADM's one-section `timestep_respacing` string: "N" (even) or "ddimN". -> (how, N)
    public static func parseRespacing(_ spec: String) throws -> (Respacing, Int) {
        let ddim = spec.hasPrefix("ddim")
        guard let n = Int(ddim ? String(spec.dropFirst(4)) : spec), n > 0 else {
            throw SamplerError.invalidInput("timestep respacing '\(spec)': expected N or ddimN with N a positive integer")
        }
        return (ddim ? .ddimStride : .even, n)
    }

    /// `np.linspace(1e-4, 0.02, n)` (scaled for n != 1000) as numpy computes it: start + i * step,
    /// the last value exactly the end.
    public static func numpyLinearBetas(_ n: Int) -> [Double] {
        let scale = 1000 / Double(n)
        let start = scale * 0.0001, end = scale * 0.02
        let step = (end - start) / Double(n - 1)
        return (0..<n).map { i in i == n - 1 ? end : Double(i) * step + start }
    }

    /// `space_timesteps(total, "ddimN")`: range(0, total, i) for the first stride i >= 1 that
    /// gives exactly `count` steps.
    public static func ddimTimesteps(_ total: Int, count: Int) throws -> [Int] {
        for stride in 1..<total where (total + stride - 1) / stride == count {
            return Array(Swift.stride(from: 0, to: total, by: stride))
        }
        throw SamplerError.invalidInput("diffusion schedule: no integer stride gives exactly \(count) DDIM steps over \(total) (ddim\(count))")
    }

    /// `space_timesteps(total, str(count))`: `count` steps evenly strided over [0, total - 1],
    /// rounded like Python's round().
    public static func spacedTimesteps(_ total: Int, count: Int) -> [Int] {
        let stride = count <= 1 ? 1 : Double(total - 1) / Double(count - 1)
        var cur = 0.0
        var steps: [Int] = []
        for _ in 0..<count {
            steps.append(Int(cur.rounded(.toNearestOrEven)))
            cur += stride
        }
        return steps
    }
}
