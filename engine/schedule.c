/* schedule.c - who does which task (schedule.h): each op's row bands and
 * tasks for a team, and their addresses in a worker's arena. Runs once, at
 * context creation (and at the first batch that runs images alone). */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

static int
round_up (int x, int multiple)
{
  return sn_ceil_div (x, multiple) * multiple;
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

/* ---- pointwise convs: (group, channel block, pixel block) tasks --------- */

static int
pointwise_tasks (const sn_op *op, int npix, const sn_op_binding *b)
{
  int cout_g = op->out_channels / op->groups;
  return op->groups * sn_ceil_div (cout_g, b->co_block)
      * sn_ceil_div (npix, b->p_block);
}

/* Its rows, exactly when the op's values are stored in bands (each band's
 * rows in a storage of its own), else with both ends moved down to a cache
 * line except the planes' end, so that two bands never write into one line
 * of a shared plane (planes start on a line). */
void
sn_band_pixels (const sn_op_binding *b, const sn_value *out, int band,
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
  int block = round_up (sn_ceil_div (npix, n), tile);
  int last = npix - (sn_ceil_div (npix, block) - 1) * block;
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
  int p_blocks = sn_ceil_div (npix, 512);
  int co_max = kt->pw_task_co_max;
  b->co_block = cout_g < co_max ? cout_g : round_up (co_max, kt->pw_block_co);
  b->p_block = round_up (sn_ceil_div (npix, p_blocks), tile);
  while (pointwise_tasks (op, npix, b) < want && p_blocks < npix
      && split_pixels (npix, p_blocks + 1, tile, &b->p_block))
    p_blocks = sn_ceil_div (npix, b->p_block);
  while (3 * pointwise_tasks (op, npix, b) < 2 * want
      && b->co_block > kt->pw_block_co
      && b->co_block / 2 >= kt->pw_task_co_min)
    b->co_block = round_up (b->co_block / 2, kt->pw_block_co);
  b->p_blocks = sn_ceil_div (npix, b->p_block);
  return pointwise_tasks (op, npix, b);
}

/* ---- bands and tasks ------------------------------------------------------ */

/* Planes per task for an op on `planes` planes of `px` outputs each: about
 * SN_TASK_OUTPUTS outputs (a task must outweigh claiming it), yet about
 * `want` tasks in all while planes last (so the team balances). */
#define SN_TASK_OUTPUTS 2048

static int
planes_per_task (int planes, size_t px, int want)
{
  int by_size = px >= SN_TASK_OUTPUTS ? 1 : (int) (SN_TASK_OUTPUTS / px);
  int by_team = sn_ceil_div (planes, want);
  int n = by_size < by_team ? by_size : by_team;
  return n > 0 ? n : 1;
}

/* Spatial bands: on a team, a conv or pool on big enough planes splits its
 * output rows into one band per thread. Consecutive ops band their rows
 * alike and a value that only banded ops touch keeps each band's rows in a
 * storage of its own (sn_store_plan), so a thread mostly reads what it
 * wrote itself, from its own cache, and never shares a line or a
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
    sn_conv_variant variant, const sn_value *out)
{
  bool spatial = op->kind == SN_OP_CONV || op->kind == SN_OP_POOL;
  if (threads < 2 || !spatial || out->h < threads)
    return 1;
  bool gemm = op->kind == SN_OP_CONV && (variant == SN_CONV_POINTWISE
      || variant == SN_CONV_MULTI);
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
  int rows = sn_ceil_div (out->h, b->bands);
  size_t band_px = (size_t) rows * out->w;
  int want = 4 * threads / b->bands;
  switch (op->kind) {
    case SN_OP_CONV:
      if (b->variant == SN_CONV_POINTWISE) {
        size_t p0, p1, npix = 0;   /* the longest band */
        for (int band = 0; band < b->bands; band++) {
          sn_band_pixels (b, out, band, &p0, &p1);
          npix = p1 - p0 > npix ? p1 - p0 : npix;
        }
        return plan_pointwise (op->pw_kernels ? op->pw_kernels : kt,
            threads > 1 ? 8 * threads / b->bands : 1,
            op, (int) npix, b);
      }
      if (b->variant == SN_CONV_MULTI) {   /* blocks of rows, all channels */
        int blocks = sn_ceil_div ((int) band_px, 1024);
        if (b->bands == 1)
          blocks = round_up (blocks, threads);
        b->row_blocks = blocks <= rows ? blocks : rows;
        return b->row_blocks;
      }
      /* depthwise and direct convs split by rows and planes, like pools */
      __attribute__ ((fallthrough));
    case SN_OP_POOL:
      if (band_px > 4096)      /* big planes: blocks of about 16 rows */
        b->row_blocks = sn_ceil_div (rows, 16);
      else
        b->plane_block = planes_per_task (planes, band_px, want);
      return b->row_blocks * sn_ceil_div (planes, b->plane_block);
    case SN_OP_DENSE:
      return sn_ceil_div (planes, 64);
    case SN_OP_SOFTMAX:
      return 1;
    default:                   /* INPUT_NHWC, GLOBAL_POOL, ADD, COPY */
      b->plane_block = planes_per_task (planes, (size_t) in->h * in->w, want);
      return sn_ceil_div (planes, b->plane_block);
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
plan_tasks (const sn_schedule *sc, int i, sn_op_binding *b)
{
  const sn_op *op = &sc->g->ops[i];
  b->row_blocks = 1;
  b->plane_block = 1;
  if (op->kind == SN_OP_CONV)
    b->variant = conv_variant (op);
  b->bands = sc->op_bands[i];
  b->rows_exact = touches_banded (sc->g, sc, op);
  b->band_tasks = plan_band (sc->g, sc->kt, sc->team, op, b);
  b->n_tasks = b->bands * b->band_tasks;
}

void
sn_task_band (const sn_op_binding *b, int out_h, int task, int *k, int *r0,
    int *r1)
{
  *k = task % b->band_tasks;
  sn_band_rows (task / b->band_tasks, b->bands, out_h, r0, r1);
}

void
sn_task_planes (const sn_op *op, const sn_op_binding *b, int out_h, int task,
    int *c0, int *c1, int *oy0, int *oy1)
{
  int k, r0, r1;
  sn_task_band (b, out_h, task, &k, &r0, &r1);
  int plane_blocks = b->band_tasks / b->row_blocks;
  *c0 = k % plane_blocks * b->plane_block;
  *c1 = *c0 + b->plane_block < op->out_channels ? *c0 + b->plane_block
      : op->out_channels;
  sn_band_rows (k / plane_blocks, b->row_blocks, r1 - r0, oy0, oy1);
  *oy0 += r0;
  *oy1 += r0;
}

/* ---- the team's schedule ---------------------------------------------------- */

/* Does op i read rows of its banded input that the reading band does not
 * own (a window reaching across a band edge)? Then each band first copies
 * them into its storage (sn_compute_halo). */
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

sn_status
sn_schedule_plan (const sn_graph *g, const sn_kernel_table *kt, int team,
    sn_schedule *sc, sn_error *err)
{
  sc->g = g;
  sc->kt = kt;
  sc->team = team;
  sc->op_bands = malloc (sizeof (int) * (g->n_ops ? g->n_ops : 1));
  sc->halo = calloc (g->n_ops ? g->n_ops : 1, sizeof (bool));
  if (!sc->op_bands || !sc->halo)
    return sn_set_error (err, SN_ERR_NOMEM, "out of memory planning");
  for (int i = 0; i < g->n_ops; i++) {
    const sn_op *op = &g->ops[i];
    sn_conv_variant variant = op->kind == SN_OP_CONV ? conv_variant (op)
        : SN_CONV_DIRECT;
    sc->op_bands[i] = op_bands (kt, team, op, variant, &g->values[op->out]);
  }
  sn_status s = sn_plan_store (g, team, sc->op_bands, &sc->store, err);
  if (s != SN_OK)
    return s;
  for (int i = 0; i < g->n_ops; i++)
    sc->halo[i] = needs_halo (g, sc, i);
  return SN_OK;
}

void
sn_schedule_free (sn_schedule *sc)
{
  free (sc->op_bands);
  free (sc->halo);
  sn_store_plan_free (&sc->store);
  memset (sc, 0, sizeof *sc);
}

/* ---- binding to a worker's arena ---------------------------------------------- */

/* Floats from one plane of value `v` to the next, as band `band` keeps
 * it (any band for a value not stored in bands). */
static size_t
plane_stride (const sn_worker *w, int v, int band)
{
  const sn_graph *g = w->sched->g;
  const sn_value *root = &g->values[sn_value_root (g, v, NULL)];
  if (root->external)
    return root->plane_stride;
  return sn_store_plane_stride (&w->sched->store, g, v, band);
}

float *
sn_worker_plane (const sn_worker *w, int v, int c, int band,
    const float *image)
{
  const sn_graph *g = w->sched->g;
  int offset;
  int r = sn_value_root (g, v, &offset);
  const sn_value *root = &g->values[r];
  if (root->external)
    return (float *) image + (size_t) (offset + c) * root->plane_stride;
  return w->arena + sn_store_plane (&w->sched->store, g, v, c, band);
}

/* [bands][out_channels] planes of value v, op channel k at plane map[k],
 * as each band addresses them; NULL when out of memory. */
static float **
bind_planes (const sn_worker *w, int bands, int channels, int v,
    const int *map)
{
  float **rows = malloc (sizeof (float *) * (size_t) bands * channels);
  if (rows == NULL)
    return NULL;
  for (int band = 0; band < bands; band++)
    for (int k = 0; k < channels; k++)
      rows[band * channels + k] = sn_worker_plane (w, v, map[k], band, NULL);
  return rows;
}

/* b->in_at, b->in_plane, b->in_external: where each band reads op->in. */
static sn_status
bind_input (const sn_worker *w, const sn_op *op, sn_op_binding *b)
{
  const sn_graph *g = w->sched->g;
  b->in_at = malloc (sizeof (ptrdiff_t) * b->bands);
  b->in_plane = malloc (sizeof (size_t) * b->bands);
  if (!b->in_at || !b->in_plane)
    return SN_ERR_NOMEM;
  int offset;
  const sn_value *in = &g->values[sn_value_root (g, op->in, &offset)];
  b->in_external = in->external;
  for (int band = 0; band < b->bands; band++) {
    b->in_at[band] = in->external
        ? (ptrdiff_t) ((size_t) (offset + op->in_offset) * in->plane_stride)
        : sn_store_plane (&w->sched->store, g, op->in, op->in_offset, band);
    b->in_plane[band] = plane_stride (w, op->in, band);
  }
  return SN_OK;
}

static sn_status
bind_op (const sn_worker *w, int i, sn_op_binding *b)
{
  const sn_op *op = &w->sched->g->ops[i];
  plan_tasks (w->sched, i, b);
  b->out_rows = bind_planes (w, b->bands, op->out_channels, op->out,
      op->out_map);
  if (b->out_rows == NULL)
    return SN_ERR_NOMEM;
  b->out_contiguous = true;
  for (int k = 0; k < op->out_channels; k++)
    b->out_contiguous &= b->out_rows[k] == b->out_rows[0] + k;
  if (bind_input (w, op, b) != SN_OK)
    return SN_ERR_NOMEM;
  if (op->res >= 0) {
    b->res_rows = (const float **) bind_planes (w, b->bands,
        op->out_channels, op->res, op->res_map);
    if (b->res_rows == NULL)
      return SN_ERR_NOMEM;
  }
  return SN_OK;
}

void
sn_worker_free (sn_worker *w)
{
  for (int i = 0; w->bind && i < w->sched->g->n_ops; i++) {
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

sn_status
sn_worker_init (const sn_schedule *sc, sn_worker *w)
{
  const sn_graph *g = sc->g;
  w->sched = sc;
  size_t bytes = (sc->store.arena_floats * sizeof (float) + 63) / 64 * 64;
  w->arena = aligned_alloc (64, bytes ? bytes : 64);
  w->bind = calloc (g->n_ops, sizeof (sn_op_binding));
  if (!w->arena || !w->bind)
    goto nomem;
  memset (w->arena, 0, bytes);
  for (int i = 0; i < g->n_ops; i++)
    if (bind_op (w, i, &w->bind[i]) != SN_OK)
      goto nomem;
  return SN_OK;
nomem:
  sn_worker_free (w);
  return SN_ERR_NOMEM;
}
