/* test_soak.c - long runs: a 10,000-frame soak (every frame out, in order,
 * with its timestamps and a correct result; resident memory after the
 * first 100 frames grows by less than 1 MB) and a live source faster than
 * inference (latency stays bounded, results are marked stale, no queue
 * grows), checked against the same overload without QoS, where latency
 * does build up. Under valgrind and the sanitizers the memory and time
 * bounds are reported, not enforced (they change both); everything else is
 * checked. */
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* AddressSanitizer keeps freed memory resident (its quarantine), and
 * ThreadSanitizer its shadow and access history; both slow inference: like
 * valgrind, they get the memory and time bounds reported, not enforced;
 * leaks, bad accesses and races are their own checks. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RUNNING_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RUNNING_UNDER_SANITIZER 1
#endif
#endif
#ifndef RUNNING_UNDER_SANITIZER
#define RUNNING_UNDER_SANITIZER 0
#endif

#include "ftest.h"

#define N_BANK 8
#define TOP_K 5
#define FRAME_NS ((GstClockTime) GST_SECOND / 30)
#define SOAK_FRAMES 10000       /* SN_SOAK_FRAMES overrides */
#define SOAK_WARMUP 100         /* frames before the memory baseline */
#define SOAK_MAX_GROWTH (1024 * 1024)

typedef struct
{
  GstElement *src;
  GstSample **bank;             /* [N_BANK] 64x48 I420 */
  gint n;
} Pusher;

/* Pushes n frames (copies of the bank's, cycled) with PTS, DTS, duration
 * and offset set, then EOS. appsrc blocks when its queue is full. */
static gpointer
push_soak (gpointer data)
{
  Pusher *p = data;

  for (gint i = 0; i < p->n; i++) {
    GstBuffer *buf = gst_buffer_copy (gst_sample_get_buffer (p->bank[i %
                N_BANK]));

    GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = i * FRAME_NS;
    GST_BUFFER_DURATION (buf) = FRAME_NS;
    GST_BUFFER_OFFSET (buf) = i;
    if (gst_app_src_push_buffer (GST_APP_SRC (p->src), buf) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (p->src));
  return NULL;
}

/* What an application does with the bus: reads every message. Here the
 * results are counted and dropped on the posting thread. */
static GstBusSyncReply
count_results (GstBus * bus, GstMessage * msg, gpointer data)
{
  if (gst_message_has_name (msg, GST_SHUFFLENET_MESSAGE_NAME)) {
    g_atomic_int_inc ((gint *) data);
    gst_message_unref (msg);    /* a sync handler's DROP owns it */
    return GST_BUS_DROP;
  }
  return GST_BUS_PASS;
}

/* appsrc ! queue ! shufflenet (tiny, every frame classified) ! appsink:
 * every frame comes out once, in order, with its PTS, DTS, duration,
 * offset and a result equal to a lone element's; resident memory measured
 * after the first 100 frames and at the end. */
GST_START_TEST (test_soak)
{
  const gchar *env = g_getenv ("SN_SOAK_FRAMES");
  const gint n = env != NULL ? atoi (env) : SOAK_FRAMES;
  gchar *tiny = snt_model ("tiny.onnx");
  Pusher p = { NULL, ft_frames ("I420", 64, 48, N_BANK), n };
  GstStructure **ref = ft_reference (tiny, p.bank, N_BANK, TOP_K);
  gchar *caps = gst_caps_to_string (gst_sample_get_caps (p.bank[0]));
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=\"%s\" "
      "block=true max-buffers=16 ! queue ! shufflenet name=sn model=\"%s\" "
      "threads=1 top-k=%d ! appsink name=sink sync=false max-buffers=16",
      caps, tiny, TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *sink = ft_get (pipeline, "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  gint messages = 0, out = 0;
  gsize rss_base = 0, rss_max = 0, rss_end;
  gint64 t0 = g_get_monotonic_time ();
  GstSample *sample;
  GThread *pusher;

  fail_unless (n > SOAK_WARMUP, "SN_SOAK_FRAMES=%d: too few", n);
  p.src = ft_get (pipeline, "src");
  gst_bus_set_sync_handler (bus, count_results, &messages, NULL);
  ft_play (pipeline);
  pusher = g_thread_new ("pusher", push_soak, &p);

  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
              30 * GST_SECOND)) != NULL) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    const GstStructure *r = gst_shufflenet_meta_get_structure (buf);
    guint64 frame = 0, ts = 0;

    if (GST_BUFFER_PTS (buf) != out * FRAME_NS)
      fail ("output %d has PTS %" GST_TIME_FORMAT, out,
          GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
    fail_unless (GST_BUFFER_DTS (buf) == out * FRAME_NS
        && GST_BUFFER_DURATION (buf) == FRAME_NS
        && GST_BUFFER_OFFSET (buf) == (guint64) out, "output %d: times", out);
    fail_unless (r != NULL, "output %d: no meta", out);
    fail_unless (gst_structure_get_uint64 (r, "frame", &frame)
        && frame == (guint64) out, "output %d: frame %" G_GUINT64_FORMAT, out,
        frame);
    fail_unless (gst_structure_get_uint64 (r, "timestamp", &ts)
        && ts == out * FRAME_NS, "output %d: timestamp", out);
    if (out % 97 == 0 || out < N_BANK)  /* a full comparison now and then */
      ft_assert_same_result (r, ref[out % N_BANK], "soak");
    else if (snt_result_top1 (r, NULL) != snt_result_top1 (ref[out % N_BANK],
            NULL))
      ft_assert_same_result (r, ref[out % N_BANK], "soak");
    gst_sample_unref (sample);
    out++;
    if (out == SOAK_WARMUP)
      rss_base = ft_rss ();
    if (out >= SOAK_WARMUP)
      rss_max = MAX (rss_max, ft_rss ());
  }
  rss_end = ft_rss ();
  g_thread_join (pusher);
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)), "stalled at %d", out);
  fail_unless_equals_int (out, n);
  fail_unless_equals_int (g_atomic_int_get (&messages), n);
  GST_INFO ("soak: %d frames in %.1f s, RSS %.1f MiB after %d frames, "
      "%.1f MiB at the end (max %.1f), growth %+ld bytes", n,
      (g_get_monotonic_time () - t0) / 1e6, rss_base / 1048576.0,
      SOAK_WARMUP, rss_end / 1048576.0, rss_max / 1048576.0,
      (glong) rss_end - (glong) rss_base);
  g_printerr ("soak: %d frames, %.1f s, resident memory growth after frame "
      "%d: %+ld KiB (end), %+ld KiB (max)\n", n,
      (g_get_monotonic_time () - t0) / 1e6, SOAK_WARMUP,
      ((glong) rss_end - (glong) rss_base) / 1024,
      ((glong) rss_max - (glong) rss_base) / 1024);
  fail_unless ((glong) rss_end - (glong) rss_base < SOAK_MAX_GROWTH
      || RUNNING_ON_VALGRIND || RUNNING_UNDER_SANITIZER,
      "resident memory grew by %ld bytes",
      (glong) rss_end - (glong) rss_base);

  ft_set_state (pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  ft_assert_no_errors (bus);
  gst_object_unref (bus);
  gst_object_unref (p.src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (caps);
  ft_results_free (ref, N_BANK);
  ft_frames_free (p.bank, N_BANK);
  g_free (tiny);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Live overload */

typedef struct
{
  GstElement *queue;
  gint frames, stale, fresh;
  guint64 max_age;
  guint max_queue;              /* buffers */
  GArray *latency_ms;           /* gdouble per frame: render - capture */
  GArray *fresh_ids;            /* gint: top-1 of the last fresh result */
  gint last_fresh_top1;
  gchar *failure;
} Live;

/* fakesink handoff (streaming thread, at render time): how late the frame
 * is against the moment it was captured (its running time), its result,
 * the queue's level. */
static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer data)
{
  Live *l = data;
  GstClock *clock = gst_element_get_clock (sink);
  GstSegment *seg = NULL;
  GstEvent *ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  const GstStructure *r = gst_shufflenet_meta_get_structure (buf);
  GstClockTime now, rt;
  guint64 age = 0;
  guint level = 0;
  gdouble ms;

  gst_event_parse_segment (ev, (const GstSegment **) &seg);
  rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  now = gst_clock_get_time (clock) - gst_element_get_base_time (sink);
  ms = ((gdouble) now - (gdouble) rt) / GST_MSECOND;
  g_array_append_val (l->latency_ms, ms);
  gst_event_unref (ev);
  gst_object_unref (clock);

  g_object_get (l->queue, "current-level-buffers", &level, NULL);
  l->max_queue = MAX (l->max_queue, level);
  l->frames++;
  if (r == NULL) {
    if (l->failure == NULL)
      l->failure = g_strdup_printf ("frame %d without a result", l->frames);
    return;
  }
  if (gst_shufflenet_result_is_stale (r, &age)) {
    l->stale++;
    l->max_age = MAX (l->max_age, age);
    if (snt_result_top1 (r, NULL) != l->last_fresh_top1 && !l->failure)
      l->failure = g_strdup_printf ("frame %d: stale result is not the "
          "last fresh one", l->frames);
  } else {
    l->fresh++;
    l->last_fresh_top1 = snt_result_top1 (r, NULL);
  }
}

static gdouble
mean_of (GArray * a, guint from, guint to)
{
  gdouble sum = 0.0;

  for (guint i = from; i < to; i++)
    sum += g_array_index (a, gdouble, i);
  return sum / MAX (1, to - from);
}

static gdouble
max_of (GArray * a, guint from, guint to)
{
  gdouble m = 0.0;

  for (guint i = from; i < to; i++)
    m = MAX (m, g_array_index (a, gdouble, i));
  return m;
}

/* Mean classification time (ms) of @model on 160x120 frames, one thread. */
static gdouble
inference_ms (const gchar * model)
{
  GstSample **bank = ft_frames ("I420", 160, 120, 1);
  GstElement *e = snt_element_new (model, NULL);
  GstStructure *lat = NULL;
  GstHarness *h;
  gdouble ms = 0.0;

  h = snt_harness_new (gst_object_ref (e),
      "video/x-raw,format=I420,width=160,height=120");
  for (gint i = 0; i < 30; i++)
    gst_buffer_unref (snt_push_pull (h, bank[0]));
  g_object_get (e, "latency", &lat, NULL);
  fail_unless (gst_structure_get_double (lat, "mean", &ms) && ms > 0);
  gst_structure_free (lat);
  gst_harness_teardown (h);
  gst_object_unref (e);
  ft_frames_free (bank, 1);
  return ms;
}

/* A live videotestsrc at @fps for @frames frames ! queue (no limit: what
 * it holds is what the load leaves) ! shufflenet (the 224x224 model, 1
 * thread, @qos) ! fakesink sync=true qos=true. */
static void
run_live (const gchar * model, gint fps, gint frames, gboolean qos, Live * l)
{
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball "
      "num-buffers=%d ! video/x-raw,format=I420,width=160,height=120,"
      "framerate=%d/1 ! queue name=q max-size-buffers=0 max-size-bytes=0 "
      "max-size-time=0 ! shufflenet name=sn model=\"%s\" "
      "threads=1 qos=%d post-messages=false ! fakesink name=sink sync=true "
      "qos=true signal-handoffs=true", frames, fps, model, qos);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *sink = ft_get (pipeline, "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  memset (l, 0, sizeof (*l));
  l->queue = ft_get (pipeline, "q");
  l->latency_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  l->last_fresh_top1 = -1;
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), l);
  ft_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "live run did not reach EOS");
  gst_message_unref (msg);
  ft_set_state (pipeline, GST_STATE_NULL);
  ft_assert_no_errors (bus);
  gst_object_unref (l->queue);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
}

/* Bounds: end-to-end latency (render time - capture time, the pipeline
 * latency included) after the first 10 % of frames, and frames waiting in
 * the queue (as many as the source makes in that time). */
#define LIVE_MAX_LATENCY_MS 150.0
#define LIVE_MAX_QUEUE_MS 100

/* Frames four times faster than inference: with QoS the element skips
 * inference on late frames (stale results), latency stays bounded and the
 * queue stays short; every frame is still rendered. Without QoS the same
 * load builds latency up: the overload is real. */
GST_START_TEST (test_live_overload)
{
  gchar *model = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  gdouble ms = inference_ms (model);
  gint fps = CLAMP ((gint) (4000.0 / ms), 30, 3000);
  gint frames = fps * 3;        /* 3 s */
  guint tenth = frames / 10, quarter = frames / 4;
  gdouble max_ms, early, late;
  Live l, ctl;

  run_live (model, fps, frames, TRUE, &l);
  fail_unless (l.failure == NULL, "%s", l.failure);
  max_ms = max_of (l.latency_ms, tenth, l.latency_ms->len);
  early = mean_of (l.latency_ms, quarter, 2 * quarter);
  late = mean_of (l.latency_ms, l.latency_ms->len - quarter, l.latency_ms->len);
  g_printerr ("live: inference %.2f ms, %d fps, %d frames: %d fresh, %d "
      "stale (max age %" G_GUINT64_FORMAT "), latency max %.1f ms, mean "
      "%.1f -> %.1f ms, queue max %u buffers (%.1f ms of video)\n", ms, fps,
      l.frames, l.fresh, l.stale, l.max_age, max_ms, early, late,
      l.max_queue, l.max_queue * 1000.0 / fps);
  fail_unless_equals_int (l.frames, frames);
  if (RUNNING_ON_VALGRIND || RUNNING_UNDER_SANITIZER)
    goto done;
  fail_unless (l.stale > l.frames / 4, "only %d stale of %d", l.stale,
      l.frames);
  fail_unless (l.fresh > l.frames / 20, "only %d fresh of %d", l.fresh,
      l.frames);
  fail_unless (max_ms < LIVE_MAX_LATENCY_MS, "latency reached %.1f ms", max_ms);
  fail_unless (late < early + 20.0, "latency builds up: %.1f -> %.1f ms",
      early, late);
  fail_unless (l.max_queue <= (guint) (fps * LIVE_MAX_QUEUE_MS / 1000),
      "queue reached %u buffers", l.max_queue);

  /* 0.5 s of the same without QoS */
  run_live (model, fps, fps / 2, FALSE, &ctl);
  g_printerr ("live without QoS: %d frames, %d stale, latency max %.1f ms, "
      "queue max %u buffers\n", ctl.frames, ctl.stale,
      max_of (ctl.latency_ms, 0, ctl.latency_ms->len), ctl.max_queue);
  fail_unless_equals_int (ctl.stale, 0);
  fail_unless (max_of (ctl.latency_ms, 0, ctl.latency_ms->len) > 3 * max_ms
      && ctl.max_queue > 3 * l.max_queue,
      "without QoS the load is not an overload");

  g_array_unref (ctl.latency_ms);
  g_free (ctl.failure);
done:
  g_array_unref (l.latency_ms);
  g_free (l.failure);
  g_free (model);
}

GST_END_TEST;

static Suite *
shufflenet_soak_suite (void)
{
  Suite *s = suite_create ("shufflenet-soak");
  TCase *tc = tcase_create ("soak");

  tcase_set_timeout (tc, 240);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_soak);
  tcase_add_test (tc, test_live_overload);
  return s;
}

GST_CHECK_MAIN (shufflenet_soak);
