/* compute.c - what one task computes (compute.h): one function per tile
 * kind, each decoding its task number (schedule.h) and calling a kernel.
 *
 * Shapes: every activation is planar per image, [c][h][w] (plane p of a
 * value at sn_worker_plane / sn_op_input, its rows w floats apart, its
 * planes in_plane[band] floats apart); a band of a banded op addresses
 * only its own rows (and, for inputs, the halo rows copied next to them). */
#include "compute.h"

#include <math.h>
#include <string.h>

static const sn_graph *
graph_of (const sn_worker *w)
{
  return w->sched->g;
}

static const sn_kernel_table *
kernels_of (const sn_worker *w)
{
  return w->sched->kt;
}

/* ---- convolutions ------------------------------------------------------------ */

/* SN_CONV_POINTWISE task (group gi, output channels [co0, co1) of the group,
 * pixels [p0, p1) of its band): out[co][p] = bias[co]
 * + sum_ci weight[co][ci] * in[ci][p] (+ res[co][p]), in [cin_g][npix]. */
static void
compute_pointwise (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  const sn_value *out = &graph_of (w)->values[op->out];
  int cout_g = op->out_channels / op->groups;
  int cin_g = op->in_channels / op->groups;
  int co_blocks = sn_ceil_div (cout_g, b->co_block);
  int k = task % b->band_tasks;
  int pb = k % b->p_blocks;
  int cb = (k / b->p_blocks) % co_blocks;
  int gi = k / (b->p_blocks * co_blocks);
  int band = task / b->band_tasks;
  size_t npix = (size_t) out->h * out->w, band_start, band_end;
  sn_band_pixels (b, out, band, &band_start, &band_end);
  size_t p0 = band_start + (size_t) pb * b->p_block;
  size_t p1 = p0 + b->p_block < band_end ? p0 + b->p_block : band_end;
  if (p0 >= p1)                 /* a smaller band's missing last block */
    return;
  int co0 = cb * b->co_block;
  int co1 = co0 + b->co_block < cout_g ? co0 + b->co_block : cout_g;
  sn_pw_args a = {
    .cin = cin_g, .cout = cout_g, .npix = npix,
    .in = sn_op_input (w, b, band, gi * cin_g, image),
    .in_plane = b->in_plane[band],
    .weight = op->packed + op->packed_group_stride * gi,
    .bias = op->bias + gi * cout_g,
    .out_rows = b->out_rows + band * op->out_channels + gi * cout_g,
    .res_rows = b->res_rows ? b->res_rows + band * op->out_channels
        + gi * cout_g : NULL,
    .relu = op->relu,
  };
  op->pw_kernels->pw (&a, co0, co1, p0, p1);
}

/* Ask for the input rows that output rows [oy0, oy1) of a conv on the
 * caller's image read (into L2), a task ahead: the image comes from
 * memory, and the stem's im2col otherwise waits on its first loads. */
static void
prefetch_image_rows (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int band, int oy0, int oy1, const float *image)
{
  const sn_value *in = &graph_of (w)->values[op->in];
  int i0, i1;
  sn_op_input_rows (graph_of (w), op, oy0, oy1, &i0, &i1);
  for (int c = 0; c < op->in_channels; c++) {
    const char *p = (const char *) (sn_op_input (w, b, band, c, image)
        + (size_t) i0 * in->w);
    size_t bytes = sizeof (float) * (size_t) (i1 - i0) * in->w;
    for (size_t o = 0; o < bytes; o += 64)
      __builtin_prefetch (p + o, 0, 2);
  }
}

/* SN_CONV_MULTI task (a block of output rows of its band, every output
 * channel): in [cin][in_h][in_w] -> out [cout][out_h][out_w], weight
 * [cout][cin][kh][kw]. Prefetches the next row block's input rows when
 * they come from the caller's image. */
static void
compute_conv_multi (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  const sn_value *in = &graph_of (w)->values[op->in];
  const sn_value *out = &graph_of (w)->values[op->out];
  int k, r0, r1, oy0, oy1, band = task / b->band_tasks;
  sn_task_band (b, out->h, task, &k, &r0, &r1);
  sn_band_rows (k, b->row_blocks, r1 - r0, &oy0, &oy1);
  int next_end = r0 + oy1 + (oy1 - oy0);   /* the next row block */
  if (b->in_external && r0 + oy1 < r1)
    prefetch_image_rows (w, op, b, band, r0 + oy1,
        next_end < r1 ? next_end : r1, image);
  sn_conv_multi_args a = {
    .cin = op->in_channels, .cout = op->out_channels, .in_h = in->h,
    .in_w = in->w, .out_h = out->h, .out_w = out->w, .kh = op->kh,
    .kw = op->kw, .stride_h = op->stride_h, .stride_w = op->stride_w,
    .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = sn_op_input (w, b, band, 0, image),
    .in_plane = b->in_plane[band],
    .weight = op->weight, .bias = op->bias,
    .out_rows = b->out_rows + band * op->out_channels, .relu = op->relu,
  };
  kernels_of (w)->conv_multi (&a, 0, op->out_channels, r0 + oy0, r0 + oy1);
}

/* SN_CONV_DEPTHWISE task (planes [c0, c1), output rows [oy0, oy1) of its
 * band), in one kernel call: in [c][in_h][in_w] -> out [c][out_h][out_w],
 * weight [c][k][k]. */
static void
compute_depthwise (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  const sn_value *in = &graph_of (w)->values[op->in];
  const sn_value *out = &graph_of (w)->values[op->out];
  int c0, c1, oy0, oy1, band = task / b->band_tasks;
  sn_task_planes (op, b, out->h, task, &c0, &c1, &oy0, &oy1);
  sn_dw_multi_args a = {
    .in_h = in->h, .in_w = in->w, .out_h = out->h, .out_w = out->w,
    .k = op->kh, .stride = op->stride_h, .pad_top = op->pad_t,
    .pad_left = op->pad_l, .planes = c1 - c0,
    .in = sn_op_input (w, b, band, c0, image), .in_plane = b->in_plane[band],
    .weight = op->weight + (size_t) c0 * op->kh * op->kw,
    .bias = op->bias + c0,
    .out_rows = b->out_rows + band * op->out_channels + c0,
    .relu = op->relu,
  };
  kernels_of (w)->dw_multi (&a, oy0, oy1);
}

/* SN_CONV_DIRECT task (output planes [c0, c1), rows [oy0, oy1) of its band),
 * one kernel call a plane: plane co of [cout][out_h][out_w] from its group's
 * input planes [cin_g][in_h][in_w], weight [cout][cin_g][kh][kw]. */
static void
compute_direct_conv (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  const sn_value *in = &graph_of (w)->values[op->in];
  const sn_value *out = &graph_of (w)->values[op->out];
  int cin_g = op->in_channels / op->groups;
  size_t wsize = (size_t) cin_g * op->kh * op->kw;
  int c0, c1, oy0, oy1, band = task / b->band_tasks;
  sn_task_planes (op, b, out->h, task, &c0, &c1, &oy0, &oy1);
  for (int co = c0; co < c1; co++) {
    int gi = co / (op->out_channels / op->groups);
    sn_conv_args a = {
      .cin = cin_g, .in_h = in->h, .in_w = in->w, .out_h = out->h,
      .out_w = out->w, .kh = op->kh, .kw = op->kw, .stride_h = op->stride_h,
      .stride_w = op->stride_w, .pad_top = op->pad_t, .pad_left = op->pad_l,
      .in = sn_op_input (w, b, band, gi * cin_g, image),
      .in_plane = b->in_plane[band],
      .weight = op->weight + co * wsize, .bias = op->bias[co],
      .out = b->out_rows[band * op->out_channels + co],
      .res = b->res_rows ? b->res_rows[band * op->out_channels + co] : NULL,
      .relu = op->relu,
    };
    kernels_of (w)->conv (&a, oy0, oy1);
  }
}

/* ---- plane ops ------------------------------------------------------------------ */

/* SN_OP_POOL task (planes [c0, c1), output rows [oy0, oy1) of its band), in
 * one kernel call: in [c][in_h][in_w] -> out [c][out_h][out_w]. */
static void
compute_pool (const sn_worker *w, const sn_op *op, const sn_op_binding *b,
    int task, const float *image)
{
  const sn_value *in = &graph_of (w)->values[op->in];
  const sn_value *out = &graph_of (w)->values[op->out];
  int c0, c1, oy0, oy1, band = task / b->band_tasks;
  sn_task_planes (op, b, out->h, task, &c0, &c1, &oy0, &oy1);
  sn_pool_args a = {
    .kind = op->pool_kind, .count_include_pad = op->count_include_pad,
    .in_h = in->h, .in_w = in->w, .out_h = out->h, .out_w = out->w,
    .k_h = op->kh, .k_w = op->kw, .stride_h = op->stride_h,
    .stride_w = op->stride_w, .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = sn_op_input (w, b, band, c0, image), .out = NULL, .relu = op->relu,
  };
  kernels_of (w)->pool_multi (&a, c1 - c0, b->in_plane[band],
      b->out_rows + band * op->out_channels + c0, oy0, oy1);
}

/* Planes [*c0, *c1) of a task of a plane op that is never banded
 * (INPUT_NHWC, GLOBAL_POOL, ADD, COPY); returns the floats of one input
 * plane, [h][w]. */
static size_t
task_whole_planes (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, int *c0, int *c1)
{
  const sn_value *in = &graph_of (w)->values[op->in];
  int oy0, oy1;
  sn_task_planes (op, b, graph_of (w)->values[op->out].h, task, c0, c1,
      &oy0, &oy1);
  return (size_t) in->h * in->w;
}

/* SN_OP_INPUT_NHWC task (planes [c0, c1)): the caller's interleaved image
 * [h][w][channels] -> planes [c][h][w]. */
static void
compute_input_nhwc (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  int channels = graph_of (w)->values[op->in].c, c0, c1;
  size_t n = task_whole_planes (w, op, b, task, &c0, &c1);
  for (int c = c0; c < c1; c++) {
    const float *src = image + c;   /* [h][w][channels]: stride channels */
    float *dst = b->out_rows[c];
    for (size_t i = 0; i < n; i++) {
      float v = src[i * channels];
      dst[i] = op->relu && v < 0.0f ? 0.0f : v;
    }
  }
}

/* SN_OP_GLOBAL_POOL task (planes [c0, c1)): [c][h][w] -> [c][1][1] means. */
static void
compute_global_pool (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  int c0, c1;
  size_t n = task_whole_planes (w, op, b, task, &c0, &c1);
  for (int c = c0; c < c1; c++) {
    float m = kernels_of (w)->plane_mean (sn_op_input (w, b, 0, c, image), n);
    b->out_rows[c][0] = op->relu && m < 0.0f ? 0.0f : m;
  }
}

/* SN_OP_ADD and SN_OP_COPY task (planes [c0, c1)), [c][h][w] each:
 * out = in + in2 (ADD) or out = in (COPY), then the ReLU if fused. */
static void
compute_add_or_copy (const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  int c0, c1;
  size_t n = task_whole_planes (w, op, b, task, &c0, &c1);
  for (int c = c0; c < c1; c++) {
    const float *x = sn_op_input (w, b, 0, c, image);
    const float *y = op->kind == SN_OP_ADD
        ? sn_worker_plane (w, op->in2, c, 0, image) : NULL;
    float *dst = b->out_rows[c];
    for (size_t i = 0; i < n; i++) {
      float v = y ? x[i] + y[i] : x[i];
      dst[i] = op->relu && v < 0.0f ? 0.0f : v;
    }
  }
}

/* ---- the classifier: dense and softmax --------------------------------------- */

/* SN_OP_DENSE task (scores [k0, k1), 64 a task): x [c] features,
 * weight [k][c] -> out [k][1][1]. */
static void
compute_dense (const sn_worker *w, const sn_op *op, const sn_op_binding *b,
    int task, const float *image)
{
  const sn_kernel_table *kt = kernels_of (w);
  int k0 = task * 64;
  int k1 = k0 + 64 < op->out_channels ? k0 + 64 : op->out_channels;
  const float *x = sn_op_input (w, b, 0, 0, image);  /* [c] */
  if (b->out_contiguous) {         /* [k][1][1] planes are consecutive */
    kt->dense (x, op->in_channels, op->weight, op->bias, b->out_rows[0],
        k0, k1);
    return;
  }
  for (int k = k0; k < k1; k++)    /* weight [k][c] -> plane out_rows[k] */
    kt->dense (x, op->in_channels, op->weight + (size_t) k * op->in_channels,
        op->bias ? op->bias + k : NULL, b->out_rows[k], 0, 1);
}

/* Softmax of x[0..n): y[k] = softmax_at (x[k], *max, sum) with the max of x
 * in *max and the returned sum of exp (x - max) (in double). */
static double
softmax_sum (const float *x, int n, float *max)
{
  *max = x[0];
  for (int k = 1; k < n; k++)
    *max = x[k] > *max ? x[k] : *max;
  double sum = 0.0;
  for (int k = 0; k < n; k++)
    sum += exp ((double) x[k] - *max);
  return sum;
}

static float
softmax_at (float x, float max, double sum)
{
  return (float) (exp ((double) x - max) / sum);
}

/* SN_OP_SOFTMAX (one task): x [k] -> out [k][1][1]. */
static void
compute_softmax (const sn_worker *w, const sn_op *op, const sn_op_binding *b,
    const float *image)
{
  const float *x = sn_op_input (w, b, 0, 0, image);
  float max;
  double sum = softmax_sum (x, op->out_channels, &max);
  for (int k = 0; k < op->out_channels; k++)
    b->out_rows[k][0] = softmax_at (x[k], max, sum);
}

void
sn_compute_head_rows (const sn_kernel_table *kt, const sn_op *dense,
    const float *in, float *out, int n_images, int k0, int k1)
{
  /* 8 weight rows at a time (30 KB for 960 inputs) stay in L1 while every
   * image uses them */
  int c = dense->in_channels, K = dense->out_channels;
  for (int kb = k0; kb < k1; kb += 8)
    for (int n = 0; n < n_images; n++)
      kt->dense (in + (size_t) n * c, c, dense->weight, dense->bias,
          out + (size_t) n * K, kb, kb + 8 < k1 ? kb + 8 : k1);
}

void
sn_compute_head_output (const float *x, int k, bool softmax, float *out)
{
  if (!softmax) {
    memcpy (out, x, sizeof (float) * k);
    return;
  }
  float max;
  double sum = softmax_sum (x, k, &max);
  for (int j = 0; j < k; j++)
    out[j] = softmax_at (x[j], max, sum);
}

/* ---- one task of any op ---------------------------------------------------------- */

void
sn_compute_task (const sn_worker *w, int i, int task, const float *image)
{
  const sn_op *op = &graph_of (w)->ops[i];
  const sn_op_binding *b = &w->bind[i];
  switch (op->kind) {
    case SN_OP_CONV:
      if (b->variant == SN_CONV_POINTWISE)
        compute_pointwise (w, op, b, task, image);
      else if (b->variant == SN_CONV_MULTI)
        compute_conv_multi (w, op, b, task, image);
      else if (b->variant == SN_CONV_DEPTHWISE)
        compute_depthwise (w, op, b, task, image);
      else
        compute_direct_conv (w, op, b, task, image);
      break;
    case SN_OP_POOL:
      compute_pool (w, op, b, task, image);
      break;
    case SN_OP_DENSE:
      compute_dense (w, op, b, task, image);
      break;
    case SN_OP_SOFTMAX:
      compute_softmax (w, op, b, image);
      break;
    case SN_OP_INPUT_NHWC:
      compute_input_nhwc (w, op, b, task, image);
      break;
    case SN_OP_GLOBAL_POOL:
      compute_global_pool (w, op, b, task, image);
      break;
    case SN_OP_ADD:
    case SN_OP_COPY:
      compute_add_or_copy (w, op, b, task, image);
      break;
  }
}

/* ---- between ops ------------------------------------------------------------------- */

/* The band whose own rows (of `bands` over h) hold row y. */
static int
row_owner (int y, int bands, int h)
{
  int owner = 0, k0, k1;
  for (; owner < bands - 1; owner++) {
    sn_band_rows (owner, bands, h, &k0, &k1);
    if (y < k1)
      break;
  }
  return owner;
}

void
sn_compute_halo (const sn_worker *w, int i, int band)
{
  const sn_graph *g = graph_of (w);
  const sn_op *op = &g->ops[i];
  const sn_op_binding *b = &w->bind[i];
  const sn_value *in = &g->values[op->in];
  int bands = w->sched->op_bands[i], o0, o1, i0, i1, r0, r1;
  sn_band_rows (band, bands, g->values[op->out].h, &o0, &o1);
  sn_op_input_rows (g, op, o0, o1, &i0, &i1);
  sn_band_rows (band, bands, in->h, &r0, &r1);
  int planes = op->kind == SN_OP_CONV ? op->in_channels : op->out_channels;
  float *dst = (float *) sn_op_input (w, b, band, 0, NULL);  /* [planes] */
  size_t dst_plane = b->in_plane[band];
  for (int y = i0; y < i1; y++) {
    if (y >= r0 && y < r1)
      continue;
    int owner = row_owner (y, bands, in->h);
    const float *src = sn_op_input (w, b, owner, 0, NULL);
    size_t src_plane = b->in_plane[owner];
    const int n = in->w;                /* (a local: the copy vectorizes) */
    size_t row = (size_t) y * n;        /* planes follow at fixed strides */
    for (int c = 0; c < planes; c++) {
      float *d = dst + c * dst_plane + row;
      const float *from = src + c * src_plane + row;
      for (int x = 0; x < n; x++)
        d[x] = from[x];
    }
  }
}

void
sn_compute_output (const sn_worker *w, float *out)
{
  const sn_graph *g = graph_of (w);
  int classes = g->values[g->output_value].c;
  for (int k = 0; k < classes; k++)
    out[k] = sn_worker_plane (w, g->output_value, k, 0, NULL)[0];
}
