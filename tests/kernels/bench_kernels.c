/* bench_kernels.c - micro benchmark of the kernel tables (not a test) on
 * the layer shapes of ShuffleNet v1 1x g3 at 224x224 (one image, one
 * thread, PyTorch/Megvii structure as in peers/make_models.py).
 *
 * Usage: bench_kernels [-n RUNS] [-r REF_RUNS] [-f FILTER] [-i ISA]
 *   RUNS timed runs per layer and ISA (default 300) after 5 warm-up runs;
 *   the reference gets REF_RUNS (default 10: it is slow). Each ISA runs
 *   its own block of runs: interleaving them would charge the vector code
 *   with the CPU's frequency-licence changes between scalar, 256-bit and
 *   512-bit code (tens of microseconds on Intel server parts), which the
 *   real network, all in one ISA, does not pay.
 *   FILTER: only layers whose name contains it; ISA: only that table.
 * "+res" layers add the residual in place (res_rows == out_rows), "+res2"
 * (not counted in the total) from separate planes.
 * Prints per layer the MFLOP (2 per multiply-add) and, per ISA, GFLOP/s at
 * the fastest run (min time) and at the median run, and the median time,
 * then the network total (sum over layers of min and of median time x
 * occurrences) per ISA. Layers with count 0 are shown for comparison only
 * (conv1 one plane at a time, TF padding, residual from separate planes). */
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ISAS 4

typedef enum { L_PW, L_DW, L_DW_PLANE, L_CONV, L_CONV_MULTI, L_MAXPOOL,
  L_AVGPOOL, L_AVGPOOL_PLANE,
  L_DENSE
} layer_kind;

/* One operator of one image: all of its groups or planes. */
typedef struct {
  const char *name;
  layer_kind kind;
  int count;                    /* occurrences in the network */
  int groups;                   /* pw: groups; dw/pool: planes */
  int cin, cout;                /* pw: per group; conv/dense: totals */
  int in_hw, out_hw;            /* square planes */
  int stride, pad;              /* dw/conv/pool: pad top/left */
  int residual;                 /* pw: 0 none; add the unit's input, then
                                 * ReLU, 1 in place (res_rows == out_rows),
                                 * 2 from separate planes */
} layer;

static const layer layers[] = {
  {"conv1 3->24 s2 224", L_CONV, 0, 1, 3, 24, 224, 112, 2, 1, 0},
  {"conv1 multi 3->24 s2 224", L_CONV_MULTI, 1, 1, 3, 24, 224, 112, 2, 1, 0},
  {"maxpool 24 112->56", L_MAXPOOL, 1, 24, 0, 0, 112, 56, 2, 1, 0},
  {"s2.1 pw1 24->60 g1 @3136", L_PW, 1, 1, 24, 60, 56, 56, 1, 0, 0},
  {"s2.1 dw 60 s2 56->28", L_DW, 1, 60, 0, 0, 56, 28, 2, 1, 0},
  {"s2.1 dw 60 s2 56->28 tf", L_DW, 0, 60, 0, 0, 56, 28, 2, 0, 0},
  {"s2.1 pw2 3x20->72 @784", L_PW, 1, 3, 20, 72, 28, 28, 1, 0, 0},
  {"s2.1 avgpool 24 56->28", L_AVGPOOL, 1, 24, 0, 0, 56, 28, 2, 1, 0},
  {"s2 pw1 3x80->20 @784", L_PW, 3, 3, 80, 20, 28, 28, 1, 0, 0},
  {"s2 dw 60 s1 28", L_DW, 3, 60, 0, 0, 28, 28, 1, 1, 0},
  {"s2 pw2 3x20->80 @784 +res", L_PW, 3, 3, 20, 80, 28, 28, 1, 0, 1},
  {"s2 pw2 3x20->80 @784 +res2", L_PW, 0, 3, 20, 80, 28, 28, 1, 0, 2},
  {"s3.1 pw1 3x80->40 @784", L_PW, 1, 3, 80, 40, 28, 28, 1, 0, 0},
  {"s3.1 dw 120 s2 28->14", L_DW, 1, 120, 0, 0, 28, 14, 2, 1, 0},
  {"s3.1 pw2 3x40->80 @196", L_PW, 1, 3, 40, 80, 14, 14, 1, 0, 0},
  {"s3.1 avgpool 240 28->14", L_AVGPOOL, 1, 240, 0, 0, 28, 14, 2, 1, 0},
  {"s3 pw1 3x160->40 @196", L_PW, 7, 3, 160, 40, 14, 14, 1, 0, 0},
  {"s3 dw 120 s1 14", L_DW, 7, 120, 0, 0, 14, 14, 1, 1, 0},
  {"s3 dw 120 s1 14 by plane", L_DW_PLANE, 0, 120, 0, 0, 14, 14, 1, 1, 0},
  {"s3 pw2 3x40->160 @196 +res", L_PW, 7, 3, 40, 160, 14, 14, 1, 0, 1},
  {"s4.1 pw1 3x160->80 @196", L_PW, 1, 3, 160, 80, 14, 14, 1, 0, 0},
  {"s4.1 dw 240 s2 14->7", L_DW, 1, 240, 0, 0, 14, 7, 2, 1, 0},
  {"s4.1 pw2 3x80->160 @49", L_PW, 1, 3, 80, 160, 7, 7, 1, 0, 0},
  {"s4.1 avgpool 480 14->7", L_AVGPOOL, 1, 480, 0, 0, 14, 7, 2, 1, 0},
  {"s4.1 avgpool 480 by plane", L_AVGPOOL_PLANE, 0, 480, 0, 0, 14, 7, 2, 1,
      0},
  {"s4 pw1 3x320->80 @49", L_PW, 3, 3, 320, 80, 7, 7, 1, 0, 0},
  {"s4 dw 240 s1 7", L_DW, 3, 240, 0, 0, 7, 7, 1, 1, 0},
  {"s4 dw 240 s1 7 by plane", L_DW_PLANE, 0, 240, 0, 0, 7, 7, 1, 1, 0},
  {"s4 pw2 3x80->320 @49 +res", L_PW, 3, 3, 80, 320, 7, 7, 1, 0, 1},
  {"fc 960->1000", L_DENSE, 1, 1, 960, 1000, 1, 1, 1, 0, 0},
};

/* Buffers of one layer, shared by every ISA (weights packed per ISA). */
typedef struct {
  float *in, *out, *res, *w, *bias;
  float *packed[MAX_ISAS];
  float **out_rows;
  const float **res_rows;
} bufs;

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static float *
random_floats (size_t n)
{
  float *p = malloc ((n ? n : 1) * sizeof (float));
  if (!p) {
    fprintf (stderr, "out of memory\n");
    exit (2);
  }
  for (size_t i = 0; i < n; i++)
    p[i] = (float) rand () / (float) RAND_MAX - 0.5f;
  return p;
}

static double
layer_flops (const layer * l)
{
  double o = (double) l->out_hw * l->out_hw;
  switch (l->kind) {
    case L_PW:
      return 2.0 * l->groups * l->cin * l->cout * o;
    case L_DW:
    case L_DW_PLANE:
      return 2.0 * 9 * l->groups * o;
    case L_CONV:
    case L_CONV_MULTI:
      return 2.0 * 9 * l->cin * l->cout * o;
    case L_MAXPOOL:
    case L_AVGPOOL:
    case L_AVGPOOL_PLANE:
      return 9.0 * l->groups * o;       /* one op per tap */
    case L_DENSE:
      return 2.0 * l->cin * l->cout;
  }
  return 0;
}

static void
bufs_make (const layer * l, const sn_kernel_table * const *tabs, int nt,
    bufs * b)
{
  size_t ip = (size_t) l->in_hw * l->in_hw, op = (size_t) l->out_hw * l->out_hw;
  size_t nin, nout, nw, nb;
  memset (b, 0, sizeof *b);
  switch (l->kind) {
    case L_PW:                 /* [groups][cin][op] -> [groups][cout][op] */
      nin = (size_t) l->groups * l->cin * op;
      nout = (size_t) l->groups * l->cout * op;
      nw = (size_t) l->groups * l->cout * l->cin;
      nb = (size_t) l->groups * l->cout;
      break;
    case L_CONV:               /* [cin][ip] -> [cout][op] */
    case L_CONV_MULTI:
      nin = (size_t) l->cin * ip;
      nout = (size_t) l->cout * op;
      nw = (size_t) l->cout * l->cin * 9;
      nb = (size_t) l->cout;
      break;
    case L_DENSE:              /* [cin] -> [cout] */
      nin = (size_t) l->cin;
      nout = (size_t) l->cout;
      nw = (size_t) l->cout * l->cin;
      nb = (size_t) l->cout;
      break;
    default:                   /* per plane: [groups][ip] -> [groups][op] */
      nin = (size_t) l->groups * ip;
      nout = (size_t) l->groups * op;
      nw = (size_t) l->groups * 9;
      nb = (size_t) l->groups;
  }
  b->in = random_floats (nin);
  b->out = random_floats (nout);
  b->res = random_floats (nout);
  b->w = random_floats (nw);
  b->bias = random_floats (nb);
  bool planes = l->kind == L_DW || l->kind == L_DW_PLANE
      || l->kind == L_MAXPOOL || l->kind == L_AVGPOOL
      || l->kind == L_AVGPOOL_PLANE;  /* out_rows: one per plane */
  if (l->kind != L_PW && l->kind != L_CONV_MULTI && !planes)
    return;
  int rows = planes ? l->groups : l->groups * l->cout;
  b->out_rows = malloc (sizeof (float *) * (size_t) rows);
  b->res_rows = malloc (sizeof (float *) * (size_t) rows);
  for (int r = 0; r < rows; r++) {
    b->out_rows[r] = b->out + (size_t) r * op;
    b->res_rows[r] = b->res + (size_t) r * op;
  }
  for (int t = 0; t < nt && l->kind == L_PW; t++) {
    size_t per = tabs[t]->pw_packed_size (l->cout, l->cin);
    b->packed[t] = malloc (sizeof (float) * per * (size_t) l->groups);
    for (int g = 0; g < l->groups; g++)
      tabs[t]->pw_pack (b->w + (size_t) g * l->cout * l->cin, l->cout, l->cin,
          b->packed[t] + per * (size_t) g);
  }
}

static void
bufs_free (bufs * b, int nt)
{
  free (b->in);
  free (b->out);
  free (b->res);
  free (b->w);
  free (b->bias);
  free (b->out_rows);
  free (b->res_rows);
  for (int t = 0; t < nt; t++)
    free (b->packed[t]);
}

static void
run_pw (const layer * l, const bufs * b, const sn_kernel_table * t, int ti)
{
  size_t op = (size_t) l->out_hw * l->out_hw;
  size_t per = t->pw_packed_size (l->cout, l->cin);
  for (int g = 0; g < l->groups; g++) {
    sn_pw_args a = {
      .cin = l->cin, .cout = l->cout, .npix = op,
      .in = b->in + (size_t) g * l->cin * op, .in_plane = op,
      .weight = b->packed[ti] + per * (size_t) g,
      .bias = b->bias + (size_t) g * l->cout,
      .out_rows = b->out_rows + (size_t) g * l->cout,
      .res_rows = l->residual == 1 ? (const float **) b->out_rows
          + (size_t) g * l->cout : l->residual == 2 ? b->res_rows
          + (size_t) g * l->cout : NULL,
      .relu = true,
    };
    t->pw (&a, 0, l->cout, 0, op);
  }
}

static void
run_planes (const layer * l, const bufs * b, const sn_kernel_table * t)
{
  size_t ip = (size_t) l->in_hw * l->in_hw;
  sn_dw_multi_args da = { .in_h = l->in_hw, .in_w = l->in_hw,
    .out_h = l->out_hw, .out_w = l->out_hw, .k = 3, .stride = l->stride,
    .pad_top = l->pad, .pad_left = l->pad, .planes = l->groups,
    .in = b->in, .in_plane = ip, .weight = b->w, .bias = b->bias,
    .out_rows = b->out_rows, .relu = false
  };
  sn_pool_args pa = {
    .kind = l->kind == L_MAXPOOL ? SN_POOL_MAX : SN_POOL_AVG,
    .count_include_pad = true, .in_h = l->in_hw, .in_w = l->in_hw,
    .out_h = l->out_hw, .out_w = l->out_hw, .k_h = 3, .k_w = 3,
    .stride_h = l->stride, .stride_w = l->stride, .pad_top = l->pad,
    .pad_left = l->pad, .in = b->in
  };
  /* all planes in one call, as the engine, or one plane a call */
  if (l->kind == L_DW) {
    t->dw_multi (&da, 0, l->out_hw);
  } else if (l->kind == L_DW_PLANE) {
    for (int c = 0; c < l->groups; c++) {
      sn_dw_args a = sn_dw_multi_plane (&da, c);
      t->dw3x3 (&a, 0, l->out_hw);
    }
  } else if (l->kind == L_AVGPOOL_PLANE) {
    for (int c = 0; c < l->groups; c++) {
      sn_pool_args a = sn_pool_multi_plane (&pa, ip, b->out_rows, c);
      t->pool (&a, 0, l->out_hw);
    }
  } else {
    t->pool_multi (&pa, l->groups, ip, b->out_rows, 0, l->out_hw);
  }
}

static void
run_layer (const layer * l, const bufs * b, const sn_kernel_table * t, int ti)
{
  size_t op = (size_t) l->out_hw * l->out_hw;
  switch (l->kind) {
    case L_PW:
      run_pw (l, b, t, ti);
      break;
    case L_CONV:
      for (int co = 0; co < l->cout; co++) {
        sn_conv_args a = { .cin = l->cin, .in_h = l->in_hw, .in_w = l->in_hw,
          .out_h = l->out_hw, .out_w = l->out_hw, .kh = 3, .kw = 3,
          .stride_h = l->stride, .stride_w = l->stride, .pad_top = l->pad,
          .pad_left = l->pad, .in = b->in,
          .in_plane = (size_t) l->in_hw * l->in_hw, .weight = b->w + 27 * co,
          .bias = b->bias[co], .out = b->out + co * op, .relu = true
        };
        t->conv (&a, 0, l->out_hw);
      }
      break;
    case L_CONV_MULTI:{
      sn_conv_multi_args a = { .cin = l->cin, .cout = l->cout, .in_h = l->in_hw,
        .in_w = l->in_hw, .out_h = l->out_hw, .out_w = l->out_hw, .kh = 3,
        .kw = 3, .stride_h = l->stride, .stride_w = l->stride,
        .pad_top = l->pad, .pad_left = l->pad, .in = b->in,
        .in_plane = (size_t) l->in_hw * l->in_hw, .weight = b->w,
        .bias = b->bias, .out_rows = b->out_rows, .relu = true
      };
      t->conv_multi (&a, 0, l->cout, 0, l->out_hw);
      break;
    }
    case L_DENSE:
      t->dense (b->in, l->cin, b->w, b->bias, b->out, 0, l->cout);
      break;
    default:
      run_planes (l, b, t);
  }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  int runs = 300, ref_runs = 10;
  const char *filter = NULL, *only = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp (argv[i], "-n") == 0)
      runs = atoi (argv[i + 1]);
    else if (strcmp (argv[i], "-r") == 0)
      ref_runs = atoi (argv[i + 1]);
    else if (strcmp (argv[i], "-f") == 0)
      filter = argv[i + 1];
    else if (strcmp (argv[i], "-i") == 0)
      only = argv[i + 1];
  }
  if (runs < 1 || ref_runs < 1) {
    fprintf (stderr, "usage: %s [-n RUNS] [-r REF_RUNS] [-f FILTER] "
        "[-i ISA]\n", argv[0]);
    return 2;
  }
  static const char *const names[MAX_ISAS] = { "ref", "avx2", "avx512",
    "avx512bf16" };
  const sn_kernel_table *tabs[MAX_ISAS];
  int nt = 0;
  for (int i = 0; i < MAX_ISAS; i++)
    if ((!only || strcmp (only, names[i]) == 0)
        && (tabs[nt] = sn_kernels_get (names[i])))
      nt++;
  double total[MAX_ISAS] = { 0 }, total_min[MAX_ISAS] = { 0 };
  double *times[MAX_ISAS];
  for (int t = 0; t < nt; t++)
    times[t] = malloc (sizeof (double) * (size_t) (runs > ref_runs ? runs :
            ref_runs));
  printf ("%-28s %7s", "layer (x count)", "MFLOP");
  for (int t = 0; t < nt; t++)
    printf (" | %6s GFLOP/s min med (us)", tabs[t]->isa);
  printf ("\n");
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    const layer *l = &layers[li];
    if (filter && !strstr (l->name, filter))
      continue;
    bufs b;
    bufs_make (l, tabs, nt, &b);
    int n[MAX_ISAS];
    for (int t = 0; t < nt; t++) {
      n[t] = strcmp (tabs[t]->isa, "ref") == 0 ? ref_runs : runs;
      for (int r = -5; r < n[t]; r++) {        /* 5 warm-up runs */
        double t0 = now_s ();
        run_layer (l, &b, tabs[t], t);
        if (r >= 0)
          times[t][r] = now_s () - t0;
      }
    }
    double fl = layer_flops (l);
    printf ("%-24s x%-2d %7.3f", l->name, l->count, fl * 1e-6);
    for (int t = 0; t < nt; t++) {
      qsort (times[t], (size_t) n[t], sizeof (double), cmp_double);
      double tmin = times[t][0], tmed = times[t][n[t] / 2];
      printf (" | %6.1f %6.1f %8.1f", fl / tmin * 1e-9, fl / tmed * 1e-9,
          tmed * 1e6);
      total[t] += tmed * l->count;
      total_min[t] += tmin * l->count;
    }
    printf ("\n");
    bufs_free (&b, nt);
  }
  printf ("network total (sum over layers of time x count), 1 thread:\n");
  for (int t = 0; t < nt; t++)
    printf ("  %-6s min %.3f ms  median %.3f ms\n", tabs[t]->isa,
        total_min[t] * 1e3, total[t] * 1e3);
  for (int t = 0; t < nt; t++)
    free (times[t]);
  return 0;
}
