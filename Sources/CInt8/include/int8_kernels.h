// The elementwise halves of a W8A8 linear layer, around oneDNN's integer GEMM: quantising
// activation rows to uint8 and turning int32 products back into float32 (with the bias and an
// optional residual add in the same pass). C because the row min/max reductions and the
// float->uint8 packing need AVX2 intrinsics to run at memory speed.
#pragma once
#include <stdint.h>

/// Quantises `rows` rows of `k` floats (row stride `ldx`) to uint8, asymmetric per row:
/// q = clamp(round(x / scale) + zero, 0, levels), with the row's range widened to include 0 so
/// that 0 is exact. Writes q [rows, k] (dense), scale [rows], zero [rows]. levels <= 255.
void int8_quantize_rows(const float *x, int64_t rows, int64_t k, int64_t ldx, int32_t levels,
                        uint8_t *q, float *scale, int32_t *zero);

/// out[r, j] (+)= rowScale[r] * colScale[j] * (acc[r, j] - rowZero[r] * colSum[j]) + bias[j]
/// for `rows` rows of `n` (acc dense, out stride `ldo`); `bias` may be NULL; `accumulate`
/// non-zero adds to out instead of overwriting it.
void int8_dequantize_rows(const int32_t *acc, int64_t rows, int64_t n, const float *rowScale,
                          const int32_t *rowZero, const float *colScale, const int32_t *colSum,
                          const float *bias, float *out, int64_t ldo, int accumulate);
