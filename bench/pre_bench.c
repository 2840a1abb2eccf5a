/* pre_bench.c - time the element's frame -> tensor preprocessing
 * (gst/snpreprocess.h) on full-size frames.
 *
 *   pre_bench [--runs R] [--size WxH] [--tensor S] [--threads T]
 *             [--regions N] FORMAT...
 *
 * For each FORMAT (a GstVideoFormat name: I420, RGB, NV12, ...) and each
 * resize mode (crop, the element's default; stretch) it builds one
 * preprocessor (ImageNet mean/std, RGB order, 3 x S x S planar tensor) and
 * times R calls of sn_preprocessor_run () after 10 warm-up calls. The frames
 * rotate among RING distinct buffers of random bytes so the timed reads are
 * not all served from a cache that a real pipeline would not have warm.
 * T (default 1) is sn_preprocessor_set_threads ()'s count; the element
 * uses its inference thread count. Prints one line per case:
 *   pre FORMAT MODE WxH min_ms median_ms max_ms threads
 * With --regions N each call preprocesses N regions of interest instead
 * (sn_preprocessor_run_regions (): squares of a fifth of the frame height
 * side by side in rows, each into its own tensor), as the element does
 * for inference-region=roi-list, and the line is
 *   preroi FORMAT MODE WxH min_ms median_ms max_ms threads N
 * Exit status 1 (one line on stderr) on bad arguments or a refused format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gst/gst.h>
#include <gst/video/video.h>

#include "snpreprocess.h"

#define RING 8
#define MAX_RUNS 100000

typedef struct
{
  int runs, width, height, tensor, threads, regions;
} options;

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

/* RING mapped frames of `info`, filled with reproducible random bytes. */
static gboolean
make_frames (const GstVideoInfo * info, GstBuffer ** bufs,
    GstVideoFrame * frames)
{
  guint32 state = 12345;
  for (int i = 0; i < RING; i++) {
    bufs[i] = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
    GstMapInfo map;
    gst_buffer_map (bufs[i], &map, GST_MAP_WRITE);
    for (gsize j = 0; j < map.size; j++) {
      state = state * 1664525u + 1013904223u;
      map.data[j] = state >> 24;
    }
    gst_buffer_unmap (bufs[i], &map);
    if (!gst_video_frame_map (&frames[i], (GstVideoInfo *) info, bufs[i],
            GST_MAP_READ))
      return FALSE;
  }
  return TRUE;
}

/* Time one format and resize mode; prints the result line. */
static gboolean
time_case (const options * o, GstVideoFormat format, SnResizeMode mode,
    const char *mode_name, double *t)
{
  GstVideoInfo info;
  GstBuffer *bufs[RING] = { NULL };
  GstVideoFrame frames[RING];
  GError *error = NULL;
  SnPreprocessConfig cfg = {
    .channel_order = SN_CHANNEL_ORDER_RGB,.scale = 1.0f / 255.0f,
    .mean = {0.485f, 0.456f, 0.406f},.std = {0.229f, 0.224f, 0.225f},
    .resize = mode,.short_side = 0,
    .out_width = o->tensor,.out_height = o->tensor,.out_nhwc = FALSE,
  };

  gst_video_info_set_format (&info, format, o->width, o->height);
  SnPreprocessor *pre = sn_preprocessor_new (&info, &cfg, &error);
  if (pre == NULL) {
    fprintf (stderr, "pre_bench: %s: %s\n", gst_video_format_to_string (format),
        error->message);
    g_error_free (error);
    return FALSE;
  }
  sn_preprocessor_set_threads (pre, o->threads);
  /* the tensors, [MAX (1, regions)][3][S][S] planar float */
  float *tensor = g_new (float, sn_preprocessor_get_tensor_size (pre)
      * MAX (1, o->regions));
  GstVideoRectangle *rects = g_new (GstVideoRectangle, MAX (1, o->regions));
  int side = MAX (1, o->height / 5), per_row = MAX (1, o->width / side);
  for (int r = 0; r < o->regions; r++)
    rects[r] = (GstVideoRectangle) {
    (r % per_row) * side, (r / per_row % 5) * side, side, side};
  gboolean ok = make_frames (&info, bufs, frames);
  if (ok) {
    for (int i = 0; i < 10 + o->runs; i++) {
      double t0 = now_ms ();
      if (o->regions > 0)
        sn_preprocessor_run_regions (pre, &frames[i % RING], rects,
            o->regions, tensor);
      else
        sn_preprocessor_run (pre, &frames[i % RING], tensor);
      if (i >= 10)              /* after 10 warm-up calls */
        t[i - 10] = now_ms () - t0;
    }
    qsort (t, o->runs, sizeof (double), cmp_double);
    printf ("%s %s %s %dx%d %.4f %.4f %.4f %d", o->regions ? "preroi" : "pre",
        gst_video_format_to_string (format), mode_name, o->width, o->height,
        t[0], t[o->runs / 2], t[o->runs - 1], o->threads);
    if (o->regions)
      printf (" %d", o->regions);
    printf ("\n");
  } else {
    fprintf (stderr, "pre_bench: cannot map a %s frame\n",
        gst_video_format_to_string (format));
  }
  for (int i = 0; i < RING && bufs[i]; i++) {
    if (ok)
      gst_video_frame_unmap (&frames[i]);
    gst_buffer_unref (bufs[i]);
  }
  g_free (tensor);
  g_free (rects);
  sn_preprocessor_free (pre);
  return ok;
}

static gboolean
parse_args (int argc, char **argv, options * o, int *first_format)
{
  *o = (options) {
  .runs = 300,.width = 1920,.height = 1080,.tensor = 224,.threads = 1};
  int i = 1;
  for (; i < argc && strncmp (argv[i], "--", 2) == 0; i += 2) {
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    char *end;
    if (strcmp (argv[i], "--runs") == 0)
      o->runs = (int) strtol (v, &end, 10);
    else if (strcmp (argv[i], "--tensor") == 0)
      o->tensor = (int) strtol (v, &end, 10);
    else if (strcmp (argv[i], "--threads") == 0)
      o->threads = (int) strtol (v, &end, 10);
    else if (strcmp (argv[i], "--regions") == 0)
      o->regions = (int) strtol (v, &end, 10);
    else if (strcmp (argv[i], "--size") == 0
        && sscanf (v, "%dx%d", &o->width, &o->height) == 2)
      end = (char *) "";
    else
      return FALSE;
    if (*end != '\0')
      return FALSE;
  }
  *first_format = i;
  return i < argc && o->runs >= 1 && o->runs <= MAX_RUNS && o->width >= 1
      && o->height >= 1 && o->width <= SN_PREPROCESS_MAX_IN_SIDE
      && o->height <= SN_PREPROCESS_MAX_IN_SIDE && o->tensor >= 1
      && o->tensor <= SN_PREPROCESS_MAX_OUT_SIDE && o->threads >= 1
      && o->threads <= SN_PREPROCESS_MAX_THREADS && o->regions >= 0
      && o->regions <= 1000;
}

int
main (int argc, char **argv)
{
  options o;
  int first;
  gst_init (NULL, NULL);
  if (!parse_args (argc, argv, &o, &first)) {
    fprintf (stderr, "usage: pre_bench [--runs 1..%d] [--size WxH] "
        "[--tensor S] [--threads 1..%d] [--regions 0..1000] FORMAT...\n",
        MAX_RUNS,
        SN_PREPROCESS_MAX_THREADS);
    return 1;
  }
  double *t = g_new (double, o.runs);   /* [runs] ms */
  int rc = 0;
  for (int i = first; i < argc && rc == 0; i++) {
    GstVideoFormat format = gst_video_format_from_string (argv[i]);
    if (format == GST_VIDEO_FORMAT_UNKNOWN
        || !sn_preprocess_format_supported (format)) {
      fprintf (stderr, "pre_bench: format '%s' is not one the element reads\n",
          argv[i]);
      rc = 1;
    } else if (!time_case (&o, format, SN_RESIZE_CROP, "crop", t)
        || !time_case (&o, format, SN_RESIZE_STRETCH, "stretch", t)) {
      rc = 1;
    }
  }
  g_free (t);
  return rc;
}
