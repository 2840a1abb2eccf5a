/* ops.h - the operator layer: runs a planned sn_graph on one context's arena.
 * Operators split their work into tasks and own the threading: each run()
 * (batch loop inside) is one job of the context's pool (pool.h: the caller
 * and the helper threads that come in time), tasks claimed from shared
 * counters (each thread first from its own spatial band of the op, whose
 * rows sit in a storage of the band's own: sn_store_plan) and an op
 * finished when all its tasks are (no barrier that waits for a descheduled
 * thread), the thread count passed to the pool's region (never
 * omp_set_num_threads). */
#ifndef SN_OPS_H
#define SN_OPS_H

#include "pool.h"
#include "ir.h"

typedef enum {
  SN_CONV_POINTWISE, /* 1x1, stride 1, no padding: per-group GEMM (kt->pw) */
  SN_CONV_DEPTHWISE, /* one input channel per output channel (dw_multi) */
  SN_CONV_MULTI,     /* ungrouped, no residual: all channels per row band
                        (kt->conv_multi), e.g. the 3->24 stem */
  SN_CONV_DIRECT,    /* anything else (kt->conv), one plane per task */
} sn_conv_variant;

/* Per-op bindings to a context's arena, made once at context creation. */
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
                              op channel, as band b addresses it */
  bool out_contiguous;     /* band 0: out_rows[k] == out_rows[0] + k */
  const float **res_rows;  /* [bands][out_channels] residual plane, or NULL */
  /* Input planes op->in_offset + c, as band b addresses them: at
   * in_at[b] + c * in_plane[b] floats from the worker's arena (from the
   * caller's image when in_external). */
  ptrdiff_t *in_at;        /* [bands] */
  size_t *in_plane;        /* [bands] */
  bool in_external;
} sn_op_binding;

/* How the graph runs on a team of `team` threads (1: one thread alone on
 * an image): each op's row bands, where each value lives, and which ops
 * first copy into each band's storage the halo rows its windows read from
 * the neighbouring bands' rows. */
typedef struct {
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

typedef struct {
  const sn_graph *g;
  const sn_kernel_table *kt;
  int threads;
  /* All threads on one image (threads > 1), on the team worker; a batch of
   * at least `threads` images runs one image per thread, each on a worker
   * of its own laid out for one thread (an arena that fits a core's cache:
   * band storage would nearly double it). */
  sn_schedule team, alone;
  sn_worker team_worker;   /* threads > 1 */
  sn_worker *workers;      /* [threads] for images alone: worker 0 at
                              creation for one thread, else all at the
                              first batch that runs images alone */
  int n_workers;
  bool profiling;
  double *op_seconds;      /* [g->n_ops] per image, last run */
  double shared_t0;        /* shared mode, profiling: where thread 0's
                              charging of the next op starts (the run's
                              start, then the previous image's end) */
  double *op_finish;       /* [threads][g->n_ops] shared mode, profiling:
                              when each thread finished its last task of
                              each op (an op ends at the latest of them) */
  int *claimed;            /* [threads][claim_stride] per band (shared mode):
                              tasks handed out per op, then halo copies
                              claimed and done per op; a band's counters
                              share no cache line with another band's */
  int claim_stride;        /* >= 3 (n_ops + 1), a multiple of 16 */
  int *done;               /* [g->n_ops + 1] tasks finished (shared mode) */
  int next_image;          /* next unclaimed image (one-image-per-thread) */
  int images_done;         /* images run alone and finished */
  int head;                /* first op of the classifier head (DENSE [SOFTMAX]
                              ending the graph) batched when images run one
                              per thread; n_ops when there is none */
  float *head_in;          /* [head_cap][dense inputs] features per image */
  float *head_out;         /* [head_cap][dense outputs] */
  int head_cap;            /* images head_in/head_out hold */
  int head_next;           /* next unclaimed block of 64 dense rows
                              (batched head) */
  int head_done;           /* blocks finished */
  int finish_next;         /* next unclaimed image output (batched head) */
  sn_pool *pool;           /* threads > 1: the team's threads (pool.h) */
} sn_exec;

sn_status sn_exec_init (sn_exec *e, const sn_graph *g,
    const sn_kernel_table *kt, int threads, sn_error *err);
void sn_exec_free (sn_exec *e);

/* input: batch images in the model layout (see sn_input_info);
 * output: batch x classes floats. */
void sn_exec_run (sn_exec *e, const float *input, size_t image_floats,
    int batch, float *output);

/* fn (data, i) for every i in [0, n), spread over the context's threads
 * (the team's, or the caller's alone for one thread); returns when all
 * are done. */
void sn_exec_parallel (sn_exec *e, int n, void (*fn) (void *data, int i),
    void *data);

#endif /* SN_OPS_H */
