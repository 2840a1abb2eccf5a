/* test_kernels.c - every vectorized kernel table this CPU can run, checked
 * against the reference kernels (kernels_ref.c) on seeded random data.
 *
 * Usage: test_kernels [-v] [seed]   (default seed 1; the seed is printed, so
 * a failure replays exactly; -v lists every case). Exit status 0 only when
 * every check passed.
 *
 * Tolerance: fast and reference both accumulate in fp32, in different
 * orders and with/without FMA contraction. Each result is compared as
 *   |fast - ref| <= 1e-5 * S + 1e-30,  S = sum of |terms| (bias, every
 *   weight*input product, residual),
 * with S computed by running the reference on |weights|, |inputs|. The
 * rounding error of an n-term fp32 sum is bounded by ~n * 2^-24 * S but
 * in practice is a random walk, ~sqrt(n) * 2^-24 * S: below 1.2e-6 S for
 * the pointwise sums here (n <= 321) and 1.9e-6 S for the dense layer
 * (n = 961), so 1e-5 leaves a 5-10x margin; a wrong, missing or doubled
 * term moves the result by ~S / n >= 1e-3 S, 100x over the tolerance. Max
 * pooling has no rounding and is compared exactly.
 *
 * Inputs sit against a PROT_NONE guard page (alternately right after and
 * right before the buffer), so a vector load that strays outside a plane
 * crashes the test (reported with the case) instead of passing by luck.
 * Outputs are pre-filled (a sentinel, or the residual when in place) and
 * every element outside the requested tile must keep its value. */
#include "kernels/kernels.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TOL_REL 1e-5
#define SENTINEL 1234.5f

static int n_pass, n_fail;
static uint64_t rng_state;
static char current[256];       /* the case being run, for messages */
static bool verbose;            /* -v: print every case */

/* ---------------------------------------------------------------- utils */
static uint64_t
rng_next (void)
{
  /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int
rng_int (int n)
{
  return (int) (rng_next () % (uint64_t) n);
}

static float
rng_float (void)
{
  return (float) ((double) (rng_next () >> 40) / (double) (1 << 24)) * 2.0f
      - 1.0f;
}

static void
fill_random (float *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = rng_float ();
}

/* x rounded to bf16 (round to nearest even) and back: what the bf16 pw
 * kernel multiplies (finite x). */
static float
bf16_rounded (float x)
{
  uint32_t u;
  memcpy (&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy (&x, &u, sizeof x);
  return x;
}

/* The operands the table's pw multiplies: a copy of p, rounded to bf16
 * for the bf16 table. */
static float *
pw_operands (const sn_kernel_table * t, const float *p, size_t n)
{
  bool bf16 = strcmp (t->isa, "avx512bf16") == 0;
  float *q = malloc (n * sizeof (float) + 1);
  if (q == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    q[i] = bf16 ? bf16_rounded (p[i]) : p[i];
  return q;
}

static void
fill_value (float *p, size_t n, float v)
{
  for (size_t i = 0; i < n; i++)
    p[i] = v;
}

static void
fill_abs (float *dst, const float *src, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = fabsf (src[i]);
}

/* A buffer of n floats touching a PROT_NONE page: after its end when
 * guard_after, else before its start. Freed with guarded_free. */
typedef struct {
  void *map;
  size_t map_len;
  float *p;
} guarded;

static guarded
guarded_alloc (size_t n, bool guard_after)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);
  size_t bytes = n * sizeof (float);
  size_t data_pages = (bytes + page - 1) / page;
  guarded g = { NULL, (data_pages + 2) * page, NULL };
  g.map = mmap (NULL, g.map_len, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g.map == MAP_FAILED) {
    perror ("mmap");
    exit (2);
  }
  char *base = g.map;
  if (mprotect (base, page, PROT_NONE) != 0
      || mprotect (base + (data_pages + 1) * page, page, PROT_NONE) != 0) {
    perror ("mprotect");
    exit (2);
  }
  g.p = guard_after ? (float *) (base + (data_pages + 1) * page - bytes)
      : (float *) (base + page);
  return g;
}

static void
guarded_free (guarded * g)
{
  munmap (g->map, g->map_len);
}

/* Input rows [*i0, *i1) a k-row window of stride s and top pad pt reads
 * for the output rows [oy0, oy1), within [0, in_h). */
static void
window_rows (int in_h, int k, int s, int pt, int oy0, int oy1, int *i0,
    int *i1)
{
  int lo = oy0 * s - pt, hi = (oy1 - 1) * s - pt + k;
  *i0 = lo < 0 ? 0 : lo > in_h ? in_h : lo;
  *i1 = hi > in_h ? in_h : hi < *i0 ? *i0 : hi;
}

/* An input kept the way the engine keeps a value in row bands: of each of
 * `planes` planes (stride full_plane in `full`), only rows [i0, i1), with a
 * cache line (16 floats) of slack before and after each plane's rows,
 * filled with SLACK, and a guard page on one side. The kernel contract
 * (kernels.h): asked for some output rows, a kernel reads only the input
 * rows of their windows, plus at most a line beyond, whose values never
 * reach an output; SLACK in an output (or a crash) says it broke it. */
#define SLACK 1e30f

typedef struct {
  guarded g;
  const float *origin;          /* where row 0 of plane 0 would be */
  size_t plane;                 /* floats from one plane to the next */
} band_input;

static band_input
band_input_make (const float *full, size_t full_plane, int planes, int in_w,
    int i0, int i1, bool guard_after)
{
  band_input b;
  size_t rows = (size_t) (i1 - i0) * in_w;
  b.plane = 16 + rows + 16;
  b.g = guarded_alloc (b.plane * planes, guard_after);
  fill_value (b.g.p, b.plane * planes, SLACK);
  for (int p = 0; p < planes; p++)
    memcpy (b.g.p + p * b.plane + 16, full + p * full_plane
        + (size_t) i0 * in_w, rows * sizeof (float));
  b.origin = (const float *) ((uintptr_t) (b.g.p + 16)
      - (uintptr_t) ((size_t) i0 * in_w * sizeof (float)));
  return b;
}

/* A kernel reading past a plane hits a guard page: name the case. */
static void
on_crash (int sig)
{
  static const char msg[] = "FAIL crash (a read or write outside the "
      "buffers?) in: ";
  if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0
      || write (STDOUT_FILENO, current, strlen (current)) < 0
      || write (STDOUT_FILENO, "\n", 1) < 0)
    _exit (3);
  _exit (1);
}

static void *
xmalloc (size_t bytes)
{
  void *p = malloc (bytes ? bytes : 1);
  if (!p) {
    fprintf (stderr, "out of memory\n");
    exit (2);
  }
  return p;
}

/* got[i] must equal want[i] within TOL_REL * S[i] (S == NULL: exactly).
 * Outside the requested tile want holds the untouched initial output and
 * S is 0, so any stray write fails. Prints the first mismatch. */
static bool
check (const char *isa, const float *got, const float *want, const float *S,
    size_t n)
{
  for (size_t i = 0; i < n; i++) {
    double lim = S ? TOL_REL * S[i] + 1e-30 : 0.0;
    bool ok = fabs ((double) got[i] - want[i]) <= lim
        || (S == NULL && got[i] == want[i]);
    if (!ok) {
      printf ("FAIL %s %s: element %zu: got %.9g want %.9g (tol %.3g)\n",
          isa, current, i, got[i], want[i], lim);
      n_fail++;
      return false;
    }
  }
  if (verbose)
    printf ("ok %s %s\n", isa, current);
  n_pass++;
  return true;
}

/* ------------------------------------------------------------ pointwise */
typedef struct {
  int cin, cout;
  size_t npix, in_plane;
  int co0, co1;
  size_t p0, p1;
  int res_mode;                 /* 0 none, 1 separate planes, 2 in place */
  bool relu;
  bool guard_after;
} pw_case;

/* Output channel co lives in plane perm[co] (a channel shuffle). */
static void
pw_rows (float *base, size_t npix, const int *perm, int cout, float **rows)
{
  for (int co = 0; co < cout; co++)
    rows[co] = base + (size_t) perm[co] * npix;
}

/* Run one pw kernel: out (cout planes of npix, initialised to init) <-
 * kernel(in, weight, bias, res) over the case's tile. */
static void
pw_run (const pw_case * c, sn_pw_kernel k, const float *in, const float *w,
    const float *bias, const float *res, const float *init, const int *perm,
    float *out)
{
  size_t n = (size_t) c->cout * c->npix;
  float **rows = xmalloc (sizeof (float *) * (size_t) (c->cout + 1));
  const float **res_rows = xmalloc (sizeof (float *) * (size_t) (c->cout + 1));
  memcpy (out, c->res_mode == 2 ? res : init, n * sizeof (float));
  pw_rows (out, c->npix, perm, c->cout, rows);
  for (int co = 0; co < c->cout; co++)
    res_rows[co] = c->res_mode == 2 ? rows[co]
        : res + (size_t) perm[co] * c->npix;
  sn_pw_args a = {
    .cin = c->cin, .cout = c->cout, .npix = c->npix, .in = in,
    .in_plane = c->in_plane, .weight = w, .bias = bias,
    .out_rows = rows, .res_rows = c->res_mode ? res_rows : NULL,
    .relu = c->relu,
  };
  k (&a, c->co0, c->co1, c->p0, c->p1);
  free (rows);
  free (res_rows);
}

/* S <- reference on |inputs|, zero outside the tile. */
static void
pw_sum_abs (const pw_case * c, const float *in, size_t in_n, const float *w,
    const float *bias, const float *res, const int *perm, float *S)
{
  size_t n = (size_t) c->cout * c->npix, nw = (size_t) c->cout * c->cin;
  float *ain = xmalloc (in_n * sizeof (float)), *aw = xmalloc (nw * 4);
  float *ab = xmalloc ((size_t) c->cout * 4), *ares = xmalloc (n * 4);
  float *zero = xmalloc (n * 4);
  fill_abs (ain, in, in_n);
  fill_abs (aw, w, nw);
  fill_abs (ab, bias, (size_t) c->cout);
  fill_abs (ares, res, n);
  fill_value (zero, n, 0.0f);
  pw_case ac = *c;
  ac.relu = false;
  pw_run (&ac, sn_pw_f32__ref, ain, aw, ab, ares, zero, perm, S);
  for (int co = 0; co < c->cout; co++)
    for (size_t p = 0; p < c->npix; p++)
      if (co < c->co0 || co >= c->co1 || p < c->p0 || p >= c->p1)
        S[(size_t) perm[co] * c->npix + p] = 0.0f;
  free (ain);
  free (aw);
  free (ab);
  free (ares);
  free (zero);
}

static void
pw_test (const sn_kernel_table * t, const pw_case * c)
{
  size_t n = (size_t) c->cout * c->npix, nw = (size_t) c->cout * c->cin;
  size_t in_n = (size_t) (c->cin - 1) * c->in_plane + c->npix;
  guarded gin = guarded_alloc (in_n, c->guard_after);
  guarded gres = guarded_alloc (n, !c->guard_after);
  guarded gpk = guarded_alloc (t->pw_packed_size (c->cout, c->cin), true);
  float *w = xmalloc (nw * 4), *bias = xmalloc ((size_t) c->cout * 4);
  float *init = xmalloc (n * 4), *got = xmalloc (n * 4);
  float *want = xmalloc (n * 4), *S = xmalloc (n * 4);
  int *perm = xmalloc (sizeof (int) * (size_t) c->cout);
  fill_random (gin.p, in_n);
  fill_random (gres.p, n);
  fill_random (w, nw);
  fill_random (bias, (size_t) c->cout);
  fill_value (init, n, SENTINEL);
  for (int co = 0; co < c->cout; co++)   /* reverse order: a shuffle */
    perm[co] = c->cout - 1 - co;
  t->pw_pack (w, c->cout, c->cin, gpk.p);
  snprintf (current, sizeof current, "pw cin=%d cout=%d npix=%zu in_plane=%zu "
      "co=[%d,%d) p=[%zu,%zu) res=%d relu=%d", c->cin, c->cout, c->npix,
      c->in_plane, c->co0, c->co1, c->p0, c->p1, c->res_mode, c->relu);
  pw_run (c, t->pw, gin.p, gpk.p, bias, gres.p, init, perm, got);
  /* the reference on the operands the kernel multiplies (bf16: rounded;
   * their products are exact in fp32, only the order of the sums differs) */
  float *rin = pw_operands (t, gin.p, in_n), *rw = pw_operands (t, w, nw);
  pw_run (c, sn_pw_f32__ref, rin, rw, bias, gres.p, init, perm, want);
  pw_sum_abs (c, rin, in_n, rw, bias, gres.p, perm, S);
  check (t->isa, got, want, S, n);
  free (rin);
  free (rw);
  guarded_free (&gin);
  guarded_free (&gres);
  guarded_free (&gpk);
  free (w);
  free (bias);
  free (init);
  free (got);
  free (want);
  free (S);
  free (perm);
}

/* A pw tile computed in pieces (random cuts of its pixel and channel
 * ranges, pieces of a few pixels among them, as tasks and thread bands cut
 * them) equals the tile computed in one call, bit for bit: a pixel's sum
 * must not depend on whether it fell in a full register tile or a tail,
 * which is what makes results independent of the thread count. */
static void
pw_split_test (const sn_kernel_table * t, const pw_case * c)
{
  size_t n = (size_t) c->cout * c->npix, nw = (size_t) c->cout * c->cin;
  size_t in_n = (size_t) (c->cin - 1) * c->in_plane + c->npix;
  float *in = xmalloc (in_n * 4), *res = xmalloc (n * 4);
  float *w = xmalloc (nw * 4), *bias = xmalloc ((size_t) c->cout * 4);
  float *pk = xmalloc (t->pw_packed_size (c->cout, c->cin) * 4);
  float *init = xmalloc (n * 4), *whole = xmalloc (n * 4);
  float *pieces = xmalloc (n * 4);
  int *perm = xmalloc (sizeof (int) * (size_t) c->cout);
  float **rows = xmalloc (sizeof (float *) * (size_t) c->cout);
  const float **res_rows = xmalloc (sizeof (float *) * (size_t) c->cout);
  fill_random (in, in_n);
  fill_random (res, n);
  fill_random (w, nw);
  fill_random (bias, (size_t) c->cout);
  fill_value (init, n, SENTINEL);
  for (int co = 0; co < c->cout; co++)
    perm[co] = co;
  t->pw_pack (w, c->cout, c->cin, pk);
  pw_run (c, t->pw, in, pk, bias, res, init, perm, whole);
  memcpy (pieces, c->res_mode == 2 ? res : init, n * 4);
  pw_rows (pieces, c->npix, perm, c->cout, rows);
  for (int co = 0; co < c->cout; co++)
    res_rows[co] = c->res_mode == 2 ? rows[co] : res + (size_t) co * c->npix;
  sn_pw_args a = {
    .cin = c->cin, .cout = c->cout, .npix = c->npix, .in = in,
    .in_plane = c->in_plane, .weight = pk, .bias = bias, .out_rows = rows,
    .res_rows = c->res_mode ? res_rows : NULL, .relu = c->relu,
  };
  int cuts = 0;
  for (int co = c->co0; co < c->co1;) {
    int co_end = co + 1 + rng_int (c->co1 - co);
    for (size_t p = c->p0; p < c->p1; cuts++) {
      size_t left = c->p1 - p;  /* short pieces (tails) half the time */
      size_t len = 1 + (size_t) rng_int (rng_int (2) ? 9 : (int) left);
      len = len < left ? len : left;
      t->pw (&a, co, co_end, p, p + len);
      p += len;
    }
    co = co_end;
  }
  snprintf (current, sizeof current, "pw split cin=%d cout=%d npix=%zu "
      "co=[%d,%d) p=[%zu,%zu) res=%d relu=%d: %d pieces", c->cin, c->cout,
      c->npix, c->co0, c->co1, c->p0, c->p1, c->res_mode, c->relu, cuts);
  check (t->isa, pieces, whole, NULL, n);
  free (in);
  free (res);
  free (w);
  free (bias);
  free (pk);
  free (init);
  free (whole);
  free (pieces);
  free (perm);
  free (rows);
  free (res_rows);
}

static void
pw_case_make (pw_case * c, int cin, int cout, size_t npix)
{
  *c = (pw_case) {
    .cin = cin, .cout = cout, .npix = npix, .in_plane = npix,
    .co0 = 0, .co1 = cout, .p0 = 0, .p1 = npix,
    .res_mode = rng_int (3), .relu = rng_int (2), .guard_after = rng_int (2),
  };
  if (rng_int (4) == 0)         /* planes with a gap between them */
    c->in_plane = npix + 1 + (size_t) rng_int (5);
  if (rng_int (2)) {            /* a tile not at the origin */
    c->co0 = rng_int (cout);
    c->co1 = c->co0 + 1 + rng_int (cout - c->co0);
    c->p0 = (size_t) rng_int ((int) npix);
    c->p1 = c->p0 + 1 + (size_t) rng_int ((int) (npix - c->p0));
  }
}

static void
pw_suite (const sn_kernel_table * t)
{
  static const int cins[] = { 1, 3, 7, 8, 15, 16, 17, 20, 24, 40, 60, 80,
    160, 320
  };
  /* around the tiles: 8/4 channels (AVX-512 block/half), 4/2 (AVX2);
   * 48 and 24 pixels (16 and 8 lanes) */
  static const int couts[] = { 1, 3, 4, 5, 7, 8, 12, 15, 16, 17, 20, 24, 60,
    72, 80, 160
  };
  static const size_t npixs[] = { 1, 3, 5, 7, 15, 16, 17, 24, 31, 33, 47,
    48, 49, 51, 54, 95, 96, 97, 196, 200, 784
  };
  const int ni = sizeof cins / sizeof cins[0];
  const int no = sizeof couts / sizeof couts[0];
  const int np = sizeof npixs / sizeof npixs[0];
  pw_case c;
  /* every (cout, npix) pair and every (cin, npix) pair, the third size
   * walking its list along a diagonal; flags drawn from the seed */
  for (int o = 0; o < no; o++)
    for (int p = 0; p < np; p++) {
      pw_case_make (&c, cins[(o + p) % ni], couts[o], npixs[p]);
      pw_test (t, &c);
    }
  for (int i = 0; i < ni; i++)
    for (int p = 0; p < np; p++) {
      pw_case_make (&c, cins[i], couts[(i + p) % no], npixs[p]);
      pw_test (t, &c);
    }
  /* any split of a tile gives the same bits */
  for (int i = 0; i < ni; i++)
    for (int o = 0; o < no; o += 3) {
      pw_case_make (&c, cins[i], couts[(i + o) % no], npixs[(i + 2 * o) % np]);
      pw_split_test (t, &c);
    }
  /* empty tiles write nothing */
  pw_case_make (&c, 8, 8, 40);
  c.co0 = c.co1 = 3;
  pw_test (t, &c);
  pw_case_make (&c, 8, 8, 40);
  c.p0 = c.p1 = 17;
  pw_test (t, &c);
}

/* ------------------------------------------------------------ depthwise */
/* rows_only: the vectorized kernel reads a band_input of the rows it
 * needs (the reference the whole plane). */
static void
dw_test (const sn_kernel_table * t, sn_dw_args a, int oy0, int oy1,
    bool guard_after, bool rows_only)
{
  size_t in_n = (size_t) a.in_h * a.in_w, n = (size_t) a.out_h * a.out_w;
  size_t kk = (size_t) a.k * a.k;
  guarded gin = guarded_alloc (in_n, guard_after);
  float *w = xmalloc (kk * 4), *aw = xmalloc (kk * 4);
  float *ain = xmalloc (in_n * 4), *got = xmalloc (n * 4);
  float *want = xmalloc (n * 4), *S = xmalloc (n * 4);
  fill_random (gin.p, in_n);
  fill_random (w, kk);
  fill_abs (ain, gin.p, in_n);
  fill_abs (aw, w, kk);
  fill_value (got, n, SENTINEL);
  fill_value (want, n, SENTINEL);
  fill_value (S, n, 0.0f);
  a.in = gin.p;
  a.weight = w;
  a.bias = rng_float ();
  a.out = got;
  snprintf (current, sizeof current, "dw k=%d in=%dx%d out=%dx%d stride=%d "
      "pad=(%d,%d) rows=[%d,%d) relu=%d%s", a.k, a.in_h, a.in_w, a.out_h,
      a.out_w, a.stride, a.pad_top, a.pad_left, oy0, oy1, a.relu,
      rows_only ? " (input rows only)" : "");
  int i0, i1;
  window_rows (a.in_h, a.k, a.stride, a.pad_top, oy0, oy1, &i0, &i1);
  band_input bin = band_input_make (gin.p, in_n, 1, a.in_w, i0, i1,
      !guard_after);
  if (rows_only)
    a.in = bin.origin;
  t->dw3x3 (&a, oy0, oy1);
  a.in = gin.p;
  a.out = want;
  sn_dw_f32__ref (&a, oy0, oy1);
  sn_dw_args abs_a = a;
  abs_a.in = ain;
  abs_a.weight = aw;
  abs_a.bias = fabsf (a.bias);
  abs_a.relu = false;
  abs_a.out = S;
  sn_dw_f32__ref (&abs_a, oy0, oy1);
  check (t->isa, got, want, S, n);
  guarded_free (&gin);
  guarded_free (&bin.g);
  free (w);
  free (aw);
  free (ain);
  free (got);
  free (want);
  free (S);
}

/* Output size for a k-tap window: pads pt before, pb after. 0 if none. */
static int
out_size (int in, int k, int stride, int pt, int pb)
{
  return in + pt + pb < k ? 0 : (in + pt + pb - k) / stride + 1;
}

/* dw_multi on `planes` planes (input planes in_plane apart, possibly
 * padded; outputs through plane pointers in reverse order) must equal the
 * table's dw3x3 (the reference for k != 3) plane by plane, bit for bit.
 * rows_only: its input holds only the rows it needs (band_input). */
static void
dw_multi_test (const sn_kernel_table * t, sn_dw_args a, int planes, int oy0,
    int oy1, bool guard_after, bool rows_only)
{
  size_t in_n = (size_t) a.in_h * a.in_w, n = (size_t) a.out_h * a.out_w;
  size_t kk = (size_t) a.k * a.k, in_plane = in_n + (size_t) rng_int (3) * 16;
  guarded gin = guarded_alloc (in_plane * planes, guard_after);
  float *w = xmalloc (kk * planes * 4), *bias = xmalloc (planes * 4);
  float *got = xmalloc (n * planes * 4), *want = xmalloc (n * planes * 4);
  float **rows = xmalloc (sizeof (float *) * planes);
  fill_random (gin.p, in_plane * planes);
  fill_random (w, kk * planes);
  fill_random (bias, planes);
  fill_value (got, n * planes, SENTINEL);
  fill_value (want, n * planes, SENTINEL);
  snprintf (current, sizeof current, "dw_multi planes=%d k=%d in=%dx%d "
      "out=%dx%d stride=%d pad=(%d,%d) rows=[%d,%d) relu=%d%s", planes, a.k,
      a.in_h, a.in_w, a.out_h, a.out_w, a.stride, a.pad_top, a.pad_left, oy0,
      oy1, a.relu, rows_only ? " (input rows only)" : "");
  int i0, i1;
  window_rows (a.in_h, a.k, a.stride, a.pad_top, oy0, oy1, &i0, &i1);
  band_input bin = band_input_make (gin.p, in_plane, planes, a.in_w, i0, i1,
      !guard_after);
  for (int j = 0; j < planes; j++)
    rows[j] = got + (size_t) (planes - 1 - j) * n;
  sn_dw_multi_args m = { .in_h = a.in_h, .in_w = a.in_w, .out_h = a.out_h,
    .out_w = a.out_w, .k = a.k, .stride = a.stride, .pad_top = a.pad_top,
    .pad_left = a.pad_left, .planes = planes,
    .in = rows_only ? bin.origin : gin.p,
    .in_plane = rows_only ? bin.plane : in_plane, .weight = w, .bias = bias,
    .out_rows = rows, .relu = a.relu
  };
  t->dw_multi (&m, oy0, oy1);
  for (int j = 0; j < planes; j++) {
    sn_dw_args p = a;
    p.in = gin.p + (size_t) j * in_plane;
    p.weight = w + kk * j;
    p.bias = bias[j];
    p.out = want + (size_t) (planes - 1 - j) * n;
    (a.k == 3 ? t->dw3x3 : sn_dw_f32__ref) (&p, oy0, oy1);
  }
  check (t->isa, got, want, NULL, n * planes);
  guarded_free (&gin);
  guarded_free (&bin.g);
  free (w);
  free (bias);
  free (got);
  free (want);
  free (rows);
}

static void
dw_suite (const sn_kernel_table * t)
{
  static const int sizes[][2] = { {1, 1}, {1, 5}, {2, 2}, {3, 3}, {5, 7},
  {7, 7}, {8, 8}, {9, 17}, {14, 14}, {15, 15}, {16, 16}, {17, 17},
  {13, 31}, {28, 28}, {33, 20}, {56, 56}, {1, 40}, {40, 1}, {4, 50}
  };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int stride = 1; stride <= 2; stride++)
      for (int pads = 0; pads < 8; pads++) {
        /* pad_top, pad_left in {0, 1}; bottom/right pad 0 or 1 */
        int pt = pads & 1, pl = (pads >> 1) & 1, pb = (pads >> 2) & 1;
        sn_dw_args a = { .in_h = sizes[s][0], .in_w = sizes[s][1], .k = 3,
          .stride = stride, .pad_top = pt, .pad_left = pl, .relu = rng_int (2)
        };
        a.out_h = out_size (a.in_h, 3, stride, pt, pb);
        a.out_w = out_size (a.in_w, 3, stride, pl, pb);
        if (a.out_h == 0 || a.out_w == 0)
          continue;
        int oy0 = 0, oy1 = a.out_h;
        if (rng_int (3) == 0) { /* a band of rows */
          oy0 = rng_int (a.out_h);
          oy1 = oy0 + 1 + rng_int (a.out_h - oy0);
        }
        dw_test (t, a, oy0, oy1, rng_int (2), rng_int (2));
        dw_multi_test (t, a, rng_int (4) == 0 ? 41 : 1 + rng_int (6), oy0,
            oy1, rng_int (2), rng_int (2));
      }
  /* geometry left to the reference: 5x5, stride 3 */
  sn_dw_args a5 = { .in_h = 9, .in_w = 11, .out_h = 9, .out_w = 11, .k = 5,
    .stride = 1, .pad_top = 2, .pad_left = 2
  };
  dw_test (t, a5, 0, 9, true, false);
  dw_test (t, a5, 3, 7, true, true);
  dw_multi_test (t, a5, 3, 2, 8, true, true);
  sn_dw_args s3 = { .in_h = 10, .in_w = 10, .out_h = 4, .out_w = 4, .k = 3,
    .stride = 3, .pad_top = 1, .pad_left = 1, .relu = true
  };
  dw_test (t, s3, 0, 4, false, false);
  dw_test (t, s3, 1, 3, false, true);
}

/* ----------------------------------------------------- dense convolution */
/* Floats from one input plane to the next: h*w (packed), or padded by a
 * few floats (as the engine pads its arena planes), at random. */
static size_t
plane_stride (int h, int w)
{
  return (size_t) h * w + (rng_int (2) ? 0 : 1 + rng_int (16));
}

/* rows_only: as in dw_test, for each of the cin input planes */
static void
conv_test (const sn_kernel_table * t, sn_conv_args a, int oy0, int oy1,
    bool with_res, bool guard_after, bool rows_only)
{
  size_t in_n = (size_t) (a.cin - 1) * a.in_plane + (size_t) a.in_h * a.in_w;
  size_t n = (size_t) a.out_h * a.out_w, nw = (size_t) a.cin * a.kh * a.kw;
  guarded gin = guarded_alloc (in_n, guard_after);
  guarded gres = guarded_alloc (n, !guard_after);
  float *w = xmalloc (nw * 4), *aw = xmalloc (nw * 4);
  float *ain = xmalloc (in_n * 4), *ares = xmalloc (n * 4);
  float *got = xmalloc (n * 4), *want = xmalloc (n * 4), *S = xmalloc (n * 4);
  fill_random (gin.p, in_n);
  fill_random (gres.p, n);
  fill_random (w, nw);
  fill_abs (ain, gin.p, in_n);
  fill_abs (ares, gres.p, n);
  fill_abs (aw, w, nw);
  fill_value (got, n, SENTINEL);
  fill_value (want, n, SENTINEL);
  fill_value (S, n, 0.0f);
  a.in = gin.p;
  a.weight = w;
  a.bias = rng_float ();
  a.res = with_res ? gres.p : NULL;
  a.out = got;
  snprintf (current, sizeof current, "conv cin=%d in=%dx%d out=%dx%d k=%dx%d "
      "stride=%dx%d pad=(%d,%d) in_plane=%zu rows=[%d,%d) res=%d relu=%d%s",
      a.cin, a.in_h, a.in_w, a.out_h, a.out_w, a.kh, a.kw, a.stride_h,
      a.stride_w, a.pad_top, a.pad_left, a.in_plane, oy0, oy1, with_res,
      a.relu, rows_only ? " (input rows only)" : "");
  int i0, i1;
  window_rows (a.in_h, a.kh, a.stride_h, a.pad_top, oy0, oy1, &i0, &i1);
  band_input bin = band_input_make (gin.p, a.in_plane, a.cin, a.in_w, i0, i1,
      !guard_after);
  size_t in_plane = a.in_plane;
  if (rows_only) {
    a.in = bin.origin;
    a.in_plane = bin.plane;
  }
  t->conv (&a, oy0, oy1);
  a.in = gin.p;
  a.in_plane = in_plane;
  a.out = want;
  sn_conv_f32__ref (&a, oy0, oy1);
  sn_conv_args abs_a = a;
  abs_a.in = ain;
  abs_a.weight = aw;
  abs_a.bias = fabsf (a.bias);
  abs_a.res = with_res ? ares : NULL;
  abs_a.relu = false;
  abs_a.out = S;
  sn_conv_f32__ref (&abs_a, oy0, oy1);
  check (t->isa, got, want, S, n);
  guarded_free (&gin);
  guarded_free (&gres);
  guarded_free (&bin.g);
  free (w);
  free (aw);
  free (ain);
  free (ares);
  free (got);
  free (want);
  free (S);
}

static void
conv_suite (const sn_kernel_table * t)
{
  static const int sizes[][2] = { {1, 1}, {7, 9}, {16, 16}, {17, 17},
  {33, 35}, {6, 40}
  };
  static const int kernels[][2] = { {3, 3}, {1, 1}, {5, 5}, {2, 3}, {3, 1},
  {1, 9}
  };
  static const int strides[][2] = { {1, 1}, {2, 2}, {2, 1}, {1, 2}, {3, 3} };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
      for (size_t st = 0; st < sizeof strides / sizeof strides[0]; st++) {
        int kh = kernels[k][0], kw = kernels[k][1];
        int pt = rng_int (2) && kh > 1, pl = rng_int (2) && kw > 1;
        sn_conv_args a = { .cin = 1 + rng_int (4), .in_h = sizes[s][0],
          .in_w = sizes[s][1], .kh = kh, .kw = kw, .stride_h = strides[st][0],
          .stride_w = strides[st][1], .pad_top = pt, .pad_left = pl,
          .relu = rng_int (2)
        };
        a.out_h = out_size (a.in_h, kh, a.stride_h, pt, pt);
        a.out_w = out_size (a.in_w, kw, a.stride_w, pl, rng_int (2));
        a.in_plane = plane_stride (a.in_h, a.in_w);
        if (a.out_h == 0 || a.out_w == 0)
          continue;
        int oy0 = rng_int (3) == 0 ? rng_int (a.out_h) : 0;
        int oy1 = oy0 + 1 + rng_int (a.out_h - oy0);
        conv_test (t, a, oy0, oy1, rng_int (2), rng_int (2), rng_int (2));
      }
  /* ShuffleNet's conv1: 3 -> 1 plane (of 24), 3x3 stride 2, 224 -> 112,
   * pad 1 (PyTorch) and pad 0 (TF same) */
  for (int pad = 0; pad <= 1; pad++) {
    sn_conv_args c1 = { .cin = 3, .in_h = 224, .in_w = 224, .out_h = 112,
      .out_w = 112, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
      .pad_top = pad, .pad_left = pad, .in_plane = 224 * 224, .relu = true
    };
    conv_test (t, c1, 0, 112, false, pad, false);
  }
}

/* ------------------------------- dense convolution, many channels at once */
static void
conv_multi_test (const sn_kernel_table * t, sn_conv_multi_args a, int co0,
    int co1, int oy0, int oy1, bool guard_after)
{
  size_t in_n = (size_t) (a.cin - 1) * a.in_plane + (size_t) a.in_h * a.in_w;
  size_t plane = (size_t) a.out_h * a.out_w, n = plane * a.cout;
  size_t nw = (size_t) a.cout * a.cin * a.kh * a.kw;
  guarded gin = guarded_alloc (in_n, guard_after);
  float *w = xmalloc (nw * 4), *aw = xmalloc (nw * 4);
  float *b = xmalloc ((size_t) a.cout * 4), *ab = xmalloc ((size_t) a.cout * 4);
  float *ain = xmalloc (in_n * 4);
  float *got = xmalloc (n * 4), *want = xmalloc (n * 4), *S = xmalloc (n * 4);
  float **rows = xmalloc (sizeof (float *) * (size_t) a.cout * 3);
  fill_random (gin.p, in_n);
  fill_random (w, nw);
  fill_random (b, (size_t) a.cout);
  fill_abs (ain, gin.p, in_n);
  fill_abs (aw, w, nw);
  fill_abs (ab, b, (size_t) a.cout);
  fill_value (got, n, SENTINEL);
  fill_value (want, n, SENTINEL);
  fill_value (S, n, 0.0f);
  for (int co = 0; co < a.cout; co++) {  /* planes in reverse order */
    size_t at = plane * (size_t) (a.cout - 1 - co);
    rows[co] = got + at;
    rows[a.cout + co] = want + at;
    rows[2 * a.cout + co] = S + at;
  }
  snprintf (current, sizeof current, "conv_multi cin=%d cout=%d in=%dx%d "
      "out=%dx%d k=%dx%d stride=%dx%d pad=(%d,%d) in_plane=%zu co=[%d,%d) "
      "rows=[%d,%d) relu=%d", a.cin, a.cout, a.in_h, a.in_w, a.out_h, a.out_w,
      a.kh, a.kw, a.stride_h, a.stride_w, a.pad_top, a.pad_left, a.in_plane,
      co0, co1, oy0, oy1, a.relu);
  a.in = gin.p;
  a.weight = w;
  a.bias = b;
  a.out_rows = rows;
  t->conv_multi (&a, co0, co1, oy0, oy1);
  a.out_rows = rows + a.cout;
  sn_conv_multi_f32__ref (&a, co0, co1, oy0, oy1);
  a.in = ain;
  a.weight = aw;
  a.bias = ab;
  a.relu = false;
  a.out_rows = rows + 2 * a.cout;
  sn_conv_multi_f32__ref (&a, co0, co1, oy0, oy1);
  check (t->isa, got, want, S, n);
  guarded_free (&gin);
  free (w);
  free (aw);
  free (b);
  free (ab);
  free (ain);
  free (got);
  free (want);
  free (S);
  free (rows);
}

static void
conv_multi_suite (const sn_kernel_table * t)
{
  static const int sizes[][2] = { {1, 1}, {5, 9}, {16, 16}, {17, 33},
  {24, 40}
  };
  static const int couts[] = { 1, 5, 8, 12, 13, 24, 30 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t o = 0; o < sizeof couts / sizeof couts[0]; o++) {
      /* mostly 3x3 (the vector path), sometimes other kernels */
      int kh = rng_int (4) ? 3 : 1 + rng_int (4);
      int kw = rng_int (4) ? 3 : 1 + rng_int (4);
      int sh = 1 + rng_int (2), sw = 1 + rng_int (2);
      int pt = kh > 1 && rng_int (2), pl = kw > 1 && rng_int (2);
      sn_conv_multi_args a = { .cin = 1 + rng_int (4), .cout = couts[o],
        .in_h = sizes[s][0], .in_w = sizes[s][1], .kh = kh, .kw = kw,
        .stride_h = sh, .stride_w = sw, .pad_top = pt, .pad_left = pl,
        .relu = rng_int (2)
      };
      a.out_h = out_size (a.in_h, kh, sh, pt, rng_int (2));
      a.out_w = out_size (a.in_w, kw, sw, pl, rng_int (2));
      a.in_plane = plane_stride (a.in_h, a.in_w);
      if (a.out_h == 0 || a.out_w == 0)
        continue;
      int co0 = 0, co1 = a.cout, oy0 = 0, oy1 = a.out_h;
      if (rng_int (2)) {
        co0 = rng_int (a.cout);
        co1 = co0 + 1 + rng_int (a.cout - co0);
        oy0 = rng_int (a.out_h);
        oy1 = oy0 + 1 + rng_int (a.out_h - oy0);
      }
      conv_multi_test (t, a, co0, co1, oy0, oy1, rng_int (2));
    }
  /* ShuffleNet's conv1, all 24 channels, both paddings */
  for (int pad = 0; pad <= 1; pad++) {
    sn_conv_multi_args c1 = { .cin = 3, .cout = 24, .in_h = 224, .in_w = 224,
      .out_h = 112, .out_w = 112, .kh = 3, .kw = 3, .stride_h = 2,
      .stride_w = 2, .pad_top = pad, .pad_left = pad, .in_plane = 224 * 224,
      .relu = true
    };
    conv_multi_test (t, c1, 0, 24, 0, 112, pad);
  }
}

/* -------------------------------------------------------------- pooling */
/* rows_only: as in dw_test */
static void
pool_test (const sn_kernel_table * t, sn_pool_args a, int oy0, int oy1,
    bool guard_after, bool rows_only)
{
  size_t in_n = (size_t) a.in_h * a.in_w, n = (size_t) a.out_h * a.out_w;
  guarded gin = guarded_alloc (in_n, guard_after);
  float *ain = xmalloc (in_n * 4), *got = xmalloc (n * 4);
  float *want = xmalloc (n * 4), *S = xmalloc (n * 4);
  fill_random (gin.p, in_n);
  fill_abs (ain, gin.p, in_n);
  fill_value (got, n, SENTINEL);
  fill_value (want, n, SENTINEL);
  fill_value (S, n, 0.0f);
  a.in = gin.p;
  a.out = got;
  snprintf (current, sizeof current, "pool %s%s in=%dx%d out=%dx%d k=%dx%d "
      "stride=%dx%d pad=(%d,%d) rows=[%d,%d) relu=%d%s",
      a.kind == SN_POOL_MAX ? "max" : "avg",
      a.kind == SN_POOL_AVG && a.count_include_pad ? "(incl. pad)" : "",
      a.in_h, a.in_w, a.out_h, a.out_w, a.k_h, a.k_w, a.stride_h,
      a.stride_w, a.pad_top, a.pad_left, oy0, oy1, a.relu,
      rows_only ? " (input rows only)" : "");
  int i0, i1;
  window_rows (a.in_h, a.k_h, a.stride_h, a.pad_top, oy0, oy1, &i0, &i1);
  band_input bin = band_input_make (gin.p, in_n, 1, a.in_w, i0, i1,
      !guard_after);
  if (rows_only)
    a.in = bin.origin;
  t->pool (&a, oy0, oy1);
  a.in = gin.p;
  a.out = want;
  sn_pool_f32__ref (&a, oy0, oy1);
  sn_pool_args abs_a = a;
  abs_a.in = ain;
  abs_a.relu = false;
  abs_a.out = S;
  sn_pool_f32__ref (&abs_a, oy0, oy1);
  /* max is exact; the average sums up to k*k terms */
  check (t->isa, got, want, a.kind == SN_POOL_MAX ? NULL : S, n);
  guarded_free (&gin);
  guarded_free (&bin.g);
  free (ain);
  free (got);
  free (want);
  free (S);
}

/* pool_multi on `planes` planes (input planes in_plane apart, possibly
 * padded; outputs through plane pointers in reverse order) must equal the
 * table's pool plane by plane, bit for bit. rows_only: its input holds only
 * the rows it needs (band_input). */
static void
pool_multi_test (const sn_kernel_table * t, sn_pool_args a, int planes,
    int oy0, int oy1, bool guard_after, bool rows_only)
{
  size_t in_n = (size_t) a.in_h * a.in_w, n = (size_t) a.out_h * a.out_w;
  size_t in_plane = in_n + (size_t) rng_int (3) * 16;
  guarded gin = guarded_alloc (in_plane * planes, guard_after);
  float *got = xmalloc (n * planes * 4), *want = xmalloc (n * planes * 4);
  float **rows = xmalloc (sizeof (float *) * planes);
  fill_random (gin.p, in_plane * planes);
  fill_value (got, n * planes, SENTINEL);
  fill_value (want, n * planes, SENTINEL);
  snprintf (current, sizeof current, "pool_multi planes=%d %s%s in=%dx%d "
      "out=%dx%d k=%dx%d stride=%dx%d pad=(%d,%d) rows=[%d,%d) relu=%d%s",
      planes, a.kind == SN_POOL_MAX ? "max" : "avg",
      a.kind == SN_POOL_AVG && a.count_include_pad ? "(incl. pad)" : "",
      a.in_h, a.in_w, a.out_h, a.out_w, a.k_h, a.k_w, a.stride_h,
      a.stride_w, a.pad_top, a.pad_left, oy0, oy1, a.relu,
      rows_only ? " (input rows only)" : "");
  int i0, i1;
  window_rows (a.in_h, a.k_h, a.stride_h, a.pad_top, oy0, oy1, &i0, &i1);
  band_input bin = band_input_make (gin.p, in_plane, planes, a.in_w, i0, i1,
      !guard_after);
  for (int j = 0; j < planes; j++)
    rows[j] = got + (size_t) (planes - 1 - j) * n;
  sn_pool_args m = a;
  m.in = rows_only ? bin.origin : gin.p;
  m.out = NULL;
  t->pool_multi (&m, planes, rows_only ? bin.plane : in_plane, rows, oy0,
      oy1);
  for (int j = 0; j < planes; j++) {
    sn_pool_args p = a;
    p.in = gin.p + (size_t) j * in_plane;
    p.out = want + (size_t) (planes - 1 - j) * n;
    t->pool (&p, oy0, oy1);
  }
  check (t->isa, got, want, NULL, n * planes);
  guarded_free (&gin);
  guarded_free (&bin.g);
  free (got);
  free (want);
  free (rows);
}

static void
pool_suite (const sn_kernel_table * t)
{
  static const int sizes[][2] = { {1, 1}, {2, 3}, {7, 7}, {14, 14},
  {15, 17}, {28, 28}, {56, 56}, {112, 112}, {150, 150}, {5, 41}
  };
  static const int kernels[][2] = { {3, 3}, {2, 2}, {3, 2}, {5, 5}, {1, 1} };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
      for (int v = 0; v < 16; v++) {
        /* v: kind, stride, pad top/left, ceil-mode style bottom/right pad */
        int kh = kernels[k][0], kw = kernels[k][1], stride = 1 + (v >> 1) % 2;
        int pt = (v >> 2) % 2 && kh > 1, pl = (v >> 2) % 2 && kw > 1;
        int pb = (v >> 3) % 2 ? 1 : pt;
        sn_pool_args a = { .kind = v % 2 ? SN_POOL_MAX : SN_POOL_AVG,
          .count_include_pad = rng_int (2), .in_h = sizes[s][0],
          .in_w = sizes[s][1], .k_h = kh, .k_w = kw, .stride_h = stride,
          .stride_w = stride, .pad_top = pt, .pad_left = pl, .relu = rng_int (2)
        };
        a.out_h = out_size (a.in_h, kh, stride, pt, pb);
        a.out_w = out_size (a.in_w, kw, stride, pl, pb);
        if (a.out_h == 0 || a.out_w == 0)
          continue;
        int oy0 = rng_int (3) == 0 ? rng_int (a.out_h) : 0;
        int oy1 = oy0 + 1 + rng_int (a.out_h - oy0);
        pool_test (t, a, oy0, oy1, rng_int (2), rng_int (2));
        pool_multi_test (t, a, 1 + rng_int (6), oy0, oy1, rng_int (2),
            rng_int (2));
      }
  /* 3x3 stride 2 with pad_left 1 (pool3x3_s2), top padding 0..2 */
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int v = 0; v < 12; v++) {
      sn_pool_args a = { .kind = v % 2 ? SN_POOL_MAX : SN_POOL_AVG,
        .count_include_pad = rng_int (2), .in_h = sizes[s][0],
        .in_w = sizes[s][1], .k_h = 3, .k_w = 3, .stride_h = 2,
        .stride_w = 2, .pad_top = v / 2 % 3, .pad_left = 1,
        .relu = rng_int (2)
      };
      a.out_h = out_size (a.in_h, 3, 2, a.pad_top, v / 6);
      a.out_w = out_size (a.in_w, 3, 2, 1, v / 6);
      if (a.out_h == 0 || a.out_w == 0)
        continue;
      int oy0 = rng_int (2) ? rng_int (a.out_h) : 0;
      int oy1 = oy0 + 1 + rng_int (a.out_h - oy0);
      pool_test (t, a, oy0, oy1, rng_int (2), rng_int (2));
      pool_multi_test (t, a, rng_int (4) == 0 ? 41 : 1 + rng_int (6), oy0,
          oy1, rng_int (2), rng_int (2));
    }
}

/* ----------------------------------------------------------- dense (FC) */
static void
dense_test (const sn_kernel_table * t, int c_in, int K, int k0, int k1,
    bool with_bias)
{
  size_t nw = (size_t) K * c_in;
  guarded gw = guarded_alloc (nw, true), gx = guarded_alloc (c_in, false);
  float *b = xmalloc ((size_t) K * 4), *aw = xmalloc (nw * 4);
  float *ax = xmalloc ((size_t) c_in * 4), *ab = xmalloc ((size_t) K * 4);
  float *got = xmalloc ((size_t) K * 4), *want = xmalloc ((size_t) K * 4);
  float *S = xmalloc ((size_t) K * 4);
  fill_random (gw.p, nw);
  fill_random (gx.p, (size_t) c_in);
  fill_random (b, (size_t) K);
  fill_abs (aw, gw.p, nw);
  fill_abs (ax, gx.p, (size_t) c_in);
  fill_abs (ab, b, (size_t) K);
  fill_value (got, (size_t) K, SENTINEL);
  fill_value (want, (size_t) K, SENTINEL);
  fill_value (S, (size_t) K, 0.0f);
  snprintf (current, sizeof current, "dense c_in=%d K=%d k=[%d,%d) bias=%d",
      c_in, K, k0, k1, with_bias);
  t->dense (gx.p, c_in, gw.p, with_bias ? b : NULL, got, k0, k1);
  sn_dense_f32__ref (gx.p, c_in, gw.p, with_bias ? b : NULL, want, k0, k1);
  sn_dense_f32__ref (ax, c_in, aw, with_bias ? ab : NULL, S, k0, k1);
  check (t->isa, got, want, S, (size_t) K);
  guarded_free (&gw);
  guarded_free (&gx);
  free (b);
  free (aw);
  free (ax);
  free (ab);
  free (got);
  free (want);
  free (S);
}

static void
dense_suite (const sn_kernel_table * t)
{
  static const int cins[] = { 1, 7, 8, 15, 16, 17, 31, 32, 33, 240, 960 };
  static const int Ks[] = { 1, 3, 4, 5, 9, 1000 };
  for (size_t i = 0; i < sizeof cins / sizeof cins[0]; i++)
    for (size_t k = 0; k < sizeof Ks / sizeof Ks[0]; k++) {
      int K = Ks[k], k0 = 0, k1 = K;
      if (rng_int (2)) {
        k0 = rng_int (K);
        k1 = k0 + 1 + rng_int (K - k0);
      }
      dense_test (t, cins[i], K, k0, k1, rng_int (3) != 0);
    }
}

/* ------------------------------------------------ global average pooling */
static void
mean_suite (const sn_kernel_table * t)
{
  static const size_t sizes[] = { 0, 1, 7, 15, 16, 17, 31, 49, 63, 64, 65,
    196, 784, 3136, 50177
  };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    for (int after = 0; after < 2; after++) {
      size_t n = sizes[i];
      guarded g = guarded_alloc (n ? n : 1, after);
      float *abs_x = xmalloc ((n ? n : 1) * 4);
      fill_random (g.p, n);
      fill_abs (abs_x, g.p, n);
      snprintf (current, sizeof current, "plane_mean n=%zu guard=%s", n,
          after ? "after" : "before");
      float got = t->plane_mean (g.p, n), want = sn_plane_mean_f32 (g.p, n);
      float S = sn_plane_mean_f32 (abs_x, n);
      check (t->isa, &got, &want, &S, 1);
      guarded_free (&g);
      free (abs_x);
    }
}

/* ------------------------------------------------------------- dispatch */
static void
expect_isa (const char *env, const char *want)
{
  if (env)
    setenv ("SHUFFLENET_ISA", env, 1);
  else
    unsetenv ("SHUFFLENET_ISA");
  const char *got = sn_kernels_best ()->isa;
  if (strcmp (got, want) != 0) {
    printf ("FAIL dispatch: SHUFFLENET_ISA=%s picked %s, want %s\n",
        env ? env : "(unset)", got, want);
    n_fail++;
  } else {
    n_pass++;
  }
}

static void
dispatch_suite (void)
{
  const char *saved = getenv ("SHUFFLENET_ISA");
  char *keep = saved ? strdup (saved) : NULL;
  const char *best = sn_kernels_get ("avx512") ? "avx512"
      : sn_kernels_get ("avx2") ? "avx2" : "ref";
  expect_isa (NULL, best);
  expect_isa ("ref", "ref");
  expect_isa ("no-such-isa", best);
  if (sn_kernels_get ("avx2"))
    expect_isa ("avx2", "avx2");
  if (sn_kernels_get ("avx512"))
    expect_isa ("avx512", "avx512");
  /* bf16 is the caller's choice, never a pick (nor forced for fp32), and
   * forcing a lesser fp32 ISA turns it off */
  expect_isa ("avx512bf16", best);
  if (sn_kernels_get ("avx512bf16")) {
    unsetenv ("SHUFFLENET_ISA");
    bool on = sn_kernels_bf16 () != NULL;
    setenv ("SHUFFLENET_ISA", "avx2", 1);
    bool off = sn_kernels_bf16 () == NULL;
    printf ("%s dispatch: bf16 table %s, none with SHUFFLENET_ISA=avx2\n",
        on && off ? "ok" : "FAIL", on ? "offered" : "missing");
    if (on && off)
      n_pass++;
    else
      n_fail++;
  }
  if (sn_kernels_get ("bogus") != NULL) {
    printf ("FAIL dispatch: sn_kernels_get (\"bogus\") is not NULL\n");
    n_fail++;
  }
  if (keep)
    setenv ("SHUFFLENET_ISA", keep, 1);
  else
    unsetenv ("SHUFFLENET_ISA");
  free (keep);
}

int
main (int argc, char **argv)
{
  uint64_t seed = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "-v") == 0)
      verbose = true;
    else
      seed = strtoull (argv[i], NULL, 0);
  }
  static const char *const isas[] = { "avx512", "avx2", "avx512bf16" };
  printf ("kernels: seed %llu (replay: %s %llu)\n", (unsigned long long) seed,
      argv[0], (unsigned long long) seed);
  rng_state = seed;
  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGSEGV, on_crash);
  signal (SIGBUS, on_crash);
  dispatch_suite ();
  for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
    const sn_kernel_table *t = sn_kernels_get (isas[i]);
    if (!t) {
      printf ("kernels: skipping %s: this CPU (or build) lacks it\n", isas[i]);
      continue;
    }
    int fail0 = n_fail, pass0 = n_pass;
    pw_suite (t);
    if (strcmp (t->isa, "avx512bf16") == 0) {  /* the rest is avx512's */
      printf ("kernels: %s (pw only): %d passed, %d failed\n", t->isa,
          n_pass - pass0, n_fail - fail0);
      continue;
    }
    dw_suite (t);
    conv_suite (t);
    conv_multi_suite (t);
    pool_suite (t);
    dense_suite (t);
    mean_suite (t);
    printf ("kernels: %s: %d passed, %d failed\n", t->isa, n_pass - pass0,
        n_fail - fail0);
  }
  printf ("kernels: %d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
