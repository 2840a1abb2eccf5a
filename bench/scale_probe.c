/* scale_probe.c - how much a second core adds on this machine, for the
 * engine's own pointwise kernel (bench/run.sh runs it for the report).
 *
 *   scale_probe [--reps N]
 *
 * Every thread owns a private copy of one stage-2 grouped 1x1 convolution
 * of ShuffleNet v1 1x g3 over half an image (3 groups, 80 -> 20 channels,
 * 392 pixels: about 20 us of work), so threads share nothing but the
 * machine. Two patterns, each at 1 and 2 threads:
 *   bursts     : one kernel call per thread, then a barrier, N times (the
 *                rhythm of an inference: one operator, wait for the team)
 *   continuous : N kernel calls per thread without a barrier
 * Prints one line per (pattern, threads): "pattern threads GFLOP/s", the
 * aggregate over the team. With cores that add up, 2 threads give about
 * twice the 1-thread figure in both patterns. */
#include "kernels/kernels.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GROUPS = 3, CIN = 80, COUT = 20, NPIX = 392 };

typedef struct {
  float *in;                    /* [GROUPS][CIN][NPIX] */
  float *out;                   /* [GROUPS][COUT][NPIX] */
  float *packed;                /* the kernel's packing of [COUT][CIN] */
  float bias[COUT];
  float *rows[GROUPS * COUT];   /* output plane pointers */
} conv_data;

static void
fill (float *p, size_t n, unsigned seed)
{
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    p[i] = (float) (seed >> 8) / (float) (1 << 24) - 0.5f;
  }
}

static conv_data *
conv_data_new (const sn_kernel_table *kt)
{
  conv_data *d = calloc (1, sizeof *d);
  float w[COUT * CIN];          /* [COUT][CIN] */
  d->in = aligned_alloc (64, sizeof (float) * GROUPS * CIN * NPIX);
  d->out = aligned_alloc (64, sizeof (float) * GROUPS * COUT * NPIX);
  d->packed = aligned_alloc (64, sizeof (float)
      * ((kt->pw_packed_size (COUT, CIN) + 15) / 16 * 16));
  if (!d->in || !d->out || !d->packed) {
    fprintf (stderr, "scale_probe: out of memory\n");
    exit (1);
  }
  fill (d->in, (size_t) GROUPS * CIN * NPIX, 1);
  fill (w, COUT * CIN, 2);
  fill (d->bias, COUT, 3);
  kt->pw_pack (w, COUT, CIN, d->packed);
  for (int k = 0; k < GROUPS * COUT; k++)
    d->rows[k] = d->out + (size_t) k * NPIX;
  return d;
}

static void
conv_run (const sn_kernel_table *kt, const conv_data *d)
{
  for (int g = 0; g < GROUPS; g++) {
    sn_pw_args a = {
      .cin = CIN, .cout = COUT, .npix = NPIX,
      .in = d->in + (size_t) g * CIN * NPIX, .in_plane = NPIX,
      .weight = d->packed, .bias = d->bias, .out_rows = d->rows + g * COUT,
      .res_rows = NULL, .relu = true,
    };
    kt->pw (&a, 0, COUT, 0, NPIX);
  }
}

/* Seconds for `reps` rounds on `threads` threads (best of 3). */
static double
probe (const sn_kernel_table *kt, int threads, int reps, int bursts)
{
  double best = 1e30;
  for (int trial = 0; trial < 3; trial++) {
    double seconds = 0.0;
#pragma omp parallel num_threads(threads)
    {
      conv_data *d = conv_data_new (kt);
      conv_run (kt, d);           /* warm */
#pragma omp barrier
      double t0 = omp_get_wtime ();
      for (int r = 0; r < reps; r++) {
        conv_run (kt, d);
        if (bursts) {
#pragma omp barrier
        }
      }
#pragma omp barrier
#pragma omp master
      seconds = omp_get_wtime () - t0;
      free (d->in);
      free (d->out);
      free (d->packed);
      free (d);
    }
    best = seconds < best ? seconds : best;
  }
  return best;
}

int
main (int argc, char **argv)
{
  int reps = 2000;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi (argv[++i]);
    else {
      fprintf (stderr, "usage: scale_probe [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1) {
    fprintf (stderr, "scale_probe: --reps must be at least 1\n");
    return 2;
  }
  const sn_kernel_table *kt = sn_kernels_best ();
  double flops = 2.0 * GROUPS * CIN * COUT * NPIX;      /* per call */
  printf ("isa %s call_us_estimate %.1f\n", kt->isa,
      probe (kt, 1, reps, 0) / reps * 1e6);
  for (int bursts = 1; bursts >= 0; bursts--)
    for (int threads = 1; threads <= 2; threads++) {
      double s = probe (kt, threads, reps, bursts);
      printf ("%s %d %.1f\n", bursts ? "bursts" : "continuous", threads,
          flops * reps * threads / s * 1e-9);
    }
  return 0;
}
