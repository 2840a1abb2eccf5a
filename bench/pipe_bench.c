/* pipe_bench.c - frames per second and peak memory of a whole pipeline.
 *
 *   pipe_bench 'PIPELINE DESCRIPTION'
 *
 * The description (gst-launch-1.0 syntax) must name its last element "sink"
 * and end by itself (e.g. videotestsrc num-buffers=N); an element named "net"
 * (the shufflenet element) is asked for its "latency" property at the end.
 * The pipeline plays to EOS; a buffer probe on sink's pad stamps each frame.
 * Prints (times in ms, memory in KiB):
 *   pipe frames N total_ms T steady_fps F total_fps G rss_kb R
 *   net mean_ms M min_ms A max_ms B count C          (when "net" exists)
 * steady_fps = (N - 1) / (last frame - first frame): the running pipeline;
 * total_fps = N / (PLAYING requested -> EOS): with start-up (model load).
 * rss_kb is this process's peak resident set (VmHWM of /proc/self/status;
 * not getrusage's ru_maxrss, which Linux carries over from the parent
 * across fork and exec).
 * Exit status 1 (one line on stderr) on a parse error, an error message on
 * the bus, or no frame reaching the sink. */
#include <stdio.h>
#include <time.h>

#include <gst/gst.h>

typedef struct
{
  guint64 frames;
  double first_ms, last_ms;     /* clock of the first / latest sink buffer */
} counter;

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Runs on the streaming thread; the main thread reads after EOS, which the
 * bus delivers under its lock after the last buffer. */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  counter *c = user_data;
  double t = now_ms ();
  if (c->frames++ == 0)
    c->first_ms = t;
  c->last_ms = t;
  return GST_PAD_PROBE_OK;
}

/* Peak resident set of this process in KiB, -1 when unknown. */
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

static void
print_latency (GstElement * pipeline)
{
  GstElement *net = gst_bin_get_by_name (GST_BIN (pipeline), "net");
  GstStructure *s = NULL;
  gdouble mean = 0, min = 0, max = 0;
  guint64 count = 0;
  if (net == NULL)
    return;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (net), "latency"))
    g_object_get (net, "latency", &s, NULL);
  if (s != NULL && gst_structure_get (s, "mean", G_TYPE_DOUBLE, &mean, "min",
          G_TYPE_DOUBLE, &min, "max", G_TYPE_DOUBLE, &max, "count",
          G_TYPE_UINT64, &count, NULL))
    printf ("net mean_ms %.4f min_ms %.4f max_ms %.4f count %" G_GUINT64_FORMAT
        "\n", mean, min, max, count);
  if (s)
    gst_structure_free (s);
  gst_object_unref (net);
}

/* Plays to EOS or error; returns TRUE on EOS. */
static gboolean
play (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gboolean ok = gst_element_set_state (pipeline, GST_STATE_PLAYING)
      != GST_STATE_CHANGE_FAILURE;
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    fprintf (stderr, "pipe_bench: %s: %s (%s)\n", GST_OBJECT_NAME (msg->src),
        err->message, dbg ? dbg : "no details");
    g_clear_error (&err);
    g_free (dbg);
    ok = FALSE;
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  return ok;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  counter c = { 0 };
  gst_init (NULL, NULL);
  if (argc != 2) {
    fprintf (stderr,
        "usage: pipe_bench 'PIPELINE ! ... ! fakesink name=sink'\n");
    return 1;
  }
  GstElement *pipeline = gst_parse_launch (argv[1], &error);
  if (pipeline == NULL || error != NULL) {
    fprintf (stderr, "pipe_bench: %s\n",
        error ? error->message : "no pipeline");
    g_clear_error (&error);
    if (pipeline)
      gst_object_unref (pipeline);
    return 1;
  }
  GstElement *sink = GST_IS_BIN (pipeline) ?
      gst_bin_get_by_name (GST_BIN (pipeline), "sink") : NULL;
  GstPad *pad = sink ? gst_element_get_static_pad (sink, "sink") : NULL;
  if (pad == NULL) {
    fprintf (stderr, "pipe_bench: no element named \"sink\" with a sink pad\n");
    gst_clear_object (&sink);
    gst_object_unref (pipeline);
    return 1;
  }
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &c, NULL);
  double t0 = now_ms ();
  gboolean ok = play (pipeline);
  double total = now_ms () - t0;
  if (ok && c.frames > 0) {
    double span = c.last_ms - c.first_ms;
    printf ("pipe frames %" G_GUINT64_FORMAT " total_ms %.1f steady_fps %.2f "
        "total_fps %.2f rss_kb %ld\n", c.frames, total,
        span > 0 ? (c.frames - 1) * 1e3 / span : 0.0, c.frames * 1e3 / total,
        peak_rss_kb ());
    print_latency (pipeline);
  } else if (ok) {
    fprintf (stderr, "pipe_bench: no frame reached the sink\n");
    ok = FALSE;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return ok ? 0 : 1;
}
