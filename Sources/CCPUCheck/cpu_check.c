// Refuses, before main, to run a build made for AVX2 + FMA (`-target-cpu haswell`) on a CPU without
// them: that would otherwise die with SIGILL at the first vector loop. Compiled for baseline x86-64.

#include "cpu_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

static char missing[160];

static void note(const char *name) {
    if (missing[0]) strncat(missing, ", ", sizeof missing - strlen(missing) - 1);
    strncat(missing, name, sizeof missing - strlen(missing) - 1);
}

const char *opensora_missing_cpu_features(void) {
    missing[0] = 0;
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) { note("cpuid leaf 1"); return missing; }
    int osYMM = 0;
    if (c & bit_OSXSAVE) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        osYMM = (lo & 0x6) == 0x6;
    }
    if (!(c & bit_AVX)) note("AVX");
    else if (!osYMM) note("AVX state saved by the OS");
    if (!(c & bit_FMA)) note("FMA");
    if (!(c & bit_F16C)) note("F16C");
    if (!(c & bit_MOVBE)) note("MOVBE");
    unsigned b7 = 0;
    if (__get_cpuid_count(7, 0, &a, &b7, &c, &d)) {
        if (!(b7 & bit_AVX2)) note("AVX2");
        if (!(b7 & bit_BMI)) note("BMI1");
        if (!(b7 & bit_BMI2)) note("BMI2");
    } else {
        note("AVX2");
    }
    if (!__get_cpuid(0x80000001, &a, &b, &c, &d) || !(c & bit_LZCNT)) note("LZCNT");
    /* A test seam: pretend the CPU lacks a feature (CLITests check the refusal below). */
    const char *simulated = getenv("OPENSORA_SIMULATE_MISSING_CPU_FEATURE");
    if (simulated && *simulated) note(simulated);
#endif
    return missing;
}

int opensora_built_for_x86_64_v3(void) {
#if defined(OPENSORA_BUILT_FOR_X86_64_V3)
    return 1;
#else
    return 0;
#endif
}

#if defined(__x86_64__) && defined(OPENSORA_BUILT_FOR_X86_64_V3)
__attribute__((constructor)) static void opensora_refuse_unsupported_cpu(void) {
    const char *lacks = opensora_missing_cpu_features();
    if (!*lacks) return;
    fprintf(stderr, "error: this opensora was built for x86-64-v3 (AVX2 + FMA, `-target-cpu haswell`) and this CPU lacks %s; "
                    "rebuild for baseline x86-64 with `OPENSORA_PORTABLE=1 make build` (about 2x slower elementwise kernels)\n", lacks);
    _exit(1);
}
#endif
