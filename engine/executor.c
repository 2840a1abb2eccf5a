/* executor.c - who runs which task when (executor.h): claiming, waiting,
 * the run loops of a team and of one thread, the batched classifier head.
 * What a task computes is compute.c's; how an op is split, schedule.c's. */
#include "executor.h"

#include "compute.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* ---- claiming and waiting -------------------------------------------------------
 * Counters that hand out work grow from 0 during a run; claim_task takes
 * the next number below a limit. A counter of finished work is raised
 * with a release once a thread's share is written, and wait_done's
 * acquire makes that share visible to the waiter. */

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

/* ---- all threads of the team on one image (shared mode) ------------------------
 * Without barriers. Op i (i == n_ops: the output copy) of the s-th shared
 * image of a run owns the task numbers [s*n, (s+1)*n) of each part's
 * `claimed` counter (n = the part's task count), which hands them out, and
 * [s*N, (s+1)*N) of `done`, which counts the finished ones of all parts
 * (N = the op's task count). A thread claims from its own part first, then
 * from the others; it moves on to op i+1 once done[i] reaches (s+1)*N, so
 * a thread the OS keeps off the CPU (other busy threads, a decoder in the
 * same pipeline) delays nobody: the others take its share, and it finds
 * nothing left to claim when it comes back. An op with halo rows first
 * has each band's halo copied, by whoever claims the band's copy (its own
 * thread, unless that one is late), before any of the band's tasks runs.
 * The output copy is the last op (1 task), so the next image cannot
 * overwrite the arena before the copy is done. */

/* How many parts op i's tasks are claimed in on a team of `team`: a
 * banded op's bands, else near-equal runs of its task list (part k holds
 * tasks [k n / parts, (k + 1) n / parts) of one image's n), one per thread,
 * each with a counter of its own: tasks run in channel order, so
 * consecutive ops give thread t the same range of channels (stage 4's 7x7
 * convs: a thread reads mostly the planes it wrote, instead of every other
 * channel block from the other core). */
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
    sn_compute_halo (&e->team_worker, i, band);
    __atomic_fetch_add (&counters[2 * n + i], 1, __ATOMIC_RELEASE);
  }
  wait_done (&counters[2 * n + i], s + 1);
}

/* Thread tid claims and runs tasks of op i of the s-th shared image, its
 * own part first, until none is left; returns how many it ran. */
static int
run_op_shared (sn_exec *e, int i, int tid, int s, const float *image,
    float *out)
{
  const sn_worker *w = &e->team_worker;
  int parts = op_parts (e, i, e->team.team);
  int n_tasks = i < e->g->n_ops ? w->bind[i].n_tasks : 1;
  bool halo = i < e->g->n_ops && e->team.halo[i];
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
      if (i < e->g->n_ops)
        sn_compute_task (w, i, lo + t - base, image);
      else
        sn_compute_output (w, out);
      finished++;
    }
  }
  return finished;
}

/* All threads of the team on the s-th shared image of this run: image
 * [c][h][w] (the model's layout), out [classes]. Each image weighs
 * `weight` in the profile. */
static void
run_image_shared (sn_exec *e, const float *image, float *out, int tid, int s,
    double weight)
{
  const sn_graph *g = e->g;
  sn_profile *prof = &e->profile;
  double t0 = prof->enabled && tid == 0 ? prof->shared_t0 : 0.0;
  for (int i = 0; i <= g->n_ops; i++) {
    int n_tasks = i < g->n_ops ? e->team_worker.bind[i].n_tasks : 1;
    int finished = run_op_shared (e, i, tid, s, image, out);
    if (finished && prof->enabled && i < g->n_ops)
      sn_profile_stamp (prof, tid, i);
    if (finished)              /* one release for all of this thread's tasks */
      __atomic_fetch_add (&e->done[i], finished, __ATOMIC_RELEASE);
    wait_done (&e->done[i], (s + 1) * n_tasks);
    if (prof->enabled && tid == 0 && i < g->n_ops)
      t0 = sn_profile_charge_team (prof, i, t0, weight);
  }
  if (prof->enabled && tid == 0)
    prof->shared_t0 = t0;
}

/* ---- one thread alone on one image ------------------------------------------------ */

/* On a lone worker (one band, no halos, no shared counters): ops [0, stop)
 * of image [c][h][w]. To the end (then the output into out[classes]), or
 * up to the batched classifier head (then the head's input features into
 * row n of e->head.in). Profiles (a 1-thread context's runs; weight
 * 1/batch) when asked. */
static void
run_image_alone (sn_exec *e, const sn_worker *w, const float *image,
    float *out, double weight, int stop, int n)
{
  const sn_graph *g = e->g;
  sn_profile *prof = &e->profile;
  double t0 = prof->enabled ? sn_profile_now () : 0.0;
  for (int i = 0; i < stop; i++) {
    for (int t = 0; t < w->bind[i].n_tasks; t++)
      sn_compute_task (w, i, t, image);
    if (prof->enabled)
      sn_profile_charge_alone (prof, i, &t0, weight);
  }
  if (stop == g->n_ops) {
    sn_compute_output (w, out);
    return;
  }
  const sn_op *dense = &g->ops[stop];
  memcpy (e->head.in + (size_t) n * dense->in_channels,
      sn_worker_plane (w, dense->in, dense->in_offset, 0, image),
      sizeof (float) * dense->in_channels);
}

/* ---- the batched classifier head ------------------------------------------------
 * A batch run one image per thread stops each image before the head,
 * keeps its features (head.in [batch][c]), and runs the dense layer once
 * for all images (head.out [batch][k]): each weight row is read from memory
 * once per batch instead of once per image (the 1x g3 layer's weights are
 * 3.8 MB, more than a core's L2). */

/* The first op of the head (a DENSE, then a SOFTMAX or not, ending the
 * graph, its output planes in order), or n_ops when the graph has none. */
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

/* head.in/head.out for `batch` images; false when out of memory. */
static bool
ensure_head (sn_exec *e, int batch)
{
  sn_batched_head *h = &e->head;
  if (batch <= h->cap)
    return true;
  const sn_op *dense = &e->g->ops[h->first_op];
  float *in = realloc (h->in,
      sizeof (float) * dense->in_channels * (size_t) batch);
  if (in)
    h->in = in;
  float *out = realloc (h->out,
      sizeof (float) * dense->out_channels * (size_t) batch);
  if (out)
    h->out = out;
  if (!in || !out)
    return false;
  h->cap = batch;
  return true;
}

/* Once the first n_images images' features are in: the dense rows in
 * blocks of 64, claimed; then, once those are all done, each image's
 * output (softmax or copy), claimed, into output [n_images][classes]. */
static void
run_head (sn_exec *e, int n_images, float *output)
{
  sn_batched_head *h = &e->head;
  const sn_op *dense = &e->g->ops[h->first_op];
  int K = dense->out_channels, blocks = sn_ceil_div (K, 64), b, n;
  int classes = e->g->values[e->g->output_value].c;
  bool softmax = h->first_op != e->g->n_ops - 1;
  while ((b = claim_task (&h->next_block, blocks)) >= 0) {
    sn_compute_head_rows (e->kt, dense, h->in, h->out, n_images, 64 * b,
        64 * b + 64 < K ? 64 * b + 64 : K);
    __atomic_fetch_add (&h->blocks_done, 1, __ATOMIC_RELEASE);
  }
  wait_done (&h->blocks_done, blocks);
  while ((n = claim_task (&h->next_output, n_images)) >= 0)
    sn_compute_head_output (h->out + (size_t) n * K, K, softmax,
        output + (size_t) classes * n);
}

/* ---- a run -------------------------------------------------------------------------- */

/* The lone workers (one per thread) are made at the first batch that uses
 * them (a 1-thread context makes worker 0 at creation). */
static bool
ensure_workers (sn_exec *e)
{
  while (e->n_workers < e->threads) {
    if (sn_worker_init (&e->alone, &e->workers[e->n_workers]) != SN_OK)
      return false;
    e->n_workers++;
  }
  return true;
}

/* Images [0, alone) of input (image n at input + n * image_floats) run one
 * per thread (a team's share of a batch, or all images of a 1-thread
 * context) into output [alone][classes]: images claimed one at a time,
 * then (batched head, stop < n_ops), once all are done, the head.
 * Everything is claimed, so a thread that comes late finds its share done
 * by the others. Profiling (1-thread contexts only) weighs each image
 * 1/alone. */
static void
run_images_alone (sn_exec *e, const float *input, size_t image_floats,
    int alone, int stop, float *output, int tid)
{
  int classes = e->g->values[e->g->output_value].c, n;
  while ((n = claim_task (&e->next_image, alone)) >= 0) {
    run_image_alone (e, &e->workers[tid], input + image_floats * n,
        output + (size_t) classes * n, 1.0 / alone, stop, n);
    __atomic_fetch_add (&e->images_done, 1, __ATOMIC_RELEASE);
  }
  if (stop == e->g->n_ops)
    return;
  wait_done (&e->images_done, alone);
  run_head (e, alone, output);
}

/* A run's arguments, for its team (sn_exec_run). */
typedef struct {
  sn_exec *e;
  const float *input;      /* [batch] images, image_floats apart */
  size_t image_floats;
  int batch;
  float *output;           /* [batch][classes] */
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
  bool profiling = e->profile.enabled;
  /* Whole rounds of `nt` images run one per thread (profiling measures the
   * shared mode, so it keeps everything shared). */
  int alone = nt == 1 ? batch : batch >= nt && !profiling
      && ensure_workers (e) ? batch / nt * nt : 0;
  /* the batched head when two or more images run alone */
  int stop = alone >= 2 && !profiling && e->head.first_op < g->n_ops
      && ensure_head (e, alone) ? e->head.first_op : g->n_ops;
  if (profiling)
    sn_profile_start_run (&e->profile);
  e->next_image = e->images_done = 0;
  e->head.next_block = e->head.blocks_done = e->head.next_output = 0;
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

/* ---- a function of the caller's on the team (sn_context_parallel) ------------- */

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

/* ---- creation ---------------------------------------------------------------------- */

sn_status
sn_exec_init (sn_exec *e, const sn_graph *g, const sn_kernel_table *kt,
    int threads, sn_error *err)
{
  memset (e, 0, sizeof *e);
  e->g = g;
  e->kt = kt;
  e->threads = threads;
  sn_status s = sn_schedule_plan (g, kt, 1, &e->alone, err);
  if (s == SN_OK && threads > 1)
    s = sn_schedule_plan (g, kt, threads, &e->team, err);
  if (s != SN_OK) {
    sn_exec_free (e);
    return s;
  }
  e->workers = calloc (threads, sizeof (sn_worker));
  bool ok = sn_profile_init (&e->profile, g->n_ops, threads);
  e->claim_stride = sn_ceil_div (3 * (g->n_ops + 1), 16) * 16;
  e->claimed = aligned_alloc (64, sizeof (int) * threads * e->claim_stride);
  e->done = calloc (g->n_ops + 1, sizeof (int));
  ok = ok && e->workers && e->claimed && e->done;
  if (ok && threads == 1) {
    ok = sn_worker_init (&e->alone, &e->workers[0]) == SN_OK;
    e->n_workers = ok;
  } else if (ok) {
    ok = sn_worker_init (&e->team, &e->team_worker) == SN_OK
        && (e->pool = sn_pool_new (threads)) != NULL;
  }
  if (!ok) {
    size_t floats = (threads > 1 ? e->team : e->alone).store.arena_floats;
    sn_exec_free (e);
    return sn_set_error (err, SN_ERR_NOMEM,
        "out of memory for a %zu-float activation arena", floats);
  }
  e->head.first_op = classifier_head (g);
  return SN_OK;
}

void
sn_exec_free (sn_exec *e)
{
  sn_pool_free (e->pool);      /* first: its threads may still spin */
  for (int i = 0; e->workers && i < e->n_workers; i++)
    sn_worker_free (&e->workers[i]);
  if (e->team_worker.sched)
    sn_worker_free (&e->team_worker);
  free (e->workers);
  sn_profile_free (&e->profile);
  free (e->claimed);
  free (e->done);
  free (e->head.in);
  free (e->head.out);
  sn_schedule_free (&e->team);
  sn_schedule_free (&e->alone);
  memset (e, 0, sizeof *e);
}
