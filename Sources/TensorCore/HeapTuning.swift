// glibc returns every block over 32 MB to the kernel on free, so a loop that allocates the same
// 100 MB activations again and again pays a page fault per 4 KB each time (its cost in VAE decode:
// docs/performance.md). Keeping freed memory in the process avoids that.

#if canImport(Glibc)
@_silgen_name("mallopt") private func c_mallopt(_ param: Int32, _ value: Int32) -> Int32
@_silgen_name("malloc_trim") private func c_malloc_trim(_ pad: Int) -> Int32

public enum HeapTuning {
    /// Serve large allocations from the heap and keep freed memory for reuse
    /// (M_MMAP_THRESHOLD and M_TRIM_THRESHOLD = 1 GiB). Call once at startup, before threads.
    public static func retainFreedMemory() {
        _ = c_mallopt(-3, 1 << 30)      // M_MMAP_THRESHOLD
        _ = c_mallopt(-1, 1 << 30)      // M_TRIM_THRESHOLD
    }

    /// Gives the pages of every free heap block back to the kernel (glibc's malloc_trim). For a
    /// model whose activations grow from layer to layer (a VAE decoder): each level's freed
    /// blocks are too small for the next level's tensors and would otherwise stay resident.
    public static func returnFreedMemory() {
        _ = c_malloc_trim(0)
    }
}
#else
public enum HeapTuning {
    public static func retainFreedMemory() {}
    public static func returnFreedMemory() {}
}
#endif
