/* plan.h - where values live: one arena per model (sn_plan_arena), and
 * per context the storage its team's row bands imply (sn_plan_store).
 *
 * Both place owner values by liveness, first fit (plan.c). */
#ifndef SN_PLAN_H
#define SN_PLAN_H

#include "ir.h"

/* Place all owner values in one arena (liveness-based first fit). */
sn_status sn_plan_arena (sn_graph *g, sn_error *err);

/* Rows [*r0, *r1) of band b of n over h rows (as even as integers go): how
 * a team splits an op's output rows, one band per thread. */
static inline void
sn_band_rows (int b, int n, int h, int *r0, int *r1)
{
  *r0 = (int) ((long) b * h / n);
  *r1 = (int) ((long) (b + 1) * h / n);
}

/* Where a context keeps its values (sn_plan_store). Its team splits the
 * output rows of big convs and pools into `bands` bands, one per thread;
 * an owner value that only such ops write and read is "banded": band b's
 * rows (plus the halo rows its readers need from the neighbouring bands)
 * live in a storage of their own, [c][rows][w] with planes padded to
 * cache lines, so that each thread writes and reads memory no other thread
 * touches. (Two threads' rows interleaved in every plane let the hardware
 * prefetchers pull the other core's lines: each op ran ~1.6x slower per
 * thread.) Other owners are stored as sn_plan_arena lays them out, in band
 * 0's part of the arena. */
typedef struct {
  int bands;               /* 1: nothing banded, the model's own plan */
  bool *banded;            /* [n_values] (owners) */
  int *halo_top;           /* [n_values] rows a band keeps above its own */
  int *halo_bottom;        /* [n_values] ... and below */
  size_t *offset;          /* [n_values][bands] floats from the arena start
                              to band b's storage of owner v ([v][0] for
                              an unbanded owner) */
  size_t arena_floats;
} sn_store_plan;

/* Band b's storage of banded owner v: rows [lo, hi) kept, of which
 * [own_lo, own_hi) are the band's own (the rest are halo rows copied from
 * the neighbours); `lead` floats from a plane's start to row lo (a cache
 * line of slack, then what puts row own_lo on a line) and `stride` floats
 * from one plane to the next (a line of slack after the rows): kernels may
 * read a few floats beyond the rows they need and drop them. */
typedef struct {
  int lo, hi, own_lo, own_hi;
  size_t lead, stride;
} sn_band_store;

void sn_band_store_of (const sn_store_plan *sp, const sn_graph *g, int v,
    int b, sn_band_store *bs);

/* Floats from the arena start to plane p of value v (owner or alias) as
 * band b addresses it: element (y, x) at + y * w + x, for y in the band's
 * kept rows when v's owner is banded (an offset that may point before the
 * band's storage: only kept rows are read), any row when it is not. Not
 * for the caller's (external) input. */
ptrdiff_t sn_store_plane (const sn_store_plan *sp, const sn_graph *g, int v,
    int p, int b);
/* Floats from one plane of v to the next in band b's storage. */
size_t sn_store_plane_stride (const sn_store_plan *sp, const sn_graph *g,
    int v, int b);

/* Plan a context's storage: op_bands[i] is op i's band count (bands, or 1
 * for an op its team does not split by rows). bands == 1 reproduces
 * sn_plan_arena's layout. Free with sn_store_plan_free. */
sn_status sn_plan_store (const sn_graph *g, int bands, const int *op_bands,
    sn_store_plan *sp, sn_error *err);
void sn_store_plan_free (sn_store_plan *sp);

#endif /* SN_PLAN_H */
