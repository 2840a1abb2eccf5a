/* kernels_simd.h - the vectorized kernels, written once over the vector
 * vocabulary of simd_<isa>.h and compiled once per ISA:
 *   kernels_avx512.c : #include "simd_avx512.h" then this file
 *   kernels_avx2.c   : #include "simd_avx2.h"   then this file
 * Each instance defines sn_<op>_f32__<isa> (kernels.h naming) and
 * sn_kernel_table sn_kernel_table__<isa>.
 *
 * VL is the number of float lanes. All kernels accept every argument the
 * reference accepts: geometry they do not specialize goes to the reference.
 * Border handling uses masked loads (masked-off lanes are not read, so a
 * vector may start before or end after a plane); partial vectors are
 * stored through a mask, so nothing outside the requested tile is written.
 */
#ifndef VL
#error "include simd_<isa>.h before kernels_simd.h"
#endif

#include "kernels.h"

#include <assert.h>
#include <float.h>
#include <stdint.h>

#define SN_CAT_(name, isa) name##__##isa
#define SN_CAT(name, isa) SN_CAT_ (name, isa)
#define SN_FN(name) SN_CAT (name, SN_ISA_SUFFIX)

/* p + off floats, off possibly negative: for masked loads whose start lies
 * outside the plane (only the in-bounds lanes are read). */
SN_VINLINE const float *
sn_at (const float *p, ptrdiff_t off)
{
  return (const float *) ((uintptr_t) p + (uintptr_t) (off * (ptrdiff_t)
          sizeof (float)));
}

/* Lanes j of a vector starting at index `base` with 0 <= base + j < limit
 * and j < n. */
SN_VINLINE vmask
vm_window (ptrdiff_t base, ptrdiff_t limit, int n)
{
  ptrdiff_t lo = -base, hi = limit - base;
  lo = lo < 0 ? 0 : lo > VL ? VL : lo;
  hi = hi < 0 ? 0 : hi > n ? n : hi;
  return vm_andnot (vm_first ((int) lo), vm_first ((int) hi));
}

SN_VINLINE vf
vf_relu_if (vf v, bool relu)
{
  /* max (0, v) keeps NaN and -0.0 as the reference's `v < 0 ? 0 : v` */
  return relu ? vf_max (vf_zero (), v) : v;
}

/* Store the first n lanes of v at p. */
SN_VINLINE void
vf_store_n (float *p, vf v, int n)
{
  if (n >= VL)
    vf_store (p, v);
  else
    vf_mask_store (p, vm_first (n), v);
}

/* ======================= 1x1 convolution (GEMM) ========================
 * Packed weights: blocks of SN_PW_MR output channels, each [cin][MR]
 * (channel-minor), so one input channel's MR weights are adjacent; rows
 * past cout are zero:
 *   packed[(cb * cin + ci) * MR + r] = w[(cb * MR + r) * cin + ci]. */
size_t
SN_FN (sn_pw_packed_size) (int cout, int cin)
{
  return (size_t) (cout + SN_PW_MR - 1) / SN_PW_MR * SN_PW_MR * cin;
}

void
SN_FN (sn_pw_pack) (const float *w, int cout, int cin, float *packed)
{
  int nblocks = (cout + SN_PW_MR - 1) / SN_PW_MR;
  for (int cb = 0; cb < nblocks; cb++)
    for (int ci = 0; ci < cin; ci++)
      for (int r = 0; r < SN_PW_MR; r++) {
        int co = cb * SN_PW_MR + r;
        packed[((size_t) cb * cin + ci) * SN_PW_MR + r] =
            co < cout ? w[(size_t) co * cin + ci] : 0.0f;
      }
}

/* Epilogue of one micro-tile row: acc[0..nv) are the pixels [p, p + n). */
SN_VINLINE void
pw_store_row (const sn_pw_args *a, int co, size_t p, const vf * acc,
    const int nv, const bool masked, vmask tail)
{
  float *out = a->out_rows[co] + p;     /* [n] */
  const float *res = a->res_rows ? a->res_rows[co] + p : NULL;
  for (int v = 0; v < nv; v++) {
    bool part = masked && v == nv - 1;
    vf x = acc[v];
    if (res)
      x = vf_add (x, part ? vf_maskz_load (tail, res + v * VL) :
          vf_load (res + v * VL));
    x = vf_relu_if (x, a->relu);
    if (part)
      vf_mask_store (out + v * VL, tail, x);
    else
      vf_store (out + v * VL, x);
  }
}

/* One micro-tile: output channels [cb*MR, cb*MR + MR) x nv vectors of
 * pixels from p (the last one holding only the lanes in `tail` when
 * masked); rows outside [co0, co1) are computed but not stored.
 *   wb : packed block [cin][MR]; in : cin planes (stride in_plane). */
SN_VINLINE void
pw_tile (const sn_pw_args *a, const float *wb, int cb, int co0, int co1,
    size_t p, const int nv, const bool masked, vmask tail)
{
  vf acc[SN_PW_MR][SN_PW_NR];   /* [channel][pixel vector] */
  for (int r = 0; r < SN_PW_MR; r++) {
    int co = cb * SN_PW_MR + r;
    vf b = vf_set1 (co < a->cout ? a->bias[co] : 0.0f);
    for (int v = 0; v < nv; v++)
      acc[r][v] = b;
  }
  const float *x = a->in + p;   /* [cin][in_plane], from pixel p */
  for (int ci = 0; ci < a->cin; ci++, x += a->in_plane, wb += SN_PW_MR) {
    vf xv[SN_PW_NR];
    for (int v = 0; v < nv; v++)
      xv[v] = masked && v == nv - 1 ? vf_maskz_load (tail, x + v * VL) :
          vf_load (x + v * VL);
    for (int r = 0; r < SN_PW_MR; r++) {
      vf w = vf_set1 (wb[r]);
      for (int v = 0; v < nv; v++)
        acc[r][v] = vf_fma (w, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < SN_PW_MR; r++) {
    int co = cb * SN_PW_MR + r;
    if (co >= co0 && co < co1)
      pw_store_row (a, co, p, acc[r], nv, masked, tail);
  }
}

/* The pixel tail: nv (< SN_PW_NR, or == with a partial last vector)
 * vectors, the last one masked. */
static void
pw_tail (const sn_pw_args *a, int co0, int co1, size_t p, size_t n)
{
  int nv = (int) ((n + VL - 1) / VL);
  vmask tail = vm_first ((int) (n - (size_t) (nv - 1) * VL));
  int cb0 = co0 / SN_PW_MR, cb1 = (co1 + SN_PW_MR - 1) / SN_PW_MR;
  for (int cb = cb0; cb < cb1; cb++) {
    const float *wb = a->weight + (size_t) cb * a->cin * SN_PW_MR;
    switch (nv) {
#define SN_PW_TAIL_CASE(k) \
      case k: pw_tile (a, wb, cb, co0, co1, p, k, true, tail); break;
      SN_PW_TAIL_CASE (1)
#if SN_PW_NR >= 2
      SN_PW_TAIL_CASE (2)
#endif
#if SN_PW_NR >= 3
      SN_PW_TAIL_CASE (3)
#endif
#if SN_PW_NR >= 4
      SN_PW_TAIL_CASE (4)
#endif
#if SN_PW_NR >= 5
      SN_PW_TAIL_CASE (5)
#endif
#if SN_PW_NR >= 6
      SN_PW_TAIL_CASE (6)
#endif
#if SN_PW_NR > 6
#error "extend the SN_PW_TAIL_CASE list"
#endif
#undef SN_PW_TAIL_CASE
      default:
        assert (!"pixel tail longer than one tile");
    }
  }
}

/* Pixel tiles outside, channel blocks inside: one tile of `in`
 * (cin x MR*VL*NR floats) is reused by every block of output channels. */
void
SN_FN (sn_pw_f32) (const sn_pw_args *a, int co0, int co1, size_t p0,
    size_t p1)
{
  assert (co0 >= 0 && co1 <= a->cout && p1 <= a->npix);
  const size_t tile = (size_t) SN_PW_NR * VL;
  int cb0 = co0 / SN_PW_MR, cb1 = (co1 + SN_PW_MR - 1) / SN_PW_MR;
  if (co0 >= co1 || p0 >= p1)
    return;
  size_t p = p0;
  for (; p + tile <= p1; p += tile)
    for (int cb = cb0; cb < cb1; cb++)
      pw_tile (a, a->weight + (size_t) cb * a->cin * SN_PW_MR, cb, co0, co1,
          p, SN_PW_NR, false, vm_all ());
  if (p < p1)
    pw_tail (a, co0, co1, p, p1 - p);
}

/* ================= taps of one input row, for one output vector ========
 * For output columns ox = x0 + j (j < VL), window column kx < kw:
 *   t[kx][j] = row[ix], ix = ox * stride - pad_left + kx,
 * or `fill` where ix is outside [0, in_w). stride is 1 or 2. Lanes past the
 * output row hold unspecified values (never stored). */
SN_VINLINE void
row_taps (const float *row, int in_w, int x0, const int stride, int pad_left,
    const int kw, vf fill, vf * t)
{
  if (stride == 1) {
    for (int kx = 0; kx < kw; kx++) {
      ptrdiff_t ix = (ptrdiff_t) x0 - pad_left + kx;
      if (ix >= 0 && ix + VL <= in_w)
        t[kx] = vf_load (row + ix);
      else
        t[kx] = vf_mask_load (fill, vm_window (ix, in_w, VL), sn_at (row, ix));
    }
    return;
  }
  /* stride 2: 2*VL consecutive inputs from q give taps kx (even lanes) and
   * kx + 1 (odd lanes) */
  for (int kx = 0; kx < kw; kx += 2) {
    ptrdiff_t q = 2 * (ptrdiff_t) x0 - pad_left + kx;
    vf lo, hi;
    if (q >= 0 && q + 2 * VL <= in_w) {
      lo = vf_load (row + q);
      hi = vf_load (row + q + VL);
    } else {
      lo = vf_mask_load (fill, vm_window (q, in_w, VL), sn_at (row, q));
      hi = vf_mask_load (fill, vm_window (q + VL, in_w, VL),
          sn_at (row, q + VL));
    }
    t[kx] = vf_even (lo, hi);
    if (kx + 1 < kw)
      t[kx + 1] = vf_odd (lo, hi);
  }
}

/* ========================= depthwise 3x3 ============================== */

/* Stride 1, pad 1 all round, out size == in size: the plane is one flat
 * vector of H*W values and tap (dy, dx) is the value dy*W + dx away.
 * Taps falling off the top/bottom are masked loads; taps wrapping to the
 * neighbouring row (dx = -1 at column 0, dx = +1 at column W-1) are summed
 * per column (l, c, r) and dropped by a lane mask. */
static void
dw3x3_s1_flat (const sn_dw_args *a, int oy0, int oy1)
{
  const ptrdiff_t W = a->in_w, HW = (ptrdiff_t) a->in_h * a->in_w;
  const float *in = a->in;      /* [H][W] */
  vf w[9];                      /* [ky][kx] */
  for (int i = 0; i < 9; i++)
    w[i] = vf_set1 (a->weight[i]);
  const vf bias = vf_set1 (a->bias);
  const vi wv = vi_set1 ((int) W), last = vi_set1 ((int) W - 1),
      zero = vi_set1 (0), step = vi_set1 (VL % (int) W);
  ptrdiff_t o = (ptrdiff_t) oy0 * W, o1 = (ptrdiff_t) oy1 * W;
  vi ox = vi_iota (0);          /* column of each lane */
  for (int i = 0; i <= VL / W; i++)
    ox = vi_wrap (ox, wv);
  for (; o < o1; o += VL) {
    int n = o1 - o < VL ? (int) (o1 - o) : VL;
    vf col[3];                  /* sums of the dx = -1, 0, +1 taps */
    if (o - W - 1 >= 0 && o + VL + W + 1 <= HW) {
      for (int dx = 0; dx < 3; dx++) {
        const float *p = in + o + dx - 1;
        col[dx] = vf_fma (w[dx], vf_load (p - W), dx == 1 ? bias : vf_zero ());
        col[dx] = vf_fma (w[3 + dx], vf_load (p), col[dx]);
        col[dx] = vf_fma (w[6 + dx], vf_load (p + W), col[dx]);
      }
    } else {
      for (int dx = 0; dx < 3; dx++) {
        col[dx] = dx == 1 ? bias : vf_zero ();
        for (int dy = 0; dy < 3; dy++) {
          ptrdiff_t off = o + (dy - 1) * W + dx - 1;
          vf x = vf_maskz_load (vm_window (off, HW, VL), sn_at (in, off));
          col[dx] = vf_fma (w[3 * dy + dx], x, col[dx]);
        }
      }
    }
    vf acc = vf_mask_add (col[1], vm_ne (ox, zero), col[0]);
    acc = vf_mask_add (acc, vm_ne (ox, last), col[2]);
    vf_store_n (a->out + o, vf_relu_if (acc, a->relu), n);
    ox = vi_wrap (vi_add (ox, step), wv);
  }
}

/* Any pads, stride 1 or 2: one output row at a time, VL columns a step. */
static void
dw3x3_rows (const sn_dw_args *a, int oy0, int oy1, const int stride)
{
  vf w[9];                      /* [ky][kx] */
  for (int i = 0; i < 9; i++)
    w[i] = vf_set1 (a->weight[i]);
  for (int oy = oy0; oy < oy1; oy++) {
    float *out = a->out + (size_t) oy * a->out_w;       /* [out_w] */
    for (int x0 = 0; x0 < a->out_w; x0 += VL) {
      vf acc = vf_set1 (a->bias);
      for (int ky = 0; ky < 3; ky++) {
        int iy = oy * stride - a->pad_top + ky;
        if (iy < 0 || iy >= a->in_h)
          continue;
        vf t[3];
        row_taps (a->in + (size_t) iy * a->in_w, a->in_w, x0, stride,
            a->pad_left, 3, vf_zero (), t);
        for (int kx = 0; kx < 3; kx++)
          acc = vf_fma (w[3 * ky + kx], t[kx], acc);
      }
      vf_store_n (out + x0, vf_relu_if (acc, a->relu), a->out_w - x0);
    }
  }
}

void
SN_FN (sn_dw_f32) (const sn_dw_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  if (a->k != 3 || (a->stride != 1 && a->stride != 2)) {
    sn_dw_f32__ref (a, oy0, oy1);
    return;
  }
  if (a->stride == 1 && a->pad_top == 1 && a->pad_left == 1
      && a->in_w == a->out_w && a->in_h == a->out_h)
    dw3x3_s1_flat (a, oy0, oy1);
  else if (a->stride == 1)
    dw3x3_rows (a, oy0, oy1, 1);
  else
    dw3x3_rows (a, oy0, oy1, 2);
}

/* ========================= dense convolution ==========================
 * One output plane; stride_w 1 or 2 (any stride_h), kw <= 8. Taps are
 * summed per kx into separate accumulators (shorter dependency chains). */
SN_VINLINE void
conv_rows (const sn_conv_args *a, int oy0, int oy1, const int stride_w,
    const int kw)
{
  const size_t in_plane = (size_t) a->in_h * a->in_w;
  for (int oy = oy0; oy < oy1; oy++) {
    float *out = a->out + (size_t) oy * a->out_w;       /* [out_w] */
    const float *res = a->res ? a->res + (size_t) oy * a->out_w : NULL;
    for (int x0 = 0; x0 < a->out_w; x0 += VL) {
      int n = a->out_w - x0 < VL ? a->out_w - x0 : VL;
      vf acc[8];                /* [kx] */
      for (int kx = 0; kx < kw; kx++)
        acc[kx] = vf_zero ();
      for (int ci = 0; ci < a->cin; ci++) {
        const float *in = a->in + ci * in_plane;        /* [in_h][in_w] */
        const float *w = a->weight + (size_t) ci * a->kh * kw;  /* [kh][kw] */
        for (int ky = 0; ky < a->kh; ky++) {
          int iy = oy * a->stride_h - a->pad_top + ky;
          if (iy < 0 || iy >= a->in_h)
            continue;
          vf t[8];
          row_taps (in + (size_t) iy * a->in_w, a->in_w, x0, stride_w,
              a->pad_left, kw, vf_zero (), t);
          for (int kx = 0; kx < kw; kx++)
            acc[kx] = vf_fma (vf_set1 (w[ky * kw + kx]), t[kx], acc[kx]);
        }
      }
      vf sum = vf_set1 (a->bias);
      for (int kx = 0; kx < kw; kx++)
        sum = vf_add (sum, acc[kx]);
      if (res)
        sum = vf_add (sum, vf_maskz_load (vm_first (n), res + x0));
      vf_store_n (out + x0, vf_relu_if (sum, a->relu), n);
    }
  }
}

void
SN_FN (sn_conv_f32) (const sn_conv_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  if ((a->stride_w != 1 && a->stride_w != 2) || a->kw < 1 || a->kw > 8) {
    sn_conv_f32__ref (a, oy0, oy1);
    return;
  }
  if (a->kw == 3 && a->stride_w == 2)
    conv_rows (a, oy0, oy1, 2, 3);
  else if (a->kw == 3)
    conv_rows (a, oy0, oy1, 1, 3);
  else if (a->stride_w == 2)
    conv_rows (a, oy0, oy1, 2, a->kw);
  else
    conv_rows (a, oy0, oy1, 1, a->kw);
}

/* ============================== pooling ===============================
 * stride_w 1 or 2, k_w <= 8, and every window overlaps the input (else the
 * reference, which then writes 0). Padding taps read -FLT_MAX (max) or 0
 * (average), exactly what the reference skips. */

/* Taps inside the input per lane, for output columns x0 + j. */
SN_VINLINE vf
pool_cols_inside (const sn_pool_args *a, int x0)
{
  vi ix0 = vi_iota (x0);
  if (a->stride_w == 2)
    ix0 = vi_add (ix0, ix0);
  ix0 = vi_sub (ix0, vi_set1 (a->pad_left));
  vi hi = vi_min (vi_add (ix0, vi_set1 (a->k_w)), vi_set1 (a->in_w));
  return vf_from_vi (vi_sub (hi, vi_max (ix0, vi_set1 (0))));
}

SN_VINLINE void
pool_rows (const sn_pool_args *a, int oy0, int oy1, const int stride_w,
    const int kw)
{
  const bool is_max = a->kind == SN_POOL_MAX;
  const vf fill = vf_set1 (is_max ? -FLT_MAX : 0.0f);
  for (int oy = oy0; oy < oy1; oy++) {
    float *out = a->out + (size_t) oy * a->out_w;       /* [out_w] */
    int iy0 = oy * a->stride_h - a->pad_top;
    int rows = (iy0 + a->k_h < a->in_h ? iy0 + a->k_h : a->in_h)
        - (iy0 > 0 ? iy0 : 0);
    for (int x0 = 0; x0 < a->out_w; x0 += VL) {
      vf acc = fill;
      for (int ky = 0; ky < a->k_h; ky++) {
        int iy = iy0 + ky;
        if (iy < 0 || iy >= a->in_h)
          continue;
        vf t[8];
        row_taps (a->in + (size_t) iy * a->in_w, a->in_w, x0, stride_w,
            a->pad_left, kw, fill, t);
        for (int kx = 0; kx < kw; kx++)
          acc = is_max ? vf_max (t[kx], acc) : vf_add (acc, t[kx]);
      }
      if (!is_max && a->count_include_pad)
        acc = vf_div (acc, vf_set1 ((float) (a->k_h * a->k_w)));
      else if (!is_max)
        acc = vf_div (acc, vf_mul (pool_cols_inside (a, x0),
                vf_set1 ((float) rows)));
      vf_store_n (out + x0, vf_relu_if (acc, a->relu), a->out_w - x0);
    }
  }
}

void
SN_FN (sn_pool_f32) (const sn_pool_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  bool windows_inside = a->pad_left < a->k_w && a->pad_top < a->k_h
      && (a->out_w - 1) * a->stride_w - a->pad_left < a->in_w
      && (a->out_h - 1) * a->stride_h - a->pad_top < a->in_h;
  if ((a->stride_w != 1 && a->stride_w != 2) || a->k_w < 1 || a->k_w > 8
      || a->k_h < 1 || !windows_inside) {
    sn_pool_f32__ref (a, oy0, oy1);
    return;
  }
  if (a->k_w == 3 && a->stride_w == 2)
    pool_rows (a, oy0, oy1, 2, 3);
  else if (a->k_w == 3)
    pool_rows (a, oy0, oy1, 1, 3);
  else if (a->stride_w == 2)
    pool_rows (a, oy0, oy1, 2, a->k_w);
  else
    pool_rows (a, oy0, oy1, 1, a->k_w);
}

/* ============================ dense layer =============================
 * Four output rows at a time, two vectors of inputs a step. */
SN_VINLINE float
dense_row1 (const float *x, int c_in, const float *w)
{
  vf acc = vf_zero ();
  for (int c = 0; c < c_in; c += VL)
    acc = vf_fma (vf_maskz_load (vm_first (c_in - c), w + c),
        vf_maskz_load (vm_first (c_in - c), x + c), acc);
  return vf_reduce_add (acc);
}

void
SN_FN (sn_dense_f32) (const float *x, int c_in, const float *weight,
    const float *bias, float *out, int k0, int k1)
{
  int k = k0;
  for (; k + 4 <= k1; k += 4) {
    const float *w = weight + (size_t) k * c_in;        /* [4][c_in] */
    vf acc[4][2];
    for (int r = 0; r < 4; r++)
      acc[r][0] = acc[r][1] = vf_zero ();
    int c = 0;
    for (; c + 2 * VL <= c_in; c += 2 * VL)
      for (int h = 0; h < 2; h++) {
        vf xv = vf_load (x + c + h * VL);
        for (int r = 0; r < 4; r++)
          acc[r][h] = vf_fma (vf_load (w + (size_t) r * c_in + c + h * VL),
              xv, acc[r][h]);
      }
    for (int r = 0; r < 4; r++) {
      float tail = dense_row1 (x + c, c_in - c, w + (size_t) r * c_in + c);
      out[k + r] = (bias ? bias[k + r] : 0.0f)
          + vf_reduce_add (vf_add (acc[r][0], acc[r][1])) + tail;
    }
  }
  for (; k < k1; k++)
    out[k] = (bias ? bias[k] : 0.0f)
        + dense_row1 (x, c_in, weight + (size_t) k * c_in);
}

const sn_kernel_table SN_FN (sn_kernel_table) = {
  .isa = SN_ISA_NAME,
  .pw = SN_FN (sn_pw_f32),
  .pw_packed_size = SN_FN (sn_pw_packed_size),
  .pw_pack = SN_FN (sn_pw_pack),
  .dw3x3 = SN_FN (sn_dw_f32),
  .conv = SN_FN (sn_conv_f32),
  .pool = SN_FN (sn_pool_f32),
  .dense = SN_FN (sn_dense_f32),
  .pw_block_co = SN_PW_MR,
  .pw_block_px = SN_PW_NR * VL,
};
