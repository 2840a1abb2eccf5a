/* kernels.h - pure compute kernels of the engine (the bottom layer).
 *
 * Naming: sn_<op>_<variant>__<isa>, e.g. sn_pw_f32__avx512, sn_pw_f32__ref.
 * A kernel is pure: no threads, no allocation, no global state. It computes
 * one tile of one operator for ONE image; schedule.c splits the operators
 * into tiles, compute.c calls a kernel for each and executor.c owns the
 * threading. Preconditions are asserted, never
 * recovered: the loader validated everything before a kernel runs.
 *
 * Layout everywhere: planar float32. A "plane" is one channel of one image,
 * H x W floats, row-major, rows packed (row stride == width). Channel c of a
 * tensor is addressed through a plane pointer, so a channel shuffle or a
 * concat is only a different choice of plane pointers (no data moves).
 *
 * Fused epilogue, in this order: acc + bias, + residual (when given), ReLU
 * (when asked).
 *
 * Rows: a kernel asked for output rows [oy0, oy1) reads only the input rows
 * of their windows, plus at most a cache line (16 floats) before the first
 * or after the last of them, whose values never reach an output. The
 * engine relies on it: a value it keeps in row bands (plan.c) holds only a
 * band's rows and the halo rows its windows need, a line of slack around.
 */
#ifndef SN_KERNELS_H
#define SN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* ---- 1x1 convolution, stride 1, one group: a small GEMM ----------------
 * For co in [co0, co1), p in [p0, p1):
 *   out_rows[co][p] = epilogue( bias[co] + sum_{ci<cin} weight[co*cin + ci] * in[ci*in_plane + p]
 *                               + (res_rows ? res_rows[co][p] : 0) )
 *   weight : the table's pw_pack() of a [cout][cin] row-major matrix (BatchNorm
 *            folded in); the reference packing is the identity, so
 *            weight[co*cin + ci] above reads the unpacked matrix
 *   in     : cin planes of npix floats, plane ci at in + ci * in_plane
 *   out_rows, res_rows : [cout] plane pointers (res_rows may be NULL;
 *            res_rows[co] may equal out_rows[co]: an in-place residual)
 * The output never aliases `in`. */
typedef struct {
  int cin;
  int cout;
  size_t npix;
  const float *in;
  size_t in_plane;
  const float *weight;
  const float *bias;
  float *const *out_rows;
  const float *const *res_rows;
  bool relu;
} sn_pw_args;

typedef void (*sn_pw_kernel) (const sn_pw_args *a, int co0, int co1,
    size_t p0, size_t p1);

/* ---- depthwise KxK convolution of one plane ------------------------------
 *   out[oy][ox] = epilogue( bias + sum_{ky,kx} weight[ky*k + kx] * in[iy][ix] ),
 *   iy = oy*stride - pad_top + ky, ix = ox*stride - pad_left + kx;
 *   taps outside the input read 0 (zero padding; bottom/right padding is
 *   implied by out_h/out_w).
 *   in : [in_h][in_w]   out : [out_h][out_w], rows [oy0, oy1) only. */
typedef struct {
  int in_h, in_w, out_h, out_w;
  int k, stride, pad_top, pad_left;
  const float *in;
  const float *weight; /* [k][k] */
  float bias;
  float *out;
  bool relu;
} sn_dw_args;

typedef void (*sn_dw_kernel) (const sn_dw_args *a, int oy0, int oy1);

/* ---- depthwise KxK convolution of several planes of one geometry --------
 * sn_dw_args' computation, rows [oy0, oy1), for each plane j < planes:
 *   in       : plane j at in + j * in_plane
 *   weight   : [planes][k][k];  bias : [planes]
 *   out_rows : [planes] plane pointers, each [out_h][out_w]
 * Equal, bit for bit, to the table's dw3x3 plane by plane (when k == 3);
 * one call makes the border masks once for all its planes (most of a 7x7
 * plane's outputs are on its border). */
typedef struct {
  int in_h, in_w, out_h, out_w;
  int k, stride, pad_top, pad_left;
  int planes;
  const float *in;
  size_t in_plane;
  const float *weight;
  const float *bias;
  float *const *out_rows;
  bool relu;
} sn_dw_multi_args;

typedef void (*sn_dw_multi_kernel) (const sn_dw_multi_args *a, int oy0,
    int oy1);

/* Plane j of a several-plane depthwise call, as a one-plane call. */
static inline sn_dw_args
sn_dw_multi_plane (const sn_dw_multi_args *a, int j)
{
  sn_dw_args p = { .in_h = a->in_h, .in_w = a->in_w, .out_h = a->out_h,
    .out_w = a->out_w, .k = a->k, .stride = a->stride,
    .pad_top = a->pad_top, .pad_left = a->pad_left,
    .in = a->in + (size_t) j * a->in_plane,
    .weight = a->weight + (size_t) j * a->k * a->k, .bias = a->bias[j],
    .out = a->out_rows[j], .relu = a->relu
  };
  return p;
}

/* ---- dense convolution (any groups/kernel/stride) of one output plane ----
 *   out[oy][ox] = epilogue( bias + sum_{ci<cin, ky<kh, kx<kw}
 *                 weight[(ci*kh + ky)*kw + kx] * in[ci][iy][ix] )
 *   in     : cin planes [in_h][in_w] at in + ci*in_plane (the group's
 *            inputs; in_plane >= in_h*in_w floats: planes may be padded)
 *   weight : [cin][kh][kw] for this output channel
 *   out    : [out_h][out_w]; rows [oy0, oy1) only; zero padding. */
typedef struct {
  int cin, in_h, in_w, out_h, out_w;
  int kh, kw, stride_h, stride_w, pad_top, pad_left;
  const float *in;
  size_t in_plane;  /* floats from one input plane to the next */
  const float *weight;
  float bias;
  float *out;
  const float *res; /* residual plane [out_h][out_w] or NULL */
  bool relu;
} sn_conv_args;

typedef void (*sn_conv_kernel) (const sn_conv_args *a, int oy0, int oy1);

/* ---- dense convolution, several output channels at once -----------------
 * sn_conv_args' computation for every co in [co0, co1), sharing the input
 * taps between channels (conv1 of ShuffleNet: 3 -> 24 channels):
 *   out_rows[co][oy][ox] = epilogue( bias[co] + sum_{ci<cin, ky<kh, kx<kw}
 *                 weight[((co*cin + ci)*kh + ky)*kw + kx] * in[ci][iy][ix] )
 *   in       : cin planes [in_h][in_w] at in + ci*in_plane
 *   weight   : [cout][cin][kh][kw]; bias : [cout]
 *   out_rows : [cout] plane pointers, each [out_h][out_w]; rows [oy0, oy1)
 *              only; zero padding; no residual. */
typedef struct {
  int cin, cout, in_h, in_w, out_h, out_w;
  int kh, kw, stride_h, stride_w, pad_top, pad_left;
  const float *in;
  size_t in_plane;  /* floats from one input plane to the next */
  const float *weight;
  const float *bias;
  float *const *out_rows;
  bool relu;
} sn_conv_multi_args;

typedef void (*sn_conv_multi_kernel) (const sn_conv_multi_args *a, int co0,
    int co1, int oy0, int oy1);

/* ---- pooling of one plane ------------------------------------------------
 * Window k_h x k_w, strides, top/left pads; bottom/right pads implied by the
 * output size. MAX ignores padding. AVG divides by k_h*k_w when
 * count_include_pad, else by the number of taps inside the input.
 *   in : [in_h][in_w]   out : [out_h][out_w], rows [oy0, oy1). */
typedef enum { SN_POOL_MAX, SN_POOL_AVG } sn_pool_kind;

typedef struct {
  sn_pool_kind kind;
  bool count_include_pad;
  int in_h, in_w, out_h, out_w;
  int k_h, k_w, stride_h, stride_w, pad_top, pad_left;
  const float *in;
  float *out;
  bool relu;
} sn_pool_args;

typedef void (*sn_pool_kernel) (const sn_pool_args *a, int oy0, int oy1);

/* Pooling of several planes of a's geometry, rows [oy0, oy1): plane j
 * reads a->in + j * in_plane and writes out_rows[j] (a->out is not used).
 * Equal, bit for bit, to the table's pool plane by plane; one call makes
 * the column masks and row windows once for all its planes. */
typedef void (*sn_pool_multi_kernel) (const sn_pool_args *a, int planes,
    size_t in_plane, float *const *out_rows, int oy0, int oy1);

/* Plane j of a several-plane pool call, as a one-plane call. */
static inline sn_pool_args
sn_pool_multi_plane (const sn_pool_args *a, size_t in_plane,
    float *const *out_rows, int j)
{
  sn_pool_args p = *a;
  p.in = a->in + (size_t) j * in_plane;
  p.out = out_rows[j];
  return p;
}

/* Reference kernels: plain C, the definition of correctness. */
void sn_pw_f32__ref (const sn_pw_args *a, int co0, int co1, size_t p0, size_t p1);
void sn_dw_f32__ref (const sn_dw_args *a, int oy0, int oy1);
void sn_conv_f32__ref (const sn_conv_args *a, int oy0, int oy1);
void sn_pool_f32__ref (const sn_pool_args *a, int oy0, int oy1);

size_t sn_pw_packed_size__ref (int cout, int cin);
void sn_pw_pack__ref (const float *w, int cout, int cin, float *packed);

/* Mean of n floats (global average pooling of one plane); 0 when n == 0.
 * The reference sums in double; the vectorized ones in fp32 lanes. */
float sn_plane_mean_f32 (const float *plane, size_t n);
typedef float (*sn_mean_kernel) (const float *plane, size_t n);

/* Dense layer: out[k] = (bias ? bias[k] : 0) + sum_c weight[k*c_in + c] * x[c],
 * for k in [k0, k1). weight : [K][c_in] row-major. */
void sn_dense_f32__ref (const float *x, int c_in, const float *weight,
    const float *bias, float *out, int k0, int k1);

/* sn_dw_multi and sn_pool_multi by the reference plane by plane
 * (kernels_fast.c). */
void sn_dw_multi_f32__ref (const sn_dw_multi_args *a, int oy0, int oy1);
void sn_pool_multi_f32__ref (const sn_pool_args *a, int planes,
    size_t in_plane, float *const *out_rows, int oy0, int oy1);

/* sn_conv_multi by sn_conv_f32__ref per output channel (kernels_fast.c). */
void sn_conv_multi_f32__ref (const sn_conv_multi_args *a, int co0, int co1,
    int oy0, int oy1);

/* Dense layer kernel, same contract as sn_dense_f32__ref. */
typedef void (*sn_dense_kernel) (const float *x, int c_in,
    const float *weight, const float *bias, float *out, int k0, int k1);

/* Vectorized kernels (kernels_simd.h compiled per ISA by kernels_avx512.c
 * and kernels_avx2.c). Same contracts as the reference, any geometry:
 * what a kernel does not specialize goes to a more general path, at worst
 * the reference. Call them only on a CPU that has the ISA: reach them
 * through sn_kernels_get/best. Their pw weights must be packed by the
 * same ISA's pw_pack. */
void sn_pw_f32__avx512 (const sn_pw_args *a, int co0, int co1, size_t p0,
    size_t p1);
size_t sn_pw_packed_size__avx512 (int cout, int cin);
void sn_pw_pack__avx512 (const float *w, int cout, int cin, float *packed);
void sn_dw_f32__avx512 (const sn_dw_args *a, int oy0, int oy1);
void sn_dw_multi_f32__avx512 (const sn_dw_multi_args *a, int oy0, int oy1);
void sn_conv_f32__avx512 (const sn_conv_args *a, int oy0, int oy1);
void sn_conv_multi_f32__avx512 (const sn_conv_multi_args *a, int co0, int co1,
    int oy0, int oy1);
void sn_pool_f32__avx512 (const sn_pool_args *a, int oy0, int oy1);
void sn_pool_multi_f32__avx512 (const sn_pool_args *a, int planes,
    size_t in_plane, float *const *out_rows, int oy0, int oy1);
void sn_dense_f32__avx512 (const float *x, int c_in, const float *weight,
    const float *bias, float *out, int k0, int k1);
float sn_plane_mean_f32__avx512 (const float *plane, size_t n);

void sn_pw_f32__avx2 (const sn_pw_args *a, int co0, int co1, size_t p0,
    size_t p1);
size_t sn_pw_packed_size__avx2 (int cout, int cin);
void sn_pw_pack__avx2 (const float *w, int cout, int cin, float *packed);
void sn_dw_f32__avx2 (const sn_dw_args *a, int oy0, int oy1);
void sn_dw_multi_f32__avx2 (const sn_dw_multi_args *a, int oy0, int oy1);
void sn_conv_f32__avx2 (const sn_conv_args *a, int oy0, int oy1);
void sn_conv_multi_f32__avx2 (const sn_conv_multi_args *a, int co0, int co1,
    int oy0, int oy1);
void sn_pool_f32__avx2 (const sn_pool_args *a, int oy0, int oy1);
void sn_pool_multi_f32__avx2 (const sn_pool_args *a, int planes,
    size_t in_plane, float *const *out_rows, int oy0, int oy1);
void sn_dense_f32__avx2 (const float *x, int c_in, const float *weight,
    const float *bias, float *out, int k0, int k1);
float sn_plane_mean_f32__avx2 (const float *plane, size_t n);

/* The kernels chosen for this CPU (kernels_fast.c picks at first use). */
typedef struct sn_kernel_table {
  const char *isa;          /* "avx512", "avx2", "ref" or "avx512bf16" */
  sn_pw_kernel pw;
  /* Weight packing for pw: floats needed, and the packing itself, done once
   * at load. w : [cout][cin] row-major -> packed (kernel-specific order). */
  size_t (*pw_packed_size) (int cout, int cin);
  void (*pw_pack) (const float *w, int cout, int cin, float *packed);
  sn_dw_kernel dw3x3;       /* valid for k == 3 */
  sn_dw_multi_kernel dw_multi;       /* any k (dw3x3's arithmetic for 3) */
  sn_conv_kernel conv;
  sn_pool_kernel pool;
  sn_pool_multi_kernel pool_multi;
  sn_dense_kernel dense;             /* the FC layer */
  sn_mean_kernel plane_mean;         /* global average pooling, per plane */
  sn_conv_multi_kernel conv_multi;   /* conv1: all output channels at once */
  /* pw tiling hints for the operators: a [co0, co1) range starting and
   * ending at multiples of pw_block_co wastes no work (a partial block
   * computes all of its rows), and pixel ranges that are multiples of
   * pw_block_px run without a masked tail. */
  int pw_block_co;
  int pw_block_px;
  /* Output channels a pw task may take (a multiple of pw_block_co): each
   * of its channel blocks rereads the task's input tile, which the bf16
   * kernel converts once per task and tile. */
  int pw_task_co_max;
  int pw_task_co_min;       /* and at least this many, where it has them */
  /* Pointwise convs of fewer than pw_min_cin input channels a group run on
   * pw_narrow's pw instead (NULL: none): the bf16 kernel's conversion of
   * each input tile does not pay for so few multiply-adds. */
  const struct sn_kernel_table *pw_narrow;
  int pw_min_cin;
} sn_kernel_table;

/* The table that packs and runs a pointwise conv of cin inputs a group. */
static inline const sn_kernel_table *
sn_pw_kernels (const sn_kernel_table *kt, int cin)
{
  return kt->pw_narrow && cin < kt->pw_min_cin ? kt->pw_narrow : kt;
}

const sn_kernel_table *sn_kernels_best (void);
/* Select by name ("avx512", "avx2", "ref"); NULL when this CPU lacks it.
 * The environment variable SHUFFLENET_ISA forces sn_kernels_best's pick. */
const sn_kernel_table *sn_kernels_get (const char *isa);
/* The kernels of the bf16 precision ("avx512bf16": bf16 pointwise convs,
 * AVX-512 for the rest), NULL where this CPU, the build or SHUFFLENET_ISA
 * rules them out. Never picked by sn_kernels_best. */
const sn_kernel_table *sn_kernels_bf16 (void);

#endif /* SN_KERNELS_H */
