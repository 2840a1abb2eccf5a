/* compute.h - what one task computes: one short function per tile kind.
 *
 * Each function computes one tile of one op for ONE image on one worker's
 * arena (schedule.h: the op's binding says where its planes are and what
 * its task numbers mean) by calling the kernel table's kernels
 * (kernels/kernels.h). No threads here: which thread runs which task, and
 * when, is executor.c's business; a task writes only its own tile, so tasks
 * of one op may run in any order on any threads. */
#ifndef SN_COMPUTE_H
#define SN_COMPUTE_H

#include "schedule.h"

/* Task `task` of op i on image `image` (the caller's NCHW image, one
 * image: [c][h][w] planes at the input value's plane stride). */
void sn_compute_task (const sn_worker *w, int i, int task,
    const float *image);

/* Band `band`'s halo rows of op i: the input rows its window reads beyond
 * the band's own rows, copied into the band's storage from the storages of
 * the bands that own them. Runs after the producers of those rows, before
 * any task of the band. */
void sn_compute_halo (const sn_worker *w, int i, int band);

/* The graph output ([classes][1][1]) into out[classes]. */
void sn_compute_output (const sn_worker *w, float *out);

/* The batched classifier head (executor.c): dense layer `dense` on the
 * features of n_images images at once.
 * in: [n_images][dense->in_channels] features, image-major;
 * out: [n_images][dense->out_channels] scores; rows [k0, k1) of each
 * image are computed. */
void sn_compute_head_rows (const sn_kernel_table *kt, const sn_op *dense,
    const float *in, float *out, int n_images, int k0, int k1);

/* One image's output from its scores x[k] ([k]): a softmax of them into
 * out[k] when `softmax`, else a copy. */
void sn_compute_head_output (const float *x, int k, bool softmax,
    float *out);

#endif /* SN_COMPUTE_H */
