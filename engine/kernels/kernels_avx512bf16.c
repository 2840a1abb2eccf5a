/* kernels_avx512bf16.c - the bf16 pointwise kernel (AVX512_BF16) and the
 * "avx512bf16" kernel table: the AVX-512 table with its grouped 1x1
 * convolutions computed on bf16 operands. Build this file alone with
 *   -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mavx512bf16
 * (never the whole engine): kernels_fast.c hands the table out only when
 * the CPU reports these features, and the engine uses it only when the
 * caller asks for bf16 precision (sn_model_load_file_precision).
 *
 * What changes against fp32: each weight and each input activation of a
 * pointwise conv is rounded to bf16 (8 significant bits, round to nearest
 * even), and products are summed in fp32 by vdpbf16ps, two input channels
 * at a time. Bias, residual, ReLU and every other operator (conv1,
 * depthwise, pools, FC) stay fp32. vdpbf16ps does twice the multiply-adds
 * of an fp32 FMA per instruction.
 *
 * Packed weights: blocks of SN_PW_MR output channels, each [cin2][MR][2]
 * bf16 (cin2 = cin rounded up to pairs), so one pair of input channels of
 * one output channel is one 32-bit word, broadcast to every pixel lane:
 *   packed[((cb * cin2 + k) * MR + r) * 2 + h] = bf16 (w[cb*MR + r][2k + h])
 * zero past cout and past cin. The sizes below count floats (32-bit words),
 * the unit of the tables' pw_packed_size.
 *
 * The input tile: NR vectors of pixels of every input channel, converted
 * once per tile into pairs, [cin2][NR*VL] words (pixel j of pair k holds
 * channels 2k and 2k+1), then read by every channel block. A pixel's sum
 * is the same instruction sequence wherever a task split puts it (tiles
 * and tails alike), so any split among tasks and threads gives the same
 * bits. */
#include "simd_avx512.h"
#include "kernels.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

extern const sn_kernel_table sn_kernel_table__avx512;

#define SN_BF_TILE (SN_PW_NR * VL)      /* pixels of a tile: 48 */
#ifndef SN_BF_TASK_CO
#define SN_BF_TASK_CO 96                /* channels a task converts for */
#endif
#ifndef SN_BF_TASK_CO_MIN
#define SN_BF_TASK_CO_MIN 16
#endif

/* cin pairs the input tile buffer holds (60 KiB of stack): wider inputs
 * (ShuffleNet 1x g3's widest is 320 channels, 2x g1's 1152) convert each
 * pair where a channel block uses it, the same values in the same order. */
#define SN_BF_MAX_PAIRS 320

static inline uint16_t
bf16_round (float x)
{
  /* vcvtneps2bf16 on one value: round to nearest even, NaN kept quiet */
  __m128bh h = _mm_cvtneps_pbh (_mm_set1_ps (x));
  uint16_t out;
  memcpy (&out, &h, sizeof out);
  return out;
}

static size_t
pw_bf16_packed_size (int cout, int cin)
{
  size_t blocks = (size_t) (cout + SN_PW_MR - 1) / SN_PW_MR;
  return blocks * SN_PW_MR * (size_t) ((cin + 1) / 2);
}

static void
pw_bf16_pack (const float *w, int cout, int cin, float *packed)
{
  uint16_t *p = (uint16_t *) packed;
  int blocks = (cout + SN_PW_MR - 1) / SN_PW_MR, cin2 = (cin + 1) / 2;
  for (int cb = 0; cb < blocks; cb++)
    for (int k = 0; k < cin2; k++)
      for (int r = 0; r < SN_PW_MR; r++)
        for (int h = 0; h < 2; h++) {
          int co = cb * SN_PW_MR + r, ci = 2 * k + h;
          *p++ = co < cout && ci < cin ? bf16_round (w[(size_t) co * cin
                  + ci]) : 0;
        }
}

/* Interleaves the 16-bit halves [a0..a15 | b0..b15] -> a0 b0 a1 b1 ... */
static inline __m512i
pairs_index (void)
{
  return _mm512_set_epi16 (31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10,
      25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
}

/* Pair k of vector v of the tile at p (mask m: its pixels) as bf16 pairs. */
static inline __attribute__ ((always_inline)) __m512i
convert_pairs (const sn_pw_args *a, size_t p, int k, int v, __mmask16 m,
    __m512i idx)
{
  const float *x0 = a->in + (size_t) 2 * k * a->in_plane + p + v * VL;
  __m512 lo = _mm512_maskz_loadu_ps (m, x0);
  __m512 hi = 2 * k + 1 < a->cin ? _mm512_maskz_loadu_ps (m, x0 + a->in_plane)
      : _mm512_setzero_ps ();
  __m512i both = (__m512i) _mm512_cvtne2ps_pbh (hi, lo);  /* [lo | hi] */
  return _mm512_permutexvar_epi16 (idx, both);
}

static inline __mmask16
lanes_of (int left)
{
  return left >= VL ? 0xffff : left <= 0 ? 0 : (__mmask16) ((1u << left) - 1);
}

/* The input tile of n pixels from p (n <= SN_BF_TILE) as pairs:
 * xs[k][j] = (bf16 in[2k][p + j], bf16 in[2k + 1][p + j]), channel cin
 * (odd cin) reading 0; lanes past n are 0. */
static void
convert_tile (const sn_pw_args *a, size_t p, int n, uint32_t *xs)
{
  const __m512i idx = pairs_index ();
  int cin2 = (a->cin + 1) / 2, k = 0;
  if (n == SN_BF_TILE)          /* whole tiles of whole pairs: no masks */
    for (; 2 * k + 1 < a->cin; k++) {
      const float *x0 = a->in + (size_t) 2 * k * a->in_plane + p;
      for (int v = 0; v < SN_PW_NR; v++) {
        __m512i both = (__m512i) _mm512_cvtne2ps_pbh (_mm512_loadu_ps (x0
                + a->in_plane + v * VL), _mm512_loadu_ps (x0 + v * VL));
        _mm512_storeu_si512 (xs + (size_t) k * SN_BF_TILE + v * VL,
            _mm512_permutexvar_epi16 (idx, both));
      }
    }
  for (; k < cin2; k++)
    for (int v = 0; v < SN_PW_NR; v++)
      _mm512_storeu_si512 (xs + (size_t) k * SN_BF_TILE + v * VL,
          convert_pairs (a, p, k, v, lanes_of (n - v * VL), idx));
}

/* One micro-tile: channels [cb*MR, cb*MR + MR) x nv vectors of the tile
 * at p, its pairs from xs (converted) or made here (xs NULL); rows outside
 * [co0, co1) are computed but not stored; n: the tile's pixels (the last
 * vector keeps n - (nv-1)*VL lanes).   wb : packed block [cin2][MR]. */
static inline __attribute__ ((always_inline)) void
bf16_tile (const sn_pw_args *a, const uint32_t *wb, const uint32_t *xs,
    int cb, int co0, int co1, size_t p, const int mr, const int nv, int n,
    const bool converted)
{
  const __m512i idx = pairs_index ();
  __m512 acc[SN_PW_MR][SN_PW_NR];       /* [channel][pixel vector] */
  for (int r = 0; r < mr; r++) {
    int co = cb * SN_PW_MR + r;
    __m512 b = _mm512_set1_ps (co < a->cout ? a->bias[co] : 0.0f);
    for (int v = 0; v < nv; v++)
      acc[r][v] = b;
  }
  int cin2 = (a->cin + 1) / 2;
  const uint32_t *next = wb + (size_t) cin2 * SN_PW_MR;   /* block cb + 1 */
  for (int k = 0; k < cin2; k++, wb += SN_PW_MR) {
    __builtin_prefetch (next + (size_t) k * SN_PW_MR, 0, 3);
    __m512bh xv[SN_PW_NR];
    for (int v = 0; v < nv; v++)
      xv[v] = (__m512bh) (converted ? _mm512_loadu_si512 (xs + (size_t) k
              * SN_BF_TILE + v * VL) : convert_pairs (a, p, k, v,
              lanes_of (n - v * VL), idx));
    for (int r = 0; r < mr; r++) {
      __m512bh w = (__m512bh) _mm512_set1_epi32 ((int) wb[r]);
      for (int v = 0; v < nv; v++)
        acc[r][v] = _mm512_dpbf16_ps (acc[r][v], xv[v], w);
    }
  }
  for (int r = 0; r < mr; r++) {
    int co = cb * SN_PW_MR + r;
    if (co < co0 || co >= co1)
      continue;
    float *out = a->out_rows[co] + p;   /* [n] */
    const float *res = a->res_rows ? a->res_rows[co] + p : NULL;
    for (int v = 0; v < nv; v++) {
      bool full = n - v * VL >= VL;
      __mmask16 m = lanes_of (n - v * VL);
      __m512 y = acc[r][v];
      if (res)
        y = _mm512_add_ps (y, full ? _mm512_loadu_ps (res + v * VL)
            : _mm512_maskz_loadu_ps (m, res + v * VL));
      if (a->relu)
        y = _mm512_max_ps (_mm512_setzero_ps (), y);
      if (full)
        _mm512_storeu_ps (out + v * VL, y);
      else
        _mm512_mask_storeu_ps (out + v * VL, m, y);
    }
  }
}

/* Every channel block of the tile of n pixels at p (converted in xs, or
 * xs NULL). */
static inline __attribute__ ((always_inline)) void
bf16_tiles (const sn_pw_args *a, const uint32_t *xs, int co0, int co1,
    size_t p, const int nv, int n)
{
  const uint32_t *w = (const uint32_t *) a->weight;
  size_t block = (size_t) SN_PW_MR * ((a->cin + 1) / 2);      /* words */
  for (int cb = co0 / SN_PW_MR; cb * SN_PW_MR < co1; cb++) {
    const uint32_t *wb = w + cb * block;
    bool half = co1 - cb * SN_PW_MR <= SN_PW_MR / 2;  /* rows past it unused */
    if (xs && half)
      bf16_tile (a, wb, xs, cb, co0, co1, p, SN_PW_MR / 2, nv, n, true);
    else if (xs)
      bf16_tile (a, wb, xs, cb, co0, co1, p, SN_PW_MR, nv, n, true);
    else if (half)
      bf16_tile (a, wb, NULL, cb, co0, co1, p, SN_PW_MR / 2, nv, n, false);
    else
      bf16_tile (a, wb, NULL, cb, co0, co1, p, SN_PW_MR, nv, n, false);
  }
}

/* sn_pw_kernel's contract, with weights packed by pw_bf16_pack. */
static void
pw_bf16 (const sn_pw_args *a, int co0, int co1, size_t p0, size_t p1)
{
  assert (co0 >= 0 && co1 <= a->cout && p1 <= a->npix);
  uint32_t buf[SN_BF_MAX_PAIRS * SN_BF_TILE]
      __attribute__ ((aligned (64)));   /* [cin2][TILE] pairs */
  uint32_t *xs = (a->cin + 1) / 2 <= SN_BF_MAX_PAIRS ? buf : NULL;
  if (co0 >= co1 || p0 >= p1)
    return;
  for (size_t p = p0; p < p1; p += SN_BF_TILE) {
    int n = p1 - p < SN_BF_TILE ? (int) (p1 - p) : SN_BF_TILE;
    if (xs)
      convert_tile (a, p, n, xs);
    switch ((n + VL - 1) / VL) {
      case 1:
        bf16_tiles (a, xs, co0, co1, p, 1, n);
        break;
      case 2:
        bf16_tiles (a, xs, co0, co1, p, 2, n);
        break;
      default:
        bf16_tiles (a, xs, co0, co1, p, SN_PW_NR, n);
        break;
    }
  }
}

const sn_kernel_table sn_kernel_table__avx512bf16 = {
  .isa = "avx512bf16",
  .pw = pw_bf16,
  .pw_packed_size = pw_bf16_packed_size,
  .pw_pack = pw_bf16_pack,
  .dw3x3 = sn_dw_f32__avx512,
  .dw_multi = sn_dw_multi_f32__avx512,
  .conv = sn_conv_f32__avx512,
  .pool = sn_pool_f32__avx512,
  .pool_multi = sn_pool_multi_f32__avx512,
  .dense = sn_dense_f32__avx512,
  .plane_mean = sn_plane_mean_f32__avx512,
  .conv_multi = sn_conv_multi_f32__avx512,
  .pw_block_co = SN_PW_MR,
  .pw_block_px = SN_BF_TILE,
  .pw_task_co_max = SN_BF_TASK_CO,
  .pw_task_co_min = SN_BF_TASK_CO_MIN,
  .pw_narrow = &sn_kernel_table__avx512,
  .pw_min_cin = 16,
};
