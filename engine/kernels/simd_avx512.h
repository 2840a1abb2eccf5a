/* simd_avx512.h - the vector vocabulary of kernels_simd.h for AVX-512
 * (F, BW, DQ, VL): 16 float lanes, masks in k registers. Include only from
 * a file compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma. */
#ifndef SN_SIMD_AVX512_H
#define SN_SIMD_AVX512_H

#include <immintrin.h>

#define SN_ISA_SUFFIX avx512
#define SN_ISA_NAME "avx512"
#define VL 16                   /* float lanes per vector */
#ifndef SN_PW_MR
#define SN_PW_MR 8              /* pw micro-tile: output channels ... */
#define SN_PW_NR 3              /* ... x vectors of pixels (3 x 16 = 48) */
#endif

typedef __m512 vf;              /* VL floats */
typedef __m512i vi;             /* VL int32 */
typedef __mmask16 vmask;        /* one bit per lane */

#define SN_VINLINE static inline __attribute__ ((always_inline))

SN_VINLINE vf
vf_zero (void)
{
  return _mm512_setzero_ps ();
}

SN_VINLINE vf
vf_set1 (float x)
{
  return _mm512_set1_ps (x);
}

SN_VINLINE vf
vf_load (const float *p)
{
  return _mm512_loadu_ps (p);
}

SN_VINLINE void
vf_store (float *p, vf v)
{
  _mm512_storeu_ps (p, v);
}

/* a * b + c */
SN_VINLINE vf
vf_fma (vf a, vf b, vf c)
{
  return _mm512_fmadd_ps (a, b, c);
}

SN_VINLINE vf
vf_add (vf a, vf b)
{
  return _mm512_add_ps (a, b);
}

SN_VINLINE vf
vf_mul (vf a, vf b)
{
  return _mm512_mul_ps (a, b);
}

SN_VINLINE vf
vf_div (vf a, vf b)
{
  return _mm512_div_ps (a, b);
}

/* Lane-wise max; returns b where either is NaN (x86 MAXPS semantics). */
SN_VINLINE vf
vf_max (vf a, vf b)
{
  return _mm512_max_ps (a, b);
}

/* Lanes j < n (n clamped to [0, VL]). */
SN_VINLINE vmask
vm_first (int n)
{
  if (n <= 0)
    return 0;
  return n >= VL ? (vmask) 0xffff : (vmask) ((1u << n) - 1);
}

SN_VINLINE vmask
vm_all (void)
{
  return (vmask) 0xffff;
}

SN_VINLINE vmask
vm_and (vmask a, vmask b)
{
  return a & b;
}

/* ~a & b */
SN_VINLINE vmask
vm_andnot (vmask a, vmask b)
{
  return (vmask) (~a & b);
}

/* Masked-off lanes read 0 and are never touched in memory (no fault). */
SN_VINLINE vf
vf_maskz_load (vmask m, const float *p)
{
  return _mm512_maskz_loadu_ps (m, p);
}

/* Masked-off lanes take src. */
SN_VINLINE vf
vf_mask_load (vf src, vmask m, const float *p)
{
  return _mm512_mask_loadu_ps (src, m, p);
}

/* The first n lanes of v (n clamped to [0, VL]) to p; the floats after
 * them are not touched. */
SN_VINLINE void
vf_store_first (float *p, vf v, int n)
{
  _mm512_mask_storeu_ps (p, vm_first (n), v);
}

/* m ? a + b : a */
SN_VINLINE vf
vf_mask_add (vf a, vmask m, vf b)
{
  return _mm512_mask_add_ps (a, m, a, b);
}

/* Lanes 0, 2, 4, ... and 1, 3, 5, ... of the 2*VL floats lo:hi. */
SN_VINLINE vf
vf_even (vf lo, vf hi)
{
  const __m512i idx = _mm512_setr_epi32 (0, 2, 4, 6, 8, 10, 12, 14,
      16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps (lo, idx, hi);
}

SN_VINLINE vf
vf_odd (vf lo, vf hi)
{
  const __m512i idx = _mm512_setr_epi32 (1, 3, 5, 7, 9, 11, 13, 15,
      17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_permutex2var_ps (lo, idx, hi);
}

/* One permute gives lane order already: "pair order" is lane order. */
SN_VINLINE vf
vf_even_pairs (vf lo, vf hi)
{
  return vf_even (lo, hi);
}

SN_VINLINE vf
vf_odd_pairs (vf lo, vf hi)
{
  return vf_odd (lo, hi);
}

SN_VINLINE vf
vf_pairs_to_lanes (vf v)
{
  return v;
}

/* prev's last lane, then cur's lanes 0 .. VL-2. */
SN_VINLINE vf
vf_shift_in (vf prev, vf cur)
{
  return _mm512_castsi512_ps (_mm512_alignr_epi32 (_mm512_castps_si512 (cur),
          _mm512_castps_si512 (prev), 15));
}

SN_VINLINE float
vf_reduce_add (vf v)
{
  return _mm512_reduce_add_ps (v);
}

/* ---- int32 lanes (column indices for border masks) ---- */
SN_VINLINE vi
vi_set1 (int x)
{
  return _mm512_set1_epi32 (x);
}

/* (start + j) for lane j */
SN_VINLINE vi
vi_iota (int start)
{
  return _mm512_add_epi32 (_mm512_set1_epi32 (start),
      _mm512_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
          15));
}

SN_VINLINE vi
vi_add (vi a, vi b)
{
  return _mm512_add_epi32 (a, b);
}

SN_VINLINE vi
vi_sub (vi a, vi b)
{
  return _mm512_sub_epi32 (a, b);
}

SN_VINLINE vi
vi_min (vi a, vi b)
{
  return _mm512_min_epi32 (a, b);
}

SN_VINLINE vi
vi_max (vi a, vi b)
{
  return _mm512_max_epi32 (a, b);
}

/* a >= b ? a - b : a */
SN_VINLINE vi
vi_wrap (vi a, vi b)
{
  return _mm512_mask_sub_epi32 (a, _mm512_cmpge_epi32_mask (a, b), a, b);
}

/* a > b, per lane */
SN_VINLINE vmask
vm_gt (vi a, vi b)
{
  return _mm512_cmpgt_epi32_mask (a, b);
}

SN_VINLINE vmask
vm_ne (vi a, vi b)
{
  return _mm512_cmpneq_epi32_mask (a, b);
}

SN_VINLINE vf
vf_from_vi (vi a)
{
  return _mm512_cvtepi32_ps (a);
}

/* ---- channel columns: SN_PW_MR (8) floats, one per output channel of a
 * pw channel block (the pointwise kernel's narrow pixel tails) ---------- */
typedef __m256 vc;

SN_VINLINE vc
vc_load (const float *p)
{
  return _mm256_loadu_ps (p);
}

SN_VINLINE vc
vc_set1 (float x)
{
  return _mm256_set1_ps (x);
}

/* a * b + c, rounded once (as vf_fma) */
SN_VINLINE vc
vc_fma (vc a, vc b, vc c)
{
  return _mm256_fmadd_ps (a, b, c);
}

SN_VINLINE void
vc_store (float *p, vc v)
{
  _mm256_storeu_ps (p, v);
}

#endif /* SN_SIMD_AVX512_H */
