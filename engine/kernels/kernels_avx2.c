/* kernels_avx2.c - the kernels of kernels_simd.h for AVX2 + FMA. Build this
 * file alone with -mavx2 -mfma (never the whole engine): kernels_fast.c
 * calls it only when the CPU reports these features. */
#include "simd_avx2.h"
#include "kernels_simd.h"
