// One place decides how many threads the engine's own (non-BLAS) loops use.
//
// Our loops fork-join with DispatchQueue.concurrentPerform (cheap: ~25 ns an iteration, the caller
// takes part). OpenBLAS runs single-threaded: `sgemm` splits a large product into slices fixed by
// its shape and our workers run them, so no result depends on the thread count. (Its idle pool
// threads are told to sleep at once, `BLAS.limitIdleSpin`, in case a caller raises its count.)

import Foundation
import Dispatch
import Synchronization

public enum Runtime {
    /// Threads for the engine's own loops and for GEMMs. Defaults to the number of cores.
    nonisolated(unsafe) public private(set) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        applyBLASThreads()
    }

    /// OpenBLAS runs single-threaded: `sgemm` splits each large product itself (GEMMSlices).
    static func applyBLASThreads() {
        _ = idleSpinLimited
        BLAS.setThreads(1)
    }

    private static let idleSpinLimited: Bool = { BLAS.limitIdleSpin(); return true }()

    /// Applies the thread settings to OpenBLAS once, before the first GEMM (OpenBLAS starts with
    /// one thread per core). Touching it is free after the first time.
    public static let configured: Bool = {
        applyBLASThreads()
        return true
    }()

    /// True while a `parallelFor` is running (in any thread): work started then
    /// stays on the thread that asked (no nested fork-join), so 2 cores never run
    /// 4 busy threads. A process-wide count rather than a thread-local mark: pthread key 0 came
    /// back already set on the main thread of the engine (another library uses it uncreated).
    @inlinable
    public static var parallelRegionActive: Bool { activeParallelRegions.load(ordering: .relaxed) > 0 }

    @usableFromInline
    static let activeParallelRegions = Atomic<Int>(0)

    /// Runs `body` counted as a parallel region.
    @inlinable
    public static func inParallelRegion(_ body: () -> Void) {
        activeParallelRegions.add(1, ordering: .relaxed)
        body()
        activeParallelRegions.subtract(1, ordering: .relaxed)
    }
}

/// Sendable wrapper for raw pointers captured by worker closures.
public struct SendablePointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    @inlinable public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    @inlinable public init(_ p: UnsafePointer<T>) { self.p = UnsafeMutablePointer(mutating: p) }
}

/// Runs `body` over `0..<n` split into contiguous chunks, one chunk per worker.
/// Work smaller than `minPerThread` items per worker runs on the calling thread.
@inlinable
public func parallelFor(_ n: Int, minPerThread: Int = 1, _ body: @escaping @Sendable (Range<Int>) -> Void) {
    if n <= 0 { return }
    let workers = min(Runtime.threads, max(1, n / max(minPerThread, 1)))
    if workers <= 1 || Runtime.parallelRegionActive { body(0..<n); return }
    let chunks = min(n, workers * 4)
    Runtime.inParallelRegion {
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
