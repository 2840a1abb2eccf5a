/* ops.c - operators: bind the plan to an arena, split each op into tasks,
 * run the tasks on an OpenMP team (or, with one thread, in order on the
 * caller's thread). */
#include "ops.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause ()
#else
#define cpu_relax() ((void) 0)
#endif

#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num (void) { return 0; }
static inline int omp_get_num_threads (void) { return 1; }
#include <time.h>
static inline double
omp_get_wtime (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
#endif

/* ---- addressing ---------------------------------------------------------- */

static size_t
plane_size (const sn_value *v)
{
  return (size_t) v->h * v->w;
}

/* Floats from one plane of value `v` to the next (its owner's stride). */
static size_t
plane_stride (const sn_graph *g, int v)
{
  return g->values[sn_value_root (g, v, NULL)].plane_stride;
}

/* Plane `c` of value `v`: in the worker's arena, or in the caller's image. */
static float *
plane_ptr (const sn_exec *e, const sn_worker *w, int v, int c,
    const float *image)
{
  int offset;
  int r = sn_value_root (e->g, v, &offset);
  const sn_value *root = &e->g->values[r];
  size_t at = (size_t) (offset + c) * root->plane_stride;
  if (root->external)
    return (float *) image + at;
  return w->arena + root->arena_offset + at;
}

static int classifier_head (const sn_graph *g);

/* ---- binding ---------------------------------------------------------------- */

static int
ceil_div (int a, int b)
{
  return (a + b - 1) / b;
}

static sn_conv_variant
conv_variant (const sn_op *op)
{
  if (op->kh == 1 && op->kw == 1 && op->stride_h == 1 && op->stride_w == 1
      && !op->pad_t && !op->pad_l && !op->pad_b && !op->pad_r)
    return SN_CONV_POINTWISE;
  if (op->groups == op->in_channels && op->groups == op->out_channels
      && op->kh == op->kw && op->stride_h == op->stride_w && op->res < 0)
    return SN_CONV_DEPTHWISE;
  if (op->groups == 1 && op->res < 0)
    return SN_CONV_MULTI;
  return SN_CONV_DIRECT;
}

static int
round_up (int x, int multiple)
{
  return ceil_div (x, multiple) * multiple;
}

/* Planes per task for an op on `planes` planes of `px` outputs each: about
 * SN_TASK_OUTPUTS outputs (a task must outweigh claiming it), yet about
 * `want` tasks in all while planes last (so the team balances). */
#define SN_TASK_OUTPUTS 2048

static int
planes_per_task (int planes, size_t px, int want)
{
  int by_size = px >= SN_TASK_OUTPUTS ? 1 : (int) (SN_TASK_OUTPUTS / px);
  int by_team = ceil_div (planes, want);
  int n = by_size < by_team ? by_size : by_team;
  return n > 0 ? n : 1;
}

/* Rows [*r0, *r1) of block k of n over h rows (as even as integers go). */
static void
block_rows (int k, int n, int h, int *r0, int *r1)
{
  *r0 = (int) ((long) k * h / n);
  *r1 = (int) ((long) (k + 1) * h / n);
}

static int
pointwise_tasks (const sn_op *op, int npix, const sn_op_binding *b)
{
  int cout_g = op->out_channels / op->groups;
  return op->groups * ceil_div (cout_g, b->co_block)
      * ceil_div (npix, b->p_block);
}

/* Pixels [*p0, *p1) of band `band` of `bands` over the planes of `out`:
 * its rows, with both ends moved down to a cache line except the planes'
 * end, so that two bands of a pointwise conv never write into one line
 * (planes start on a line: sn_value.plane_stride). */
static void
band_pixels (int bands, const sn_value *out, int band, size_t *p0, size_t *p1)
{
  int r0, r1;
  block_rows (band, bands, out->h, &r0, &r1);
  *p0 = (size_t) r0 * out->w / SN_LINE_FLOATS * SN_LINE_FLOATS;
  *p1 = r1 == out->h ? (size_t) r1 * out->w
      : (size_t) r1 * out->w / SN_LINE_FLOATS * SN_LINE_FLOATS;
}

/* Pixel blocks of about npix / n pixels, whole tiles; false when the last
 * would be under half a tile (a task of a few pixels reads as many weights
 * as a full one). */
static bool
split_pixels (int npix, int n, int tile, int *p_block)
{
  int block = round_up (ceil_div (npix, n), tile);
  int last = npix - (ceil_div (npix, block) - 1) * block;
  if (block >= *p_block || 2 * last < tile)
    return false;
  *p_block = block;
  return true;
}

/* Pointwise tasks: (group, block of output channels, block of pixels), about
 * `want` of them over one band's npix pixels (at most 512 a block). Every
 * channel tile of a block reuses the input pixel tile the kernel loaded
 * (from L2, or from the other core's cache), so blocks keep up to 32
 * channels: input traffic per multiply-add is 4 bytes / block channels.
 * Short of `want` tasks, pixels split first (whole tiles; a task's weights
 * stay cached), then channel blocks halve down to the kernel's channel
 * tile while that brings the count closer to `want`. */
static int
plan_pointwise (const sn_kernel_table *kt, int want, const sn_op *op,
    int npix, sn_op_binding *b)
{
  int cout_g = op->out_channels / op->groups, tile = kt->pw_block_px;
  int p_blocks = ceil_div (npix, 512);
  b->co_block = cout_g < 32 ? cout_g : round_up (32, kt->pw_block_co);
  b->p_block = round_up (ceil_div (npix, p_blocks), tile);
  while (pointwise_tasks (op, npix, b) < want && p_blocks < npix
      && split_pixels (npix, p_blocks + 1, tile, &b->p_block))
    p_blocks = ceil_div (npix, b->p_block);
  while (3 * pointwise_tasks (op, npix, b) < 2 * want
      && b->co_block > kt->pw_block_co)
    b->co_block = round_up (b->co_block / 2, kt->pw_block_co);
  b->p_blocks = ceil_div (npix, b->p_block);
  return pointwise_tasks (op, npix, b);
}

/* Spatial bands: on a team, a conv or pool on big enough planes splits its
 * output rows into one band per thread, and thread t works on band t
 * before helping with the others' leftovers. Consecutive ops band their
 * rows alike, so a thread mostly reads what it wrote itself, from its own
 * cache (the pointwise kernel ran 15-45 % slower on inputs another core had
 * just written). Big enough: two pointwise pixel tiles a band for the GEMM
 * convs (stage 3's 14x14 is; stage 4's 7x7 is not: its bands would waste
 * most of the tiles), and SN_BAND_PLANE_PX pixels a band for the
 * depthwise convs and pools, which call their kernel once per plane and
 * task: halving stage 3's small planes doubled those calls and cost more
 * than the other core's reads it saved (2-thread A/B, 1x g3: 0.93x with
 * these ops unbanded below 28x28). */
#define SN_BAND_PLANE_PX 384

static int
op_bands (const sn_kernel_table *kt, int threads, const sn_op *op,
    const sn_op_binding *b, const sn_value *out)
{
  bool spatial = op->kind == SN_OP_CONV || op->kind == SN_OP_POOL;
  if (threads < 2 || !spatial || out->h < threads)
    return 1;
  bool gemm = op->kind == SN_OP_CONV && (b->variant == SN_CONV_POINTWISE
      || b->variant == SN_CONV_MULTI);
  size_t band_px = (size_t) out->h * out->w / threads;
  return band_px < (gemm ? 2 * (size_t) kt->pw_block_px : SN_BAND_PLANE_PX)
      ? 1 : threads;
}

/* Split one band of an op (the largest: ceil(out_h / bands) rows) into
 * tasks: enough for the team, big enough to amortize, aligned to the
 * kernels' register tiles. Returns the band's task count. */
static int
plan_band (const sn_graph *g, const sn_kernel_table *kt, int threads,
    const sn_op *op, sn_op_binding *b)
{
  const sn_value *in = &g->values[op->in];
  const sn_value *out = &g->values[op->out];
  int planes = op->out_channels;
  int rows = ceil_div (out->h, b->bands);
  size_t band_px = (size_t) rows * out->w;
  int want = 4 * threads / b->bands;
  switch (op->kind) {
    case SN_OP_CONV:
      if (b->variant == SN_CONV_POINTWISE) {
        size_t p0, p1, npix = 0;   /* the longest band */
        for (int band = 0; band < b->bands; band++) {
          band_pixels (b->bands, out, band, &p0, &p1);
          npix = p1 - p0 > npix ? p1 - p0 : npix;
        }
        return plan_pointwise (kt, threads > 1 ? 8 * threads / b->bands : 1,
            op, (int) npix, b);
      }
      if (b->variant == SN_CONV_MULTI) {   /* blocks of rows, all channels */
        int blocks = ceil_div ((int) band_px, 1024);
        if (b->bands == 1)
          blocks = round_up (blocks, threads);
        b->row_blocks = blocks <= rows ? blocks : rows;
        return b->row_blocks;
      }
      /* depthwise and direct convs split by rows and planes, like pools */
      __attribute__ ((fallthrough));
    case SN_OP_POOL:
      if (band_px > 4096)      /* big planes: blocks of about 16 rows */
        b->row_blocks = ceil_div (rows, 16);
      else
        b->plane_block = planes_per_task (planes, band_px, want);
      return b->row_blocks * ceil_div (planes, b->plane_block);
    case SN_OP_DENSE:
      return ceil_div (planes, 64);
    case SN_OP_SOFTMAX:
      return 1;
    default:                   /* INPUT_NHWC, GLOBAL_POOL, ADD, COPY */
      b->plane_block = planes_per_task (planes, (size_t) in->h * in->w, want);
      return ceil_div (planes, b->plane_block);
  }
}

static void
plan_tasks (const sn_graph *g, const sn_kernel_table *kt, int threads,
    const sn_op *op, sn_op_binding *b)
{
  b->row_blocks = 1;
  b->plane_block = 1;
  if (op->kind == SN_OP_CONV)
    b->variant = conv_variant (op);
  b->bands = op_bands (kt, threads, op, b, &g->values[op->out]);
  b->band_tasks = plan_band (g, kt, threads, op, b);
  b->n_tasks = b->bands * b->band_tasks;
}

/* Output rows [*r0, *r1) of the band of `task`; *k = its index there. */
static void
task_band (const sn_op_binding *b, int out_h, int task, int *k, int *r0,
    int *r1)
{
  *k = task % b->band_tasks;
  block_rows (task / b->band_tasks, b->bands, out_h, r0, r1);
}

/* Task `task` of a plane op (row block major inside its band): planes
 * [*c0, *c1), output rows [*oy0, *oy1). */
static void
task_planes (const sn_op *op, const sn_op_binding *b, int out_h, int task,
    int *c0, int *c1, int *oy0, int *oy1)
{
  int k, r0, r1;
  task_band (b, out_h, task, &k, &r0, &r1);
  int plane_blocks = b->band_tasks / b->row_blocks;
  *c0 = k % plane_blocks * b->plane_block;
  *c1 = *c0 + b->plane_block < op->out_channels ? *c0 + b->plane_block
      : op->out_channels;
  block_rows (k / plane_blocks, b->row_blocks, r1 - r0, oy0, oy1);
  *oy0 += r0;
  *oy1 += r0;
}

static sn_status
bind_op (const sn_exec *e, const sn_worker *w, const sn_op *op,
    sn_op_binding *b)
{
  plan_tasks (e->g, e->kt, e->threads, op, b);
  b->out_rows = malloc (sizeof (float *) * op->out_channels);
  if (b->out_rows == NULL)
    return SN_ERR_NOMEM;
  b->out_contiguous = true;
  for (int k = 0; k < op->out_channels; k++) {
    b->out_rows[k] = plane_ptr (e, w, op->out, op->out_map[k], NULL);
    b->out_contiguous &= b->out_rows[k] == b->out_rows[0] + k;
  }
  if (op->res >= 0) {
    b->res_rows = malloc (sizeof (float *) * op->out_channels);
    if (b->res_rows == NULL)
      return SN_ERR_NOMEM;
    for (int k = 0; k < op->out_channels; k++)
      b->res_rows[k] = plane_ptr (e, w, op->res, op->res_map[k], NULL);
  }
  return SN_OK;
}

static void
worker_free (const sn_graph *g, sn_worker *w)
{
  for (int i = 0; w->bind && i < g->n_ops; i++) {
    free (w->bind[i].out_rows);
    free ((void *) w->bind[i].res_rows);
  }
  free (w->bind);
  free (w->arena);
  w->bind = NULL;
  w->arena = NULL;
}

static sn_status
worker_init (const sn_exec *e, sn_worker *w)
{
  const sn_graph *g = e->g;
  size_t bytes = (g->arena_floats * sizeof (float) + 63) / 64 * 64;
  w->arena = aligned_alloc (64, bytes ? bytes : 64);
  w->bind = calloc (g->n_ops, sizeof (sn_op_binding));
  if (!w->arena || !w->bind)
    goto nomem;
  memset (w->arena, 0, bytes);
  for (int i = 0; i < g->n_ops; i++)
    if (bind_op (e, w, &g->ops[i], &w->bind[i]) != SN_OK)
      goto nomem;
  return SN_OK;
nomem:
  worker_free (g, w);
  return SN_ERR_NOMEM;
}

sn_status
sn_exec_init (sn_exec *e, const sn_graph *g, const sn_kernel_table *kt,
    int threads, sn_error *err)
{
  memset (e, 0, sizeof *e);
  e->g = g;
  e->kt = kt;
  e->threads = threads;
  e->workers = calloc (threads, sizeof (sn_worker));
  e->op_seconds = calloc (g->n_ops, sizeof (double));
  e->claim_stride = round_up (g->n_ops + 1, 16);
  e->claimed = aligned_alloc (64, sizeof (int) * threads * e->claim_stride);
  e->done = calloc (g->n_ops + 1, sizeof (int));
  if (!e->workers || !e->op_seconds || !e->claimed || !e->done
      || worker_init (e, &e->workers[0]) != SN_OK) {
    sn_exec_free (e);
    return sn_set_error (err, SN_ERR_NOMEM,
        "out of memory for a %zu-float activation arena", g->arena_floats);
  }
  e->n_workers = 1;
  e->head = classifier_head (g);
  return SN_OK;
}

void
sn_exec_free (sn_exec *e)
{
  for (int i = 0; e->workers && i < e->n_workers; i++)
    worker_free (e->g, &e->workers[i]);
  free (e->workers);
  free (e->op_seconds);
  free (e->claimed);
  free (e->done);
  free (e->head_in);
  free (e->head_out);
  memset (e, 0, sizeof *e);
}

/* ---- tasks ------------------------------------------------------------------ */

static void
conv_pointwise_task (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  const sn_value *out = &e->g->values[op->out];
  int cout_g = op->out_channels / op->groups;
  int cin_g = op->in_channels / op->groups;
  int co_blocks = ceil_div (cout_g, b->co_block);
  int k = task % b->band_tasks;
  int pb = k % b->p_blocks;
  int cb = (k / b->p_blocks) % co_blocks;
  int gi = k / (b->p_blocks * co_blocks);
  size_t npix = plane_size (out), band_start, band_end;
  band_pixels (b->bands, out, task / b->band_tasks, &band_start, &band_end);
  size_t p0 = band_start + (size_t) pb * b->p_block;
  size_t p1 = p0 + b->p_block < band_end ? p0 + b->p_block : band_end;
  if (p0 >= p1)                 /* a smaller band's missing last block */
    return;
  int co0 = cb * b->co_block;
  int co1 = co0 + b->co_block < cout_g ? co0 + b->co_block : cout_g;
  sn_pw_args a = {
    .cin = cin_g, .cout = cout_g, .npix = npix,
    .in = plane_ptr (e, w, op->in, op->in_offset + gi * cin_g, image),
    .in_plane = plane_stride (e->g, op->in),
    .weight = op->packed + op->packed_group_stride * gi,
    .bias = op->bias + gi * cout_g,
    .out_rows = b->out_rows + gi * cout_g,
    .res_rows = b->res_rows ? b->res_rows + gi * cout_g : NULL,
    .relu = op->relu,
  };
  e->kt->pw (&a, co0, co1, p0, p1);
}

/* SN_CONV_MULTI: every output channel of the rows [oy0, oy1). */
static void
conv_multi_rows (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int oy0, int oy1, const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  sn_conv_multi_args a = {
    .cin = op->in_channels, .cout = op->out_channels, .in_h = in->h,
    .in_w = in->w, .out_h = out->h, .out_w = out->w, .kh = op->kh,
    .kw = op->kw, .stride_h = op->stride_h, .stride_w = op->stride_w,
    .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = plane_ptr (e, w, op->in, op->in_offset, image),
    .in_plane = plane_stride (e->g, op->in),
    .weight = op->weight, .bias = op->bias, .out_rows = b->out_rows,
    .relu = op->relu,
  };
  e->kt->conv_multi (&a, 0, op->out_channels, oy0, oy1);
}

/* Depthwise and direct convs: output plane co, rows [oy0, oy1). */
static void
conv_plane (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int co, int oy0, int oy1, const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  int cin_g = op->in_channels / op->groups;
  int gi = co / (op->out_channels / op->groups);
  const float *src = plane_ptr (e, w, op->in, op->in_offset + gi * cin_g, image);
  size_t wsize = (size_t) cin_g * op->kh * op->kw;
  if (b->variant == SN_CONV_DEPTHWISE) {
    sn_dw_args a = {
      .in_h = in->h, .in_w = in->w, .out_h = out->h, .out_w = out->w,
      .k = op->kh, .stride = op->stride_h, .pad_top = op->pad_t,
      .pad_left = op->pad_l, .in = src, .weight = op->weight + co * wsize,
      .bias = op->bias[co], .out = b->out_rows[co], .relu = op->relu,
    };
    (op->kh == 3 ? e->kt->dw3x3 : sn_dw_f32__ref) (&a, oy0, oy1);
    return;
  }
  sn_conv_args a = {
    .cin = cin_g, .in_h = in->h, .in_w = in->w, .out_h = out->h,
    .out_w = out->w, .kh = op->kh, .kw = op->kw, .stride_h = op->stride_h,
    .stride_w = op->stride_w, .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = src, .in_plane = plane_stride (e->g, op->in),
    .weight = op->weight + co * wsize, .bias = op->bias[co],
    .out = b->out_rows[co], .res = b->res_rows ? b->res_rows[co] : NULL,
    .relu = op->relu,
  };
  e->kt->conv (&a, oy0, oy1);
}

/* Pooling of plane c, output rows [oy0, oy1). */
static void
pool_plane (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int c, int oy0, int oy1, const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  sn_pool_args a = {
    .kind = op->pool_kind, .count_include_pad = op->count_include_pad,
    .in_h = in->h, .in_w = in->w, .out_h = out->h, .out_w = out->w,
    .k_h = op->kh, .k_w = op->kw, .stride_h = op->stride_h,
    .stride_w = op->stride_w, .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = plane_ptr (e, w, op->in, op->in_offset + c, image),
    .out = b->out_rows[c], .relu = op->relu,
  };
  e->kt->pool (&a, oy0, oy1);
}

/* Elementwise plane ops: INPUT_NHWC, GLOBAL_POOL, ADD, COPY (plane c). */
static void
elementwise_plane (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int c, const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  size_t n = plane_size (in);
  float *dst = b->out_rows[c];
  if (op->kind == SN_OP_GLOBAL_POOL) {
    float m = e->kt->plane_mean (plane_ptr (e, w, op->in, op->in_offset + c,
            image), n);
    dst[0] = op->relu && m < 0.0f ? 0.0f : m;
    return;
  }
  if (op->kind == SN_OP_INPUT_NHWC) {
    const float *src = image + c;          /* [h][w][channels], stride c */
    for (size_t i = 0; i < n; i++) {
      float v = src[i * in->c];
      dst[i] = op->relu && v < 0.0f ? 0.0f : v;
    }
    return;
  }
  const float *x = plane_ptr (e, w, op->in, op->in_offset + c, image);
  const float *y = op->kind == SN_OP_ADD ? plane_ptr (e, w, op->in2, c, image)
      : NULL;
  for (size_t i = 0; i < n; i++) {
    float v = y ? x[i] + y[i] : x[i];
    dst[i] = op->relu && v < 0.0f ? 0.0f : v;
  }
}

static void
dense_task (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int task, const float *image)
{
  int k0 = task * 64;
  int k1 = k0 + 64 < op->out_channels ? k0 + 64 : op->out_channels;
  const float *x = plane_ptr (e, w, op->in, op->in_offset, image);  /* [c] */
  if (b->out_contiguous) {         /* [k][1][1] planes are consecutive */
    e->kt->dense (x, op->in_channels, op->weight, op->bias, b->out_rows[0],
        k0, k1);
    return;
  }
  for (int k = k0; k < k1; k++)    /* weight [k][c] -> plane out_rows[k] */
    e->kt->dense (x, op->in_channels, op->weight + (size_t) k * op->in_channels,
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

static void
softmax_task (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, const float *image)
{
  const float *x = plane_ptr (e, w, op->in, op->in_offset, image);
  float max;
  double sum = softmax_sum (x, op->out_channels, &max);
  for (int k = 0; k < op->out_channels; k++)
    b->out_rows[k][0] = softmax_at (x[k], max, sum);
}

static void
run_task (const sn_exec *e, const sn_worker *w, int i, int task,
    const float *image)
{
  const sn_op *op = &e->g->ops[i];
  const sn_op_binding *b = &w->bind[i];
  int out_h = e->g->values[op->out].h;
  int c0, c1, oy0, oy1;         /* plane ops: the task's planes and rows */
  switch (op->kind) {
    case SN_OP_CONV:
      if (b->variant == SN_CONV_POINTWISE) {
        conv_pointwise_task (e, w, op, b, task, image);
      } else if (b->variant == SN_CONV_MULTI) {
        int k, r0, r1;
        task_band (b, out_h, task, &k, &r0, &r1);
        block_rows (k, b->row_blocks, r1 - r0, &oy0, &oy1);
        conv_multi_rows (e, w, op, b, r0 + oy0, r0 + oy1, image);
      } else {
        task_planes (op, b, out_h, task, &c0, &c1, &oy0, &oy1);
        for (int c = c0; c < c1; c++)
          conv_plane (e, w, op, b, c, oy0, oy1, image);
      }
      break;
    case SN_OP_POOL:
      task_planes (op, b, out_h, task, &c0, &c1, &oy0, &oy1);
      for (int c = c0; c < c1; c++)
        pool_plane (e, w, op, b, c, oy0, oy1, image);
      break;
    case SN_OP_DENSE:
      dense_task (e, w, op, b, task, image);
      break;
    case SN_OP_SOFTMAX:
      softmax_task (e, w, op, b, image);
      break;
    default:
      task_planes (op, b, out_h, task, &c0, &c1, &oy0, &oy1);
      for (int c = c0; c < c1; c++)
        elementwise_plane (e, w, op, b, c, image);
      break;
  }
}

/* ---- the run loops ------------------------------------------------------------ */

static void
copy_output (const sn_exec *e, const sn_worker *w, float *out)
{
  const sn_graph *g = e->g;
  int classes = g->values[g->output_value].c;
  for (int k = 0; k < classes; k++)
    out[k] = plane_ptr (e, w, g->output_value, k, NULL)[0];
}

/* Shared mode without barriers. Op i of the s-th shared image of a run owns
 * the task numbers [s*n, (s+1)*n) of each band's `claimed` counter (n = the
 * band's task count), which hands them out, and [s*N, (s+1)*N) of `done`,
 * which counts the finished ones of all bands (N = bands x n). A thread
 * claims from its own band first, then from the others; it moves on to op
 * i+1 once done[i] reaches (s+1)*N, so a thread the OS keeps off the CPU
 * (other busy threads, a decoder in the same pipeline) delays nobody: the
 * others take its share, and it finds nothing left to claim when it comes
 * back. The output copy is one more "op" (index n_ops, 1 task), so the
 * next image cannot overwrite the arena before the copy is done. */

static int
claim_task (int *claimed, int limit)
{
  int v = __atomic_load_n (claimed, __ATOMIC_RELAXED);
  while (v < limit)
    if (__atomic_compare_exchange_n (claimed, &v, v + 1, true,
            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      return v;
  return -1;
}

static void
wait_done (const int *done, int limit)
{
  for (unsigned spins = 0; __atomic_load_n (done, __ATOMIC_ACQUIRE) < limit;
      spins++) {
    if (spins < 4096)
      cpu_relax ();
    else
      sched_yield ();          /* the worker we wait for may need this CPU */
  }
}

/* All threads of the team on the s-th shared image of this run. */
static void
run_image_shared (sn_exec *e, const float *image, float *out, int tid, int s,
    double weight)
{
  const sn_graph *g = e->g;
  const sn_worker *w = &e->workers[0];
  double t0 = e->profiling && tid == 0 ? omp_get_wtime () : 0.0;
  for (int i = 0; i <= g->n_ops; i++) {
    int bands = i < g->n_ops ? w->bind[i].bands : 1;
    int band_tasks = i < g->n_ops ? w->bind[i].band_tasks : 1;
    int base = s * band_tasks, t, finished = 0;
    for (int k = 0; k < bands; k++) {
      int band = (tid + k) % bands;   /* its own band first */
      int *claimed = &e->claimed[band * e->claim_stride + i];
      while ((t = claim_task (claimed, base + band_tasks)) >= 0) {
        if (i < g->n_ops)
          run_task (e, w, i, band * band_tasks + t - base, image);
        else
          copy_output (e, w, out);
        finished++;
      }
    }
    if (finished)              /* one release for all of this thread's tasks */
      __atomic_fetch_add (&e->done[i], finished, __ATOMIC_RELEASE);
    wait_done (&e->done[i], (s + 1) * bands * band_tasks);
    if (e->profiling && tid == 0 && i < g->n_ops) {
      double t1 = omp_get_wtime ();
      e->op_seconds[i] += (t1 - t0) * weight;
      t0 = t1;
    }
  }
}

/* One thread alone on one image, on its own worker: no shared counters.
 * Runs ops [0, stop): to the end (then copies the output to `out`), or up
 * to the batched classifier head (then keeps the head's input features in
 * e->head_in, row n). Profiles (a 1-thread context's runs; weight 1/batch)
 * when asked. */
static void
run_image_alone (sn_exec *e, const sn_worker *w, const float *image,
    float *out, double weight, int stop, int n)
{
  const sn_graph *g = e->g;
  double t0 = e->profiling ? omp_get_wtime () : 0.0;
  for (int i = 0; i < stop; i++) {
    for (int t = 0; t < w->bind[i].n_tasks; t++)
      run_task (e, w, i, t, image);
    if (e->profiling) {
      double t1 = omp_get_wtime ();
      e->op_seconds[i] += (t1 - t0) * weight;
      t0 = t1;
    }
  }
  if (stop == g->n_ops) {
    copy_output (e, w, out);
    return;
  }
  const sn_op *dense = &g->ops[stop];
  memcpy (e->head_in + (size_t) n * dense->in_channels,
      plane_ptr (e, w, dense->in, dense->in_offset, image),
      sizeof (float) * dense->in_channels);
}

/* ---- the batched classifier head ----------------------------------------------
 * A graph that ends in a dense layer (then a softmax or not) has a
 * classifier head. A batch run one image per thread stops each image before
 * it, keeps its features (head_in [batch][c]), and runs the dense layer once
 * for all images (head_out [batch][k]): each weight row is read from memory
 * once per batch instead of once per image (the 1x g3 layer's weights are
 * 3.8 MB, more than a core's L2). */

/* The first op of the head, or n_ops when the graph has none. */
static int
classifier_head (const sn_graph *g)
{
  int n = g->n_ops;
  bool softmax = n >= 2 && g->ops[n - 1].kind == SN_OP_SOFTMAX;
  int d = softmax ? n - 2 : n - 1;
  if (d < 0 || g->ops[d].kind != SN_OP_DENSE
      || g->ops[n - 1].out != g->output_value)
    return n;
  const sn_op *dense = &g->ops[d], *last = &g->ops[n - 1];
  if (softmax && (last->in != dense->out || last->in_offset != 0))
    return n;
  for (int k = 0; k < dense->out_channels; k++)  /* output planes in order */
    if (dense->out_map[k] != k || last->out_map[k] != k)
      return n;
  return d;
}

/* head_in/head_out for `batch` images; false when out of memory. */
static bool
ensure_head (sn_exec *e, int batch)
{
  if (batch <= e->head_cap)
    return true;
  const sn_op *dense = &e->g->ops[e->head];
  float *in = realloc (e->head_in,
      sizeof (float) * dense->in_channels * (size_t) batch);
  if (in)
    e->head_in = in;
  float *out = realloc (e->head_out,
      sizeof (float) * dense->out_channels * (size_t) batch);
  if (out)
    e->head_out = out;
  if (!in || !out)
    return false;
  e->head_cap = batch;
  return true;
}

/* Dense rows [k0, k1) of the first n_images images: 8 weight rows at a
 * time (30 KB for 960 inputs) stay in L1 while every image uses them. */
static void
head_dense_rows (const sn_exec *e, int n_images, int k0, int k1)
{
  const sn_op *op = &e->g->ops[e->head];
  int c = op->in_channels, K = op->out_channels;
  for (int kb = k0; kb < k1; kb += 8)
    for (int n = 0; n < n_images; n++)
      e->kt->dense (e->head_in + (size_t) n * c, c, op->weight, op->bias,
          e->head_out + (size_t) n * K, kb, kb + 8 < k1 ? kb + 8 : k1);
}

/* Image n's output from its dense row: softmax (when the graph ends in one)
 * or a copy. */
static void
head_finish (const sn_exec *e, int n, float *out)
{
  const sn_graph *g = e->g;
  int K = g->ops[e->head].out_channels;
  const float *x = e->head_out + (size_t) n * K;
  if (e->head == g->n_ops - 1) {
    memcpy (out, x, sizeof (float) * K);
    return;
  }
  float max;
  double sum = softmax_sum (x, K, &max);
  for (int k = 0; k < K; k++)
    out[k] = softmax_at (x[k], max, sum);
}

/* Workers 1..threads-1 are made at the first batch that uses them. */
static bool
ensure_workers (sn_exec *e)
{
  while (e->n_workers < e->threads) {
    if (worker_init (e, &e->workers[e->n_workers]) != SN_OK)
      return false;
    e->n_workers++;
  }
  return true;
}

/* Images [0, alone) run one per thread (a team's share of a batch, or all
 * images of a 1-thread context, where the barriers bind to a team of one):
 * images claimed one at a time, then (batched head) the dense rows in
 * blocks of 64, then each thread finishes every team-th image. Profiling
 * (1-thread contexts only) weighs each image 1/alone. */
static void
run_images_alone (sn_exec *e, const float *input, size_t image_floats,
    int alone, int stop, float *output, int tid, int team)
{
  int classes = e->g->values[e->g->output_value].c;
  for (int n = __atomic_fetch_add (&e->next_image, 1, __ATOMIC_RELAXED);
      n < alone; n = __atomic_fetch_add (&e->next_image, 1, __ATOMIC_RELAXED))
    run_image_alone (e, &e->workers[tid], input + image_floats * n,
        output + (size_t) classes * n, 1.0 / alone, stop, n);
  if (stop == e->g->n_ops)
    return;
#pragma omp barrier
  int K = e->g->ops[e->head].out_channels;
  for (int k0 = __atomic_fetch_add (&e->head_next, 64, __ATOMIC_RELAXED);
      k0 < K; k0 = __atomic_fetch_add (&e->head_next, 64, __ATOMIC_RELAXED))
    head_dense_rows (e, alone, k0, k0 + 64 < K ? k0 + 64 : K);
#pragma omp barrier
  for (int n = tid; n < alone; n += team)
    head_finish (e, n, output + (size_t) classes * n);
}

void
sn_exec_run (sn_exec *e, const float *input, size_t image_floats, int batch,
    float *output)
{
  const sn_graph *g = e->g;
  int classes = g->values[g->output_value].c;
  int nt = e->threads;
  /* Whole rounds of `nt` images run one per thread (profiling measures the
   * shared mode, so it keeps everything shared). */
  int alone = nt == 1 ? batch : batch >= nt && !e->profiling
      && ensure_workers (e) ? batch / nt * nt : 0;
  /* the batched head when two or more images run alone */
  int stop = alone >= 2 && !e->profiling && e->head < g->n_ops
      && ensure_head (e, alone) ? e->head : g->n_ops;
  if (e->profiling)
    memset (e->op_seconds, 0, sizeof (double) * g->n_ops);
  e->next_image = 0;
  e->head_next = 0;
  if (nt == 1) {               /* no team, no shared counters */
    run_images_alone (e, input, image_floats, batch, stop, output, 0, 1);
    return;
  }
  memset (e->claimed, 0, sizeof (int) * nt * e->claim_stride);
  memset (e->done, 0, sizeof (int) * (g->n_ops + 1));
#pragma omp parallel num_threads(nt)
  {
    int tid = omp_get_thread_num (), team = omp_get_num_threads ();
    if (team == nt)
      run_images_alone (e, input, image_floats, alone, stop, output, tid,
          team);
    if (team == nt && alone > 0 && alone < batch) {
#pragma omp barrier          /* worker 0 is free again for the shared rest */
    }
    for (int n = team == nt ? alone : 0; n < batch; n++)
      run_image_shared (e, input + image_floats * n,
          output + (size_t) classes * n, tid, n - (team == nt ? alone : 0),
          1.0 / batch);
  }
}
