/* ops.h - the operator layer: runs a planned sn_graph on one context's arena.
 * Operators split their work into tasks and own the threading: one OpenMP
 * parallel region per run() (batch loop inside), tasks claimed from shared
 * counters (each thread first from its own spatial band of the op, so it
 * reads the rows it wrote in the op before) and an op finished when all
 * its tasks are (no barrier that waits for a descheduled thread), the
 * thread count passed to the region (never omp_set_num_threads). */
#ifndef SN_OPS_H
#define SN_OPS_H

#include "ir.h"

typedef enum {
  SN_CONV_POINTWISE, /* 1x1, stride 1, no padding: per-group GEMM (kt->pw) */
  SN_CONV_DEPTHWISE, /* one input channel per output channel (kt->dw3x3) */
  SN_CONV_MULTI,     /* ungrouped, no residual: all channels per row band
                        (kt->conv_multi), e.g. the 3->24 stem */
  SN_CONV_DIRECT,    /* anything else (kt->conv), one plane per task */
} sn_conv_variant;

/* Per-op bindings to a context's arena, made once at context creation. */
typedef struct {
  int n_tasks;             /* work units the op is split into: */
  int bands, band_tasks;   /* bands x band_tasks, band-major */
  sn_conv_variant variant; /* SN_OP_CONV only */
  /* Task geometry inside a band of output rows (the whole plane when
   * bands == 1). pw tasks: (group, channel block, pixel block); plane
   * ops' tasks: (block of rows, block of plane_block planes); conv_multi:
   * blocks of rows. Rows split as evenly as integers go. */
  int co_block, p_block, p_blocks, row_blocks, plane_block;
  float **out_rows;        /* [out_channels] destination plane per op channel */
  bool out_contiguous;     /* out_rows[k] == out_rows[0] + k for every k */
  const float **res_rows;  /* [out_channels] residual plane, or NULL */
} sn_op_binding;

/* One activation arena and the op bindings into it. Worker 0 serves
 * intra-op parallel runs (all threads on one image); a batch of at least
 * `threads` images runs one image per thread, each on its own worker. */
typedef struct {
  float *arena;            /* g->arena_floats, 64-byte aligned */
  sn_op_binding *bind;     /* [g->n_ops] */
} sn_worker;

typedef struct {
  const sn_graph *g;
  const sn_kernel_table *kt;
  int threads;
  sn_worker *workers;      /* [threads]; 1..threads-1 made at first batch */
  int n_workers;
  bool profiling;
  double *op_seconds;      /* [g->n_ops] per image, last run */
  int *claimed;            /* [threads][claim_stride] tasks handed out per
                              band and op (shared mode); a band's counters
                              share no cache line with another band's */
  int claim_stride;        /* >= g->n_ops + 1, a multiple of 16 */
  int *done;               /* [g->n_ops + 1] tasks finished (shared mode) */
  int next_image;          /* next unclaimed image (one-image-per-thread) */
  int head;                /* first op of the classifier head (DENSE [SOFTMAX]
                              ending the graph) batched when images run one
                              per thread; n_ops when there is none */
  float *head_in;          /* [head_cap][dense inputs] features per image */
  float *head_out;         /* [head_cap][dense outputs] */
  int head_cap;            /* images head_in/head_out hold */
  int head_next;           /* next unclaimed dense row (batched head) */
} sn_exec;

sn_status sn_exec_init (sn_exec *e, const sn_graph *g,
    const sn_kernel_table *kt, int threads, sn_error *err);
void sn_exec_free (sn_exec *e);

/* input: batch images in the model layout (see sn_input_info);
 * output: batch x classes floats. */
void sn_exec_run (sn_exec *e, const float *input, size_t image_floats,
    int batch, float *output);

#endif /* SN_OPS_H */
