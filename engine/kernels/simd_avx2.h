/* simd_avx2.h - the vector vocabulary of kernels_simd.h for AVX2 + FMA:
 * 8 float lanes, masks as int32 vectors (all ones = lane on). Include only
 * from a file compiled with -mavx2 -mfma. */
#ifndef SN_SIMD_AVX2_H
#define SN_SIMD_AVX2_H

#include <immintrin.h>

#define SN_ISA_SUFFIX avx2
#define SN_ISA_NAME "avx2"
#define VL 8                    /* float lanes per vector */
#ifndef SN_PW_MR
#define SN_PW_MR 4              /* pw micro-tile: output channels ... */
#define SN_PW_NR 3              /* ... x vectors of pixels (3 x 8 = 24) */
#endif

typedef __m256 vf;              /* VL floats */
typedef __m256i vi;             /* VL int32 */
typedef __m256i vmask;          /* lane on = all ones */

#define SN_VINLINE static inline __attribute__ ((always_inline))

SN_VINLINE vf
vf_zero (void)
{
  return _mm256_setzero_ps ();
}

SN_VINLINE vf
vf_set1 (float x)
{
  return _mm256_set1_ps (x);
}

SN_VINLINE vf
vf_load (const float *p)
{
  return _mm256_loadu_ps (p);
}

SN_VINLINE void
vf_store (float *p, vf v)
{
  _mm256_storeu_ps (p, v);
}

/* a * b + c */
SN_VINLINE vf
vf_fma (vf a, vf b, vf c)
{
  return _mm256_fmadd_ps (a, b, c);
}

SN_VINLINE vf
vf_add (vf a, vf b)
{
  return _mm256_add_ps (a, b);
}

SN_VINLINE vf
vf_mul (vf a, vf b)
{
  return _mm256_mul_ps (a, b);
}

SN_VINLINE vf
vf_div (vf a, vf b)
{
  return _mm256_div_ps (a, b);
}

/* Lane-wise max; returns b where either is NaN (x86 MAXPS semantics). */
SN_VINLINE vf
vf_max (vf a, vf b)
{
  return _mm256_max_ps (a, b);
}

/* Lanes j < n (n clamped to [0, VL]). */
SN_VINLINE vmask
vm_first (int n)
{
  static const int ramp[2 * VL] = { -1, -1, -1, -1, -1, -1, -1, -1,
    0, 0, 0, 0, 0, 0, 0, 0
  };
  n = n < 0 ? 0 : n > VL ? VL : n;
  return _mm256_loadu_si256 ((const __m256i *) (ramp + VL - n));
}

SN_VINLINE vmask
vm_all (void)
{
  return _mm256_set1_epi32 (-1);
}

SN_VINLINE vmask
vm_and (vmask a, vmask b)
{
  return _mm256_and_si256 (a, b);
}

/* ~a & b */
SN_VINLINE vmask
vm_andnot (vmask a, vmask b)
{
  return _mm256_andnot_si256 (a, b);
}

/* Masked-off lanes read 0 and are never touched in memory (no fault). */
SN_VINLINE vf
vf_maskz_load (vmask m, const float *p)
{
  return _mm256_maskload_ps (p, m);
}

/* Masked-off lanes take src. */
SN_VINLINE vf
vf_mask_load (vf src, vmask m, const float *p)
{
  return _mm256_blendv_ps (src, _mm256_maskload_ps (p, m),
      _mm256_castsi256_ps (m));
}

/* The first n lanes of v (n clamped to [0, VL]) to p; the floats after
 * them are not touched. By halves, pairs and singles: vmaskmovps to memory
 * costs 5-7 ns a store on AMD Zen 3 (15-22 cycles; a plain store ~1), and
 * every row of a 7- or 14-wide plane ends with one. */
SN_VINLINE void
vf_store_first (float *p, vf v, int n)
{
  if (n >= VL) {
    _mm256_storeu_ps (p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128 (v);    /* lanes 0..3 */
  if (n & 4) {
    _mm_storeu_ps (p, part);
    p += 4;
    part = _mm256_extractf128_ps (v, 1);        /* lanes 4..7 */
  }
  if (n & 2) {
    _mm_storel_pi ((__m64 *) p, part);
    p += 2;
    part = _mm_movehl_ps (part, part);
  }
  if (n & 1)
    _mm_store_ss (p, part);
}

/* m ? a + b : a */
SN_VINLINE vf
vf_mask_add (vf a, vmask m, vf b)
{
  return _mm256_add_ps (a, _mm256_and_ps (b, _mm256_castsi256_ps (m)));
}

/* Lanes 0, 2, 4, ... and 1, 3, 5, ... of the 2*VL floats lo:hi, in "pair
 * order": one in-lane shuffle leaves them as 0 2 8 10 4 6 12 14 (and 1 3 9
 * 11 5 7 13 15). Every stride-2 tap of an output vector comes out in the
 * same order, so lane-wise sums and maxima of them can be put back in lane
 * order once (vf_pairs_to_lanes) instead of once per tap. */
SN_VINLINE vf
vf_even_pairs (vf lo, vf hi)
{
  return _mm256_shuffle_ps (lo, hi, _MM_SHUFFLE (2, 0, 2, 0));
}

SN_VINLINE vf
vf_odd_pairs (vf lo, vf hi)
{
  return _mm256_shuffle_ps (lo, hi, _MM_SHUFFLE (3, 1, 3, 1));
}

SN_VINLINE vf
vf_pairs_to_lanes (vf v)
{
  return _mm256_castpd_ps (_mm256_permute4x64_pd (_mm256_castps_pd (v),
          _MM_SHUFFLE (3, 1, 2, 0)));
}

/* Lanes 0, 2, 4, ... and 1, 3, 5, ... of the 2*VL floats lo:hi. */
SN_VINLINE vf
vf_even (vf lo, vf hi)
{
  return vf_pairs_to_lanes (vf_even_pairs (lo, hi));
}

SN_VINLINE vf
vf_odd (vf lo, vf hi)
{
  return vf_pairs_to_lanes (vf_odd_pairs (lo, hi));
}

/* prev's last lane, then cur's lanes 0 .. VL-2. */
SN_VINLINE vf
vf_shift_in (vf prev, vf cur)
{
  const __m256i rot = _mm256_setr_epi32 (7, 0, 1, 2, 3, 4, 5, 6);
  return _mm256_blend_ps (_mm256_permutevar8x32_ps (cur, rot),
      _mm256_permutevar8x32_ps (prev, rot), 0x01);
}

SN_VINLINE float
vf_reduce_add (vf v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v),
      _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

/* ---- int32 lanes (column indices for border masks) ---- */
SN_VINLINE vi
vi_set1 (int x)
{
  return _mm256_set1_epi32 (x);
}

/* (start + j) for lane j */
SN_VINLINE vi
vi_iota (int start)
{
  return _mm256_add_epi32 (_mm256_set1_epi32 (start),
      _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
}

SN_VINLINE vi
vi_add (vi a, vi b)
{
  return _mm256_add_epi32 (a, b);
}

SN_VINLINE vi
vi_sub (vi a, vi b)
{
  return _mm256_sub_epi32 (a, b);
}

SN_VINLINE vi
vi_min (vi a, vi b)
{
  return _mm256_min_epi32 (a, b);
}

SN_VINLINE vi
vi_max (vi a, vi b)
{
  return _mm256_max_epi32 (a, b);
}

/* a >= b ? a - b : a */
SN_VINLINE vi
vi_wrap (vi a, vi b)
{
  vi lt = _mm256_cmpgt_epi32 (b, a);
  return _mm256_sub_epi32 (a, _mm256_andnot_si256 (lt, b));
}

/* a > b, per lane */
SN_VINLINE vmask
vm_gt (vi a, vi b)
{
  return _mm256_cmpgt_epi32 (a, b);
}

SN_VINLINE vmask
vm_ne (vi a, vi b)
{
  return _mm256_xor_si256 (_mm256_cmpeq_epi32 (a, b), _mm256_set1_epi32 (-1));
}

SN_VINLINE vf
vf_from_vi (vi a)
{
  return _mm256_cvtepi32_ps (a);
}

/* ---- channel columns: SN_PW_MR (4) floats, one per output channel of a
 * pw channel block (the pointwise kernel's narrow pixel tails) ---------- */
typedef __m128 vc;

SN_VINLINE vc
vc_load (const float *p)
{
  return _mm_loadu_ps (p);
}

SN_VINLINE vc
vc_set1 (float x)
{
  return _mm_set1_ps (x);
}

/* a * b + c, rounded once (as vf_fma) */
SN_VINLINE vc
vc_fma (vc a, vc b, vc c)
{
  return _mm_fmadd_ps (a, b, c);
}

SN_VINLINE void
vc_store (float *p, vc v)
{
  _mm_storeu_ps (p, v);
}

#endif /* SN_SIMD_AVX2_H */
