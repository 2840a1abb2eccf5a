/* kernels_avx512.c - the kernels of kernels_simd.h for AVX-512 (F, BW, DQ,
 * VL) + FMA. Build this file alone with
 *   -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma
 * (never the whole engine): kernels_fast.c calls it only when the CPU
 * reports these features. */
#include "simd_avx512.h"
#include "kernels_simd.h"
