/* ops.c - operators: bind the plan to an arena, split each op into tasks,
 * run the tasks on a team of the caller and the context's helper threads
 * (pool.h), or, with one thread, in order on the caller's thread. */
#include "ops.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

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

/* Floats from one plane of value `v` to the next, as band `band` keeps
 * it (any band for a value not stored in bands). */
static size_t
plane_stride (const sn_exec *e, const sn_worker *w, int v, int band)
{
  const sn_value *root = &e->g->values[sn_value_root (e->g, v, NULL)];
  if (root->external)
    return root->plane_stride;
  return sn_store_plane_stride (&w->sched->store, e->g, v, band);
}

/* Plane `c` of value `v` as band `band` addresses it (sn_store_plane): in
 * the worker's arena, or in the caller's image. */
static float *
plane_ptr (const sn_exec *e, const sn_worker *w, int v, int c, int band,
    const float *image)
{
  int offset;
  int r = sn_value_root (e->g, v, &offset);
  const sn_value *root = &e->g->values[r];
  if (root->external)
    return (float *) image + (size_t) (offset + c) * root->plane_stride;
  return w->arena + sn_store_plane (&w->sched->store, e->g, v, c, band);
}

/* Input plane c of op `op` (plane op->in_offset + c of op->in) as band
 * `band` addresses it, from the binding's precomputed offsets. */
static const float *
op_input (const sn_worker *w, const sn_op_binding *b, int band, int c,
    const float *image)
{
  return (b->in_external ? image : w->arena) + b->in_at[band]
      + (ptrdiff_t) c * (ptrdiff_t) b->in_plane[band];
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

static int
pointwise_tasks (const sn_op *op, int npix, const sn_op_binding *b)
{
  int cout_g = op->out_channels / op->groups;
  return op->groups * ceil_div (cout_g, b->co_block)
      * ceil_div (npix, b->p_block);
}

/* Pixels [*p0, *p1) of band `band` of a pointwise op over the planes of
 * `out`: its rows, exactly when the op's values are stored in bands (each
 * band's rows in a storage of its own), else with both ends moved down to
 * a cache line except the planes' end, so that two bands never write into
 * one line of a shared plane (planes start on a line). */
static void
band_pixels (const sn_op_binding *b, const sn_value *out, int band,
    size_t *p0, size_t *p1)
{
  int r0, r1;
  sn_band_rows (band, b->bands, out->h, &r0, &r1);
  *p0 = (size_t) r0 * out->w;
  *p1 = (size_t) r1 * out->w;
  if (b->rows_exact)
    return;
  *p0 = *p0 / SN_LINE_FLOATS * SN_LINE_FLOATS;
  if (r1 < out->h)
    *p1 = *p1 / SN_LINE_FLOATS * SN_LINE_FLOATS;
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
 * (from L2, or from the other core's cache), so blocks keep up to the
 * op's kernel table's pw_task_co_max channels (fp32 32; bf16 96, which
 * converts the tile once per task): input traffic per multiply-add is
 * 4 bytes / block channels.
 * Short of `want` tasks, pixels split first (whole tiles; a task's weights
 * stay cached), then channel blocks halve down to the kernel's channel
 * tile (not below pw_task_co_min) while that brings the count closer to
 * `want`. */
static int
plan_pointwise (const sn_kernel_table *kt, int want, const sn_op *op,
    int npix, sn_op_binding *b)
{
  int cout_g = op->out_channels / op->groups, tile = kt->pw_block_px;
  int p_blocks = ceil_div (npix, 512);
  int co_max = kt->pw_task_co_max;
  b->co_block = cout_g < co_max ? cout_g : round_up (co_max, kt->pw_block_co);
  b->p_block = round_up (ceil_div (npix, p_blocks), tile);
  while (pointwise_tasks (op, npix, b) < want && p_blocks < npix
      && split_pixels (npix, p_blocks + 1, tile, &b->p_block))
    p_blocks = ceil_div (npix, b->p_block);
  while (3 * pointwise_tasks (op, npix, b) < 2 * want
      && b->co_block > kt->pw_block_co
      && b->co_block / 2 >= kt->pw_task_co_min)
    b->co_block = round_up (b->co_block / 2, kt->pw_block_co);
  b->p_blocks = ceil_div (npix, b->p_block);
  return pointwise_tasks (op, npix, b);
}

/* Spatial bands: on a team, a conv or pool on big enough planes splits its
 * output rows into one band per thread, and thread t works on band t
 * before helping with the others' leftovers. Consecutive ops band their
 * rows alike and a value that only banded ops touch keeps each band's rows
 * in a storage of its own (sn_store_plan), so a thread mostly reads what
 * it wrote itself, from its own cache, and never shares a line or a
 * prefetched stream with the other core. Big enough: two pointwise pixel
 * tiles a band for the GEMM convs (stage 3's 14x14 is; stage 4's 7x7 is
 * not: its bands would waste most of the tiles), and SN_BAND_PLANE_PX
 * pixels a band for the depthwise convs and pools, which call their
 * kernel once per plane and task: stage 3's 14x14 planes pay (2-thread
 * A/B, 1x g3: 0.93x with them banded), stage 4's 7x7 do not (their kernel
 * calls cost 3x as much on half planes: 1.03x). */
#define SN_BAND_PLANE_PX 64

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
          band_pixels (b, out, band, &p0, &p1);
          npix = p1 - p0 > npix ? p1 - p0 : npix;
        }
        return plan_pointwise (op->pw_kernels ? op->pw_kernels : kt,
            threads > 1 ? 8 * threads / b->bands : 1,
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

/* Does op i touch a value the schedule stores in bands? */
static bool
touches_banded (const sn_graph *g, const sn_schedule *sc, const sn_op *op)
{
  int touched[] = { op->in, op->in2, op->res, op->out };
  for (int k = 0; k < 4; k++)
    if (touched[k] >= 0
        && sc->store.banded[sn_value_root (g, touched[k], NULL)])
      return true;
  return false;
}

static void
plan_tasks (const sn_exec *e, const sn_schedule *sc, int i, sn_op_binding *b)
{
  const sn_op *op = &e->g->ops[i];
  b->row_blocks = 1;
  b->plane_block = 1;
  if (op->kind == SN_OP_CONV)
    b->variant = conv_variant (op);
  b->bands = sc->op_bands[i];
  b->rows_exact = touches_banded (e->g, sc, op);
  b->band_tasks = plan_band (e->g, e->kt, sc->team, op, b);
  b->n_tasks = b->bands * b->band_tasks;
}

/* Output rows [*r0, *r1) of the band of `task`; *k = its index there. */
static void
task_band (const sn_op_binding *b, int out_h, int task, int *k, int *r0,
    int *r1)
{
  *k = task % b->band_tasks;
  sn_band_rows (task / b->band_tasks, b->bands, out_h, r0, r1);
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
  sn_band_rows (k / plane_blocks, b->row_blocks, r1 - r0, oy0, oy1);
  *oy0 += r0;
  *oy1 += r0;
}

static sn_status
bind_op (const sn_exec *e, const sn_worker *w, int i, sn_op_binding *b)
{
  const sn_op *op = &e->g->ops[i];
  plan_tasks (e, w->sched, i, b);
  size_t n = (size_t) b->bands * op->out_channels;
  b->out_rows = malloc (sizeof (float *) * n);
  if (b->out_rows == NULL)
    return SN_ERR_NOMEM;
  for (int band = 0; band < b->bands; band++)
    for (int k = 0; k < op->out_channels; k++)
      b->out_rows[band * op->out_channels + k] = plane_ptr (e, w, op->out,
          op->out_map[k], band, NULL);
  b->out_contiguous = true;
  for (int k = 0; k < op->out_channels; k++)
    b->out_contiguous &= b->out_rows[k] == b->out_rows[0] + k;
  b->in_at = malloc (sizeof (ptrdiff_t) * b->bands);
  b->in_plane = malloc (sizeof (size_t) * b->bands);
  if (!b->in_at || !b->in_plane)
    return SN_ERR_NOMEM;
  int offset;
  const sn_value *in = &e->g->values[sn_value_root (e->g, op->in, &offset)];
  b->in_external = in->external;
  for (int band = 0; band < b->bands; band++) {
    b->in_at[band] = in->external
        ? (ptrdiff_t) ((size_t) (offset + op->in_offset) * in->plane_stride)
        : sn_store_plane (&w->sched->store, e->g, op->in, op->in_offset, band);
    b->in_plane[band] = plane_stride (e, w, op->in, band);
  }
  if (op->res >= 0) {
    b->res_rows = malloc (sizeof (float *) * n);
    if (b->res_rows == NULL)
      return SN_ERR_NOMEM;
    for (int band = 0; band < b->bands; band++)
      for (int k = 0; k < op->out_channels; k++)
        b->res_rows[band * op->out_channels + k] = plane_ptr (e, w, op->res,
            op->res_map[k], band, NULL);
  }
  return SN_OK;
}

static void
worker_free (const sn_graph *g, sn_worker *w)
{
  for (int i = 0; w->bind && i < g->n_ops; i++) {
    free (w->bind[i].out_rows);
    free ((void *) w->bind[i].res_rows);
    free (w->bind[i].in_at);
    free (w->bind[i].in_plane);
  }
  free (w->bind);
  free (w->arena);
  w->bind = NULL;
  w->arena = NULL;
}

static sn_status
worker_init (const sn_exec *e, const sn_schedule *sc, sn_worker *w)
{
  const sn_graph *g = e->g;
  w->sched = sc;
  size_t bytes = (sc->store.arena_floats * sizeof (float) + 63) / 64 * 64;
  w->arena = aligned_alloc (64, bytes ? bytes : 64);
  w->bind = calloc (g->n_ops, sizeof (sn_op_binding));
  if (!w->arena || !w->bind)
    goto nomem;
  memset (w->arena, 0, bytes);
  for (int i = 0; i < g->n_ops; i++)
    if (bind_op (e, w, i, &w->bind[i]) != SN_OK)
      goto nomem;
  return SN_OK;
nomem:
  worker_free (g, w);
  return SN_ERR_NOMEM;
}

/* Does op i read rows of its banded input that the reading band does not
 * own (a window reaching across a band edge)? Then each band first copies
 * them into its storage (halo_task). */
static bool
needs_halo (const sn_graph *g, const sn_schedule *sc, int i)
{
  const sn_op *op = &g->ops[i];
  int bands = sc->op_bands[i];
  if (bands < 2 || !sc->store.banded[sn_value_root (g, op->in, NULL)])
    return false;
  for (int b = 0; b < bands; b++) {
    int o0, o1, i0, i1, r0, r1;
    sn_band_rows (b, bands, g->values[op->out].h, &o0, &o1);
    sn_op_input_rows (g, op, o0, o1, &i0, &i1);
    sn_band_rows (b, bands, g->values[op->in].h, &r0, &r1);
    if (i0 < i1 && (i0 < r0 || i1 > r1))
      return true;
  }
  return false;
}

/* A team's schedule: each op's row bands, the storage they imply
 * (sn_plan_store), the ops that copy halo rows. */
static sn_status
plan_schedule (const sn_exec *e, int team, sn_schedule *sc, sn_error *err)
{
  const sn_graph *g = e->g;
  sc->team = team;
  sc->op_bands = malloc (sizeof (int) * (g->n_ops ? g->n_ops : 1));
  sc->halo = calloc (g->n_ops ? g->n_ops : 1, sizeof (bool));
  if (!sc->op_bands || !sc->halo)
    return sn_set_error (err, SN_ERR_NOMEM, "out of memory planning");
  for (int i = 0; i < g->n_ops; i++) {
    const sn_op *op = &g->ops[i];
    sn_op_binding b = { .variant = op->kind == SN_OP_CONV
          ? conv_variant (op) : SN_CONV_DIRECT };
    sc->op_bands[i] = op_bands (e->kt, team, op, &b, &g->values[op->out]);
  }
  sn_status s = sn_plan_store (g, team, sc->op_bands, &sc->store, err);
  if (s != SN_OK)
    return s;
  for (int i = 0; i < g->n_ops; i++)
    sc->halo[i] = needs_halo (g, sc, i);
  return SN_OK;
}

static void
schedule_free (sn_schedule *sc)
{
  free (sc->op_bands);
  free (sc->halo);
  sn_store_plan_free (&sc->store);
  memset (sc, 0, sizeof *sc);
}

sn_status
sn_exec_init (sn_exec *e, const sn_graph *g, const sn_kernel_table *kt,
    int threads, sn_error *err)
{
  memset (e, 0, sizeof *e);
  e->g = g;
  e->kt = kt;
  e->threads = threads;
  sn_status s = plan_schedule (e, 1, &e->alone, err);
  if (s == SN_OK && threads > 1)
    s = plan_schedule (e, threads, &e->team, err);
  if (s != SN_OK) {
    sn_exec_free (e);
    return s;
  }
  e->workers = calloc (threads, sizeof (sn_worker));
  e->op_seconds = calloc (g->n_ops, sizeof (double));
  e->op_finish = calloc ((size_t) threads * g->n_ops, sizeof (double));
  e->claim_stride = round_up (3 * (g->n_ops + 1), 16);
  e->claimed = aligned_alloc (64, sizeof (int) * threads * e->claim_stride);
  e->done = calloc (g->n_ops + 1, sizeof (int));
  bool ok = e->workers && e->op_seconds && e->op_finish && e->claimed
      && e->done;
  if (ok && threads == 1) {
    ok = worker_init (e, &e->alone, &e->workers[0]) == SN_OK;
    e->n_workers = ok;
  } else if (ok) {
    ok = worker_init (e, &e->team, &e->team_worker) == SN_OK
        && (e->pool = sn_pool_new (threads)) != NULL;
  }
  if (!ok) {
    size_t floats = (threads > 1 ? e->team : e->alone).store.arena_floats;
    sn_exec_free (e);
    return sn_set_error (err, SN_ERR_NOMEM,
        "out of memory for a %zu-float activation arena", floats);
  }
  e->head = classifier_head (g);
  return SN_OK;
}

void
sn_exec_free (sn_exec *e)
{
  sn_pool_free (e->pool);      /* first: its threads may still spin */
  for (int i = 0; e->workers && i < e->n_workers; i++)
    worker_free (e->g, &e->workers[i]);
  if (e->team_worker.sched)
    worker_free (e->g, &e->team_worker);
  free (e->workers);
  free (e->op_seconds);
  free (e->op_finish);
  free (e->claimed);
  free (e->done);
  free (e->head_in);
  free (e->head_out);
  schedule_free (&e->team);
  schedule_free (&e->alone);
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
  int band = task / b->band_tasks;
  size_t npix = plane_size (out), band_start, band_end;
  band_pixels (b, out, band, &band_start, &band_end);
  size_t p0 = band_start + (size_t) pb * b->p_block;
  size_t p1 = p0 + b->p_block < band_end ? p0 + b->p_block : band_end;
  if (p0 >= p1)                 /* a smaller band's missing last block */
    return;
  int co0 = cb * b->co_block;
  int co1 = co0 + b->co_block < cout_g ? co0 + b->co_block : cout_g;
  sn_pw_args a = {
    .cin = cin_g, .cout = cout_g, .npix = npix,
    .in = op_input (w, b, band, gi * cin_g, image),
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

/* SN_CONV_MULTI: every output channel of the rows [oy0, oy1) of `band`. */
static void
conv_multi_rows (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int band, int oy0, int oy1, const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  sn_conv_multi_args a = {
    .cin = op->in_channels, .cout = op->out_channels, .in_h = in->h,
    .in_w = in->w, .out_h = out->h, .out_w = out->w, .kh = op->kh,
    .kw = op->kw, .stride_h = op->stride_h, .stride_w = op->stride_w,
    .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = op_input (w, b, band, 0, image),
    .in_plane = b->in_plane[band],
    .weight = op->weight, .bias = op->bias,
    .out_rows = b->out_rows + band * op->out_channels, .relu = op->relu,
  };
  e->kt->conv_multi (&a, 0, op->out_channels, oy0, oy1);
}

/* Ask for the input rows that output rows [oy0, oy1) of a conv on the
 * caller's image read (into L2), a task ahead: the image comes from
 * memory, and the stem's im2col otherwise waits on its first loads. */
static void
prefetch_image_rows (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int band, int oy0, int oy1, const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  int i0, i1;
  sn_op_input_rows (e->g, op, oy0, oy1, &i0, &i1);
  for (int c = 0; c < op->in_channels; c++) {
    const char *p = (const char *) (op_input (w, b, band, c, image)
        + (size_t) i0 * in->w);
    size_t bytes = sizeof (float) * (size_t) (i1 - i0) * in->w;
    for (size_t o = 0; o < bytes; o += 64)
      __builtin_prefetch (p + o, 0, 2);
  }
}

/* Depthwise convs: planes [c0, c1), rows [oy0, oy1) of `band`, in one
 * kernel call. */
static void
dw_planes (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int band, int c0, int c1, int oy0, int oy1,
    const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  sn_dw_multi_args a = {
    .in_h = in->h, .in_w = in->w, .out_h = out->h, .out_w = out->w,
    .k = op->kh, .stride = op->stride_h, .pad_top = op->pad_t,
    .pad_left = op->pad_l, .planes = c1 - c0,
    .in = op_input (w, b, band, c0, image), .in_plane = b->in_plane[band],
    .weight = op->weight + (size_t) c0 * op->kh * op->kw,
    .bias = op->bias + c0,
    .out_rows = b->out_rows + band * op->out_channels + c0,
    .relu = op->relu,
  };
  e->kt->dw_multi (&a, oy0, oy1);
}

/* Direct convs: output plane co, rows [oy0, oy1) of `band`. */
static void
conv_plane (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int band, int co, int oy0, int oy1,
    const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  int cin_g = op->in_channels / op->groups;
  int gi = co / (op->out_channels / op->groups);
  const float *src = op_input (w, b, band, gi * cin_g, image);
  size_t wsize = (size_t) cin_g * op->kh * op->kw;
  float *dst = b->out_rows[band * op->out_channels + co];
  sn_conv_args a = {
    .cin = cin_g, .in_h = in->h, .in_w = in->w, .out_h = out->h,
    .out_w = out->w, .kh = op->kh, .kw = op->kw, .stride_h = op->stride_h,
    .stride_w = op->stride_w, .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = src, .in_plane = b->in_plane[band],
    .weight = op->weight + co * wsize, .bias = op->bias[co], .out = dst,
    .res = b->res_rows ? b->res_rows[band * op->out_channels + co] : NULL,
    .relu = op->relu,
  };
  e->kt->conv (&a, oy0, oy1);
}

/* Pooling of planes [c0, c1), output rows [oy0, oy1) of `band`, in one
 * kernel call. */
static void
pool_planes (const sn_exec *e, const sn_worker *w, const sn_op *op,
    const sn_op_binding *b, int band, int c0, int c1, int oy0, int oy1,
    const float *image)
{
  const sn_value *in = &e->g->values[op->in];
  const sn_value *out = &e->g->values[op->out];
  sn_pool_args a = {
    .kind = op->pool_kind, .count_include_pad = op->count_include_pad,
    .in_h = in->h, .in_w = in->w, .out_h = out->h, .out_w = out->w,
    .k_h = op->kh, .k_w = op->kw, .stride_h = op->stride_h,
    .stride_w = op->stride_w, .pad_top = op->pad_t, .pad_left = op->pad_l,
    .in = op_input (w, b, band, c0, image), .out = NULL, .relu = op->relu,
  };
  e->kt->pool_multi (&a, c1 - c0, b->in_plane[band],
      b->out_rows + band * op->out_channels + c0, oy0, oy1);
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
    float m = e->kt->plane_mean (op_input (w, b, 0, c, image), n);
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
  const float *x = op_input (w, b, 0, c, image);
  const float *y = op->kind == SN_OP_ADD ? plane_ptr (e, w, op->in2, c, 0,
      image) : NULL;
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
  const float *x = op_input (w, b, 0, 0, image);  /* [c] */
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
  const float *x = op_input (w, b, 0, 0, image);
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
  int band = task / b->band_tasks;
  int c0, c1, oy0, oy1;         /* plane ops: the task's planes and rows */
  switch (op->kind) {
    case SN_OP_CONV:
      if (b->variant == SN_CONV_POINTWISE) {
        conv_pointwise_task (e, w, op, b, task, image);
      } else if (b->variant == SN_CONV_MULTI) {
        int k, r0, r1;
        task_band (b, out_h, task, &k, &r0, &r1);
        sn_band_rows (k, b->row_blocks, r1 - r0, &oy0, &oy1);
        int next_end = r0 + oy1 + (oy1 - oy0);   /* the next row block */
        if (b->in_external && r0 + oy1 < r1)
          prefetch_image_rows (e, w, op, b, band, r0 + oy1,
              next_end < r1 ? next_end : r1, image);
        conv_multi_rows (e, w, op, b, band, r0 + oy0, r0 + oy1, image);
      } else if (b->variant == SN_CONV_DEPTHWISE) {
        task_planes (op, b, out_h, task, &c0, &c1, &oy0, &oy1);
        dw_planes (e, w, op, b, band, c0, c1, oy0, oy1, image);
      } else {
        task_planes (op, b, out_h, task, &c0, &c1, &oy0, &oy1);
        for (int c = c0; c < c1; c++)
          conv_plane (e, w, op, b, band, c, oy0, oy1, image);
      }
      break;
    case SN_OP_POOL:
      task_planes (op, b, out_h, task, &c0, &c1, &oy0, &oy1);
      pool_planes (e, w, op, b, band, c0, c1, oy0, oy1, image);
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

/* Op i's halo copy for band `band`: the input rows its window reads beyond
 * the band's own rows (sn_op_input_rows), copied into the band's storage
 * from the storage of the band that owns each row, for every plane the op
 * reads. Runs after the producers of those planes, before the band's
 * tasks of op i. */
static void
halo_task (const sn_exec *e, const sn_worker *w, int i, int band)
{
  const sn_graph *g = e->g;
  const sn_op *op = &g->ops[i];
  const sn_value *in = &g->values[op->in];
  int bands = w->sched->op_bands[i], o0, o1, i0, i1, r0, r1;
  sn_band_rows (band, bands, g->values[op->out].h, &o0, &o1);
  sn_op_input_rows (g, op, o0, o1, &i0, &i1);
  sn_band_rows (band, bands, in->h, &r0, &r1);
  int planes = op->kind == SN_OP_CONV ? op->in_channels : op->out_channels;
  float *dst = (float *) op_input (w, &w->bind[i], band, 0, NULL);
  size_t dst_plane = w->bind[i].in_plane[band];
  for (int y = i0; y < i1; y++) {
    if (y >= r0 && y < r1)
      continue;
    int owner = 0, k0, k1;     /* the band whose own rows hold row y */
    for (; owner < bands - 1; owner++) {
      sn_band_rows (owner, bands, in->h, &k0, &k1);
      if (y < k1)
        break;
    }
    const float *src = op_input (w, &w->bind[i], owner, 0, NULL);
    size_t src_plane = w->bind[i].in_plane[owner];
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

/* ---- the run loops ------------------------------------------------------------ */

static void
copy_output (const sn_exec *e, const sn_worker *w, float *out)
{
  const sn_graph *g = e->g;
  int classes = g->values[g->output_value].c;
  for (int k = 0; k < classes; k++)
    out[k] = plane_ptr (e, w, g->output_value, k, 0, NULL)[0];
}

/* Shared mode without barriers. Op i (i == n_ops: the output copy) of the
 * s-th shared image of a run owns the task numbers [s*n, (s+1)*n) of each
 * band's `claimed` counter (n = the band's task count), which hands them
 * out, and [s*N, (s+1)*N) of `done`, which counts the finished ones of all
 * bands (N = bands x n). A thread claims from its own band first, then
 * from the others; it moves on to op i+1 once done[i] reaches (s+1)*N, so
 * a thread the OS keeps off the CPU (other busy threads, a decoder in the
 * same pipeline) delays nobody: the others take its share, and it finds
 * nothing left to claim when it comes back. An op with halo rows first
 * has each band's halo copied, by whoever claims the band's copy (its own
 * thread, unless that one is late), before any of the band's tasks runs.
 * An op that is not banded splits its tasks the same way into one
 * contiguous part per thread (op_parts), each with a counter of its own:
 * tasks run in channel order, so consecutive ops give thread t the same
 * range of channels (stage 4's 7x7 convs: a thread reads mostly the planes
 * it wrote, instead of every other channel block from the other core).
 * The output copy is the last op (1 task), so the next image cannot
 * overwrite the arena before the copy is done. */

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
      sn_cpu_relax ();
    else
      sched_yield ();          /* the worker we wait for may need this CPU */
  }
}

/* How many parts op i's tasks are claimed in on a team of `team`: a
 * banded op's bands, else near-equal runs of its task list (part k holds
 * tasks [k n / parts, (k + 1) n / parts) of one image's n). */
static int
op_parts (const sn_exec *e, int i, int team)
{
  if (i == e->g->n_ops)
    return 1;
  const sn_op_binding *b = &e->team_worker.bind[i];
  if (b->bands > 1)
    return b->bands;
  return b->n_tasks >= 2 * team ? team : 1;
}

/* Band `band`'s halo rows of op i on the s-th shared image: copied once,
 * by the first thread to get here; the others wait for that copy. */
static void
halo_shared (sn_exec *e, int i, int band, int s)
{
  int *counters = &e->claimed[band * e->claim_stride];
  int n = e->g->n_ops + 1;
  if (claim_task (&counters[n + i], s + 1) >= 0) {
    halo_task (e, &e->team_worker, i, band);
    __atomic_fetch_add (&counters[2 * n + i], 1, __ATOMIC_RELEASE);
  }
  wait_done (&counters[2 * n + i], s + 1);
}

/* Profiling a team: each thread stamps when it finished its last task of
 * op i; thread 0, once the op is done, charges it from t0 (the previous
 * op's end; for the first op, the run's start, e->shared_t0) to the
 * latest stamp. The op's end is then right even when a
 * thread (thread 0 included) was preempted and the others did its tasks;
 * a stamp older than t0 (a thread without tasks in op i this time) does
 * not count. Stamps are atomic: a thread may stamp op i of the next image
 * while thread 0 reads this one's. */
static void
op_finished (sn_exec *e, int tid, int i)
{
  double now = omp_get_wtime ();
  __atomic_store (&e->op_finish[(size_t) tid * e->g->n_ops + i], &now,
      __ATOMIC_RELAXED);
}

/* Returns op i's end. */
static double
op_profile (sn_exec *e, int i, double t0, double weight)
{
  double end = t0;
  for (int t = 0; t < e->team.team; t++) {
    double stamp;
    __atomic_load (&e->op_finish[(size_t) t * e->g->n_ops + i], &stamp,
        __ATOMIC_RELAXED);
    end = stamp > end ? stamp : end;
  }
  e->op_seconds[i] += (end - t0) * weight;
  return end;
}

/* All threads of the team on the s-th shared image of this run. */
static void
run_image_shared (sn_exec *e, const float *image, float *out, int tid, int s,
    double weight)
{
  const sn_graph *g = e->g;
  const sn_worker *w = &e->team_worker;
  double t0 = e->profiling && tid == 0 ? e->shared_t0 : 0.0;
  for (int i = 0; i <= g->n_ops; i++) {
    int parts = op_parts (e, i, e->team.team);
    int n_tasks = i < g->n_ops ? w->bind[i].n_tasks : 1;
    bool halo = i < g->n_ops && e->team.halo[i];
    int t, finished = 0;
    for (int k = 0; k < parts; k++) {
      int part = (tid + k) % parts;   /* its own part (band) first */
      int lo = part * n_tasks / parts;
      int len = (part + 1) * n_tasks / parts - lo;
      int *claimed = &e->claimed[part * e->claim_stride + i];
      int base = s * len;
      if (halo && __atomic_load_n (claimed, __ATOMIC_RELAXED)
          < base + len)             /* tasks left: their rows first */
        halo_shared (e, i, part, s);
      while ((t = claim_task (claimed, base + len)) >= 0) {
        if (i < g->n_ops)
          run_task (e, w, i, lo + t - base, image);
        else
          copy_output (e, w, out);
        finished++;
      }
    }
    if (finished && e->profiling && i < g->n_ops)
      op_finished (e, tid, i);
    if (finished)              /* one release for all of this thread's tasks */
      __atomic_fetch_add (&e->done[i], finished, __ATOMIC_RELEASE);
    wait_done (&e->done[i], (s + 1) * n_tasks);
    if (e->profiling && tid == 0 && i < g->n_ops)
      t0 = op_profile (e, i, t0, weight);
  }
  if (e->profiling && tid == 0)
    e->shared_t0 = t0;
}

/* One thread alone on one image, on a lone worker (one band, no halos, no
 * shared counters). Runs ops [0, stop): to the end (then copies the output
 * to `out`), or up to the batched classifier head (then keeps the head's
 * input features in e->head_in, row n). Profiles (a 1-thread context's
 * runs; weight 1/batch) when asked. */
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
      plane_ptr (e, w, dense->in, dense->in_offset, 0, image),
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

/* The lone workers (one per thread) are made at the first batch that uses
 * them (a 1-thread context makes worker 0 at creation). */
static bool
ensure_workers (sn_exec *e)
{
  while (e->n_workers < e->threads) {
    if (worker_init (e, &e->alone, &e->workers[e->n_workers]) != SN_OK)
      return false;
    e->n_workers++;
  }
  return true;
}

/* Images [0, alone) run one per thread (a team's share of a batch, or all
 * images of a 1-thread context): images claimed one at a time, then
 * (batched head), once all are done, the dense rows in blocks of 64, then,
 * once those are done, each image's output. Everything is claimed, so a
 * thread that comes late finds its share done by the others. Profiling
 * (1-thread contexts only) weighs each image 1/alone. */
static void
run_images_alone (sn_exec *e, const float *input, size_t image_floats,
    int alone, int stop, float *output, int tid)
{
  int classes = e->g->values[e->g->output_value].c, n, b;
  while ((n = claim_task (&e->next_image, alone)) >= 0) {
    run_image_alone (e, &e->workers[tid], input + image_floats * n,
        output + (size_t) classes * n, 1.0 / alone, stop, n);
    __atomic_fetch_add (&e->images_done, 1, __ATOMIC_RELEASE);
  }
  if (stop == e->g->n_ops)
    return;
  wait_done (&e->images_done, alone);
  int K = e->g->ops[e->head].out_channels, blocks = ceil_div (K, 64);
  while ((b = claim_task (&e->head_next, blocks)) >= 0) {
    head_dense_rows (e, alone, 64 * b, 64 * b + 64 < K ? 64 * b + 64 : K);
    __atomic_fetch_add (&e->head_done, 1, __ATOMIC_RELEASE);
  }
  wait_done (&e->head_done, blocks);
  while ((n = claim_task (&e->finish_next, alone)) >= 0)
    head_finish (e, n, output + (size_t) classes * n);
}

/* A run's arguments, for its team (sn_exec_run). */
typedef struct {
  sn_exec *e;
  const float *input;
  size_t image_floats;
  int batch;
  float *output;
  int alone, stop;
} team_run;

/* Thread tid of a team of `team` on a run (sn_pool_run): images alone
 * (when the team is whole), then the rest shared. */
static void
run_on_team (void *data, int tid, int team)
{
  const team_run *r = data;
  sn_exec *e = r->e;
  int classes = e->g->values[e->g->output_value].c;
  bool whole = team == e->threads;
  if (whole)                   /* on the lone workers, then the team's */
    run_images_alone (e, r->input, r->image_floats, r->alone, r->stop,
        r->output, tid);
  for (int n = whole ? r->alone : 0; n < r->batch; n++)
    run_image_shared (e, r->input + r->image_floats * n,
        r->output + (size_t) classes * n, tid, n - (whole ? r->alone : 0),
        1.0 / r->batch);
}

void
sn_exec_run (sn_exec *e, const float *input, size_t image_floats, int batch,
    float *output)
{
  const sn_graph *g = e->g;
  int nt = e->threads;
  /* Whole rounds of `nt` images run one per thread (profiling measures the
   * shared mode, so it keeps everything shared). */
  int alone = nt == 1 ? batch : batch >= nt && !e->profiling
      && ensure_workers (e) ? batch / nt * nt : 0;
  /* the batched head when two or more images run alone */
  int stop = alone >= 2 && !e->profiling && e->head < g->n_ops
      && ensure_head (e, alone) ? e->head : g->n_ops;
  if (e->profiling) {
    memset (e->op_seconds, 0, sizeof (double) * g->n_ops);
    /* taken here, not by thread 0 in the region: a thread 0 preempted
     * before it starts would find every op done by the others and charge
     * them all from its late start (nothing) */
    e->shared_t0 = omp_get_wtime ();
  }
  e->next_image = e->images_done = 0;
  e->head_next = e->head_done = e->finish_next = 0;
  if (nt == 1) {               /* no team, no shared counters */
    run_images_alone (e, input, image_floats, batch, stop, output, 0);
    return;
  }
  memset (e->claimed, 0, sizeof (int) * nt * e->claim_stride);
  memset (e->done, 0, sizeof (int) * (g->n_ops + 1));
  team_run r = { .e = e, .input = input, .image_floats = image_floats,
    .batch = batch, .output = output, .alone = alone, .stop = stop,
  };
  sn_pool_run (e->pool, run_on_team, &r);
}

typedef struct {
  int n;
  void (*fn) (void *data, int i);
  void *data;
  int next;                    /* next unclaimed i */
} parallel_job;

static void
parallel_on_team (void *data, int tid, int team)
{
  parallel_job *j = data;
  int i;
  (void) tid;
  (void) team;
  while ((i = claim_task (&j->next, j->n)) >= 0)
    j->fn (j->data, i);
}

void
sn_exec_parallel (sn_exec *e, int n, void (*fn) (void *data, int i),
    void *data)
{
  parallel_job j = { .n = n, .fn = fn, .data = data };
  if (e->threads == 1 || n <= 1)
    parallel_on_team (&j, 0, 1);
  else
    sn_pool_run (e->pool, parallel_on_team, &j);
}
