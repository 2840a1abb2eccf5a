/* shufflenet-cli - inspect, run and time ShuffleNet ONNX models.
 *
 *   shufflenet-cli info MODEL
 *   shufflenet-cli run MODEL --input IN.npy --output OUT.npy [--threads N]
 *                  [--precision fp32|bf16]
 *   shufflenet-cli bench MODEL [--threads N] [--batch B] [--runs R] [--profile]
 *                  [--precision fp32|bf16] [--gap MS]
 *
 * Errors: one line on stderr, exit status 1 (2 for usage errors). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npy.h"
#include "shufflenet.h"

typedef struct {
  const char *input, *output;
  int threads, batch, runs;
  int gap_ms;                   /* bench: idle time before each timed run */
  int profile;
  sn_precision precision;
} cli_options;

static int
usage (void)
{
  fprintf (stderr,
      "usage: shufflenet-cli info MODEL\n"
      "       shufflenet-cli run MODEL --input IN.npy --output OUT.npy "
      "[--threads N]\n"
      "                      [--precision fp32|bf16]\n"
      "       shufflenet-cli bench MODEL [--threads N] [--batch B] [--runs R] "
      "[--profile]\n"
      "                      [--precision fp32|bf16] [--gap MS]\n");
  return 2;
}

static int
parse_int (const char *flag, const char *text, int lo, int hi, int *out)
{
  char *end;
  errno = 0;
  long v = text ? strtol (text, &end, 10) : 0;
  if (!text || errno || *end || end == text || v < lo || v > hi) {
    fprintf (stderr, "shufflenet-cli: %s needs an integer in %d..%d, got '%s'\n",
        flag, lo, hi, text ? text : "");
    return -1;
  }
  *out = (int) v;
  return 0;
}

static int
parse_options (int argc, char **argv, cli_options *o)
{
  *o = (cli_options) { .threads = 0, .batch = 1, .runs = 100 };
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (strcmp (a, "--input") == 0 && v)
      o->input = v;
    else if (strcmp (a, "--output") == 0 && v)
      o->output = v;
    else if (strcmp (a, "--threads") == 0)
      rc = parse_int (a, v, 0, 1024, &o->threads);
    else if (strcmp (a, "--batch") == 0)
      rc = parse_int (a, v, 1, 4096, &o->batch);
    else if (strcmp (a, "--runs") == 0)
      rc = parse_int (a, v, 1, 1000000, &o->runs);
    else if (strcmp (a, "--gap") == 0)
      rc = parse_int (a, v, 0, 10000, &o->gap_ms);
    else if (strcmp (a, "--precision") == 0) {
      if (v && strcmp (v, "fp32") == 0)
        o->precision = SN_PRECISION_FP32;
      else if (v && strcmp (v, "bf16") == 0)
        o->precision = SN_PRECISION_BF16;
      else {
        fprintf (stderr, "shufflenet-cli: --precision takes fp32 or bf16, "
            "got '%s'\n", v ? v : "");
        return -1;
      }
    } else if (strcmp (a, "--profile") == 0) {
      o->profile = 1;
      continue;
    } else {
      fprintf (stderr, "shufflenet-cli: unknown or incomplete option '%s'\n", a);
      return -1;
    }
    if (rc)
      return -1;
    i++;
  }
  return 0;
}

static sn_model *
load (const char *path, sn_precision precision)
{
  sn_model *m;
  sn_error err;
  if (sn_model_load_file_precision (path, precision, &m, &err) != SN_OK) {
    fprintf (stderr, "shufflenet-cli: %s\n", err.message);
    return NULL;
  }
  return m;
}

/* Metadata values are printed on one line: '\n' and '\\' escaped. */
static void
print_escaped (const char *s)
{
  for (; *s; s++) {
    if (*s == '\n')
      fputs ("\\n", stdout);
    else if (*s == '\\')
      fputs ("\\\\", stdout);
    else
      putchar (*s);
  }
}

static int
cmd_info (const char *path)
{
  sn_model *m = load (path, SN_PRECISION_FP32);
  if (m == NULL)
    return 1;
  sn_input_info in;
  sn_model_input_info (m, &in);
  bool nhwc = in.layout == SN_LAYOUT_NHWC;
  printf ("model: %s\n", path);
  printf ("input: N x %d x %d x %d float32 %s\n", nhwc ? in.height : in.channels,
      nhwc ? in.width : in.height, nhwc ? in.channels : in.width,
      nhwc ? "NHWC" : "NCHW");
  printf ("classes: %d\n", sn_model_num_classes (m));
  printf ("output: %s\n", sn_model_outputs_probabilities (m) ? "probabilities"
      : "logits");
  printf ("operators: %d\n", sn_model_num_ops (m));
  printf ("mmacs: %.2f\n", sn_model_macs (m) / 1e6);
  printf ("arena: %.1f KiB per image in flight\n",
      sn_model_arena_bytes (m) / 1024.0);
  for (int i = 0; i < sn_model_metadata_count (m); i++) {
    const char *k, *v;
    sn_model_metadata_at (m, i, &k, &v);
    printf ("metadata %s=", k);
    print_escaped (v);
    putchar ('\n');
  }
  sn_model_free (m);
  return 0;
}

/* Check the .npy is N images in the model's layout; returns N or -1. */
static int
check_input_shape (const sn_npy *a, const sn_input_info *in, const char *path)
{
  size_t want[3] = { in->channels, in->height, in->width };
  if (in->layout == SN_LAYOUT_NHWC) {
    want[0] = in->height;
    want[1] = in->width;
    want[2] = in->channels;
  }
  if (a->ndim == 4 && a->dims[0] >= 1 && a->dims[0] <= 4096
      && a->dims[1] == want[0] && a->dims[2] == want[1] && a->dims[3] == want[2])
    return (int) a->dims[0];
  fprintf (stderr, "shufflenet-cli: %s: shape (", path);
  for (int i = 0; i < a->ndim; i++)
    fprintf (stderr, "%s%zu", i ? ", " : "", a->dims[i]);
  fprintf (stderr, ") does not match the model input (N, %zu, %zu, %zu) %s\n",
      want[0], want[1], want[2],
      in->layout == SN_LAYOUT_NHWC ? "NHWC" : "NCHW");
  return -1;
}

static int
cmd_run (const char *path, const cli_options *o)
{
  if (!o->input || !o->output) {
    fprintf (stderr, "shufflenet-cli: run needs --input IN.npy and "
        "--output OUT.npy\n");
    return 2;
  }
  char msg[512];
  sn_npy x;
  if (sn_npy_read (o->input, &x, msg, sizeof msg) != 0) {
    fprintf (stderr, "shufflenet-cli: %s\n", msg);
    return 1;
  }
  int rc = 1;
  sn_context *ctx = NULL;
  float *y = NULL;
  sn_error err;
  sn_input_info in;
  sn_model *m = load (path, o->precision);
  if (m == NULL)
    goto done;
  sn_model_input_info (m, &in);
  int n = check_input_shape (&x, &in, o->input);
  if (n < 0)
    goto done;
  size_t dims[2] = { (size_t) n, (size_t) sn_model_num_classes (m) };
  y = malloc (sizeof (float) * dims[0] * dims[1]);
  if (!y || sn_context_create (m, o->threads, &ctx, &err) != SN_OK
      || sn_context_run (ctx, x.data, n, y, &err) != SN_OK) {
    fprintf (stderr, "shufflenet-cli: %s\n", y ? err.message : "out of memory");
    goto done;
  }
  if (sn_npy_write (o->output, y, 2, dims, msg, sizeof msg) != 0) {
    fprintf (stderr, "shufflenet-cli: %s\n", msg);
    goto done;
  }
  rc = 0;
done:
  free (y);
  sn_context_free (ctx);
  sn_model_free (m);
  sn_npy_free (&x);
  return rc;
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Per-op profile: the fastest of `runs` profiled runs for each op (the
 * minimum filters out preemption on a shared machine). */
static void
print_profile (sn_context *ctx, const float *x, int batch, float *y, int runs)
{
  int n = sn_context_profile_at (ctx, 0, NULL, NULL, NULL, NULL);
  double *best = malloc (sizeof (double) * n), total = 0.0;
  sn_error err;
  if (best == NULL)
    return;
  sn_context_set_profiling (ctx, true);
  for (int r = 0; r < runs; r++) {
    sn_context_run (ctx, x, batch, y, &err);
    for (int i = 0; i < n; i++) {
      double ms;
      sn_context_profile_at (ctx, i, NULL, NULL, &ms, NULL);
      best[i] = r == 0 || ms < best[i] ? ms : best[i];
    }
  }
  sn_context_set_profiling (ctx, false);
  printf ("per-op profile, fastest of %d runs (ms per image):\n", runs);
  printf ("%-4s %-40s %-12s %9s %9s %8s\n", "#", "op", "kind", "ms", "MMAC",
      "GFLOP/s");
  for (int i = 0; i < n; i++) {
    const char *name, *kind;
    double macs;
    sn_context_profile_at (ctx, i, &name, &kind, NULL, &macs);
    printf ("%-4d %-40.40s %-12s %9.4f %9.3f %8.1f\n", i, name, kind, best[i],
        macs / 1e6, best[i] > 0 ? 2 * macs / (best[i] * 1e6) : 0.0);
    total += best[i];
  }
  printf ("sum of per-op minimums: %.3f ms\n", total);
  free (best);
}

static int
cmd_bench (const char *path, const cli_options *o)
{
  sn_model *m = load (path, o->precision);
  if (m == NULL)
    return 1;
  sn_input_info in;
  sn_model_input_info (m, &in);
  size_t image = (size_t) in.channels * in.height * in.width;
  float *x = malloc (sizeof (float) * image * o->batch);
  float *y = malloc (sizeof (float) * sn_model_num_classes (m) * o->batch);
  double *t = malloc (sizeof (double) * o->runs);
  sn_context *ctx = NULL;
  sn_error err;
  int rc = 1;
  if (!x || !y || !t || sn_context_create (m, o->threads, &ctx, &err) != SN_OK) {
    fprintf (stderr, "shufflenet-cli: %s\n", ctx ? "out of memory" : err.message);
    goto done;
  }
  srand (1);
  for (size_t i = 0; i < image * o->batch; i++)
    x[i] = (float) rand () / RAND_MAX * 4.0f - 2.0f;
  for (int i = 0; i < 10; i++)
    sn_context_run (ctx, x, o->batch, y, &err);
  for (int i = 0; i < o->runs; i++) {
    if (o->gap_ms > 0) {        /* a camera's rhythm: the threads go idle */
      struct timespec gap = { o->gap_ms / 1000, o->gap_ms % 1000 * 1000000L };
      nanosleep (&gap, NULL);
    }
    double t0 = now_ms ();
    sn_context_run (ctx, x, o->batch, y, &err);
    t[i] = now_ms () - t0;
  }
  qsort (t, o->runs, sizeof (double), cmp_double);
  double med = t[o->runs / 2];
  if (o->gap_ms > 0)
    printf ("gap %d ms, ", o->gap_ms);
  printf ("%sthreads %d batch %d runs %d: min %.3f ms median %.3f ms per batch; "
      "min %.3f ms median %.3f ms per image; %.1f images/s\n",
      o->precision == SN_PRECISION_BF16 ? "precision bf16, " : "",
      sn_context_threads (ctx), o->batch, o->runs, t[0], med, t[0] / o->batch,
      med / o->batch, 1e3 * o->batch / med);
  if (o->profile)
    print_profile (ctx, x, o->batch, y, o->runs);
  rc = 0;
done:
  sn_context_free (ctx);
  sn_model_free (m);
  free (x);
  free (y);
  free (t);
  return rc;
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    return usage ();
  cli_options o;
  const char *cmd = argv[1], *model = argv[2];
  if (parse_options (argc - 3, argv + 3, &o) != 0)
    return 2;
  if (strcmp (cmd, "info") == 0)
    return cmd_info (model);
  if (strcmp (cmd, "run") == 0)
    return cmd_run (model, &o);
  if (strcmp (cmd, "bench") == 0)
    return cmd_bench (model, &o);
  fprintf (stderr, "shufflenet-cli: unknown command '%s'\n", cmd);
  return usage ();
}
