#ifndef OPENSORA_CPU_CHECK_H
#define OPENSORA_CPU_CHECK_H

/* The x86-64-v3 features (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE and the OS saving the YMM
   registers) this CPU lacks, as a comma-separated list; "" when it has them all or is not x86-64. */
const char *opensora_missing_cpu_features(void);

/* 1 when the hot modules were built for x86-64-v3 (the default), 0 for OPENSORA_PORTABLE=1. */
int opensora_built_for_x86_64_v3(void);

#endif
