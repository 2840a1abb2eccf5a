/* kernels_simd.h - the vectorized kernels, written once over the vector
 * vocabulary of simd_<isa>.h and compiled once per ISA:
 *   kernels_avx512.c : #include "simd_avx512.h" then this file
 *   kernels_avx2.c   : #include "simd_avx2.h"   then this file
 * Each instance defines sn_<op>_f32__<isa> (kernels.h naming) and
 * sn_kernel_table sn_kernel_table__<isa>.
 *
 * VL is the number of float lanes. All kernels accept every argument the
 * reference accepts; what they do not specialize goes to a more general
 * path, at worst the reference:
 *   pw          : any shape; register tile SN_PW_MR channels x SN_PW_NR
 *                 vectors of pixels, masked pixel tail
 *   dw (3x3)    : stride 1 with pad 1 and same size as one flat vector
 *                 (dw3x3_s1_flat), else stride 1 or 2, any pads, row by
 *                 row (win3); other k or stride: reference
 *   dw multi    : the flat walk's masks made once for all planes when a
 *                 plane's rows fit SN_DW_MULTI_STEPS vectors; else dw
 *                 plane by plane
 *   conv        : stride_w 1 or 2, kw <= 8, one plane; else reference
 *   conv_multi  : im2col of a band of rows + the pw GEMM; else conv
 *   pool        : 3x3 stride 2 pad 1 by rows combined first
 *                 (pool3x3_s2), other 3x3 through win3, other windows
 *                 (kw <= 8, stride_w 1 or 2) row by row; windows that
 *                 miss the input: reference
 *   pool multi  : pool3x3_s2's column masks and row windows made once for
 *                 all planes; other pools plane by plane
 *   dense       : four rows at a time
 *   plane_mean  : four vector accumulators
 * Border handling uses masked loads (masked-off lanes are not read, so a
 * vector may start before or end after a plane); partial vectors are
 * stored through a mask, so nothing outside the requested tile is written.
 * Sums may run in another order than the reference's (per-row partial sums,
 * FMA): results agree to rounding, not bit for bit.
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

/* The column of each lane of a vector that starts a row W wide (lane j:
 * j mod W), as walks over flat planes step it with vi_wrap. */
SN_VINLINE vi
vi_lane_cols (int W)
{
  const vi wv = vi_set1 (W);
  vi ox = vi_iota (0);
  for (int i = 0; i <= VL / W; i++)
    ox = vi_wrap (ox, wv);
  return ox;
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
    vf_store_first (p, v, n);
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

/* Epilogue of one output vector: + residual, ReLU, store (the last
 * vector of a masked tile: its first tail_n lanes, `tail`). */
SN_VINLINE void
pw_store_vec (float *out, const float *res, vf x, bool relu, bool part,
    vmask tail, int tail_n)
{
  if (res)
    x = vf_add (x, part ? vf_maskz_load (tail, res) : vf_load (res));
  x = vf_relu_if (x, relu);
  if (part)
    vf_store_first (out, x, tail_n);
  else
    vf_store (out, x);
}

/* One micro-tile: output channels [cb*MR, cb*MR + mr) x nv vectors of
 * pixels from p (the last one holding only its first tail_n lanes when
 * masked); rows outside [co0, co1) are computed but not stored. mr is MR,
 * or MR/2 for a block whose upper half lies outside the tile.
 *   wb : packed block [cin][MR]; in : cin planes (stride in_plane). */
SN_VINLINE void
pw_tile (const sn_pw_args *a, const float *wb, int cb, int co0, int co1,
    size_t p, const int mr, const int nv, const bool masked, int tail_n)
{
  const vmask tail = vm_first (tail_n);
  const bool relu = a->relu;
  vf acc[SN_PW_MR][SN_PW_NR];   /* [channel][pixel vector] */
  for (int r = 0; r < mr; r++) {
    int co = cb * SN_PW_MR + r;
    vf b = vf_set1 (co < a->cout ? a->bias[co] : 0.0f);
    for (int v = 0; v < nv; v++)
      acc[r][v] = b;
  }
  const float *x = a->in + p;   /* [cin][in_plane], from pixel p */
  /* The next channel block's weights (packed right after this one), a
   * line every one or two input channels: stage 4's weights come from L3
   * once an inference, and its convs waited on them (1 thread, Zen 5:
   * stage-4 convs 0.90-0.93x, pw2 0.92-0.94x, whole net 0.92-0.95x). */
  const float *next = wb + (size_t) a->cin * SN_PW_MR;   /* [cin][MR] */
  for (int ci = 0; ci < a->cin; ci++, x += a->in_plane, wb += SN_PW_MR) {
    __builtin_prefetch (next + (size_t) ci * SN_PW_MR, 0, 3);
    vf xv[SN_PW_NR];
    for (int v = 0; v < nv; v++)
      xv[v] = masked && v == nv - 1 ? vf_maskz_load (tail, x + v * VL) :
          vf_load (x + v * VL);
    for (int r = 0; r < mr; r++) {
      vf w = vf_set1 (wb[r]);
      for (int v = 0; v < nv; v++)
        acc[r][v] = vf_fma (w, xv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < mr; r++) {
    int co = cb * SN_PW_MR + r;
    if (co < co0 || co >= co1)
      continue;
    float *out = a->out_rows[co] + p;   /* [nv * VL] */
    const float *res = a->res_rows ? a->res_rows[co] + p : NULL;
    for (int v = 0; v < nv; v++)
      pw_store_vec (out + v * VL, res ? res + v * VL : NULL, acc[r][v],
          relu, masked && v == nv - 1, tail, tail_n);
  }
}

/* All channel blocks of one pixel tile of nv vectors (compile-time). */
SN_VINLINE void
pw_tiles (const sn_pw_args *a, int co0, int co1, size_t p, const int nv,
    const bool masked, int tail_n)
{
  const int half = SN_PW_MR / 2;
  int cb0 = co0 / SN_PW_MR, cb1 = (co1 + SN_PW_MR - 1) / SN_PW_MR;
  for (int cb = cb0; cb < cb1; cb++) {
    const float *wb = a->weight + (size_t) cb * a->cin * SN_PW_MR;
    if (co1 - cb * SN_PW_MR <= half)
      pw_tile (a, wb, cb, co0, co1, p, half, nv, masked, tail_n);
    else
      pw_tile (a, wb, cb, co0, co1, p, SN_PW_MR, nv, masked, tail_n);
  }
}

/* A tail of n < SN_PW_COLS_MAX pixels, channels in the vector lanes: per
 * input channel, one MR-wide weight row (a vc) times each pixel's value (a
 * vector over pixels would spend MR full-width FMAs on these few lanes).
 * Every output is its bias plus the input channels' products added in
 * order by FMA, exactly as pw_tile sums it, so a pixel's value does not
 * depend on whether a task's range puts it in a tile or in a tail: any
 * split of the pixels among tasks, bands and threads gives the same
 * result. The independent FMA chains that hide the latency come from
 * `nb` channel blocks at once (n x nb >= 8 chains; one chain per pixel
 * made stage 4's 1-pixel tail cost a third of its 48-pixel tile). */
#define SN_PW_COLS_MAX 8

/* Blocks [cb, cb + nb) (all below the tile's last block) of n pixels. */
SN_VINLINE void
pw_column_blocks (const sn_pw_args *a, int co0, int co1, int cb, size_t p,
    const int n, const int nb)
{
  vc acc[8][SN_PW_COLS_MAX];     /* [block][pixel] x MR channels */
  for (int b = 0; b < nb; b++) {
    float bias[SN_PW_MR];
    for (int r = 0; r < SN_PW_MR; r++) {
      int co = (cb + b) * SN_PW_MR + r;
      bias[r] = co < a->cout ? a->bias[co] : 0.0f;
    }
    for (int j = 0; j < n; j++)
      acc[b][j] = vc_load (bias);
  }
  const float *x = a->in + p;    /* [cin][in_plane], from pixel p */
  const float *wb = a->weight + (size_t) cb * a->cin * SN_PW_MR;
  const size_t block = (size_t) a->cin * SN_PW_MR;   /* packed block */
  for (int ci = 0; ci < a->cin; ci++, x += a->in_plane, wb += SN_PW_MR) {
    vc xs[SN_PW_COLS_MAX];
    for (int j = 0; j < n; j++)
      xs[j] = vc_set1 (x[j]);
    for (int b = 0; b < nb; b++) {
      vc w = vc_load (wb + b * block);
      for (int j = 0; j < n; j++)
        acc[b][j] = vc_fma (w, xs[j], acc[b][j]);
    }
  }
  for (int b = 0; b < nb; b++)
    for (int j = 0; j < n; j++) {
      float v[SN_PW_MR];
      vc_store (v, acc[b][j]);
      for (int r = 0; r < SN_PW_MR; r++) {
        int co = (cb + b) * SN_PW_MR + r;
        if (co < co0 || co >= co1)
          continue;
        float y = v[r] + (a->res_rows ? a->res_rows[co][p + j] : 0.0f);
        a->out_rows[co][p + j] = a->relu && y < 0.0f ? 0.0f : y;
      }
    }
}

SN_VINLINE void
pw_columns_ (const sn_pw_args *a, int co0, int co1, size_t p, const int n)
{
  const int nb = (8 + n - 1) / n;   /* 8, 4, 3, 2, 2, 2, 2 blocks */
  int cb = co0 / SN_PW_MR, cb1 = (co1 + SN_PW_MR - 1) / SN_PW_MR;
  for (; cb + nb <= cb1; cb += nb)
    pw_column_blocks (a, co0, co1, cb, p, n, nb);
  for (; cb < cb1; cb++)
    pw_column_blocks (a, co0, co1, cb, p, n, 1);
}

static void
pw_columns (const sn_pw_args *a, int co0, int co1, size_t p, int n)
{
  switch (n) {
#define SN_PW_COLS_CASE(k) case k: pw_columns_ (a, co0, co1, p, k); break;
    SN_PW_COLS_CASE (1) SN_PW_COLS_CASE (2) SN_PW_COLS_CASE (3)
    SN_PW_COLS_CASE (4) SN_PW_COLS_CASE (5) SN_PW_COLS_CASE (6)
    SN_PW_COLS_CASE (7)
#undef SN_PW_COLS_CASE
    default:
      assert (!"pw_columns takes 1..7 pixels");
  }
}

/* The pixel tail: n < NR*VL pixels in nv vectors, the last one masked;
 * fewer than SN_PW_COLS_MAX pixels (and fewer than a vector) by columns. */
static void
pw_tail (const sn_pw_args *a, int co0, int co1, size_t p, size_t n)
{
  if (n < SN_PW_COLS_MAX && n < VL) {
    pw_columns (a, co0, co1, p, (int) n);
    return;
  }
  int nv = (int) ((n + VL - 1) / VL);
  int tail_n = (int) (n - (size_t) (nv - 1) * VL);
  switch (nv) {
#define SN_PW_TAIL_CASE(k) \
    case k: pw_tiles (a, co0, co1, p, k, true, tail_n); break;
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

/* Pixel tiles outside, channel blocks inside: one tile of `in`
 * (cin x NR*VL floats) is reused by every block of output channels. */
void
SN_FN (sn_pw_f32) (const sn_pw_args *a, int co0, int co1, size_t p0,
    size_t p1)
{
  assert (co0 >= 0 && co1 <= a->cout && p1 <= a->npix);
  const size_t tile = (size_t) SN_PW_NR * VL;
  if (co0 >= co1 || p0 >= p1)
    return;
  size_t p = p0;
  for (; p + tile <= p1; p += tile)
    pw_tiles (a, co0, co1, p, SN_PW_NR, false, VL);
  if (p < p1)
    pw_tail (a, co0, co1, p, p1 - p);
}

/* ================= taps of one input row, for one output vector ========
 * For output columns ox = x0 + j (j < VL), window column kx < kw (<= 8):
 *   t[kx][j] = row[ix], ix = ox * stride - pad_left + kx,
 * or `fill` where ix is outside [0, in_w). stride is 1 or 2. Lanes past the
 * output row hold unspecified values (never stored). The load masks depend
 * only on the columns, so row_cols computes them once for every row. */
typedef struct {
  bool inside;                  /* every load in [0, in_w): no masks */
  vmask m[8];                   /* stride 1: per kx; 2: per (pair, half) */
} row_cols;

SN_VINLINE void
row_cols_make (row_cols * rc, int in_w, int x0, const int stride,
    int pad_left, const int kw)
{
  ptrdiff_t q0 = (ptrdiff_t) x0 * stride - pad_left;
  if (stride == 1) {
    rc->inside = q0 >= 0 && q0 + kw - 1 + VL <= in_w;
    for (int kx = 0; kx < kw && !rc->inside; kx++)
      rc->m[kx] = vm_window (q0 + kx, in_w, VL);
    return;
  }
  /* stride 2: the 2*VL inputs from q0 + kx (kx even) give taps kx (even
   * lanes) and kx + 1 (odd lanes) */
  rc->inside = q0 >= 0 && q0 + (kw - 1) / 2 * 2 + 2 * VL <= in_w;
  for (int kx = 0; kx < kw && !rc->inside; kx += 2) {
    rc->m[kx] = vm_window (q0 + kx, in_w, VL);
    rc->m[kx + 1] = vm_window (q0 + kx + VL, in_w, VL);
  }
}

/* Stride 2 with `pairs`: the taps in pair order (vf_even_pairs), for a
 * caller that puts its lane-wise result back with vf_pairs_to_lanes. */
SN_VINLINE void
row_taps_ (const float *row, const row_cols * rc, int x0, const int stride,
    int pad_left, const int kw, vf fill, vf * t, const bool pairs)
{
  ptrdiff_t q0 = (ptrdiff_t) x0 * stride - pad_left;
  if (stride == 1) {
    for (int kx = 0; kx < kw; kx++)
      t[kx] = rc->inside ? vf_load (row + q0 + kx) :
          vf_mask_load (fill, rc->m[kx], sn_at (row, q0 + kx));
    return;
  }
  for (int kx = 0; kx < kw; kx += 2) {
    vf lo, hi;
    if (rc->inside) {
      lo = vf_load (row + q0 + kx);
      hi = vf_load (row + q0 + kx + VL);
    } else {
      lo = vf_mask_load (fill, rc->m[kx], sn_at (row, q0 + kx));
      hi = vf_mask_load (fill, rc->m[kx + 1], sn_at (row, q0 + kx + VL));
    }
    t[kx] = pairs ? vf_even_pairs (lo, hi) : vf_even (lo, hi);
    if (kx + 1 < kw)
      t[kx + 1] = pairs ? vf_odd_pairs (lo, hi) : vf_odd (lo, hi);
  }
}

SN_VINLINE void
row_taps (const float *row, const row_cols * rc, int x0, const int stride,
    int pad_left, const int kw, vf fill, vf * t)
{
  row_taps_ (row, rc, x0, stride, pad_left, kw, fill, t, false);
}

/* ============== 3x3 windows, one output row at a time ==================
 * The loop shared by the depthwise 3x3 (WIN_FMA) and the 3x3 pools
 * (WIN_MAX, WIN_AVG), stride_w 1 or 2; rows outside the input are skipped,
 * padding columns read 0 (-FLT_MAX for max). */
enum { WIN_FMA, WIN_MAX, WIN_AVG };

typedef struct {
  const float *in;              /* [in_h][in_w] */
  int in_h, in_w;
  float *out;                   /* [out_h][out_w] */
  int out_w, stride_h, pad_top, pad_left;
  vf w[9];                      /* WIN_FMA: [ky][kx] */
  vf bias;                      /* WIN_FMA */
  bool count_include_pad;       /* WIN_AVG */
} win3;

/* Taps inside the input per lane, for output columns x0 + j. */
SN_VINLINE vf
cols_inside (int in_w, int x0, int stride_w, int pad_left, int kw)
{
  vi ix0 = vi_iota (x0);
  if (stride_w == 2)
    ix0 = vi_add (ix0, ix0);
  ix0 = vi_sub (ix0, vi_set1 (pad_left));
  vi hi = vi_min (vi_add (ix0, vi_set1 (kw)), vi_set1 (in_w));
  return vf_from_vi (vi_sub (hi, vi_max (ix0, vi_set1 (0))));
}

/* Output rows [oy0, oy1) of the column strip [x0, x0 + VL). */
SN_VINLINE void
win3_strip (const win3 * g, int oy0, int oy1, int x0, const int stride_w,
    const int op, const bool relu)
{
  row_cols rc;                  /* the strip's load masks, for every row */
  row_cols_make (&rc, g->in_w, x0, stride_w, g->pad_left, 3);
  const vf fill = op == WIN_MAX ? vf_set1 (-FLT_MAX) : vf_zero ();
  vf rcp_cols = vf_set1 (1.0f / 9.0f);  /* WIN_AVG: 1 / taps per row */
  if (op == WIN_AVG && !g->count_include_pad)
    rcp_cols = vf_div (vf_set1 (1.0f), cols_inside (g->in_w, x0, stride_w,
            g->pad_left, 3));
  for (int oy = oy0; oy < oy1; oy++) {
    vf part[3];                 /* per ky: three short dependency chains */
    int nrows = 0;
    for (int ky = 0; ky < 3; ky++) {
      int iy = oy * g->stride_h - g->pad_top + ky;
      part[ky] = op == WIN_FMA && ky == 0 ? g->bias : fill;
      if (iy < 0 || iy >= g->in_h)
        continue;
      vf t[3];                  /* stride 2: in pair order */
      row_taps_ (g->in + (size_t) iy * g->in_w, &rc, x0, stride_w,
          g->pad_left, 3, fill, t, true);
      for (int kx = 0; kx < 3; kx++)
        part[ky] = op == WIN_FMA ? vf_fma (g->w[3 * ky + kx], t[kx], part[ky])
            : op == WIN_MAX ? vf_max (t[kx], part[ky])
            : vf_add (part[ky], t[kx]);
      nrows++;
    }
    vf acc = op == WIN_MAX ? vf_max (vf_max (part[0], part[1]), part[2])
        : vf_add (vf_add (part[0], part[1]), part[2]);
    if (stride_w == 2)
      acc = vf_pairs_to_lanes (acc);
    if (op == WIN_AVG && g->count_include_pad)
      acc = vf_mul (acc, rcp_cols);
    else if (op == WIN_AVG)     /* nrows is 1..3 */
      acc = vf_mul (acc, vf_mul (rcp_cols, vf_set1 (nrows == 3 ? 1.0f / 3
                  : nrows == 2 ? 0.5f : 1.0f)));
    vf_store_n (g->out + (size_t) oy * g->out_w + x0, vf_relu_if (acc, relu),
        g->out_w - x0);
  }
}

/* Column strips outside, rows inside: each strip's masks and divisors are
 * computed once. */
SN_VINLINE void
win3_rows (const win3 * g, int oy0, int oy1, const int stride_w,
    const int op, const bool relu)
{
  for (int x0 = 0; x0 < g->out_w; x0 += VL)
    win3_strip (g, oy0, oy1, x0, stride_w, op, relu);
}

/* ======== depthwise 3x3, stride 2, even input: four phase planes =======
 * Output (oy, ox) reads input rows 2oy - pt + ky and columns 2ox - pl + kx
 * (ky, kx < 3; pt, pl the top and left pads, 0 or 1: PyTorch's pad 1, or
 * TensorFlow's "same" for an even input, 0 on top and left, 1 after).
 * Split the input by row and column parity into four planes ph[rp][cp] of
 * W = out_w columns: plane row r' of parity rp holds input row
 * 2(y0 + r' + base[rp]) + rp, base[1] = -1 when pt = 1 (row -1: zeros),
 * else 0; each parity has n or n + 1 rows for output rows [y0, y0 + n).
 * Tap k of an axis is then phase (pad + k) % 2 at a fixed offset,
 *   pad 1: k = 0, 1, 2 -> (odd, -1), (even, 0), (odd, 0)
 *   pad 0: k = 0, 1, 2 -> (even, 0), (odd, 0), (even, +1),
 * so every tap of output o = r*W + c is a fixed offset in its plane, as in
 * the stride-1 flat walk, and only the column taps at offset -1 (column 0)
 * or +1 (column W-1) need a lane mask. No shuffle per tap and full-width
 * stores but the last, where the row walk (win3_rows) ends every row of a
 * 7- or 14-wide plane with a partial store and shuffles every tap
 * (stride-2 depthwise convs ran at a third of the stride-1 ones' speed,
 * AVX2 on Zen 3; the first unit's conv is 0.70x its time with the phases,
 * fastest of 1500 runs in the network). The split costs one pass over the
 * input rows. The 3x3 stride-2 pools do not gain from it: their
 * row-combining walk (pool3x3_s2) deinterleaves each output vector's
 * columns once, not once per input row, and the stem's max pool was 1.4x
 * slower with the phases. */
#define SN_S2_SCRATCH 6144      /* floats of phase planes on the stack */

typedef struct {
  float *ph[2][2];              /* [row parity][column parity]: [rows][W] */
  int base[2];                  /* per row parity: -1 or 0 (see above) */
  int W;
} s2_phases;

/* Output rows per chunk that fit the scratch (each plane: n + 1 rows and a
 * vector of guard either side); 0 when one row does not fit. */
SN_VINLINE int
s2_chunk_rows (int W)
{
  int rows = (SN_S2_SCRATCH / 4 - 2 * VL) / W - 1;
  return rows > 0 ? rows : 0;
}

/* The geometry of the phase walk: 3x3, stride 2, pads 0 or 1 on top and
 * left, an even input of twice the output's size, rows that fit the
 * scratch. */
SN_VINLINE bool
dw_is_s2_phase (const sn_dw_args *a)
{
  return a->k == 3 && a->stride == 2 && (a->pad_top == 0 || a->pad_top == 1)
      && (a->pad_left == 0 || a->pad_left == 1) && a->in_h == 2 * a->out_h
      && a->in_w == 2 * a->out_w && s2_chunk_rows (a->out_w) > 0;
}

/* Even and odd columns of one input row (in_w = 2W floats) to even[0..W)
 * and odd[0..W); full-vector stores may write up to VL - 1 floats past W
 * (the next row's, written after, or the guard). */
SN_VINLINE void
s2_split_row (const float *row, int in_w, float *even, float *odd)
{
  for (int c = 0; c < in_w; c += 2 * VL) {
    vf lo, hi;
    if (c + 2 * VL <= in_w) {
      lo = vf_load (row + c);
      hi = vf_load (row + c + VL);
    } else {
      lo = vf_maskz_load (vm_window (c, in_w, VL), sn_at (row, c));
      hi = vf_maskz_load (vm_window (c + VL, in_w, VL), sn_at (row, c + VL));
    }
    vf_store (even + c / 2, vf_even (lo, hi));
    vf_store (odd + c / 2, vf_odd (lo, hi));
  }
}

/* Floats of one phase plane of up to rows_cap output rows, guards
 * included; four of them make a plane's phases. */
SN_VINLINE size_t
s2_plane_floats (int W, int rows_cap)
{
  return (size_t) (rows_cap + 1) * W + 2 * VL;
}

/* The phase planes of output rows [y0, y0 + n), n <= rows_cap, of the
 * plane `in` ([in_h][in_w]) in `buf` (4 * s2_plane_floats floats); zeros
 * for rows outside the input and in the guards (read only by lanes that
 * are masked or never stored: never uninitialized stack, which may hold
 * denormals). */
SN_VINLINE s2_phases
s2_split (const float *in, int in_h, int in_w, int pad_top, int y0, int n,
    int rows_cap, float *buf)
{
  const int W = in_w / 2;
  const size_t plane = s2_plane_floats (W, rows_cap);
  s2_phases q = { .base = {0, pad_top ? -1 : 0}, .W = W };
  for (int rp = 0; rp < 2; rp++) {
    /* pad 1: the odd rows start a row early; pad 0: the even rows end a
     * row late */
    int rows = n + (rp == pad_top);
    float *e = q.ph[rp][0] = buf + VL + (2 * rp) * plane;
    float *o = q.ph[rp][1] = buf + VL + (2 * rp + 1) * plane;
    for (int r = 0; r < rows; r++, e += W, o += W) {
      int iy = 2 * (y0 + r + q.base[rp]) + rp;
      if (iy >= 0 && iy < in_h)
        s2_split_row (in + (size_t) iy * in_w, in_w, e, o);
      else
        for (int c = 0; c < W; c += VL) {
          vf_store (e + c, vf_zero ());
          vf_store (o + c, vf_zero ());
        }
    }
    for (int cp = 0; cp < 2; cp++) {
      vf_store (q.ph[rp][cp] - VL, vf_zero ());
      vf_store (q.ph[rp][cp] + (size_t) rows * W, vf_zero ());
    }
  }
  return q;
}

/* Outputs [0, n*W) of a chunk from its phase planes to out ([n][W]);
 * pad_left 0 or 1 (compile-time), pad_top in the planes' bases. */
SN_VINLINE void
s2_walk (const s2_phases *q, int pad_top, int n, float *out, const vf *w,
    vf bias, const int pad_left, const bool relu)
{
  const ptrdiff_t W = q->W, end = (ptrdiff_t) n * W;
  const vi wv = vi_set1 (q->W), step = vi_set1 (VL % q->W);
  /* pad 1: column taps at -1 are padding in column 0; pad 0: those at +1
   * in column W - 1 */
  const vi edge = vi_set1 (pad_left ? 0 : q->W - 1);
  const int edge_kx = pad_left ? 0 : 2, anchor = pad_left ? 1 : 0;
  const float *tap[3][3];       /* [kx][ky]: the tap at output 0 */
  for (int ky = 0; ky < 3; ky++)
    for (int kx = 0; kx < 3; kx++) {
      int rp = (pad_top + ky) % 2, cp = (pad_left + kx) % 2;
      int dr = (ky - pad_top + 2) / 2 - 1, dc = (kx - pad_left + 2) / 2 - 1;
      tap[kx][ky] = q->ph[rp][cp] + (dr - q->base[rp]) * W + dc;
    }
  vi ox = vi_lane_cols (q->W);  /* column of each lane */
  for (ptrdiff_t o = 0; o < end; o += VL) {
    vf col[3];                  /* sums of the kx = 0, 1, 2 taps */
    for (int kx = 0; kx < 3; kx++) {
      col[kx] = kx == anchor ? bias : vf_zero ();
      for (int ky = 0; ky < 3; ky++)
        col[kx] = vf_fma (w[3 * ky + kx], vf_load (tap[kx][ky] + o), col[kx]);
    }
    vf acc = col[anchor];
    for (int kx = 0; kx < 3; kx++)
      if (kx == edge_kx)
        acc = vf_mask_add (acc, vm_ne (ox, edge), col[kx]);
      else if (kx != anchor)
        acc = vf_add (acc, col[kx]);
    acc = vf_relu_if (acc, relu);
    if (o + VL <= end)
      vf_store (out + o, acc);
    else
      vf_store_first (out + o, acc, (int) (end - o));
    ox = vi_wrap (vi_add (ox, step), wv);
  }
}

/* Output rows [oy0, oy1) of a->planes planes (plane j: in + j * in_plane
 * -> out_rows[j]); dw_is_s2_phase holds. When the band fits the scratch,
 * as many planes as fit are split first and walked after: a load that
 * spans two stores still in flight waits for both to retire, and walking
 * each small plane right after its split left stage 4's 7x7 planes slower
 * than the row walk. A taller band goes plane by plane, chunk by chunk.
 * Every output is the same sum either way. */
#define SN_S2_GROUP_MAX (SN_S2_SCRATCH / (8 * VL))

SN_VINLINE void
dw3x3_s2_phase_ (const sn_dw_multi_args *a, int oy0, int oy1,
    const int pad_left, const bool relu)
{
  float buf[SN_S2_SCRATCH] __attribute__ ((aligned (64)));
  const int W = a->out_w, n = oy1 - oy0, rows_max = s2_chunk_rows (W);
  const bool grouped = n <= rows_max;
  const int rows_cap = grouped ? n : rows_max;  /* rows of each plane */
  const size_t per_plane = 4 * s2_plane_floats (W, rows_cap);
  const int group = grouped ? (int) (SN_S2_SCRATCH / per_plane) : 1;
  s2_phases q[SN_S2_GROUP_MAX];
  for (int j0 = 0; j0 < a->planes; j0 += group)
    for (int y0 = oy0; y0 < oy1; y0 += rows_max) {
      int g = a->planes - j0 < group ? a->planes - j0 : group;
      int rows = oy1 - y0 < rows_max ? oy1 - y0 : rows_max;
      for (int k = 0; k < g; k++)
        q[k] = s2_split (a->in + (size_t) (j0 + k) * a->in_plane, a->in_h,
            a->in_w, a->pad_top, y0, rows, rows_cap,
            buf + (size_t) k * per_plane);
      for (int k = 0; k < g; k++) {
        int j = j0 + k;
        vf w[9];                /* [ky][kx] */
        for (int i = 0; i < 9; i++)
          w[i] = vf_set1 (a->weight[9 * j + i]);
        s2_walk (&q[k], a->pad_top, rows, a->out_rows[j] + (size_t) y0 * W,
            w, vf_set1 (a->bias[j]), pad_left, relu);
      }
    }
}

static void
dw3x3_s2_phase (const sn_dw_multi_args *a, int oy0, int oy1)
{
  switch (a->pad_left * 2 + a->relu) {
#define SN_DW_PHASE_CASE(pl, r) \
    case pl * 2 + r: dw3x3_s2_phase_ (a, oy0, oy1, pl, r); break;
    SN_DW_PHASE_CASE (0, 0)
    SN_DW_PHASE_CASE (0, 1)
    SN_DW_PHASE_CASE (1, 0)
    SN_DW_PHASE_CASE (1, 1)
#undef SN_DW_PHASE_CASE
  }
}

/* ========================= depthwise 3x3 ============================== */

/* Stride 1, pad 1 all round, out size == in size: the plane is one flat
 * vector of H*W values and tap (dy, dx) is the value dy*W + dx away.
 * Taps wrapping to the neighbouring row (dx = -1 at column 0, dx = +1 at
 * column W-1) are summed per column (l, c, r) and dropped by a lane mask;
 * near the top and bottom (`edge`) loads are masked to the plane's rows.
 * The masks of a step depend only on its place in the plane (dw_step), so
 * a call on several planes makes them once for all (dw3x3_s1_flat_multi). */
typedef struct {
  const float *in;              /* [H][W] */
  float *out;                   /* [H][W] */
  ptrdiff_t W, HW, o1;          /* width, plane size, end of the tile */
  vf w[9];                      /* [ky][kx] */
  vf bias;
  vi wv, last, zero, step;      /* W, W - 1, 0, VL % W */
} dw_flat;

/* The masks of the step at outputs [o, o + VL); ox : column per lane. */
typedef struct {
  vmask ml, mr;                 /* lanes whose dx = -1 / +1 tap is in the row */
  vmask tap[9];                 /* edge: lanes whose tap (dy, dx) is inside
                                 * the plane, of outputs inside the tile */
  bool edge;                    /* a tap or an output outside: masked */
} dw_step;

SN_VINLINE void
dw_step_make (const dw_flat * f, ptrdiff_t o, vi ox, dw_step * s)
{
  s->ml = vm_ne (ox, f->zero);
  s->mr = vm_ne (ox, f->last);
  s->edge = o < f->W + 1 || o + VL > f->o1 || o + VL + f->W + 1 > f->HW;
  if (!s->edge)
    return;
  vi ov = vi_iota ((int) o);    /* flat index per lane */
  vmask in = vm_gt (vi_set1 ((int) f->o1), ov);
  vmask rows[3] = { vm_and (in, vm_gt (ov, vi_sub (f->wv, vi_set1 (1)))),
    in, vm_and (in, vm_gt (vi_set1 ((int) (f->HW - f->W)), ov))
  };
  vmask cols[3] = { s->ml, vm_all (), s->mr };
  for (int dy = 0; dy < 3; dy++)
    for (int dx = 0; dx < 3; dx++)
      s->tap[3 * dy + dx] = vm_and (rows[dy], cols[dx]);
}

/* Outputs [o, o + VL) of the plane f->in -> f->out (the tile may end
 * inside). */
SN_VINLINE void
dw_flat_step (const dw_flat * f, const dw_step * s, ptrdiff_t o,
    const bool relu)
{
  vf col[3];                    /* sums of the dx = -1, 0, +1 taps */
  if (!s->edge) {
    for (int dx = 0; dx < 3; dx++) {
      const float *p = f->in + o + dx - 1;
      col[dx] = vf_fma (f->w[dx], vf_load (p - f->W),
          dx == 1 ? f->bias : vf_zero ());
      col[dx] = vf_fma (f->w[3 + dx], vf_load (p), col[dx]);
      col[dx] = vf_fma (f->w[6 + dx], vf_load (p + f->W), col[dx]);
    }
  } else {
    for (int dx = 0; dx < 3; dx++) {
      col[dx] = dx == 1 ? f->bias : vf_zero ();
      for (int dy = 0; dy < 3; dy++) {
        ptrdiff_t off = o + (dy - 1) * f->W + dx - 1;
        vf x = vf_maskz_load (s->tap[3 * dy + dx], sn_at (f->in, off));
        col[dx] = vf_fma (f->w[3 * dy + dx], x, col[dx]);
      }
    }
  }
  vf acc = vf_mask_add (col[1], s->ml, col[0]);
  acc = vf_relu_if (vf_mask_add (acc, s->mr, col[2]), relu);
  if (s->edge)
    vf_store_n (f->out + o, acc, (int) (f->o1 - o));
  else
    vf_store (f->out + o, acc);
}

/* The walk's constants for rows [oy0, oy1) of an H x W plane. */
SN_VINLINE dw_flat
dw_flat_make (int h, int w, int oy1)
{
  dw_flat f = { .W = w, .HW = (ptrdiff_t) h * w, .o1 = (ptrdiff_t) oy1 * w,
    .wv = vi_set1 (w), .last = vi_set1 (w - 1), .zero = vi_set1 (0),
    .step = vi_set1 (VL % w)
  };
  return f;
}

SN_VINLINE void
dw_flat_weights (dw_flat * f, const float *weight, float bias)
{
  for (int i = 0; i < 9; i++)
    f->w[i] = vf_set1 (weight[i]);
  f->bias = vf_set1 (bias);
}

/* Column of each lane of the first step, at flat index o0 = oy0 * W. */
SN_VINLINE vi
dw_flat_first_cols (const dw_flat * f)
{
  return vi_lane_cols ((int) f->W);
}

SN_VINLINE void
dw3x3_s1_flat_ (const sn_dw_args *a, int oy0, int oy1, const bool relu)
{
  dw_flat f = dw_flat_make (a->in_h, a->in_w, oy1);
  f.in = a->in;
  f.out = a->out;
  dw_flat_weights (&f, a->weight, a->bias);
  vi ox = dw_flat_first_cols (&f);
  for (ptrdiff_t o = (ptrdiff_t) oy0 * f.W; o < f.o1; o += VL) {
    dw_step s;
    dw_step_make (&f, o, ox, &s);
    dw_flat_step (&f, &s, o, relu);
    ox = vi_wrap (vi_add (ox, f.step), f.wv);
  }
}

static void
dw3x3_s1_flat (const sn_dw_args *a, int oy0, int oy1)
{
  if (a->relu)
    dw3x3_s1_flat_ (a, oy0, oy1, true);
  else
    dw3x3_s1_flat_ (a, oy0, oy1, false);
}

/* The geometry of the flat walk: stride 1, pad 1 all round, same size. */
SN_VINLINE bool
dw_is_flat (const sn_dw_args *a)
{
  return a->k == 3 && a->stride == 1 && a->pad_top == 1 && a->pad_left == 1
      && a->in_w == a->out_w && a->in_h == a->out_h;
}

/* Several planes: the steps' masks once, then every plane through them. */
#define SN_DW_MULTI_STEPS 32

SN_VINLINE void
dw3x3_s1_flat_multi_ (const sn_dw_multi_args *a, int oy0, int oy1,
    const bool relu)
{
  dw_flat f = dw_flat_make (a->in_h, a->in_w, oy1);
  dw_step steps[SN_DW_MULTI_STEPS];
  ptrdiff_t o0 = (ptrdiff_t) oy0 * f.W;
  int n = 0;
  vi ox = dw_flat_first_cols (&f);
  for (ptrdiff_t o = o0; o < f.o1; o += VL, n++) {
    dw_step_make (&f, o, ox, &steps[n]);
    ox = vi_wrap (vi_add (ox, f.step), f.wv);
  }
  for (int j = 0; j < a->planes; j++) {
    f.in = a->in + (size_t) j * a->in_plane;
    f.out = a->out_rows[j];
    dw_flat_weights (&f, a->weight + 9 * j, a->bias[j]);
    for (int k = 0; k < n; k++)
      dw_flat_step (&f, &steps[k], o0 + (ptrdiff_t) k * VL, relu);
  }
}

/* Any pads, stride 1 or 2: one output row at a time, VL columns a step. */
static void
dw3x3_rows (const sn_dw_args *a, int oy0, int oy1)
{
  win3 g = { .in = a->in, .in_h = a->in_h, .in_w = a->in_w, .out = a->out,
    .out_w = a->out_w, .stride_h = a->stride, .pad_top = a->pad_top,
    .pad_left = a->pad_left, .bias = vf_set1 (a->bias)
  };
  for (int i = 0; i < 9; i++)
    g.w[i] = vf_set1 (a->weight[i]);
  if (a->stride == 2 && a->relu)
    win3_rows (&g, oy0, oy1, 2, WIN_FMA, true);
  else if (a->stride == 2)
    win3_rows (&g, oy0, oy1, 2, WIN_FMA, false);
  else if (a->relu)
    win3_rows (&g, oy0, oy1, 1, WIN_FMA, true);
  else
    win3_rows (&g, oy0, oy1, 1, WIN_FMA, false);
}

void
SN_FN (sn_dw_f32) (const sn_dw_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  if (a->k != 3 || (a->stride != 1 && a->stride != 2)) {
    sn_dw_f32__ref (a, oy0, oy1);
    return;
  }
  if (dw_is_flat (a))
    dw3x3_s1_flat (a, oy0, oy1);
  else if (dw_is_s2_phase (a)) {
    sn_dw_multi_args m = { .in_h = a->in_h, .in_w = a->in_w,
      .out_h = a->out_h, .out_w = a->out_w, .k = 3, .stride = 2,
      .pad_top = a->pad_top, .pad_left = a->pad_left, .planes = 1,
      .in = a->in, .weight = a->weight, .bias = &a->bias,
      .out_rows = &a->out, .relu = a->relu
    };
    dw3x3_s2_phase (&m, oy0, oy1);
  } else
    dw3x3_rows (a, oy0, oy1);
}

/* Several planes of one geometry (kernels.h): the flat walk's masks made
 * once when its steps fit the table, else plane by plane. */
void
SN_FN (sn_dw_multi_f32) (const sn_dw_multi_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  if (a->planes < 1 || oy0 >= oy1)
    return;
  sn_dw_args first = sn_dw_multi_plane (a, 0);
  size_t outputs = (size_t) (oy1 - oy0) * a->in_w;
  if (dw_is_s2_phase (&first)) {
    dw3x3_s2_phase (a, oy0, oy1);
    return;
  }
  if (dw_is_flat (&first) && outputs <= (size_t) SN_DW_MULTI_STEPS * VL) {
    if (a->relu)
      dw3x3_s1_flat_multi_ (a, oy0, oy1, true);
    else
      dw3x3_s1_flat_multi_ (a, oy0, oy1, false);
    return;
  }
  for (int j = 0; j < a->planes; j++) {
    sn_dw_args p = sn_dw_multi_plane (a, j);
    SN_FN (sn_dw_f32) (&p, oy0, oy1);
  }
}

/* ========================= dense convolution ==========================
 * One output plane; stride_w 1 or 2 (any stride_h), kw <= 8. Taps are
 * summed per kx into separate accumulators (shorter dependency chains). */
SN_VINLINE void
conv_rows (const sn_conv_args *a, int oy0, int oy1, const int stride_w,
    const int kw)
{
  for (int oy = oy0; oy < oy1; oy++) {
    float *out = a->out + (size_t) oy * a->out_w;       /* [out_w] */
    const float *res = a->res ? a->res + (size_t) oy * a->out_w : NULL;
    for (int x0 = 0; x0 < a->out_w; x0 += VL) {
      int n = a->out_w - x0 < VL ? a->out_w - x0 : VL;
      vf acc[8];                /* [kx] */
      for (int kx = 0; kx < kw; kx++)
        acc[kx] = vf_zero ();
      row_cols rc;
      row_cols_make (&rc, a->in_w, x0, stride_w, a->pad_left, kw);
      for (int ci = 0; ci < a->cin; ci++) {
        const float *in = a->in + ci * a->in_plane;     /* [in_h][in_w] */
        const float *w = a->weight + (size_t) ci * a->kh * kw;  /* [kh][kw] */
        for (int ky = 0; ky < a->kh; ky++) {
          int iy = oy * a->stride_h - a->pad_top + ky;
          if (iy < 0 || iy >= a->in_h)
            continue;
          vf t[8];
          row_taps (in + (size_t) iy * a->in_w, &rc, x0, stride_w,
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

/* ================ dense convolution, many output channels ==============
 * As a GEMM: a band of output rows is unrolled into a patch matrix
 *   patch[k][p], k = (ci*kh + ky)*kw + kx < K, p = r*out_w + ox (row r of
 *   the band), = in[ci][iy][ix] or 0 in the padding,
 * and the pointwise kernel multiplies the [cout][K] weights (packed on the
 * stack) with it, writing each channel's band of rows (contiguous in its
 * plane) with bias and ReLU. Geometry beyond the stack buffers, or not
 * kw <= 8 with stride_w 1 or 2, runs the single-plane kernel per channel. */
#define SN_CONV_PATCH_FLOATS 12288      /* 48 KiB: K x band pixels */
#define SN_CONV_WEIGHT_FLOATS 2048      /* packed [cout][K] */
#define SN_CONV_MAX_COUT 256

/* patch rows for output rows [oy, oy + nr): [K][nr * out_w] */
SN_VINLINE void
conv_im2col_ (const sn_conv_multi_args *a, int oy, int nr, float *patch,
    const int stride_w, const int kw)
{
  const size_t np = (size_t) nr * a->out_w;
  for (int r = 0; r < nr; r++)
    for (int x0 = 0; x0 < a->out_w; x0 += VL) {
      int n = a->out_w - x0 < VL ? a->out_w - x0 : VL;
      row_cols rc;
      row_cols_make (&rc, a->in_w, x0, stride_w, a->pad_left, kw);
      float *dst = patch + (size_t) r * a->out_w + x0;  /* [K][np] */
      for (int ci = 0; ci < a->cin; ci++)
        for (int ky = 0; ky < a->kh; ky++, dst += np * kw) {
          int iy = (oy + r) * a->stride_h - a->pad_top + ky;
          vf t[8];
          if (iy < 0 || iy >= a->in_h)
            for (int kx = 0; kx < kw; kx++)
              t[kx] = vf_zero ();
          else
            row_taps (a->in + ci * a->in_plane + (size_t) iy * a->in_w, &rc,
                x0, stride_w, a->pad_left, kw, vf_zero (), t);
          for (int kx = 0; kx < kw; kx++)
            vf_store_n (dst + np * kx, t[kx], n);
        }
    }
}

static void
conv_im2col (const sn_conv_multi_args *a, int oy, int nr, float *patch)
{
  if (a->kw == 3 && a->stride_w == 2)
    conv_im2col_ (a, oy, nr, patch, 2, 3);
  else if (a->kw == 3)
    conv_im2col_ (a, oy, nr, patch, 1, 3);
  else if (a->stride_w == 2)
    conv_im2col_ (a, oy, nr, patch, 2, a->kw);
  else
    conv_im2col_ (a, oy, nr, patch, 1, a->kw);
}

static void
conv_multi_gemm (const sn_conv_multi_args *a, int co0, int co1, int oy0,
    int oy1)
{
  const int K = a->cin * a->kh * a->kw, nco = co1 - co0;
  float packed[SN_CONV_WEIGHT_FLOATS];  /* pw packing of [nco][K] */
  float patch[SN_CONV_PATCH_FLOATS];    /* [K][band pixels] */
  float *rows[SN_CONV_MAX_COUT];        /* band start in each plane */
  /* a band of about 16 pixel tiles (few masked tails), as many whole rows
   * as fit */
  int nr = (16 * SN_PW_NR * VL + a->out_w - 1) / a->out_w;
  if ((size_t) nr * a->out_w * K > SN_CONV_PATCH_FLOATS)
    nr = SN_CONV_PATCH_FLOATS / (a->out_w * K);
  SN_FN (sn_pw_pack) (a->weight + (size_t) co0 * K, nco, K, packed);
  for (int oy = oy0; oy < oy1; oy += nr) {
    int n = oy1 - oy < nr ? oy1 - oy : nr;
    conv_im2col (a, oy, n, patch);
    for (int c = 0; c < nco; c++)
      rows[c] = a->out_rows[co0 + c] + (size_t) oy * a->out_w;
    sn_pw_args g = {
      .cin = K, .cout = nco, .npix = (size_t) n * a->out_w, .in = patch,
      .in_plane = (size_t) n * a->out_w, .weight = packed,
      .bias = a->bias + co0, .out_rows = rows, .res_rows = NULL,
      .relu = a->relu,
    };
    SN_FN (sn_pw_f32) (&g, 0, nco, 0, g.npix);
  }
}

void
SN_FN (sn_conv_multi_f32) (const sn_conv_multi_args *a, int co0, int co1,
    int oy0, int oy1)
{
  assert (co0 >= 0 && co1 <= a->cout && oy0 >= 0 && oy1 <= a->out_h);
  const size_t K = (size_t) a->cin * a->kh * a->kw;
  if (co0 >= co1 || oy0 >= oy1)
    return;
  if ((a->stride_w == 1 || a->stride_w == 2) && a->kw <= 8
      && K * a->out_w <= SN_CONV_PATCH_FLOATS && co1 - co0 <= SN_CONV_MAX_COUT
      && SN_FN (sn_pw_packed_size) (co1 - co0, (int) K)
      <= SN_CONV_WEIGHT_FLOATS) {
    conv_multi_gemm (a, co0, co1, oy0, oy1);
    return;
  }
  for (int co = co0; co < co1; co++) {
    sn_conv_args c = {
      .cin = a->cin, .in_h = a->in_h, .in_w = a->in_w, .out_h = a->out_h,
      .out_w = a->out_w, .kh = a->kh, .kw = a->kw,
      .stride_h = a->stride_h, .stride_w = a->stride_w,
      .pad_top = a->pad_top, .pad_left = a->pad_left, .in = a->in,
      .in_plane = a->in_plane, .weight = a->weight + K * co,
      .bias = a->bias[co],
      .out = a->out_rows[co], .res = NULL, .relu = a->relu,
    };
    SN_FN (sn_conv_f32) (&c, oy0, oy1);
  }
}

/* ============================== pooling ===============================
 * stride_w 1 or 2, k_w <= 8, and every window overlaps the input (else the
 * reference, which then writes 0). Padding taps read -FLT_MAX (max) or 0
 * (average), exactly what the reference skips. */

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
      row_cols rc;
      row_cols_make (&rc, a->in_w, x0, stride_w, a->pad_left, kw);
      for (int ky = 0; ky < a->k_h; ky++) {
        int iy = iy0 + ky;
        if (iy < 0 || iy >= a->in_h)
          continue;
        vf t[8];
        row_taps (a->in + (size_t) iy * a->in_w, &rc, x0, stride_w,
            a->pad_left, kw, fill, t);
        for (int kx = 0; kx < kw; kx++)
          acc = is_max ? vf_max (t[kx], acc) : vf_add (acc, t[kx]);
      }
      if (!is_max && a->count_include_pad)
        acc = vf_div (acc, vf_set1 ((float) (a->k_h * a->k_w)));
      else if (!is_max)
        acc = vf_div (acc, vf_mul (cols_inside (a->in_w, x0, stride_w,
                    a->pad_left, a->k_w), vf_set1 ((float) rows)));
      vf_store_n (out + x0, vf_relu_if (acc, a->relu), a->out_w - x0);
    }
  }
}

/* 3x3 windows, stride 2, pad_left 1 (ShuffleNet's max and average pools),
 * one output row at a time: the window's input rows are combined first
 * (max or sum over the columns [2*x0, 2*x0 + 2*VL)); output x then takes
 * combined column 2x (even lanes), 2x + 1 (odd lanes) and 2x - 1 (the odd
 * lanes shifted by one, the first carried over from the strip before, the
 * padding for the first strip). */
typedef struct {
  vf rcp_first, rcp_mid, rcp_last; /* average: 1 / columns per strip */
  vmask lo, hi;                     /* loads of the last strip */
} pool_s2_cols;

/* The columns' masks and divisors, the same for every row and plane. */
SN_VINLINE pool_s2_cols
pool_s2_cols_make (const sn_pool_args *a)
{
  int last_x0 = (a->out_w - 1) / VL * VL;
  pool_s2_cols pc = {
    .lo = vm_window (2 * (ptrdiff_t) last_x0, a->in_w, VL),
    .hi = vm_window (2 * (ptrdiff_t) last_x0 + VL, a->in_w, VL),
    .rcp_mid = vf_set1 (1.0f / 3),
  };
  if (a->count_include_pad) {
    pc.rcp_first = pc.rcp_mid = pc.rcp_last = vf_set1 (1.0f / 9);
  } else {
    pc.rcp_first = vf_div (vf_set1 (1.0f), cols_inside (a->in_w, 0, 2, 1, 3));
    pc.rcp_last = vf_div (vf_set1 (1.0f), cols_inside (a->in_w, last_x0, 2,
            1, 3));
  }
  return pc;
}

/* The input rows of output row oy's window that lie inside the input:
 * [iy0, iy0 + n), n in 1..3 (every window overlaps the input). */
typedef struct {
  int iy0, n;
} pool_s2_rows;

SN_VINLINE pool_s2_rows
pool_s2_rows_make (const sn_pool_args *a, int oy)
{
  int lo = oy * a->stride_h - a->pad_top, hi = lo + 3;
  lo = lo < 0 ? 0 : lo;
  hi = hi > a->in_h ? a->in_h : hi;
  pool_s2_rows r = { lo, hi - lo };
  return r;
}

/* Output row `out` ([out_w]) of the plane `in` ([in_h][in_w]). */
SN_VINLINE void
pool3x3_s2_row (const sn_pool_args *a, const pool_s2_cols *pc,
    pool_s2_rows wr, const float *in, float *out, const bool is_max,
    const bool relu)
{
  const vf fill = vf_set1 (is_max ? -FLT_MAX : 0.0f);
  const float *rows[3];         /* the window's rows inside the input */
  for (int r = 0; r < wr.n; r++)
    rows[r] = in + (size_t) (wr.iy0 + r) * a->in_w;
  vf row_scale = vf_set1 (is_max || a->count_include_pad ? 1.0f
      : wr.n == 3 ? 1.0f / 3 : wr.n == 2 ? 0.5f : 1.0f);
  vf left = fill;               /* combined column 2*x0 - 1 */
  for (int x0 = 0; x0 < a->out_w; x0 += VL) {
    ptrdiff_t c0 = 2 * (ptrdiff_t) x0;
    bool inside = c0 + 2 * VL <= a->in_w;
    vf lo = fill, hi = fill;
    for (int r = 0; r < wr.n; r++) {
      vf l = inside ? vf_load (rows[r] + c0)
          : vf_mask_load (fill, pc->lo, sn_at (rows[r], c0));
      vf h = inside ? vf_load (rows[r] + c0 + VL)
          : vf_mask_load (fill, pc->hi, sn_at (rows[r], c0 + VL));
      lo = is_max ? vf_max (l, lo) : vf_add (lo, l);
      hi = is_max ? vf_max (h, hi) : vf_add (hi, h);
    }
    vf even = vf_even (lo, hi), odd = vf_odd (lo, hi);
    vf prev = vf_shift_in (left, odd);
    left = odd;
    vf acc;
    if (is_max) {
      acc = vf_max (vf_max (prev, even), odd);
    } else {
      vf rcp = x0 == 0 ? pc->rcp_first : x0 + VL >= a->out_w ? pc->rcp_last
          : pc->rcp_mid;
      acc = vf_mul (vf_add (vf_add (prev, even), odd), vf_mul (rcp,
              row_scale));
    }
    vf_store_n (out + x0, vf_relu_if (acc, relu), a->out_w - x0);
  }
}

/* Rows [oy0, oy1) of `planes` planes: plane j at in + j * in_plane ->
 * out_rows[j]. */
#define SN_POOL_MULTI_ROWS 64

SN_VINLINE void
pool3x3_s2_ (const sn_pool_args *a, int planes, size_t in_plane,
    float *const *out_rows, int oy0, int oy1, const bool is_max,
    const bool relu)
{
  pool_s2_cols pc = pool_s2_cols_make (a);
  pool_s2_rows wr[SN_POOL_MULTI_ROWS];
  int n = oy1 - oy0;
  for (int k = 0; k < n; k++)
    wr[k] = pool_s2_rows_make (a, oy0 + k);
  for (int j = 0; j < planes; j++) {
    const float *in = a->in + (size_t) j * in_plane;
    for (int k = 0; k < n; k++)
      pool3x3_s2_row (a, &pc, wr[k], in, out_rows[j]
          + (size_t) (oy0 + k) * a->out_w, is_max, relu);
  }
}

static void
pool3x3_s2 (const sn_pool_args *a, int planes, size_t in_plane,
    float *const *out_rows, int oy0, int oy1)
{
  bool is_max = a->kind == SN_POOL_MAX;
  for (; oy0 < oy1; oy0 += SN_POOL_MULTI_ROWS) {
    int end = oy1 - oy0 > SN_POOL_MULTI_ROWS ? oy0 + SN_POOL_MULTI_ROWS : oy1;
    if (is_max && a->relu)
      pool3x3_s2_ (a, planes, in_plane, out_rows, oy0, end, true, true);
    else if (is_max)
      pool3x3_s2_ (a, planes, in_plane, out_rows, oy0, end, true, false);
    else if (a->relu)
      pool3x3_s2_ (a, planes, in_plane, out_rows, oy0, end, false, true);
    else
      pool3x3_s2_ (a, planes, in_plane, out_rows, oy0, end, false, false);
  }
}

static void
pool3x3 (const sn_pool_args *a, int oy0, int oy1)
{
  win3 g = { .in = a->in, .in_h = a->in_h, .in_w = a->in_w, .out = a->out,
    .out_w = a->out_w, .stride_h = a->stride_h, .pad_top = a->pad_top,
    .pad_left = a->pad_left, .count_include_pad = a->count_include_pad
  };
  int op = a->kind == SN_POOL_MAX ? WIN_MAX : WIN_AVG;
  switch (op * 4 + (a->stride_w - 1) * 2 + a->relu) {
#define SN_POOL3_CASE(o, s, r) \
    case o * 4 + (s - 1) * 2 + r: win3_rows (&g, oy0, oy1, s, o, r); break;
    SN_POOL3_CASE (WIN_MAX, 1, 0)
    SN_POOL3_CASE (WIN_MAX, 1, 1)
    SN_POOL3_CASE (WIN_MAX, 2, 0)
    SN_POOL3_CASE (WIN_MAX, 2, 1)
    SN_POOL3_CASE (WIN_AVG, 1, 0)
    SN_POOL3_CASE (WIN_AVG, 1, 1)
    SN_POOL3_CASE (WIN_AVG, 2, 0)
    SN_POOL3_CASE (WIN_AVG, 2, 1)
#undef SN_POOL3_CASE
  }
}

/* Geometry the vectorized pools take: every window overlaps the input. */
SN_VINLINE bool
pool_windows_inside (const sn_pool_args *a)
{
  return a->pad_left < a->k_w && a->pad_top < a->k_h
      && (a->out_w - 1) * a->stride_w - a->pad_left < a->in_w
      && (a->out_h - 1) * a->stride_h - a->pad_top < a->in_h;
}

/* ShuffleNet's max and average pools: 3x3, stride 2, pad_left 1. */
SN_VINLINE bool
pool_is_3x3_s2 (const sn_pool_args *a)
{
  return a->k_w == 3 && a->k_h == 3 && a->stride_w == 2 && a->stride_h == 2
      && a->pad_left == 1;
}

void
SN_FN (sn_pool_f32) (const sn_pool_args *a, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  if ((a->stride_w != 1 && a->stride_w != 2) || a->k_w < 1 || a->k_w > 8
      || a->k_h < 1 || !pool_windows_inside (a)) {
    sn_pool_f32__ref (a, oy0, oy1);
    return;
  }
  if (pool_is_3x3_s2 (a))
    pool3x3_s2 (a, 1, 0, &a->out, oy0, oy1);
  else if (a->k_w == 3 && a->k_h == 3)
    pool3x3 (a, oy0, oy1);
  else if (a->stride_w == 2)
    pool_rows (a, oy0, oy1, 2, a->k_w);
  else
    pool_rows (a, oy0, oy1, 1, a->k_w);
}

/* Several planes of one geometry (kernels.h): the 3x3 stride-2 pools make
 * their column masks and row windows once for all planes; other pools run
 * plane by plane. */
void
SN_FN (sn_pool_multi_f32) (const sn_pool_args *a, int planes,
    size_t in_plane, float *const *out_rows, int oy0, int oy1)
{
  assert (oy0 >= 0 && oy1 <= a->out_h);
  if (pool_windows_inside (a) && pool_is_3x3_s2 (a)) {
    pool3x3_s2 (a, planes, in_plane, out_rows, oy0, oy1);
    return;
  }
  for (int j = 0; j < planes; j++) {
    sn_pool_args p = sn_pool_multi_plane (a, in_plane, out_rows, j);
    SN_FN (sn_pool_f32) (&p, oy0, oy1);
  }
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

/* ======================== global average pool =========================
 * Four vector accumulators (short dependency chains), a masked tail. */
float
SN_FN (sn_plane_mean_f32) (const float *plane, size_t n)
{
  vf acc[4] = { vf_zero (), vf_zero (), vf_zero (), vf_zero () };
  size_t i = 0;
  for (; i + 4 * VL <= n; i += 4 * VL)
    for (int k = 0; k < 4; k++)
      acc[k] = vf_add (acc[k], vf_load (plane + i + k * VL));
  for (int k = 0; i < n; i += VL, k++)
    acc[k] = vf_add (acc[k], vf_maskz_load (vm_first ((int) (n - i < VL ?
                    n - i : VL)), plane + i));
  vf sum = vf_add (vf_add (acc[0], acc[1]), vf_add (acc[2], acc[3]));
  return n ? vf_reduce_add (sum) / (float) n : 0.0f;
}

const sn_kernel_table SN_FN (sn_kernel_table) = {
  .isa = SN_ISA_NAME,
  .pw = SN_FN (sn_pw_f32),
  .pw_packed_size = SN_FN (sn_pw_packed_size),
  .pw_pack = SN_FN (sn_pw_pack),
  .dw3x3 = SN_FN (sn_dw_f32),
  .dw_multi = SN_FN (sn_dw_multi_f32),
  .conv = SN_FN (sn_conv_f32),
  .pool = SN_FN (sn_pool_f32),
  .pool_multi = SN_FN (sn_pool_multi_f32),
  .dense = SN_FN (sn_dense_f32),
  .plane_mean = SN_FN (sn_plane_mean_f32),
  .conv_multi = SN_FN (sn_conv_multi_f32),
  .pw_block_co = SN_PW_MR,
  .pw_block_px = SN_PW_NR * VL,
  .pw_task_co_max = 32,
  .pw_task_co_min = SN_PW_MR,
};
