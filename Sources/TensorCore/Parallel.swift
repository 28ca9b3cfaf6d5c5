// One place decides how many threads the engine's own (non-BLAS) loops use.
//
// Our loops fork-join with DispatchQueue.concurrentPerform (cheap: ~25 ns an iteration, the caller
// takes part). OpenBLAS has its own threads; we never run both at once: GEMMs are called from one
// thread, and loops that call small GEMMs from several workers wrap themselves in
// `BLAS.singleThreaded`.

import Foundation
import Dispatch

public enum Runtime {
    /// Threads for the engine's own loops and for OpenBLAS. Defaults to the number of cores.
    nonisolated(unsafe) public private(set) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    public static func setThreads(_ n: Int) {
        threads = max(1, n)
        BLAS.setThreads(threads)
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
    if workers <= 1 { body(0..<n); return }
    let chunks = min(n, workers * 4)
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = n * c / chunks, hi = n * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}
