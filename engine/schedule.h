/* schedule.h - who does which task: each op of a planned sn_graph split into
 * tasks for a team of threads, and bound to an activation arena.
 *
 * The engine's run side has three tiers (the way XNNPACK separates
 * operators, compute functions and microkernels):
 *   schedule.c  - plans each op's row bands and tasks for a team, and binds
 *                 them to an arena laid out by plan.c's store plan (here);
 *   compute.c   - what one task computes: one short function per tile kind,
 *                 calling the kernels (kernels/kernels.h);
 *   executor.c  - who runs which task when: claiming from shared counters,
 *                 waiting, the run loops, the batched classifier head
 *                 (profile.c beside it times the ops).
 *
 * Spatial bands: on a team, a conv or pool on big enough planes splits its
 * output rows into one band per thread (sn_band_rows), and thread t works
 * on band t before helping with the others' leftovers. A value that only
 * banded ops touch keeps each band's rows in a storage of its own
 * (plan.h's sn_store_plan), so a thread mostly reads what it wrote itself.
 * An op that reads rows of another band (a 3x3 window across a band edge)
 * first copies them, its halo rows, into the reading band's storage. */
#ifndef SN_SCHEDULE_H
#define SN_SCHEDULE_H

#include "ir.h"
#include "plan.h"

typedef enum {
  SN_CONV_POINTWISE, /* 1x1, stride 1, no padding: per-group GEMM (kt->pw) */
  SN_CONV_DEPTHWISE, /* one input channel per output channel (dw_multi) */
  SN_CONV_MULTI,     /* ungrouped, no residual: all channels per row band
                        (kt->conv_multi), e.g. the 3->24 stem */
  SN_CONV_DIRECT,    /* anything else (kt->conv), one plane per task */
} sn_conv_variant;

static inline int
sn_ceil_div (int a, int b)
{
  return (a + b - 1) / b;
}

/* One op's tasks and its addresses in one worker's arena, made once at
 * context creation. A task number is band-major: task = band * band_tasks
 * + k, k the task's index inside its band (sn_task_planes decodes it). */
typedef struct {
  int n_tasks;             /* work units the op is split into: */
  int bands, band_tasks;   /* bands x band_tasks, band-major */
  sn_conv_variant variant; /* SN_OP_CONV only */
  /* Pointwise bands: rows exactly (true when a value the op touches is
   * stored in bands), or rows with both ends moved down to a cache line
   * (all its values are shared planes: two bands never write one line). */
  bool rows_exact;
  /* Task geometry inside a band of output rows (the whole plane when
   * bands == 1). pw tasks: (group, channel block, pixel block); plane
   * ops' tasks: (block of rows, block of plane_block planes); conv_multi:
   * blocks of rows. Rows split as evenly as integers go. */
  int co_block, p_block, p_blocks, row_blocks, plane_block;
  float **out_rows;        /* [bands][out_channels] destination plane per
                              op channel, as band b addresses it: plane
                              out_map[k] of op->out, [out_h][out_w] rows */
  bool out_contiguous;     /* band 0: out_rows[k] == out_rows[0] + k */
  const float **res_rows;  /* [bands][out_channels] residual plane
                              res_map[k] of op->res, or NULL */
  /* Input planes op->in_offset + c, as band b addresses them: at
   * in_at[b] + c * in_plane[b] floats from the worker's arena (from the
   * caller's image when in_external), rows [in_h][in_w] each. */
  ptrdiff_t *in_at;        /* [bands] */
  size_t *in_plane;        /* [bands] */
  bool in_external;
} sn_op_binding;

/* How graph g runs with kernel table kt on a team of `team` threads (1:
 * one thread alone on an image): each op's row bands, where each value
 * lives, and which ops first copy into each band's storage the halo rows
 * its windows read from the neighbouring bands' rows. */
typedef struct {
  const sn_graph *g;
  const sn_kernel_table *kt;
  int team;
  int *op_bands;           /* [g->n_ops] row bands of each op: 1 or team */
  bool *halo;              /* [g->n_ops] */
  sn_store_plan store;     /* where each value lives (bands = team) */
} sn_schedule;

/* One activation arena, laid out by a schedule's store plan, and the op
 * bindings into it. */
typedef struct {
  const sn_schedule *sched;
  float *arena;            /* sched->store.arena_floats, 64-byte aligned */
  sn_op_binding *bind;     /* [g->n_ops] */
} sn_worker;

/* A team's schedule: each op's row bands, the storage they imply
 * (sn_plan_store), the ops that copy halo rows. Free with
 * sn_schedule_free (also after a failure). */
sn_status sn_schedule_plan (const sn_graph *g, const sn_kernel_table *kt,
    int team, sn_schedule *sc, sn_error *err);
void sn_schedule_free (sn_schedule *sc);

/* A zeroed arena laid out by sc and every op's tasks and addresses in it.
 * SN_ERR_NOMEM (w freed) when out of memory. */
sn_status sn_worker_init (const sn_schedule *sc, sn_worker *w);
void sn_worker_free (sn_worker *w);

/* ---- task geometry (the numbering that sn_op_binding's comment states) -- */

/* Task `task` of a plane op (row block major inside its band): planes
 * [*c0, *c1), output rows [*oy0, *oy1). */
void sn_task_planes (const sn_op *op, const sn_op_binding *b, int out_h,
    int task, int *c0, int *c1, int *oy0, int *oy1);
/* Output rows [*r0, *r1) of the band of `task`; *k = its index there. */
void sn_task_band (const sn_op_binding *b, int out_h, int task, int *k,
    int *r0, int *r1);
/* Pixels [*p0, *p1) of band `band` of a pointwise op over the planes of
 * `out` ([out_h * out_w] pixels a plane). */
void sn_band_pixels (const sn_op_binding *b, const sn_value *out, int band,
    size_t *p0, size_t *p1);

/* ---- addresses ------------------------------------------------------- */

/* Plane `c` of value `v` as band `band` addresses it ([h][w] rows,
 * sn_store_plane): in the worker's arena, or in the caller's image
 * (NCHW, one image) for the external input. */
float *sn_worker_plane (const sn_worker *w, int v, int c, int band,
    const float *image);

/* Input plane c of an op (plane op->in_offset + c of op->in, [in_h][in_w])
 * as band `band` addresses it, from its binding's precomputed offsets. */
static inline const float *
sn_op_input (const sn_worker *w, const sn_op_binding *b, int band, int c,
    const float *image)
{
  return (b->in_external ? image : w->arena) + b->in_at[band]
      + (ptrdiff_t) c * (ptrdiff_t) b->in_plane[band];
}

#endif /* SN_SCHEDULE_H */
