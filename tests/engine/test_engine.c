/* test_engine.c - the engine's public API: bad input gets a clear error
 * (never a crash), batches and thread counts agree, the per-op profile is
 * whole, helpers are right.
 *
 *   test_engine GOOD.onnx UNSUPPORTED.onnx
 * GOOD is a small NCHW ShuffleNet; UNSUPPORTED uses an op the engine refuses
 * (both come from tests/variants/gen_models.py). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shufflenet.h"

static int passed, failed;

/* Allocation counting: the test links with -Wl,--wrap=malloc,... so every
 * allocation made by the engine's static library passes through here. */
static long allocations;
void *__real_malloc (size_t n);
void *__real_calloc (size_t n, size_t m);
void *__real_realloc (void *p, size_t n);
void *__real_aligned_alloc (size_t a, size_t n);
void *__wrap_malloc (size_t n) { allocations++; return __real_malloc (n); }
void *__wrap_calloc (size_t n, size_t m) { allocations++; return __real_calloc (n, m); }
void *__wrap_realloc (void *p, size_t n) { allocations++; return __real_realloc (p, n); }
void *__wrap_aligned_alloc (size_t a, size_t n) { allocations++; return __real_aligned_alloc (a, n); }

#define CHECK(cond, ...) do {                                        \
    if (cond) { passed++; } else {                                   \
      failed++; printf ("FAIL %s:%d: ", __FILE__, __LINE__);         \
      printf (__VA_ARGS__); printf ("\n"); }                         \
  } while (0)

static unsigned char *
read_all (const char *path, size_t *size)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    return NULL;
  fseek (f, 0, SEEK_END);
  *size = (size_t) ftell (f);
  fseek (f, 0, SEEK_SET);
  unsigned char *d = malloc (*size);
  if (d && fread (d, 1, *size, f) != *size) {
    free (d);
    d = NULL;
  }
  fclose (f);
  return d;
}

/* Loading must fail with `want` and a non-empty message mentioning `word`. */
static void
expect_file_error (const char *path, sn_status want, const char *word)
{
  sn_model *m = (sn_model *) 0x1;
  sn_error err = { 0 };
  sn_status s = sn_model_load_file (path, &m, &err);
  CHECK (s == want && m == NULL && err.status == want
      && strlen (err.message) > 0 && (!word || strstr (err.message, word)),
      "%s: got %s '%s', want %s mentioning '%s'", path, sn_status_name (s),
      err.message, sn_status_name (want), word ? word : "");
}

static void
test_bad_files (const char *unsupported)
{
  char dir[] = "/tmp/sn-test-XXXXXX";
  CHECK (mkdtemp (dir) != NULL, "mkdtemp");
  char path[256];
  expect_file_error ("/nonexistent/model.onnx", SN_ERR_IO, "/nonexistent");
  expect_file_error (dir, SN_ERR_IO, "not a regular file");
  snprintf (path, sizeof path, "%s/empty.onnx", dir);
  fclose (fopen (path, "wb"));
  expect_file_error (path, SN_ERR_IO, "empty");
  snprintf (path, sizeof path, "%s/text.onnx", dir);
  FILE *f = fopen (path, "wb");
  fputs ("this is a labels file, not a model\nsecond line\n", f);
  fclose (f);
  expect_file_error (path, SN_ERR_PARSE, "not an ONNX model");
  unlink (path);
  snprintf (path, sizeof path, "%s/empty.onnx", dir);
  unlink (path);
  rmdir (dir);
  /* The unsupported op is named with its node. */
  expect_file_error (unsupported, SN_ERR_UNSUPPORTED, "(LeakyRelu)");
}

static void
test_corrupt_bytes (const unsigned char *good, size_t size)
{
  sn_model *m;
  sn_error err;
  /* Truncations: inside the graph they must fail; anywhere, never crash. */
  int truncated_failures = 0, truncations = 0;
  for (size_t cut = 0; cut < size; cut += size / 97 + 1) {
    sn_status s = sn_model_load_memory (good, cut, &m, &err);
    truncations++;
    if (s != SN_OK) {
      truncated_failures++;
      CHECK (m == NULL && err.message[0], "truncated at %zu: no message", cut);
    }
    sn_model_free (m);
  }
  CHECK (truncated_failures >= truncations - 2,
      "only %d of %d truncations refused", truncated_failures, truncations);
  /* Random bytes and bit flips: a status, never a crash. */
  unsigned char *buf = malloc (size);
  srand (42);
  for (int round = 0; round < 40; round++) {
    for (size_t i = 0; i < size; i++)
      buf[i] = (unsigned char) rand ();
    sn_status s = sn_model_load_memory (buf, size, &m, &err);
    CHECK (s != SN_OK && m == NULL, "random bytes round %d accepted", round);
    sn_model_free (m);
  }
  int flips_loaded = 0;
  for (int round = 0; round < 200; round++) {
    memcpy (buf, good, size);
    for (int k = 0; k < 8; k++)
      buf[rand () % size] ^= (unsigned char) (1u << (rand () % 8));
    if (sn_model_load_memory (buf, size, &m, &err) == SN_OK) {
      flips_loaded++;        /* a flip in a weight is still a valid model */
      sn_model_free (m);
    } else {
      CHECK (err.message[0] != '\0', "bit flip refused without a message");
    }
  }
  printf ("corrupt: %d/%d truncations refused, %d/200 bit-flipped models "
      "still valid\n", truncated_failures, truncations, flips_loaded);
  free (buf);
}

static float
max_abs_diff (const float *a, const float *b, size_t n)
{
  float d = 0.0f;
  for (size_t i = 0; i < n; i++)
    d = fmaxf (d, fabsf (a[i] - b[i]));
  return d;
}

static void
test_runs (const unsigned char *good, size_t size)
{
  sn_model *m;
  sn_error err;
  if (sn_model_load_memory (good, size, &m, &err) != SN_OK) {
    CHECK (0, "good model refused: %s", err.message);
    return;
  }
  sn_input_info in;
  sn_model_input_info (m, &in);
  int k = sn_model_num_classes (m), batch = 3;
  size_t image = (size_t) in.channels * in.height * in.width;
  float *x = malloc (sizeof (float) * image * batch);
  float *y1 = malloc (sizeof (float) * k * batch);
  float *y2 = malloc (sizeof (float) * k * batch);
  float *single = malloc (sizeof (float) * k);
  srand (7);
  for (size_t i = 0; i < image * batch; i++)
    x[i] = (float) rand () / RAND_MAX * 2.0f - 1.0f;
  /* The planner writes each stride-1 unit's last conv in place over the
   * unit's input (its residual): 252 KiB for this model, 270 without. */
  CHECK (sn_model_arena_bytes (m) > 0 && sn_model_arena_bytes (m) <= 252 * 1024,
      "arena %zu bytes", sn_model_arena_bytes (m));
  sn_context *c1, *c2;
  CHECK (sn_context_create (m, 1, &c1, &err) == SN_OK, "%s", err.message);
  CHECK (sn_context_create (m, 2, &c2, &err) == SN_OK, "%s", err.message);
  CHECK (sn_context_threads (c2) == 2, "threads %d", sn_context_threads (c2));
  CHECK (sn_context_run (c1, x, batch, y1, &err) == SN_OK, "%s", err.message);
  CHECK (sn_context_run (c2, x, batch, y2, &err) == SN_OK, "%s", err.message);
  /* Threads split work, they do not change any sum: identical results. */
  CHECK (max_abs_diff (y1, y2, (size_t) k * batch) == 0.0f,
      "1 vs 2 threads differ by %g", max_abs_diff (y1, y2, (size_t) k * batch));
  for (int n = 0; n < batch; n++) {
    sn_context_run (c2, x + image * n, 1, single, &err);
    CHECK (max_abs_diff (single, y1 + (size_t) k * n, k) == 0.0f,
        "image %d alone differs from the batch", n);
  }
  /* After the first run nothing is allocated, batched or not. */
  long before = allocations;
  for (int r = 0; r < 5; r++) {
    sn_context_run (c1, x, 1, y1, &err);
    sn_context_run (c2, x, 1, y2, &err);
    sn_context_run (c2, x, batch, y2, &err);
  }
  CHECK (allocations == before, "%ld allocations during warm runs",
      allocations - before);
  CHECK (before > 0, "allocation counting is not wired (no allocation seen)");
  /* Bad arguments. */
  CHECK (sn_context_run (c1, x, 0, y1, &err) == SN_ERR_INVALID_ARG
      && strstr (err.message, "batch"), "batch 0: %s", err.message);
  CHECK (sn_context_run (c1, NULL, 1, y1, &err) == SN_ERR_INVALID_ARG,
      "NULL input accepted");
  sn_context *bad = (sn_context *) 0x1;
  CHECK (sn_context_create (m, -1, &bad, &err) == SN_ERR_INVALID_ARG
      && bad == NULL && strstr (err.message, "threads"), "threads -1 accepted");
  sn_context_free (c1);
  sn_context_free (c2);
  sn_model_free (m);
  free (x);
  free (y1);
  free (y2);
  free (single);
}

/* Threads of this process (entries of /proc/self/task); -1 without it. */
static int
count_threads (void)
{
  DIR *d = opendir ("/proc/self/task");
  if (d == NULL)
    return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir (d)) != NULL;)
    n += e->d_name[0] != '.';
  closedir (d);
  return n;
}

/* Threads of this process once the count stops falling: the lowest count
 * over 50 ms without a drop (at most 1 s). A thread may still be listed
 * for a moment after it was joined, and libgomp's worker threads end on
 * their own after their region's thread has. */
static int
settled_threads (void)
{
  int n = count_threads ();
  for (int waited = 0, calm = 0; n >= 0 && calm < 5 && waited < 100;
      waited++) {
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    nanosleep (&tick, NULL);
    int now = count_threads ();
    calm = now < n ? 0 : calm + 1;
    n = now < n ? now : n;
  }
  return n;
}

typedef struct {
  int calls[300];
} parallel_counts;

static void
count_call (void *data, int i)
{
  parallel_counts *c = data;
  __atomic_fetch_add (&c->calls[i], 1, __ATOMIC_RELAXED);
}

/* A context's team: sn_context_parallel calls each index once on any
 * thread count; runs after the team went to sleep (a camera's gaps) give
 * 1 thread's bits; freed contexts leave no thread behind. */
static void
test_team (const unsigned char *good, size_t size)
{
  sn_model *m;
  sn_error err;
  if (sn_model_load_memory (good, size, &m, &err) != SN_OK) {
    CHECK (0, "good model refused: %s", err.message);
    return;
  }
  sn_input_info in;
  sn_model_input_info (m, &in);
  int k = sn_model_num_classes (m);
  size_t image = (size_t) in.channels * in.height * in.width;
  float *x = malloc (sizeof (float) * image), *y1 = malloc (sizeof (float) * k);
  float *y = malloc (sizeof (float) * k);
  srand (11);
  for (size_t i = 0; i < image; i++)
    x[i] = (float) rand () / RAND_MAX * 2.0f - 1.0f;
  /* The baseline after a first 3-thread context (the most this test
   * makes) came and went: threads that a runtime starts once and keeps are
   * in it, not counted as the contexts' (ThreadSanitizer's background
   * thread, started at the process's first thread; LLVM's libomp, which
   * keeps a finished region's worker threads in a pool for the next region
   * of any thread, where GCC's libgomp ends them with the region's thread).
   * A context that leaves its own thread behind still adds one each time. */
  sn_context *warm;
  if (sn_context_create (m, 3, &warm, &err) == SN_OK) {
    sn_context_run (warm, x, 1, y, &err);
    sn_context_free (warm);
  }
  int baseline = settled_threads ();
  sn_context *c1;
  CHECK (sn_context_create (m, 1, &c1, &err) == SN_OK, "%s", err.message);
  sn_context_run (c1, x, 1, y1, &err);
  for (int threads = 1; threads <= 3; threads++) {
    sn_context *c;
    CHECK (sn_context_create (m, threads, &c, &err) == SN_OK, "%s",
        err.message);
    static const int ns[] = { 0, 1, 3, 257 };
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
      parallel_counts counts = { { 0 } };
      CHECK (sn_context_parallel (c, ns[j], count_call, &counts, &err)
          == SN_OK, "parallel: %s", err.message);
      int wrong = 0;
      for (int i = 0; i < 300; i++)
        wrong += counts.calls[i] != (i < ns[j]);
      CHECK (wrong == 0, "%d threads, n %d: %d indices not called once",
          threads, ns[j], wrong);
    }
    for (int r = 0; r < 3; r++) {   /* past the team's spin: asleep */
      struct timespec gap = { 0, 40 * 1000 * 1000 };
      nanosleep (&gap, NULL);
      CHECK (sn_context_run (c, x, 1, y, &err) == SN_OK, "%s", err.message);
      CHECK (max_abs_diff (y, y1, k) == 0.0f, "%d threads after a 40 ms "
          "gap: differs from 1 thread by %g", threads,
          max_abs_diff (y, y1, k));
    }
    CHECK (sn_context_parallel (c, 1, NULL, NULL, &err) == SN_ERR_INVALID_ARG
        && sn_context_parallel (c, -1, count_call, NULL, &err)
        == SN_ERR_INVALID_ARG && strstr (err.message, "n must be"),
        "bad parallel arguments accepted");
    sn_context_free (c);
  }
  for (int i = 0; i < 8; i++) {     /* contexts come and go */
    sn_context *c;
    if (sn_context_create (m, 2, &c, &err) == SN_OK) {
      sn_context_run (c, x, 1, y, &err);
      sn_context_free (c);
    }
  }
  sn_context_free (c1);
  int after = settled_threads ();
  CHECK (baseline < 0 || after == baseline,
      "%d threads before the contexts, %d after they were freed", baseline,
      after);
  sn_model_free (m);
  free (x);
  free (y1);
  free (y);
}

/* logits of `batch` images of x on a model of `precision` and `threads`;
 * NULL (after a failed CHECK) when it does not load or run. */
static float *
run_precision (const unsigned char *good, size_t size, sn_precision precision,
    int threads, const float *x, int batch)
{
  sn_model *m;
  sn_context *c = NULL;
  sn_error err;
  if (sn_model_load_memory_precision (good, size, precision, &m, &err)
      != SN_OK) {
    CHECK (0, "%s model refused: %s", sn_precision_name (precision),
        err.message);
    return NULL;
  }
  CHECK (sn_model_precision (m) == precision, "model says precision %d",
      (int) sn_model_precision (m));
  float *y = malloc (sizeof (float) * sn_model_num_classes (m) * batch);
  bool ok = sn_context_create (m, threads, &c, &err) == SN_OK
      && sn_context_run (c, x, batch, y, &err) == SN_OK;
  CHECK (ok, "%s run: %s", sn_precision_name (precision), err.message);
  long before = allocations;
  ok = ok && sn_context_run (c, x, batch, y, &err) == SN_OK;
  CHECK (allocations == before, "%ld allocations in a warm %s run",
      allocations - before, sn_precision_name (precision));
  sn_context_free (c);
  sn_model_free (m);
  if (!ok)
    free (y);
  return ok ? y : NULL;
}

/* The precisions: names, refusals with a reason, and bf16 (where this CPU
 * has it) computing the same network as fp32, to bf16's rounding, with the
 * same bits on 1 and 2 threads. */
/* One ISA decision: SHUFFLENET_ISA forces ref (and any ISA the CPU runs);
 * an unknown name, or one the CPU lacks, leaves the best; the choice is
 * read at each call. */
static void
test_isa (void)
{
  const char *best, *names[] = { "avx512", "avx2", "ref" };
  int rank = -1;

  unsetenv ("SHUFFLENET_ISA");
  best = sn_isa_name ();
  for (int i = 0; i < 3; i++)
    if (strcmp (best, names[i]) == 0)
      rank = i;
  CHECK (rank >= 0, "sn_isa_name () is '%s'", best);
  setenv ("SHUFFLENET_ISA", "ref", 1);
  CHECK (strcmp (sn_isa_name (), "ref") == 0, "ref forced: %s", sn_isa_name ());
  for (int i = 0; i < 3; i++) {
    setenv ("SHUFFLENET_ISA", names[i], 1);
    CHECK (strcmp (sn_isa_name (), i >= rank ? names[i] : best) == 0,
        "%s forced on a %s CPU: %s", names[i], best, sn_isa_name ());
  }
  setenv ("SHUFFLENET_ISA", "sse9", 1);
  CHECK (strcmp (sn_isa_name (), best) == 0, "unknown name: %s",
      sn_isa_name ());
  unsetenv ("SHUFFLENET_ISA");
}

static void
test_precision (const unsigned char *good, size_t size)
{
  CHECK (strcmp (sn_precision_name (SN_PRECISION_FP32), "fp32") == 0
      && strcmp (sn_precision_name (SN_PRECISION_BF16), "bf16") == 0
      && sn_precision_name ((sn_precision) 7) == NULL, "precision names");
  CHECK (sn_precision_available (SN_PRECISION_FP32), "fp32 unavailable");
  sn_model *m = (sn_model *) 0x1;
  sn_error err = { 0 };
  CHECK (sn_model_load_memory_precision (good, size, (sn_precision) 7, &m,
          &err) == SN_ERR_INVALID_ARG && m == NULL
      && strstr (err.message, "precision"), "precision 7: %s", err.message);
  /* Forcing the AVX2 kernels turns bf16 off, with the reason. */
  const char *saved = getenv ("SHUFFLENET_ISA");
  char *keep = saved ? strdup (saved) : NULL;
  setenv ("SHUFFLENET_ISA", "avx2", 1);
  CHECK (!sn_precision_available (SN_PRECISION_BF16)
      && sn_model_load_memory_precision (good, size, SN_PRECISION_BF16, &m,
          &err) == SN_ERR_UNSUPPORTED && m == NULL
      && strstr (err.message, "AVX512_BF16"), "bf16 on avx2: %s",
      err.message);
  if (keep)
    setenv ("SHUFFLENET_ISA", keep, 1);
  else
    unsetenv ("SHUFFLENET_ISA");
  free (keep);
  if (!sn_precision_available (SN_PRECISION_BF16)) {
    CHECK (sn_model_load_memory_precision (good, size, SN_PRECISION_BF16, &m,
            &err) == SN_ERR_UNSUPPORTED && strstr (err.message, "AVX512_BF16"),
        "bf16 refused without a reason: %s", err.message);
    printf ("engine: this CPU has no bf16; its runs are not tested here\n");
    return;
  }
  int batch = 2, k = 0;
  sn_model *probe;
  sn_model_load_memory (good, size, &probe, &err);
  sn_input_info in;
  sn_model_input_info (probe, &in);
  k = sn_model_num_classes (probe);
  sn_model_free (probe);
  size_t image = (size_t) in.channels * in.height * in.width;
  float *x = malloc (sizeof (float) * image * batch);
  srand (11);
  for (size_t i = 0; i < image * batch; i++)
    x[i] = (float) rand () / RAND_MAX * 2.0f - 1.0f;
  float *f32 = run_precision (good, size, SN_PRECISION_FP32, 1, x, batch);
  float *b1 = run_precision (good, size, SN_PRECISION_BF16, 1, x, batch);
  float *b2 = run_precision (good, size, SN_PRECISION_BF16, 2, x, batch);
  if (f32 && b1 && b2) {
    float top = 0.0f;
    for (int i = 0; i < k * batch; i++)
      top = fabsf (f32[i]) > top ? fabsf (f32[i]) : top;
    float d = max_abs_diff (f32, b1, (size_t) k * batch);
    /* 8-bit operands: a few % of the logits' scale; a wrong layer is O(1) */
    CHECK (d > 0.0f && d <= 0.05f * (top > 1.0f ? top : 1.0f),
        "bf16 vs fp32: max |diff| %g, largest logit %g", d, top);
    CHECK (max_abs_diff (b1, b2, (size_t) k * batch) == 0.0f,
        "bf16: 1 vs 2 threads differ by %g",
        max_abs_diff (b1, b2, (size_t) k * batch));
  }
  free (x);
  free (f32);
  free (b1);
  free (b2);
}

static double
wall_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* The per-op profile on 1 and 2 threads: every op named, with a kind and
 * a time >= 0 that add up to no more than the run's wall time, and to more
 * than nothing. (Its accuracy is a benchmark's matter, not a test's.) */
static void
test_profile (const unsigned char *good, size_t size)
{
  sn_model *m;
  sn_error err;
  if (sn_model_load_memory (good, size, &m, &err) != SN_OK)
    return;
  sn_input_info in;
  sn_model_input_info (m, &in);
  size_t image = (size_t) in.channels * in.height * in.width;
  float *x = calloc (image, sizeof (float));
  float *y = malloc (sizeof (float) * sn_model_num_classes (m));
  for (int threads = 1; threads <= 2; threads++) {
    sn_context *c;
    if (sn_context_create (m, threads, &c, &err) != SN_OK) {
      CHECK (0, "%s", err.message);
      continue;
    }
    sn_context_set_profiling (c, true);
    sn_context_run (c, x, 1, y, &err);           /* warm-up */
    double t0 = wall_ms ();
    sn_status s = sn_context_run (c, x, 1, y, &err);
    double wall = wall_ms () - t0, sum = 0.0;
    int n = sn_context_profile_at (c, 0, NULL, NULL, NULL, NULL), bad = 0;
    for (int i = 0; i < n; i++) {
      const char *name, *kind;
      double ms = -1.0, macs = -1.0;
      sn_context_profile_at (c, i, &name, &kind, &ms, &macs);
      bad += !name || !*name || !kind || !*kind || ms < 0.0 || macs < 0.0;
      sum += ms;
    }
    const char *past;
    sn_context_profile_at (c, n, &past, NULL, NULL, NULL);
    CHECK (s == SN_OK && n > 0 && bad == 0 && past == NULL,
        "%d threads: %d ops, %d without name, kind or time", threads, n, bad);
    CHECK (sum > 0.0 && sum <= wall + 0.01, "%d threads: ops sum to %.3f ms "
        "in a run of %.3f ms", threads, sum, wall);
    sn_context_free (c);
  }
  sn_model_free (m);
  free (x);
  free (y);
}

static void
test_helpers (void)
{
  float s[6] = { 0.1f, 3.0f, -1.0f, 3.0f, 2.5f, 0.0f };
  int idx[6];
  float val[6];
  CHECK (sn_top_k (s, 6, 3, idx, val) == 3 && idx[0] == 1 && idx[1] == 3
      && idx[2] == 4 && val[2] == 2.5f, "top-3 %d %d %d", idx[0], idx[1],
      idx[2]);
  CHECK (sn_top_k (s, 6, 10, idx, NULL) == 6 && idx[5] == 2, "top-k > n");
  CHECK (sn_top_k (s, 6, 0, idx, NULL) == 0, "top-0");
  float p[3] = { 1000.0f, 1000.0f, -1000.0f };
  sn_softmax (p, 3);
  CHECK (fabsf (p[0] - 0.5f) < 1e-6f && fabsf (p[1] - 0.5f) < 1e-6f
      && p[2] == 0.0f, "softmax of large logits: %g %g %g", p[0], p[1], p[2]);
  CHECK (strcmp (sn_status_name (SN_ERR_UNSUPPORTED), "unsupported model") == 0,
      "status name");
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: test_engine GOOD.onnx UNSUPPORTED.onnx\n");
    return 2;
  }
  size_t size;
  unsigned char *good = read_all (argv[1], &size);
  if (good == NULL) {
    fprintf (stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  test_helpers ();
  test_isa ();
  test_bad_files (argv[2]);
  test_corrupt_bytes (good, size);
  test_runs (good, size);
  test_team (good, size);
  test_profile (good, size);
  test_precision (good, size);
  free (good);
  printf ("engine: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
