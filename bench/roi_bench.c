/* roi_bench.c - regions per second of `shufflenet inference-region=roi-list`
 * on a real photo scaled to a large frame, and the process's peak memory.
 *
 *   roi_bench [--regions R] [--frames N] [--one-at-a-time] [--size WxH]
 *             [--format F] [--threads T] [--model FILE] [--photo FILE]
 *             [--max-rss-mb M] [--max-growth-kb G]
 *
 * Pushes N frames (default 40) of F (default I420) WxH (default 1920x1080)
 * through appsrc ! shufflenet inference-region=roi-list threads=T !
 * fakesink, each frame carrying R regions (GstVideoRegionOfInterestMeta,
 * default 16) of a fifth of the frame's height, side by side in rows, ids
 * 1..R (reclassify-interval 1: every region is classified on every frame).
 * --one-at-a-time gives each frame one region and pushes N x R frames: the
 * same regions, classified one per inference instead of in batches.
 * The frame is --photo (default: scikit-image's chelsea.png, found with
 * python3) scaled to WxH. The first 3 frames warm up; the rest are timed.
 * Prints (times in ms, memory in KiB):
 *   roi regions R frames N batched B ms T regions_per_s X ms_per_region Y
 *       rss_kb K rss_after_warmup_kb W
 * rss_kb is the peak resident set (VmHWM), rss_after_warmup_kb the peak
 * after the warm-up frames: their difference is what the steady frames
 * added. --max-rss-mb and --max-growth-kb turn it into a test (the suite
 * runs it: tests/faults/meson.build): exit status 1 when the peak or the
 * growth after warm-up exceeds them (reported, not enforced, under
 * AddressSanitizer, whose shadow memory inflates both), 77 (skip) when
 * --model does not exist. Exit status 1 (one line on stderr) on any
 * failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#define WARMUP_FRAMES 3

typedef struct
{
  gint regions, frames, threads, width, height;
  gboolean one_at_a_time;
  const gchar *format, *model, *photo;
  long max_rss_kb, max_growth_kb;       /* 0: no limit */
} Options;

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static long
peak_rss_kb (void)
{
  char line[256];
  long kb = -1;
  FILE *f = fopen ("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  while (fgets (line, sizeof line, f) != NULL)
    if (sscanf (line, "VmHWM: %ld kB", &kb) == 1)
      break;
  fclose (f);
  return kb;
}

static G_GNUC_NORETURN void
die (const gchar * what)
{
  fprintf (stderr, "roi_bench: %s\n", what);
  exit (1);
}

/* The photo decoded and scaled to the frame: a sample of that caps. */
static GstSample *
load_frame (const Options * o)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "videoconvert ! videoscale ! video/x-raw,format=%s,width=%d,height=%d "
      "! appsink name=sink", o->photo, o->format, o->width, o->height);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err), *sink;
  GstSample *sample = NULL;

  g_free (desc);
  if (p == NULL)
    die (err ? err->message : "cannot decode the photo");
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gst_element_set_state (p, GST_STATE_PAUSED);
  gst_element_get_state (p, NULL, NULL, GST_CLOCK_TIME_NONE);
  g_signal_emit_by_name (sink, "pull-preroll", &sample);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  if (sample == NULL)
    die ("no frame decoded from the photo");
  return sample;
}

/* Region i of a frame: squares of a fifth of the height, in rows. */
static void
add_region (GstBuffer * buf, const Options * o, gint i)
{
  guint side = o->height / 5, per_row = o->width / side;
  GstVideoRegionOfInterestMeta *m = gst_buffer_add_video_region_of_interest_meta
      (buf, "object", (i % per_row) * side, (i / per_row % 5) * side, side,
      side);

  m->id = i + 1;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* The limits of --max-rss-mb and --max-growth-kb. */
static gboolean
check_memory (const Options * o, long rss, long after_warmup)
{
  gboolean ok = (o->max_rss_kb == 0 || rss <= o->max_rss_kb)
      && (o->max_growth_kb == 0 || rss - after_warmup <= o->max_growth_kb);

  if (!ok) {
    fprintf (stderr, "roi_bench: peak RSS %ld KiB (limit %ld), %ld KiB of it "
        "after the warm-up (limit %ld)\n", rss, o->max_rss_kb,
        rss - after_warmup, o->max_growth_kb);
#ifdef UNDER_ASAN
    fprintf (stderr, "roi_bench: not enforced under AddressSanitizer\n");
    ok = TRUE;
#endif
  }
  return ok;
}

typedef struct
{
  double first_ms, last_ms;     /* first timed / last buffer at the sink */
  gint seen;
  long rss_after_warmup;
} Timing;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Timing *t = data;

  if (++t->seen == WARMUP_FRAMES) {
    t->first_ms = now_ms ();
    t->rss_after_warmup = peak_rss_kb ();
  }
  t->last_ms = now_ms ();
  return GST_PAD_PROBE_OK;
}

static void
parse_options (int argc, char **argv, Options * o)
{
  for (int i = 1; i < argc; i++) {
    const gchar *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp (a, "--one-at-a-time") == 0) {
      o->one_at_a_time = TRUE;
      continue;
    }
    if (v == NULL)
      die ("an option needs a value (see the source's head comment)");
    i++;
    if (strcmp (a, "--regions") == 0)
      o->regions = atoi (v);
    else if (strcmp (a, "--frames") == 0)
      o->frames = atoi (v);
    else if (strcmp (a, "--threads") == 0)
      o->threads = atoi (v);
    else if (strcmp (a, "--format") == 0)
      o->format = v;
    else if (strcmp (a, "--model") == 0)
      o->model = v;
    else if (strcmp (a, "--photo") == 0)
      o->photo = v;
    else if (strcmp (a, "--max-rss-mb") == 0)
      o->max_rss_kb = atol (v) * 1024;
    else if (strcmp (a, "--max-growth-kb") == 0)
      o->max_growth_kb = atol (v);
    else if (strcmp (a, "--size") != 0
        || sscanf (v, "%dx%d", &o->width, &o->height) != 2)
      die ("unknown option or bad value (see the source's head comment)");
  }
  if (o->regions < 1 || o->frames <= WARMUP_FRAMES || o->threads < 0
      || o->width < 64 || o->height < 64)
    die ("need --regions >= 1, --frames > 3, a frame of at least 64x64");
}

int
main (int argc, char **argv)
{
  Options o = { 16, 40, 2, 1920, 1080, FALSE, "I420", NULL, NULL, 0, 0 };
  gint frames, per_frame;
  GstElement *pipeline, *src, *net, *sink;
  GstSample *frame;
  GstCaps *caps;
  GstPad *pad;
  GstMessage *msg;
  Timing t = { 0 };
  double ms;

  gst_init (NULL, NULL);
  parse_options (argc, argv, &o);
  if (o.model != NULL && !g_file_test (o.model, G_FILE_TEST_IS_REGULAR)) {
    printf ("SKIP: no model %s (models/fetch.sh)\n", o.model);
    return 77;
  }
  if (o.photo == NULL)
    o.photo = g_getenv ("SN_BENCH_PHOTO");
  if (o.photo == NULL)
    die ("no --photo (or SN_BENCH_PHOTO)");
  frame = load_frame (&o);
  frames = o.one_at_a_time ? o.frames * o.regions : o.frames;
  per_frame = o.one_at_a_time ? 1 : o.regions;

  pipeline = gst_parse_launch ("appsrc name=src format=time ! shufflenet "
      "name=net inference-region=roi-list post-messages=false ! "
      "fakesink name=sink sync=false", NULL);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  net = gst_bin_get_by_name (GST_BIN (pipeline), "net");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (src == NULL || net == NULL)
    die ("no shufflenet element (GST_PLUGIN_PATH?)");
  g_object_set (net, "threads", o.threads, "max-rois", o.regions, NULL);
  if (o.model != NULL)
    g_object_set (net, "model", o.model, NULL);
  caps = gst_caps_copy (gst_sample_get_caps (frame));
  gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, 30, 1, NULL);
  g_object_set (src, "caps", caps, "max-buffers", (guint64) 4, "block", TRUE,
      NULL);
  gst_caps_unref (caps);
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &t, NULL);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE)
    die ("the pipeline does not start (model?)");

  for (gint f = 0; f < frames; f++) {
    GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (frame));
    GST_BUFFER_PTS (b) = f * GST_SECOND / 30;
    for (gint r = 0; r < per_frame; r++)
      add_region (b, &o, o.one_at_a_time ? f % o.regions : r);
    if (gst_app_src_push_buffer (GST_APP_SRC (src), b) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    die ("error message from the pipeline");
  gst_message_unref (msg);
  if (t.seen != frames)
    die ("not every frame reached the sink");

  /* timed: frames after the warm-up ones */
  ms = t.last_ms - t.first_ms;
  {
    gint timed = (frames - WARMUP_FRAMES) * per_frame;
    long rss = peak_rss_kb ();
    printf ("roi regions %d frames %d batched %d ms %.1f regions_per_s %.1f "
        "ms_per_region %.4f rss_kb %ld rss_after_warmup_kb %ld\n", o.regions,
        frames, !o.one_at_a_time, ms, timed * 1e3 / ms, ms / timed, rss,
        t.rss_after_warmup);
    if (!check_memory (&o, rss, t.rss_after_warmup))
      return 1;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (src);
  gst_object_unref (net);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  gst_sample_unref (frame);
  return 0;
}
