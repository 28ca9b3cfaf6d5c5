#include "int8_kernels.h"
#include <math.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

static void row_range(const float *x, int64_t k, float *lo, float *hi) {
    float mn = 0, mx = 0;
    int64_t j = 0;
#ifdef __AVX2__
    __m256 vmn = _mm256_setzero_ps(), vmx = _mm256_setzero_ps();
    for (; j + 8 <= k; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        vmn = _mm256_min_ps(vmn, v);
        vmx = _mm256_max_ps(vmx, v);
    }
    float a[8], b[8];
    _mm256_storeu_ps(a, vmn);
    _mm256_storeu_ps(b, vmx);
    for (int i = 0; i < 8; i++) { if (a[i] < mn) mn = a[i]; if (b[i] > mx) mx = b[i]; }
#endif
    for (; j < k; j++) { if (x[j] < mn) mn = x[j]; if (x[j] > mx) mx = x[j]; }
    *lo = mn; *hi = mx;
}

void int8_quantize_rows(const float *x, int64_t rows, int64_t k, int64_t ldx, int32_t levels,
                        uint8_t *q, float *scale, int32_t *zero) {
    const float top = (float)levels;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        uint8_t *qr = q + r * k;
        float lo, hi;
        row_range(xr, k, &lo, &hi);
        float s = (hi - lo) / top;
        if (!(s > 0) || !isfinite(s)) s = 1;   /* an all-zero row (or non-finite input: garbage in, no crash) */
        float z = nearbyintf(-lo / s);
        if (z < 0) z = 0;
        if (z > top) z = top;
        const float inv = 1 / s;
        scale[r] = s;
        zero[r] = (int32_t)z;
        int64_t j = 0;
#ifdef __AVX2__
        const __m256 vinv = _mm256_set1_ps(inv), vz = _mm256_set1_ps(z), v0 = _mm256_setzero_ps(), vtop = _mm256_set1_ps(top);
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (; j + 32 <= k; j += 32) {
            __m256i i4[4];
            for (int u = 0; u < 4; u++) {
                __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + j + 8 * u), vinv),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, vz), v0), vtop);
                i4[u] = _mm256_cvtps_epi32(v);
            }
            __m256i w01 = _mm256_packs_epi32(i4[0], i4[1]), w23 = _mm256_packs_epi32(i4[2], i4[3]);
            __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
            _mm256_storeu_si256((__m256i *)(qr + j), b);
        }
#endif
        for (; j < k; j++) {
            float v = nearbyintf(xr[j] * inv) + z;
            if (v < 0) v = 0;
            if (v > top) v = top;
            qr[j] = (uint8_t)v;
        }
    }
}

void int8_dequantize_rows(const int32_t *acc, int64_t rows, int64_t n, const float *rowScale,
                          const int32_t *rowZero, const float *colScale, const int32_t *colSum,
                          const float *bias, float *out, int64_t ldo, int accumulate) {
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *a = acc + r * n;
        float *o = out + r * ldo;
        const float rs = rowScale[r];
        const int32_t z = rowZero[r];
        if (accumulate) {
            if (bias) for (int64_t j = 0; j < n; j++) o[j] += rs * colScale[j] * (float)(a[j] - z * colSum[j]) + bias[j];
            else      for (int64_t j = 0; j < n; j++) o[j] += rs * colScale[j] * (float)(a[j] - z * colSum[j]);
        } else {
            if (bias) for (int64_t j = 0; j < n; j++) o[j] = rs * colScale[j] * (float)(a[j] - z * colSum[j]) + bias[j];
            else      for (int64_t j = 0; j < n; j++) o[j] = rs * colScale[j] * (float)(a[j] - z * colSum[j]);
        }
    }
}
