/* executor.h - who runs which task when: a planned sn_graph run on one
 * context's threads.
 *
 * Each run() (batch loop inside) is one job of the context's pool
 * (pool.h: the caller and the helper threads that come in time). Tasks
 * (schedule.h) are claimed from shared counters, each thread first from its
 * own spatial band of the op, and run (compute.h); an op is finished when
 * all its tasks are (no barrier that waits for a descheduled thread). The
 * thread count goes to the pool's region, never to omp_set_num_threads. */
#ifndef SN_EXECUTOR_H
#define SN_EXECUTOR_H

#include "pool.h"
#include "profile.h"
#include "schedule.h"

/* The batched classifier head: a graph that ends in a dense layer (then a
 * softmax or not) runs that layer once for the images of a batch that ran
 * one per thread, instead of once per image (executor.c). */
typedef struct {
  int first_op;            /* the DENSE op; g->n_ops when there is none */
  float *in;               /* [cap][dense inputs] features, image-major */
  float *out;              /* [cap][dense outputs] scores, image-major */
  int cap;                 /* images `in` and `out` hold */
  int next_block;          /* next unclaimed block of 64 dense rows */
  int blocks_done;         /* blocks finished */
  int next_output;         /* next unclaimed image output */
} sn_batched_head;

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
  sn_profile profile;
  /* All threads on one image (shared mode): */
  int *claimed;            /* [threads][claim_stride] per band: tasks
                              handed out per op, then halo copies claimed
                              and done per op; a band's counters share no
                              cache line with another band's */
  int claim_stride;        /* >= 3 (n_ops + 1), a multiple of 16 */
  int *done;               /* [g->n_ops + 1] tasks finished */
  /* One image per thread: */
  int next_image;          /* next unclaimed image */
  int images_done;         /* images finished */
  sn_batched_head head;
  sn_pool *pool;           /* threads > 1: the team's threads (pool.h) */
} sn_exec;

sn_status sn_exec_init (sn_exec *e, const sn_graph *g,
    const sn_kernel_table *kt, int threads, sn_error *err);
void sn_exec_free (sn_exec *e);

/* input: batch images in the model layout (see sn_input_info), image n at
 * input + n * image_floats; output: [batch][classes] floats. */
void sn_exec_run (sn_exec *e, const float *input, size_t image_floats,
    int batch, float *output);

/* fn (data, i) for every i in [0, n), spread over the context's threads
 * (the team's, or the caller's alone for one thread); returns when all
 * are done. */
void sn_exec_parallel (sn_exec *e, int n, void (*fn) (void *data, int i),
    void *data);

#endif /* SN_EXECUTOR_H */
