// Matrix products through OpenBLAS sgemm. Row-major throughout; weights are stored like a
// PyTorch Linear ([out, in]), so `linear` multiplies by the transpose.

import CBLAS
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// OpenBLAS's build line ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"):
    /// its version and the kernels it picked for this CPU.
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// How long an idle OpenBLAS worker spins (calling sched_yield) before it sleeps, as the
    /// exponent of a cycle count: OpenBLAS's default is 2^28 cycles, ~0.1 s. Between GEMMs our own
    /// threads run on the same cores, and a spinning worker takes CPU from them; 2^4 (sleep at once,
    /// tens of microseconds to wake per GEMM) made STDiT3-XL/2 faster (measured in docs/performance.md).
    /// A user's OPENBLAS_THREAD_TIMEOUT wins.
    public static let idleSpinExponent = 4

    /// The exponent in force: the environment's OPENBLAS_THREAD_TIMEOUT, else `idleSpinExponent`
    /// once `limitIdleSpin` has restarted the pool, else nil (OpenBLAS's default).
    nonisolated(unsafe) public private(set) static var threadTimeout: Int? =
        ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"].flatMap { Int($0) }

    /// OpenBLAS reads OPENBLAS_THREAD_TIMEOUT only when it starts its thread pool, which happens
    /// before `main`. So when the user has not set it, set it, have OpenBLAS re-read its
    /// environment and restart the pool (the same calls its fork handler makes). The entry points
    /// are looked up at run time: a BLAS build without them (OpenMP, serial) is left as it is.
    static func limitIdleSpin() {
        guard threadTimeout == nil else { return }
        typealias Call = @convention(c) () -> Void
        typealias IntCall = @convention(c) () -> Int32
        guard let readEnv = dlsym(nil, "openblas_read_env"),
              let shutdown = dlsym(nil, "blas_thread_shutdown_"),
              let initPool = dlsym(nil, "blas_thread_init") else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", String(idleSpinExponent), 0)
        unsafeBitCast(readEnv, to: Call.self)()
        _ = unsafeBitCast(shutdown, to: IntCall.self)()
        _ = unsafeBitCast(initPool, to: IntCall.self)()
        threadTimeout = idleSpinExponent
    }

    /// Runs `body` with OpenBLAS restricted to one thread, for loops that call many small GEMMs
    /// from our own worker threads (2 cores must not run 4 threads).
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        _ = Runtime.configured
        let before = openblas_get_num_threads()
        if before == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(before) }
        return try body()
    }
}

/// C[M,N] = alpha * op(A) op(B) + beta * C, row-major, with explicit leading dimensions.
@inlinable
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    _ = Runtime.configured
    // Slices fixed by the shape alone, each one single-threaded OpenBLAS call, run by the engine's
    // workers: the bytes do not depend on the thread count (OpenBLAS's own threads split a product
    // by the thread count, which changes which kernel, and so which rounding, a row gets).
    let split = GEMMSlices(m: m, n: n, k: k)
    if split.count == 1 { return cblasSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
    let (ap, bp, cp) = (SendablePointer(a), SendablePointer(b), SendablePointer(c))
    parallelFor(split.count) { slices in
        for s in slices {
            let lo = s * split.size, len = min(split.size, (split.byRows ? m : n) - lo)
            if split.byRows {
                cblasSgemm(transA, transB, len, n, k, alpha, ap.p + (transA ? lo : lo * lda), lda, bp.p, ldb, beta, cp.p + lo * ldc, ldc)
            } else {
                cblasSgemm(transA, transB, m, len, k, alpha, ap.p, lda, bp.p + (transB ? lo * ldb : lo), ldb, beta, cp.p + lo, ldc)
            }
        }
    }
}

/// How `sgemm` splits a product: along C's rows (or its columns, when C is wide and short) into
/// `count` slices of `size`, from the shape alone. A slice is at least `minSize` rows, so that
/// OpenBLAS's packing of the shared operand (once per call) stays a small part of the work.
@usableFromInline
struct GEMMSlices: Sendable {
    @usableFromInline static let minWork = 1 << 24, minSize = 256, maxCount = 8, align = 16
    @usableFromInline let byRows: Bool, size: Int, count: Int

    @inlinable
    init(m: Int, n: Int, k: Int) {
        byRows = m >= n || m >= 2 * Self.minSize
        let dim = byRows ? m : n
        guard m * n * k >= Self.minWork, dim >= 2 * Self.minSize else { size = dim; count = 1; return }
        let wanted = (dim + Self.maxCount - 1) / Self.maxCount
        size = (max(Self.minSize, wanted) + Self.align - 1) / Self.align * Self.align
        count = (dim + size - 1) / size
    }
}

@inlinable
func cblasSgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// a: [..., M, K] x b: [K, N] (or [N, K] with transB) -> [..., M, N].
public func matmul(_ a: Tensor, _ b: Tensor, transB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank == 2, "matmul expects a: [..., M, K], b: 2-D; got \(a.shape) and \(b.shape)")
    let k = a.shape[a.rank - 1]
    let m = a.count / max(k, 1)
    let n = transB ? b.shape[0] : b.shape[1]
    precondition((transB ? b.shape[1] : b.shape[0]) == k, "matmul inner dimensions differ: \(a.shape) x \(b.shape)\(transB ? "^T" : "")")
    var out = Tensor(uninitialized: Array(a.shape.dropLast()) + [n])
    sgemm(transB: transB, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: b.shape[1], c: out.mutablePointer, ldc: n)
    return out
}

/// Batched a[i]: [M, K] x b[i]: [K, N] (or [N, K] with transB); a: [B, M, K], b: [B, ., .] -> [B, M, N].
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transB: Bool = false) -> Tensor {
    precondition(a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0], "batchedMatmul expects [B, M, K] and [B, K, N]; got \(a.shape), \(b.shape)")
    let bs = a.shape[0], m = a.shape[1], k = a.shape[2]
    let n = transB ? b.shape[1] : b.shape[2]
    precondition((transB ? b.shape[2] : b.shape[1]) == k, "batchedMatmul inner dimensions differ: \(a.shape) x \(b.shape)")
    var out = Tensor(uninitialized: [bs, m, n])
    let ap = a.pointer, bp = b.pointer, cp = out.mutablePointer
    for i in 0..<bs {
        sgemm(transB: transB, m: m, n: n, k: k, a: ap + i * m * k, lda: k, b: bp + i * k * n, ldb: b.shape[2],
              c: cp + i * m * n, ldc: n)
    }
    return out
}

/// PyTorch Linear: x: [..., in] -> [..., out] = x W^T + b, W: [out, in] (any dtype), b: [out].
public func linear(_ x: Tensor, weight: WeightTensor, bias: WeightTensor? = nil) -> Tensor {
    precondition(weight.shape.count == 2, "linear weight \(weight.name) must be 2-D, is \(weight.shape)")
    let outF = weight.shape[0], inF = weight.shape[1]
    precondition(x.shape.last == inF, "linear \(weight.name): input features \(x.shape.last ?? 0) != \(inF)")
    let m = x.count / max(inF, 1)
    var out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
    let op = out.mutablePointer
    if let bias {
        precondition(bias.count == outF, "linear bias \(bias.name) has \(bias.count) elements, expected \(outF)")
        bias.withFloatPointer { bp in
            for r in 0..<m { (op + r * outF).update(from: bp, count: outF) }
        }
    }
    weight.withFloatPointer { wp in
        sgemm(transB: true, m: m, n: outF, k: inF, a: x.pointer, lda: inF, b: wp, ldb: inF,
              beta: bias == nil ? 0 : 1, c: op, ldc: outF)
    }
    return out
}
