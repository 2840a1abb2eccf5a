/* test_midstream.c - faults in the middle of a stream: caps renegotiation
 * (resolution and format) while playing, flushing seeks, EOS and restart,
 * state changes interrupted at every step and at every frame, and the model
 * property changed while playing (the old model serves until the new one is
 * ready; a bad one is refused and the old one stays). Every result is
 * compared with a lone element's on the same picture. */
#include <string.h>

#include "ftest.h"

#define TOP_K 5
#define PULL_TIMEOUT (20 * GST_SECOND)
#define SMALL_CAPS "video/x-raw,format=I420,width=64,height=48,framerate=30/1"

/* Lone-element references for the models a test switches between,
 * picked by the model name a result carries, made for the caps of the
 * sample checked (remade when they change). */
typedef struct
{
  gint n;
  const gchar *names[3];
  gchar *paths[3];
  FtRef *refs[3];
  GstCaps *caps[3];             /* caps of refs[i] */
} Refs;

static void
refs_init (Refs * r, const gchar * const *files, const gchar * const *names,
    gint n)
{
  memset (r, 0, sizeof (*r));
  r->n = n;
  for (gint i = 0; i < n; i++) {
    r->paths[i] = snt_model (files[i]);
    r->names[i] = names[i];
  }
}

static void
refs_clear (Refs * r)
{
  for (gint i = 0; i < r->n; i++) {
    if (r->refs[i] != NULL)
      ft_ref_free (r->refs[i]);
    gst_clear_caps (&r->caps[i]);
    g_free (r->paths[i]);
  }
}

/* Fails unless @result is the reference's for @sample with its model. */
static void
refs_check (Refs * r, GstSample * sample, const GstStructure * result,
    const gchar * what)
{
  const gchar *model = gst_structure_get_string (result, "model");
  GstCaps *caps = gst_sample_get_caps (sample);

  for (gint i = 0; i < r->n; i++) {
    GstStructure *want;
    gchar *text;

    if (g_strcmp0 (model, r->names[i]) != 0)
      continue;
    if (r->caps[i] == NULL || !gst_caps_is_equal (r->caps[i], caps)) {
      if (r->refs[i] != NULL)
        ft_ref_free (r->refs[i]);
      gst_caps_replace (&r->caps[i], caps);
      text = gst_caps_to_string (caps);
      r->refs[i] = ft_ref_new (r->paths[i], text, TOP_K);
      g_free (text);
    }
    want = ft_ref_classify (r->refs[i], gst_sample_get_buffer (sample));
    ft_assert_same_result (result, want, what);
    gst_structure_free (want);
    return;
  }
  fail ("%s: result of an unexpected model %s", what, model);
}

static GstSample *
pull (GstElement * sink)
{
  GstSample *s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
      PULL_TIMEOUT);

  fail_unless (s != NULL, "no sample within 20 s");
  return s;
}

/* ------------------------------------------------------------------------ */
/* Caps renegotiation */

static const struct
{
  const gchar *format;
  gint width, height;
} legs[] = {
  {"I420", 64, 48}, {"RGB", 96, 72}, {"NV12", 65, 47}, {"GRAY8", 33, 25},
  {"BGRx", 160, 120}, {"YUY2", 64, 48}, {"I420", 64, 48},
};

#define LEG_FRAMES 4

/* appsrc changes format and size every LEG_FRAMES frames (a caps event
 * before the buffer, as a decoder does): every frame is classified as a
 * lone element does with those caps; with interval=3 the reused results
 * are those of the frame they come from, across the changes. */
GST_START_TEST (test_caps_renegotiation)
{
  const guint interval = __i__ == 0 ? 1 : 3;
  const gint n_legs = G_N_ELEMENTS (legs), n = n_legs * LEG_FRAMES;
  gchar *tiny = snt_model ("tiny.onnx");
  GstSample **frames = g_new0 (GstSample *, n);
  GstStructure **ref = g_new0 (GstStructure *, n);
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "shufflenet name=sn model=\"%s\" threads=1 interval=%u top-k=%d ! "
      "appsink name=sink sync=false", tiny, interval, TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *src = ft_get (pipeline, "src");
  GstElement *sink = ft_get (pipeline, "sink");
  GstBus *bus = gst_element_get_bus (pipeline);

  for (gint l = 0; l < n_legs; l++) {
    GstSample **bank = ft_frames (legs[l].format, legs[l].width,
        legs[l].height, LEG_FRAMES);
    GstStructure **r = ft_reference (tiny, bank, LEG_FRAMES, TOP_K);
    for (gint j = 0; j < LEG_FRAMES; j++) {
      frames[l * LEG_FRAMES + j] = bank[j];
      ref[l * LEG_FRAMES + j] = r[j];
    }
    g_free (bank);
    g_free (r);
  }

  ft_play (pipeline);
  for (gint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_copy (gst_sample_get_buffer (frames[i]));
    GstSample *s;

    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    s = gst_sample_new (buf, gst_sample_get_caps (frames[i]), NULL, NULL);
    fail_unless_equals_int (gst_app_src_push_sample (GST_APP_SRC (src), s),
        GST_FLOW_OK);
    gst_sample_unref (s);
    gst_buffer_unref (buf);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  for (gint i = 0; i < n; i++) {
    GstSample *s = pull (sink);
    GstBuffer *buf = gst_sample_get_buffer (s);
    const GstStructure *r = gst_shufflenet_meta_get_structure (buf);
    guint64 age = 99, frame = 0;
    gchar *what = g_strdup_printf ("frame %d (%s %dx%d)", i,
        legs[i / LEG_FRAMES].format, legs[i / LEG_FRAMES].width,
        legs[i / LEG_FRAMES].height);

    fail_unless (gst_caps_is_equal (gst_sample_get_caps (s),
            gst_sample_get_caps (frames[i])), "%s: caps differ", what);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), i * GST_SECOND / 30);
    fail_unless (r != NULL, "%s: no meta", what);
    fail_unless (gst_structure_get_uint64 (r, "frame", &frame));
    fail_unless_equals_uint64 (frame, i);
    gst_shufflenet_result_is_stale (r, &age);
    fail_unless_equals_uint64 (age, i % interval);
    ft_assert_same_result (r, ref[i - age], what);
    g_free (what);
    gst_sample_unref (s);
  }
  fail_unless (gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
          PULL_TIMEOUT) == NULL && gst_app_sink_is_eos (GST_APP_SINK (sink)));
  ft_set_state (pipeline, GST_STATE_NULL);
  ft_assert_no_errors (bus);

  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  ft_results_free (ref, n);
  ft_frames_free (frames, n);
  g_free (tiny);
}

GST_END_TEST;

/* A capsfilter changed while playing: videotestsrc renegotiates upstream of
 * the element (RECONFIGURE through it), frames of both sizes and formats
 * come out classified right. */
GST_START_TEST (test_caps_change_from_downstream)
{
  const gchar *caps[2] = { SMALL_CAPS,
    "video/x-raw,format=RGB,width=97,height=73,framerate=30/1"
  };
  const gchar *files[] = { "tiny.onnx" }, *names[] = { "tiny" };
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *desc = g_strdup_printf ("videotestsrc pattern=ball ! "
      "capsfilter name=cf caps=\"%s\" ! shufflenet name=sn model=\"%s\" "
      "threads=1 top-k=%d ! appsink name=sink sync=false max-buffers=2",
      caps[0], tiny, TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *cf = ft_get (pipeline, "cf");
  GstElement *sink = ft_get (pipeline, "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  Refs refs;
  gint seen[2] = { 0, 0 }, leg = 0;

  refs_init (&refs, files, names, 1);
  ft_set_state (pipeline, GST_STATE_PLAYING);
  for (gint i = 0; seen[1] < 5; i++) {
    GstSample *s = pull (sink);
    GstCaps *want = gst_caps_from_string (caps[leg]);
    gint which = gst_caps_can_intersect (gst_sample_get_caps (s), want) ?
        leg : 0;

    fail_unless (i < 200, "the new caps never arrived");
    refs_check (&refs, s,
        gst_shufflenet_meta_get_structure (gst_sample_get_buffer (s)),
        caps[which]);
    seen[which]++;
    if (seen[0] == 5 && leg == 0) {
      GstCaps *next = gst_caps_from_string (caps[1]);
      g_object_set (cf, "caps", next, NULL);
      gst_caps_unref (next);
      leg = 1;
    }
    gst_caps_unref (want);
    gst_sample_unref (s);
  }
  ft_set_state (pipeline, GST_STATE_NULL);
  ft_assert_no_errors (bus);
  refs_clear (&refs);
  gst_object_unref (bus);
  gst_object_unref (cf);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (tiny);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Flushing seeks and EOS */

/* Pulls @n samples and checks them: PTS from @first_pts on, consecutive
 * element frame numbers, the stale pattern of interval 3 starting afresh
 * at the first one (and at a model swap), timestamps in the result, fresh
 * results equal to the reference, stale ones to the last fresh one. */
static void
pull_after_seek (GstElement * sink, Refs * refs, gint n,
    GstClockTime first_pts, guint64 * frame)
{
  GstStructure *fresh = NULL;
  guint64 want_age = 0;

  for (gint i = 0; i < n; i++) {
    GstSample *s = pull (sink);
    GstBuffer *buf = gst_sample_get_buffer (s);
    const GstStructure *r = gst_shufflenet_meta_get_structure (buf);
    const GstSegment *seg = gst_sample_get_segment (s);
    guint64 age = 99, f = 0, v = 0;
    gchar *what = g_strdup_printf ("%d after the seek", i);

    fail_unless (r != NULL, "%s: no meta", what);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf),
        first_pts + i * GST_SECOND / 30);
    fail_unless (gst_structure_get_uint64 (r, "timestamp", &v));
    fail_unless_equals_uint64 (v, GST_BUFFER_PTS (buf));
    fail_unless (gst_structure_get_uint64 (r, "running-time", &v));
    fail_unless_equals_uint64 (v, gst_segment_to_running_time (seg,
            GST_FORMAT_TIME, GST_BUFFER_PTS (buf)));
    fail_unless (gst_structure_get_uint64 (r, "stream-time", &v));
    fail_unless_equals_uint64 (v, GST_BUFFER_PTS (buf));
    fail_unless (gst_structure_get_uint64 (r, "frame", &f));
    if (*frame != G_MAXUINT64)
      fail_unless_equals_uint64 (f, *frame + 1);
    *frame = f;
    /* no result from before the seek (or the swap) is reused */
    if (fresh != NULL && g_strcmp0 (gst_structure_get_string (r, "model"),
            gst_structure_get_string (fresh, "model")) != 0)
      want_age = 0;
    gst_shufflenet_result_is_stale (r, &age);
    fail_unless_equals_uint64 (age, want_age);
    if (age == 0) {
      refs_check (refs, s, r, what);
      if (fresh != NULL)
        gst_structure_free (fresh);
      fresh = gst_structure_copy (r);
    } else {
      ft_assert_same_result (r, fresh, what);
    }
    want_age = (want_age + 1) % 3;
    g_free (what);
    gst_sample_unref (s);
  }
  if (fresh != NULL)
    gst_structure_free (fresh);
}

/* Forward and backward flushing seeks while playing, a seek while paused
 * with a model change racing it, and a seek to the end. */
GST_START_TEST (test_flushing_seeks)
{
  const gchar *files[] = { "tiny.onnx", "tiny_meta.onnx" };
  const gchar *names[] = { "tiny", "tiny-meta-test" };
  gchar *tiny = snt_model ("tiny.onnx"), *meta = snt_model ("tiny_meta.onnx");
  gchar *desc =
      g_strdup_printf ("videotestsrc pattern=ball ! " SMALL_CAPS
      " ! shufflenet name=sn model=\"%s\" threads=1 interval=3 "
      "top-k=%d ! appsink name=sink sync=false max-buffers=1", tiny, TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *sink = ft_get (pipeline, "sink");
  GstElement *sn = ft_get (pipeline, "sn");
  GstBus *bus = gst_element_get_bus (pipeline);
  const GstSeekFlags flags = GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE;
  guint64 frame = G_MAXUINT64;
  Refs refs;
  GstSample *s;

  refs_init (&refs, files, names, 2);
  ft_set_state (pipeline, GST_STATE_PLAYING);
  pull_after_seek (sink, &refs, 4, 0, &frame);

  fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_TIME, flags,
          2 * GST_SECOND));
  frame = G_MAXUINT64;
  pull_after_seek (sink, &refs, 7, 2 * GST_SECOND, &frame);
  fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_TIME, flags,
          GST_SECOND / 2));
  frame = G_MAXUINT64;
  pull_after_seek (sink, &refs, 7, GST_SECOND / 2, &frame);

  /* paused, with a model change in flight */
  ft_set_state (pipeline, GST_STATE_PAUSED);
  g_object_set (sn, "model", meta, NULL);
  fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_TIME, flags,
          3 * GST_SECOND));
  fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL,
          PULL_TIMEOUT), GST_STATE_CHANGE_SUCCESS);
  s = gst_app_sink_pull_preroll (GST_APP_SINK (sink));
  fail_unless (s != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (gst_sample_get_buffer (s)),
      3 * GST_SECOND);
  gst_sample_unref (s);
  ft_set_state (pipeline, GST_STATE_PLAYING);
  frame = G_MAXUINT64;
  pull_after_seek (sink, &refs, 7, 3 * GST_SECOND, &frame);

  /* to the last frame (a range of one frame): it, then EOS. videotestsrc
   * rounds the start down and first sends frame 148, outside the segment
   * (as a decoder sends the frames from a keyframe up to the target): it
   * must not be classified, and frame 149 must carry a fresh result. */
  fail_unless (gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME, flags,
          GST_SEEK_TYPE_SET, 149 * GST_SECOND / 30, GST_SEEK_TYPE_SET,
          5 * GST_SECOND - 1));
  frame = G_MAXUINT64;
  pull_after_seek (sink, &refs, 1, 149 * GST_SECOND / 30, &frame);
  fail_unless (gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
          PULL_TIMEOUT) == NULL && gst_app_sink_is_eos (GST_APP_SINK (sink)));

  ft_set_state (pipeline, GST_STATE_NULL);
  ft_assert_no_errors (bus);
  refs_clear (&refs);
  gst_object_unref (bus);
  gst_object_unref (sn);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (tiny);
  g_free (meta);
}

GST_END_TEST;

/* Plays frames 0..24 (a seek with a stop position): every frame comes out
 * before EOS with a result, one message each; a flushing seek after EOS
 * plays the same range again, from a fresh result. */
GST_START_TEST (test_eos_and_replay)
{
  const gchar *files[] = { "tiny.onnx" }, *names[] = { "tiny" };
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *desc = g_strdup_printf ("videotestsrc pattern=ball ! " SMALL_CAPS
      " ! shufflenet name=sn model=\"%s\" threads=1 interval=3 top-k=%d ! "
      "appsink name=sink sync=false", tiny, TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *sink = ft_get (pipeline, "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  const GstSeekFlags flags = GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE;
  const GstClockTime stop = 25 * GST_SECOND / 30 - 1;   /* frames 0..24 */
  Refs refs;

  refs_init (&refs, files, names, 1);
  ft_set_state (pipeline, GST_STATE_PAUSED);
  gst_bus_set_flushing (bus, TRUE);     /* the preroll's message */
  gst_bus_set_flushing (bus, FALSE);
  for (gint round = 0; round < 2; round++) {
    guint64 frame = G_MAXUINT64;
    gint results = 0;
    GstMessage *msg;

    fail_unless (gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME, flags,
            GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_SET, stop));
    if (round == 0)
      ft_set_state (pipeline, GST_STATE_PLAYING);
    pull_after_seek (sink, &refs, 25, 0, &frame);
    fail_unless (gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
            PULL_TIMEOUT) == NULL);
    fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)));
    while ((msg = gst_bus_timed_pop (bus, PULL_TIMEOUT)) != NULL) {
      GstMessageType type = GST_MESSAGE_TYPE (msg);

      fail_if (type == GST_MESSAGE_ERROR || type == GST_MESSAGE_WARNING);
      if (gst_message_has_name (msg, GST_SHUFFLENET_MESSAGE_NAME))
        results++;
      gst_message_unref (msg);
      if (type == GST_MESSAGE_EOS)
        break;
    }
    fail_unless_equals_int (results, 25);
  }
  ft_set_state (pipeline, GST_STATE_NULL);
  refs_clear (&refs);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (tiny);
}

GST_END_TEST;

/* The same with the harness: after EOS buffers are refused; a flush and a
 * new segment start over with a fresh result. */
GST_START_TEST (test_eos_flush_restart)
{
  gchar *tiny = snt_model ("tiny.onnx");
  GstSample **bank = ft_frames ("I420", 64, 48, 4);
  GstStructure **ref = ft_reference (tiny, bank, 4, TOP_K);
  GstElement *e = snt_element_new (tiny, NULL);
  GstHarness *h;
  GstSegment seg;

  g_object_set (e, "interval", 3, "top-k", TOP_K, NULL);
  h = snt_harness_new (e, SMALL_CAPS);
  for (gint round = 0; round < 2; round++) {
    for (gint i = 0; i < 4; i++) {
      GstBuffer *out = snt_push_pull (h, bank[i]);
      const GstStructure *r = gst_shufflenet_meta_get_structure (out);
      guint64 age = 99;

      gst_shufflenet_result_is_stale (r, &age);
      fail_unless_equals_uint64 (age, i % 3);
      ft_assert_same_result (r, ref[i - age], "after restart");
      gst_buffer_unref (out);
    }
    fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
    fail_unless_equals_int (gst_harness_push (h,
            gst_buffer_ref (gst_sample_get_buffer (bank[0]))), GST_FLOW_EOS);
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
    gst_segment_init (&seg, GST_FORMAT_TIME);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  }
  gst_harness_teardown (h);
  ft_results_free (ref, 4);
  ft_frames_free (bank, 4);
  g_free (tiny);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* State changes interrupted */

static const GstState states[] = {
  GST_STATE_NULL, GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING
};

/* Plays @n frames and checks them (fresh, correct with the model named). */
static void
play_and_check (GstElement * pipeline, GstElement * sink, Refs * refs,
    gint n, const gchar * what)
{
  ft_set_state (pipeline, GST_STATE_PLAYING);
  for (gint i = 0; i < n; i++) {
    GstSample *s = pull (sink);
    GstBuffer *buf = gst_sample_get_buffer (s);
    const GstStructure *r = gst_shufflenet_meta_get_structure (buf);

    fail_unless (r != NULL, "%s: no meta", what);
    fail_if (gst_shufflenet_result_is_stale (r, NULL), "%s: stale", what);
    refs_check (refs, s, r, what);
    gst_sample_unref (s);
  }
}

/* Every state change interrupted by the next one before it completes (a
 * preroll cut by READY, a stop cut by PLAYING...), half of them with a
 * model change queued in between; then the pipeline must still play with
 * correct results. Then streaming cut after 0..3 frames by a fall to
 * PAUSED, READY or NULL, and played again. */
GST_START_TEST (test_state_changes_interrupted)
{
  const gchar *files[] = { "tiny.onnx", "tiny_meta.onnx" };
  const gchar *names[] = { "tiny", "tiny-meta-test" };
  gchar *models[2] = { snt_model (files[0]), snt_model (files[1]) };
  /* 300 fps in real time; the sink drops what the test does not pull, so
   * the stream never blocks a state change on a full appsink. */
  gchar *desc = g_strdup_printf ("videotestsrc pattern=ball ! "
      "video/x-raw,format=I420,width=64,height=48,framerate=300/1 ! "
      "shufflenet name=sn model=\"%s\" threads=1 top-k=%d ! "
      "appsink name=sink sync=true max-buffers=2 drop=true", models[0], TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *sink = ft_get (pipeline, "sink");
  GstElement *sn = ft_get (pipeline, "sn");
  GstBus *bus = gst_element_get_bus (pipeline);
  guint swaps = 0;
  Refs refs;

  refs_init (&refs, files, names, 2);
  for (gint variant = 0; variant < 2; variant++) {
    for (guint a = 0; a < G_N_ELEMENTS (states); a++) {
      for (guint b = 0; b < G_N_ELEMENTS (states); b++) {
        gchar *what;
        GstState now;

        /* NULL -> PLAYING cut by PAUSED hangs in GStreamer 1.22 itself
         * about half of the time (videotestsrc ! identity ! fakesink,
         * no shufflenet: the pipeline stays PAUSED, pending PAUSED, and
         * a new state change does not release it). */
        if (a == b || (states[a] == GST_STATE_PLAYING
                && states[b] == GST_STATE_PAUSED))
          continue;
        what = g_strdup_printf ("%s -> %s%s",
            gst_element_state_get_name (states[a]),
            gst_element_state_get_name (states[b]),
            variant ? " with a model change" : "");
        fail_if (gst_element_set_state (pipeline, states[a]) ==
            GST_STATE_CHANGE_FAILURE, "%s", what);
        if (variant)
          g_object_set (sn, "model", models[swaps++ % 2], NULL);
        fail_if (gst_element_set_state (pipeline, states[b]) ==
            GST_STATE_CHANGE_FAILURE, "%s", what);
        fail_if (gst_element_get_state (pipeline, &now, NULL,
                PULL_TIMEOUT) == GST_STATE_CHANGE_FAILURE, "%s", what);
        fail_unless (now == states[b], "%s: in %s", what,
            gst_element_state_get_name (now));
        play_and_check (pipeline, sink, &refs, 3, what);
        ft_set_state (pipeline, GST_STATE_NULL);
        ft_assert_no_errors (bus);
        g_free (what);
      }
    }
  }

  for (guint t = 0; t < 3; t++) {
    for (gint n = 0; n < 4; n++) {
      gchar *what = g_strdup_printf ("%d frames, then %s", n,
          gst_element_state_get_name (states[t]));

      ft_set_state (pipeline, GST_STATE_PLAYING);
      for (gint i = 0; i < n; i++)
        gst_sample_unref (pull (sink));
      ft_set_state (pipeline, states[t]);
      play_and_check (pipeline, sink, &refs, 3, what);
      ft_set_state (pipeline, GST_STATE_NULL);
      ft_assert_no_errors (bus);
      g_free (what);
    }
  }
  refs_clear (&refs);
  gst_object_unref (bus);
  gst_object_unref (sn);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (models[0]);
  g_free (models[1]);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* The model changed while playing */

typedef struct
{
  GstHarness *h;
  GstSample **bank;             /* [N_SWAP_BANK] */
  gint pushed;
} Feed;

#define N_SWAP_BANK 6

/* Pushes the next frame and returns its result (a copy). */
static GstStructure *
feed_one (Feed * f, gint * index)
{
  GstBuffer *out;
  GstStructure *r;

  *index = f->pushed % N_SWAP_BANK;
  out = snt_push_pull (f->h, f->bank[*index]);
  fail_unless (gst_shufflenet_meta_get_structure (out) != NULL,
      "frame %d: no meta", f->pushed);
  r = gst_structure_copy (gst_shufflenet_meta_get_structure (out));
  gst_buffer_unref (out);
  f->pushed++;
  return r;
}

/* Sets @model and feeds frames until a result of @new_name comes: every
 * frame before it has @old's result, the first new one is fresh. Returns
 * how many frames the old model served meanwhile. */
static gint
swap_to (Feed * f, GstElement * e, const gchar * model, const gchar * new_name,
    GstStructure ** old_ref, GstStructure ** new_ref)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gint served_old = 0, i;
  GstStructure *r;

  g_object_set (e, "model", model, NULL);
  while (TRUE) {
    r = feed_one (f, &i);
    if (g_strcmp0 (gst_structure_get_string (r, "model"), new_name) == 0)
      break;
    ft_assert_same_result (r, old_ref[i], "old model while loading");
    gst_structure_free (r);
    served_old++;
    fail_unless (g_get_monotonic_time () < deadline, "%s never came", model);
  }
  fail_if (gst_shufflenet_result_is_stale (r, NULL));
  ft_assert_same_result (r, new_ref[i], "first frame of the new model");
  gst_structure_free (r);
  for (gint k = 0; k < N_SWAP_BANK; k++) {
    r = feed_one (f, &i);
    ft_assert_same_result (r, new_ref[i], "new model");
    gst_structure_free (r);
  }
  return served_old;
}

/* Sets @prop to a @bad value: a warning of @domain comes, the property
 * reads back what is in use and the old model keeps serving throughout. */
static void
refuse (Feed * f, GstElement * e, GstBus * bus, const gchar * prop,
    const gchar * bad, GQuark domain, GstStructure ** ref)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  GstMessage *msg = NULL;
  GError *err = NULL;
  gchar *before = NULL, *after = NULL;

  g_object_get (e, prop, &before, NULL);
  g_object_set (e, prop, bad, NULL);
  while (msg == NULL) {
    gint i;
    GstStructure *r = feed_one (f, &i);

    ft_assert_same_result (r, ref[i], bad);
    gst_structure_free (r);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
    fail_unless (g_get_monotonic_time () < deadline, "no warning for %s", bad);
  }
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_WARNING);
  gst_message_parse_warning (msg, &err, NULL);
  fail_unless (err->domain == domain, "%s: %s", bad, err->message);
  GST_INFO ("refused %s=%s: %s", prop, bad, err->message);
  g_error_free (err);
  gst_message_unref (msg);
  g_object_get (e, prop, &after, NULL);
  fail_unless_equals_string (after, before);
  for (gint k = 0; k < N_SWAP_BANK; k++) {
    gint i;
    GstStructure *r = feed_one (f, &i);
    ft_assert_same_result (r, ref[i], "after the refusal");
    gst_structure_free (r);
  }
  g_free (before);
  g_free (after);
}

/* tiny -> the 224x224 model -> bad files (refused, the 224x224 model
 * stays) -> tiny again, frames flowing all along: never a frame without
 * a result, each result the lone element's of the model that made it. */
GST_START_TEST (test_model_change_while_playing)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *big = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  gchar *unsupported = snt_model ("unsupported_leakyrelu.onnx");
  gchar *labels3 = snt_model ("labels3.txt");
  GstBus *bus;
  GstElement *e = snt_element_new (tiny, &bus);
  Feed f = { NULL, ft_frames ("I420", 96, 72, N_SWAP_BANK), 0 };
  GstStructure **ref_tiny = ft_reference (tiny, f.bank, N_SWAP_BANK, TOP_K);
  GstStructure **ref_big = ft_reference (big, f.bank, N_SWAP_BANK, TOP_K);
  gint served;

  g_object_set (e, "top-k", TOP_K, "post-messages", FALSE, NULL);
  f.h = snt_harness_new (gst_object_ref (e),
      "video/x-raw,format=I420,width=96,height=72,framerate=30/1");
  for (gint k = 0; k < N_SWAP_BANK; k++) {
    gint i;
    GstStructure *r = feed_one (&f, &i);
    ft_assert_same_result (r, ref_tiny[i], "tiny");
    gst_structure_free (r);
  }

  served = swap_to (&f, e, big, "shufflenet_v1_g3_0.5x", ref_tiny, ref_big);
  GST_INFO ("tiny served %d frames while the 224x224 model loaded", served);
  fail_unless (served >= 1, "no frame served while the new model loaded");

  refuse (&f, e, bus, "model", "/nonexistent/model.onnx", GST_RESOURCE_ERROR,
      ref_big);
  refuse (&f, e, bus, "model", unsupported, GST_LIBRARY_ERROR, ref_big);
  refuse (&f, e, bus, "labels", labels3, GST_LIBRARY_ERROR, ref_big);

  swap_to (&f, e, tiny, "tiny", ref_big, ref_tiny);
  fail_unless (snt_pop_message (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING,
          0) == NULL);

  gst_harness_teardown (f.h);
  gst_object_unref (e);
  snt_bus_unref (bus);
  ft_results_free (ref_tiny, N_SWAP_BANK);
  ft_results_free (ref_big, N_SWAP_BANK);
  ft_frames_free (f.bank, N_SWAP_BANK);
  g_free (tiny);
  g_free (big);
  g_free (unsupported);
  g_free (labels3);
}

GST_END_TEST;

static Suite *
shufflenet_midstream_suite (void)
{
  Suite *s = suite_create ("shufflenet-midstream");
  TCase *tc = tcase_create ("midstream");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_loop_test (tc, test_caps_renegotiation, 0, 2);
  tcase_add_test (tc, test_caps_change_from_downstream);
  tcase_add_test (tc, test_flushing_seeks);
  tcase_add_test (tc, test_eos_and_replay);
  tcase_add_test (tc, test_eos_flush_restart);
  tcase_add_test (tc, test_state_changes_interrupted);
  tcase_add_test (tc, test_model_change_while_playing);
  return s;
}

GST_CHECK_MAIN (shufflenet_midstream);
