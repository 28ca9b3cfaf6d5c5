#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <errno.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
/* Function-like macros are not imported into Swift. */
static inline int cff_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int cff_averror_eof(void) { return AVERROR_EOF; }
static inline const char *cff_err2str(int e, char *b, size_t n) { return av_make_error_string(b, n, e); }

/* Whether libx264 would pick its AVX-512 kernels: the CPU has AVX-512 F, and the OS saves the
   ZMM state (XCR0 bits 1, 2, 5, 6, 7), as x264's own cpu detection requires. */
static inline int cff_cpu_has_avx512(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_AVX512F) != 0;
#else
    return 0;
#endif
}
