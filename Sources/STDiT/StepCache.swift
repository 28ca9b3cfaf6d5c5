// Step caching: published, training-free ways to skip part of the denoiser's work on steps whose
// result barely differs from an earlier step's (docs/caching.md).
//
// - TeaCache (ali-vilab/TeaCache, its Open-Sora v1.2 experiment): each forward measures how much
//   the timestep-modulated input of the first block changed since the last forward, rescales that
//   with a fitted polynomial and accumulates it; while the sum stays under a threshold the whole
//   block stack is skipped and the residual (output - input) of the last computed stack is added
//   instead. The first and the last step always compute.
// - Pyramid Attention Broadcast (hpcaitech/VideoSys, OpenSoraPABConfig): inside a middle timestep
//   window, each attention's gated output is reused for the next steps (spatial every other step,
//   temporal 3 in 4, cross-attention 5 in 6), and the MLP of the first blocks is computed at a few
//   listed timesteps and reused for the steps after.
//
// One `StepCache` belongs to one sampling run (one batch, one sample): the model calls
// `beginForward` once per call, i.e. once per sampler step, and the cache decides what that call
// computes. It sees the whole classifier-free-guidance batch, as the reference methods do.

import TensorCore

/// TeaCache's parameters. Defaults: the Open-Sora v1.2 experiment script.
public struct TeaCacheSettings: Equatable, Sendable {
    /// Skip while the accumulated rescaled change stays below this (0.1 "slow", 0.2 "fast").
    public var threshold: Double = 0.1
    /// Rescaling polynomial, highest power first (np.poly1d), fitted on Open-Sora v1.2.
    public var coefficients: [Double] = [2.17546007e+02, -1.18329252e+02, 2.68662585e+01, -4.59364272e-02, 4.84426240e-02]

    public init(threshold: Double = 0.1) { self.threshold = threshold }

    /// The rescaled change for a relative L1 change `x`.
    public func rescaled(_ x: Double) -> Double { coefficients.reduce(0) { $0 * x + $1 } }
}

/// Pyramid Attention Broadcast's parameters. Defaults: VideoSys's OpenSoraPABConfig.
public struct PABSettings: Equatable, Sendable {
    /// A branch is recomputed on steps whose index is a multiple of its range and reused on the
    /// others, while int(t) lies strictly inside `window`. A range of 1 never reuses.
    public var spatialRange = 2, temporalRange = 4, crossRange = 6
    /// Timestep window (exclusive bounds) in which attention outputs are broadcast.
    public var window: ClosedRange<Int> = 450...930
    /// MLP reuse: at these timesteps (int of t in the compute dtype) the MLPs of `mlpBlocks`
    /// (spatial and temporal blocks alike) are computed and kept for the next `mlpSkipCount` steps.
    public var mlpTimesteps: [Int] = [676, 788, 864]
    public var mlpBlocks: [Int] = [0, 1, 2, 3, 4]
    public var mlpSkipCount = 2

    public init() {}

    func range(_ branch: CacheSite.Branch) -> Int {
        switch branch {
        case .spatialAttention: return spatialRange
        case .temporalAttention: return temporalRange
        case .crossAttention: return crossRange
        case .mlp: return 1
        }
    }
}

public enum StepCacheMethod: Equatable, Sendable {
    case teaCache(TeaCacheSettings)
    case pab(PABSettings)
}

/// What the cache did over one or more sampling runs.
public struct StepCacheStatistics: Equatable, Sendable {
    /// Forwards that ran the block stack, and forwards that replayed it (TeaCache).
    public var fullForwards = 0, skippedForwards = 0
    /// Self-attention (spatial + temporal) and cross-attention outputs computed and reused (PAB).
    public var computedAttention = 0, reusedAttention = 0
    public var computedCrossAttention = 0, reusedCrossAttention = 0
    /// MLP outputs reused (PAB).
    public var reusedMLP = 0
    /// Largest total size of the tensors the cache held at once.
    public var peakBytes = 0

    public init() {}

    public mutating func merge(_ o: StepCacheStatistics) {
        fullForwards += o.fullForwards; skippedForwards += o.skippedForwards
        computedAttention += o.computedAttention; reusedAttention += o.reusedAttention
        computedCrossAttention += o.computedCrossAttention; reusedCrossAttention += o.reusedCrossAttention
        reusedMLP += o.reusedMLP
        peakBytes = max(peakBytes, o.peakBytes)
    }
}

/// A branch of a transformer block whose output PAB can reuse. STDiT3 has a spatial and a
/// temporal stack of blocks (stack 0, 1); STDiT2 and STDiT one stack whose blocks hold both attentions.
public struct CacheSite: Hashable, Sendable {
    public enum Branch: Hashable, Sendable { case spatialAttention, temporalAttention, crossAttention, mlp }
    public var stack: Int, block: Int, branch: Branch

    public init(stack: Int, block: Int, branch: Branch) { self.stack = stack; self.block = block; self.branch = branch }

    static func attention(_ axis: AttentionAxis, stack: Int, block: Int) -> CacheSite {
        CacheSite(stack: stack, block: block, branch: axis == .spatial ? .spatialAttention : .temporalAttention)
    }
}

public final class StepCache {
    public let method: StepCacheMethod
    /// Model calls in one sampling run (the sampler's step count).
    public let steps: Int
    /// The timestep as the reference's schedule compares it: int() of t in the compute dtype.
    let timestepKey: (Float) -> Int
    public private(set) var statistics = StepCacheStatistics()

    /// Index of the current forward in the run (-1 before the first).
    public private(set) var step = -1
    private var key = 0
    /// Shape of the hidden states the kept tensors belong to.
    private var tokenShape: [Int]?

    // TeaCache
    private var accumulated = 0.0
    private var previousProbe: Tensor?
    private var residual: Tensor?
    // PAB: the last computed output of each branch, and kept MLP outputs with the last step they serve.
    private var branches: [CacheSite: Tensor] = [:]
    private var mlpOutputs: [CacheSite: (output: Tensor, lastStep: Int)] = [:]

    public init(method: StepCacheMethod, steps: Int, timestepKey: @escaping (Float) -> Int = { Int($0) }) {
        self.method = method; self.steps = steps; self.timestepKey = timestepKey
    }

    /// Forgets every kept tensor and restarts the step count (a new prompt, batch or seed).
    public func reset() {
        step = -1; key = 0; tokenShape = nil
        accumulated = 0; previousProbe = nil; residual = nil
        branches = [:]; mlpOutputs = [:]
    }

    /// Bytes of the tensors held now.
    public var heldBytes: Int {
        let tensors = [previousProbe, residual].compactMap { $0 } + Array(branches.values) + mlpOutputs.values.map(\.output)
        return tensors.reduce(0) { $0 + $1.count * MemoryLayout<Float>.size }
    }

    /// Starts one model call at timestep `t` (the first batch row's) on hidden states of `tokenShape`.
    /// A run longer than `steps`, or hidden states of another shape, start a new run.
    func beginForward(timestep t: Float, tokenShape shape: [Int]) {
        if step + 1 >= steps || (tokenShape != nil && tokenShape != shape) { reset() }
        tokenShape = shape
        step += 1
        key = timestepKey(t)
        if case let .pab(p) = method, key <= p.window.lowerBound {
            branches = [:]      // timesteps only fall: no later step lies in the window
        }
        mlpOutputs = mlpOutputs.filter { $0.value.lastStep >= step }
    }

    private func noteMemory() { statistics.peakBytes = max(statistics.peakBytes, heldBytes) }

    // MARK: TeaCache

    /// Runs the block stack, or (TeaCache, on a step it skips) adds the residual of the last
    /// computed one. probe: the first block's modulated input [R, C]. x: [R, C]
    func blockStack(_ x: inout Tensor, probe: () -> Tensor, run: (inout Tensor) -> Void) {
        guard case let .teaCache(settings) = method else {
            statistics.fullForwards += 1
            run(&x)
            return
        }
        let current = probe()
        var compute = true
        if step == 0 || step == steps - 1 || previousProbe == nil || residual == nil {
            accumulated = 0
        } else if let previous = previousProbe {
            accumulated += settings.rescaled(relativeL1(current, previous))
            if accumulated < settings.threshold { compute = false } else { accumulated = 0 }
        }
        previousProbe = current
        if compute {
            let input = x
            run(&x)
            residual = x - input
            statistics.fullForwards += 1
        } else {
            addInPlace(&x, residual!)
            statistics.skippedForwards += 1
        }
        noteMemory()
    }

    // MARK: PAB

    /// Adds the output kept for `site` to x when this step reuses it; false = compute it.
    func replay(_ site: CacheSite, into x: inout Tensor) -> Bool {
        guard case let .pab(p) = method else { return false }
        let reused: Tensor?
        if site.branch == .mlp {
            reused = p.mlpTimesteps.contains(key) ? nil : mlpOutputs[site]?.output
            if reused != nil { statistics.reusedMLP += 1 }
        } else {
            let broadcast = step % max(1, p.range(site.branch)) != 0 && p.window.lowerBound < key && key < p.window.upperBound
            reused = broadcast ? branches[site] : nil
            switch (site.branch, reused != nil) {
            case (.crossAttention, true): statistics.reusedCrossAttention += 1
            case (.crossAttention, false): statistics.computedCrossAttention += 1
            case (_, true): statistics.reusedAttention += 1
            case (_, false): statistics.computedAttention += 1
            }
        }
        guard let reused else { return false }
        addInPlace(&x, reused)
        return true
    }

    /// Where a computed output of `site` goes when a later step may reuse it; nil = nowhere.
    func keeper(_ site: CacheSite) -> ((Tensor) -> Void)? {
        guard case let .pab(p) = method else { return nil }
        if site.branch == .mlp {
            guard p.mlpSkipCount > 0, p.mlpTimesteps.contains(key), p.mlpBlocks.contains(site.block) else { return nil }
            let last = step + p.mlpSkipCount
            return { [weak self] in self?.mlpOutputs[site] = ($0, last); self?.noteMemory() }
        }
        guard p.range(site.branch) > 1, key > p.window.lowerBound else { return nil }
        return { [weak self] in self?.branches[site] = $0; self?.noteMemory() }
    }
}

/// mean|a - b| / mean|b|, in double precision.
func relativeL1(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.count == b.count, "relativeL1: \(a.shape) vs \(b.shape)")
    var diff = 0.0, base = 0.0
    let ap = a.pointer, bp = b.pointer
    var i = 0
    while i < a.count {
        let end = min(a.count, i + 4096)
        var d: Float = 0, s: Float = 0
        for j in i..<end { d += abs(ap[j] - bp[j]); s += abs(bp[j]) }
        diff += Double(d); base += Double(s)
        i = end
    }
    return base > 0 ? diff / base : 0
}

/// x += y, elementwise over equal counts.
func addInPlace(_ x: inout Tensor, _ y: Tensor) {
    precondition(x.count == y.count, "addInPlace: \(x.shape) vs \(y.shape)")
    let xp = SendablePointer(x.mutablePointer), yp = SendablePointer(y.pointer)
    parallelFor(x.count, minPerThread: 1 << 15) { r in
        for i in r { xp.p[i] += yp.p[i] }
    }
}
