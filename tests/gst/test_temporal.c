/* test_temporal.c - results over time: the smoothing, change events and
 * class filter of gst/sntemporal.c exactly (synthetic probability
 * vectors), and the element's use of them: restarts on a discontinuity, a
 * seek, new caps and a new segment; change messages and the meta's
 * "events"; per-region smoothing by id; the classes property. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "gstshufflenetmeta.h"
#include "sntemporal.h"
#include "sntest.h"

#define K 6

/* A K vector with @top leading at @p, the rest sharing 1 - p. */
static void
vec (float *v, gint top, float p)
{
  for (gint c = 0; c < K; c++)
    v[c] = (1.0f - p) / (K - 1);
  v[top] = p;
}

/* The moving average against a double-precision reference: first frame
 * as is, then alpha = 2 / (N + 1); off (0) reports the input itself. */
GST_START_TEST (test_ema_exact)
{
  SnTrack *t = sn_track_new (K);
  SnTemporalConfig cfg = { 4, 0, 0.0f, NULL };
  double ref[K], alpha = 2.0 / 5.0;
  GRand *rand = g_rand_new_with_seed (11);
  gboolean changed;
  SnChange ch;

  for (gint f = 0; f < 50; f++) {
    float p[K];
    const float *v;

    for (gint c = 0; c < K; c++)
      p[c] = (float) g_rand_double (rand);
    v = sn_track_update (t, &cfg, p, f * GST_MSECOND, &changed, &ch);
    for (gint c = 0; c < K; c++) {
      ref[c] = f == 0 ? p[c] : ref[c] + alpha * (p[c] - ref[c]);
      fail_unless (fabs (v[c] - ref[c]) < 1e-6, "frame %d class %d: %g, "
          "reference %g", f, c, v[c], ref[c]);
    }
    fail_if (changed, "change_hold 0 fired");
  }
  /* a restart: the next frame is the average */
  sn_track_restart (t);
  {
    float p[K];
    vec (p, 2, 0.9f);
    fail_unless (memcmp (sn_track_update (t, &cfg, p, 0, &changed, &ch), p,
            sizeof (p)) == 0);
    cfg.smoothing = 0;
    fail_unless (sn_track_update (t, &cfg, p, 0, &changed, &ch) == p);
  }
  sn_track_free (t);
  g_rand_free (rand);
}

GST_END_TEST;

/* Feeds the leaders @seq ('0'..'5', at probability 0.8; a lower-case
 * letter 'a'.. = that class at 0.3) one frame every 100 ms; returns the
 * frames that fired, as "index:from>to,". */
static gchar *
run_leaders (SnTrack * t, const SnTemporalConfig * cfg, const gchar * seq,
    SnChange * last)
{
  GString *out = g_string_new (NULL);

  for (gint f = 0; seq[f] != '\0'; f++) {
    float p[K];
    gboolean changed;
    SnChange ch;
    gboolean low = seq[f] >= 'a';

    vec (p, low ? seq[f] - 'a' : seq[f] - '0', low ? 0.3f : 0.8f);
    sn_track_update (t, cfg, p, f * 100 * GST_MSECOND, &changed, &ch);
    if (changed) {
      g_string_append_printf (out, "%d:%d>%d,", f, ch.from_id, ch.to_id);
      *last = ch;
    }
  }
  return g_string_free (out, FALSE);
}

static void
assert_changes (guint hold, gfloat threshold, const gchar * seq,
    const gchar * want)
{
  SnTrack *t = sn_track_new (K);
  SnTemporalConfig cfg = { 0, hold, threshold, NULL };
  SnChange last;
  gchar *got = run_leaders (t, &cfg, seq, &last);

  fail_unless (g_str_equal (got, want), "hold %u threshold %.2f, %s: fired "
      "%s, expected %s", hold, threshold, seq, got, want);
  g_free (got);
  sn_track_free (t);
}

/* change-hold and threshold exactly: a new leader fires on its hold-th
 * consecutive frame; the current class, a third class or a frame below the
 * threshold breaks the run; the first class comes from -1. */
GST_START_TEST (test_change_hold_semantics)
{
  assert_changes (3, 0.0f, "000", "2:-1>0,");
  assert_changes (3, 0.0f, "00", "");
  assert_changes (3, 0.0f, "00011011122", "2:-1>0,8:0>1,");
  assert_changes (3, 0.0f, "000112222", "2:-1>0,7:0>2,");
  assert_changes (1, 0.0f, "0012", "0:-1>0,2:0>1,3:1>2,");
  assert_changes (0, 0.0f, "000111", "");
  /* below the threshold (0.3 < 0.5) a frame counts for no one */
  assert_changes (2, 0.5f, "00b11", "1:-1>0,4:0>1,");
  assert_changes (2, 0.5f, "00bbb", "1:-1>0,");
  assert_changes (2, 0.2f, "00bb", "1:-1>0,3:0>1,");
  /* held: from the previous change (or the first frame) to this one */
  {
    SnTrack *t = sn_track_new (K);
    SnTemporalConfig cfg = { 0, 2, 0.0f, NULL };
    SnChange last;
    gchar *got = run_leaders (t, &cfg, "0000011", &last);
    fail_unless_equals_string (got, "1:-1>0,6:0>1,");
    fail_unless_equals_uint64 (last.held, 500 * GST_MSECOND);
    fail_unless (fabsf (last.score - 0.8f) < 1e-6f);
    g_free (got);
    sn_track_free (t);
  }
}

GST_END_TEST;

/* The class filter: names (any case), ids, a file; unknown names are
 * refused, all named in the message; top-k and events see allowed classes
 * alone. */
GST_START_TEST (test_class_filter)
{
  const gchar *labels[K + 1] = { "cat", "dog", "Egyptian cat", "car", "bus",
    "tram", NULL
  };
  gboolean *allowed;
  GError *err = NULL;
  gchar *file = NULL;
  gint fd = g_file_open_tmp ("sn-classes-XXXXXX", &file, NULL);
  float v[K] = { 0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.05f };
  gint ids[K];
  float scores[K];

  fail_unless (sn_class_filter_parse ("", labels, K, &allowed, NULL));
  fail_unless (allowed == NULL);
  fail_unless (sn_class_filter_parse (" EGYPTIAN CAT ,4", labels, K, &allowed,
          NULL));
  fail_unless (!allowed[0] && !allowed[1] && allowed[2] && !allowed[3]
      && allowed[4] && !allowed[5]);
  fail_unless_equals_int (sn_top_k_allowed (v, K, allowed, 5, ids, scores), 2);
  fail_unless (ids[0] == 4 && ids[1] == 2);
  g_free (allowed);

  fail_unless (g_file_set_contents (file, "dog\n\n  tram\n5\n", -1, NULL));
  {
    gchar *at = g_strconcat ("@", file, NULL);
    fail_unless (sn_class_filter_parse (at, labels, K, &allowed, NULL));
    fail_unless (allowed[1] && allowed[5] && !allowed[0]);
    g_free (allowed);
    g_free (at);
  }
  fail_if (sn_class_filter_parse ("cat,zebra,6,-1", labels, K, &allowed,
          &err));
  fail_unless (strstr (err->message, "'zebra'") && strstr (err->message,
          "'6'") && strstr (err->message, "'-1'") && !strstr (err->message,
          "'cat'"), "%s", err->message);
  g_clear_error (&err);
  fail_if (sn_class_filter_parse ("@/nonexistent/classes", labels, K,
          &allowed, &err));
  g_clear_error (&err);
  fail_if (sn_class_filter_parse (" , ", labels, K, &allowed, &err));
  g_clear_error (&err);

  /* ties keep the lower id first; all classes without a filter */
  fail_unless_equals_int (sn_top_k_allowed (v, K, NULL, 3, ids, scores), 3);
  fail_unless (ids[0] == 1 && ids[1] == 3 && ids[2] == 4);
  close (fd);
  g_unlink (file);
  g_free (file);
}

GST_END_TEST;

/* Tracks by id are forgotten after SN_TRACKS_FORGET frames unseen, and
 * bounded to SN_TRACKS_MAX (the least recently seen go). */
GST_START_TEST (test_track_set_bounds)
{
  SnTrackSet *s = sn_track_set_new (K);

  /* ids 1..100 seen on frame 1, the next SN_TRACKS_MAX on frame 2 */
  for (gint id = 1; id <= SN_TRACKS_MAX + 100; id++)
    sn_track_set_get (s, id, id <= 100 ? 1 : 2);
  sn_track_set_forget (s, 2);
  fail_unless_equals_int (sn_track_set_size (s), SN_TRACKS_MAX);
  sn_track_set_get (s, 1, 3);   /* gone: made anew */
  fail_unless_equals_int (sn_track_set_size (s), SN_TRACKS_MAX + 1);
  sn_track_set_get (s, 101, 3); /* kept */
  fail_unless_equals_int (sn_track_set_size (s), SN_TRACKS_MAX + 1);
  sn_track_set_forget (s, 3 + SN_TRACKS_FORGET);
  fail_unless_equals_int (sn_track_set_size (s), 2);    /* 1 and 101 */
  sn_track_set_clear (s);
  fail_unless_equals_int (sn_track_set_size (s), 0);
  sn_track_set_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* The element */

#define CAPS "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"

static GstSample *
photo_frame (const gchar * name)
{
  GstSample *p = name ? snt_photo_named (name) : snt_photo ();
  GstSample *f = snt_convert (p, "RGB", 64, 48);

  gst_sample_unref (p);
  return f;
}

static GstBuffer *
frame_buffer (GstSample * s, gint n, gboolean discont)
{
  GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (s));

  GST_BUFFER_PTS (b) = n * GST_SECOND / 30;
  GST_BUFFER_DURATION (b) = GST_SECOND / 30;
  /* the converted photo's buffer may carry DISCONT: only where asked */
  if (discont)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  else
    GST_BUFFER_FLAG_UNSET (b, GST_BUFFER_FLAG_DISCONT);
  return b;
}

static GstStructure *
push (GstHarness * h, GstBuffer * b)
{
  GstBuffer *out;
  GstStructure *s;

  fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  out = gst_harness_pull (h);
  s = gst_structure_copy (gst_shufflenet_meta_get_structure (out));
  gst_buffer_unref (out);
  return s;
}

static gboolean
same_classes (const GstStructure * a, const GstStructure * b)
{
  guint n = gst_shufflenet_result_get_n_classes (a);

  if (n == 0 || n != gst_shufflenet_result_get_n_classes (b))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    gint ia = -1, ib = -2;
    gdouble sa = 0, sb = 0;
    gst_shufflenet_result_get_class (a, i, &ia, NULL, &sa);
    gst_shufflenet_result_get_class (b, i, &ib, NULL, &sb);
    if (ia != ib || sa != sb)
      return FALSE;
  }
  return TRUE;
}

typedef enum
{
  RESTART_DISCONT,
  RESTART_SEEK,
  RESTART_CAPS,
  RESTART_SEGMENT,
  RESTART_NONE
} Restart;

/* smoothing=8: three cat frames, then a coffee frame after @how. With a
 * restart the coffee frame's result is the raw coffee result, bit for bit;
 * without one it mixes in the cats. */
static void
check_restart (Restart how)
{
  gchar *model = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  GstSample *cat = photo_frame (NULL), *coffee = photo_frame ("coffee.png");
  GstElement *e = snt_element_new (model, NULL);
  GstHarness *h;
  GstStructure *raw, *got;
  gboolean smoothed = FALSE;

  g_object_set (e, "top-k", 5, NULL);
  h = snt_harness_new (e, CAPS);
  raw = push (h, frame_buffer (coffee, 0, FALSE));
  g_object_set (e, "smoothing", 8, NULL);
  for (gint f = 1; f <= 3; f++)
    gst_structure_free (push (h, frame_buffer (cat, f, FALSE)));
  switch (how) {
    case RESTART_SEEK:
      fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
      fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
      /* a flush needs a new segment */
      G_GNUC_FALLTHROUGH;
    case RESTART_SEGMENT:{
      GstSegment seg;
      gst_segment_init (&seg, GST_FORMAT_TIME);
      fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
      break;
    }
    case RESTART_CAPS:
      gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=64,"
          "height=48,framerate=25/1");
      break;
    default:
      break;
  }
  got = push (h, frame_buffer (coffee, 4, how == RESTART_DISCONT));
  fail_unless (gst_structure_get_boolean (got, "smoothed", &smoothed)
      && smoothed);
  if (how == RESTART_NONE)
    fail_if (same_classes (got, raw), "no restart, yet no cat in the mix");
  else
    fail_unless (same_classes (got, raw), "restart %d: the average kept the "
        "cats", how);
  gst_structure_free (raw);
  gst_structure_free (got);
  gst_harness_teardown (h);
  gst_sample_unref (cat);
  gst_sample_unref (coffee);
  g_free (model);
}

GST_START_TEST (test_restarts)
{
  check_restart (RESTART_NONE);
  check_restart (RESTART_DISCONT);
  check_restart (RESTART_SEEK);
  check_restart (RESTART_CAPS);
  check_restart (RESTART_SEGMENT);
}

GST_END_TEST;

/* Change messages with their fields, the same structures in the meta's
 * "events" of the frame that fired; none with change-hold=0. */
GST_START_TEST (test_change_messages)
{
  gchar *model = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  GstSample *cat = photo_frame (NULL), *coffee = photo_frame ("coffee.png");
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);
  GstHarness *h;
  gint fired = 0;

  g_object_set (e, "change-hold", 2, "post-messages", FALSE, NULL);
  h = snt_harness_new (e, CAPS);
  for (gint f = 0; f < 8; f++) {
    GstStructure *s = push (h, frame_buffer (f < 4 ? cat : coffee, f, FALSE));
    const GValue *events = gst_structure_get_value (s, "events");
    GstMessage *msg;

    while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
      const GstStructure *m = gst_message_get_structure (msg);
      gint from, to;
      guint64 ts, held;
      fail_unless (gst_structure_has_name (m, "shufflenet-change"),
          "post-messages=false, yet %" GST_PTR_FORMAT, m);
      fail_unless (events != NULL && gst_value_array_get_size (events) == 1,
          "frame %d: a message but no event in the meta", f);
      fail_unless (gst_structure_is_equal (m,
              gst_value_get_structure (gst_value_array_get_value (events, 0))));
      fail_unless (gst_structure_get (m, "from-id", G_TYPE_INT, &from,
              "to-id", G_TYPE_INT, &to, "timestamp", G_TYPE_UINT64, &ts,
              "held", G_TYPE_UINT64, &held, NULL));
      fail_unless (gst_structure_has_field (m, "from-label")
          && gst_structure_has_field (m, "to-label")
          && gst_structure_has_field (m, "score")
          && gst_structure_has_field (m, "running-time")
          && gst_structure_has_field (m, "stream-time")
          && gst_structure_has_field (m, "element"));
      if (fired == 0) {
        fail_unless (f == 1 && from == -1, "first change on frame %d from %d",
            f, from);
        fail_unless_equals_string (gst_structure_get_string (m, "from-label"),
            "none");
      } else {
        gint top1 = snt_result_top1 (s, NULL);
        fail_unless (f == 5, "second change on frame %d", f);
        fail_unless_equals_uint64 (held, 4 * GST_SECOND / 30);
        fail_unless (to == top1, "changed to %d, the frame's top-1 is %d",
            to, top1);
      }
      fail_unless_equals_uint64 (ts, f * GST_SECOND / 30);
      fired++;
      gst_message_unref (msg);
    }
    gst_structure_free (s);
  }
  fail_unless_equals_int (fired, 2);
  g_object_set (e, "change-hold", 0, NULL);
  for (gint f = 8; f < 12; f++)
    gst_structure_free (push (h, frame_buffer (f % 2 ? cat : coffee, f,
                FALSE)));
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT) == NULL);
  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (cat);
  gst_sample_unref (coffee);
  g_free (model);
}

GST_END_TEST;

/* classes: names, ids and a file narrow every result to those classes;
 * unknown names are refused (warning) and the old value stays; a filter
 * set before any model that the model does not know is dropped with a
 * warning message. */
GST_START_TEST (test_classes_property)
{
  gchar *model = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  GstSample *cat = photo_frame (NULL);
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);
  GstHarness *h;
  GstStructure *s;
  gchar *v, *file = NULL;
  gint fd = g_file_open_tmp ("sn-classes-XXXXXX", &file, NULL);
  GstMessage *msg;

  g_object_set (e, "classes", "no such class", NULL);   /* no model yet */
  h = snt_harness_new (e, CAPS);
  s = push (h, frame_buffer (cat, 0, FALSE));
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), 5);
  gst_structure_free (s);
  msg = snt_pop_message (bus, GST_MESSAGE_WARNING, 0);
  fail_unless (msg != NULL, "no warning for a filter the model lacks");
  gst_message_unref (msg);

  g_object_set (e, "classes", "3, 7,1", NULL);
  s = push (h, frame_buffer (cat, 1, FALSE));
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), 3);
  for (guint i = 0; i < 3; i++) {
    gint id = -1;
    gst_shufflenet_result_get_class (s, i, &id, NULL, NULL);
    fail_unless (id == 1 || id == 3 || id == 7, "class %d", id);
  }
  gst_structure_free (s);

  ASSERT_WARNING (g_object_set (e, "classes", "3,zebra", NULL));
  g_object_get (e, "classes", &v, NULL);
  fail_unless_equals_string (v, "3, 7,1");
  g_free (v);

  fail_unless (g_file_set_contents (file, "12\n", -1, NULL));
  {
    gchar *at = g_strconcat ("@", file, NULL);
    g_object_set (e, "classes", at, NULL);
    g_free (at);
  }
  s = push (h, frame_buffer (cat, 2, FALSE));
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), 1);
  gst_structure_free (s);
  close (fd);
  g_unlink (file);
  g_free (file);
  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (cat);
  g_free (model);
}

GST_END_TEST;

static void
add_roi (GstBuffer * b, gint id, guint x)
{
  GstVideoRegionOfInterestMeta *m =
      gst_buffer_add_video_region_of_interest_meta (b, "obj", x, 0, 32, 48);
  m->id = id;
}

/* Regions: each tracked id has its own average (a region alone equals the
 * same region beside another); an untracked region is not smoothed; a
 * change message names the region. */
GST_START_TEST (test_region_smoothing)
{
  gchar *model = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  GstSample *cat = photo_frame (NULL), *coffee = photo_frame ("coffee.png");
  GstElement *a = snt_element_new (model, NULL);
  GstBus *bus;
  GstElement *b = snt_element_new (model, &bus);
  GstHarness *ha, *hb;
  gboolean saw_roi_event = FALSE;

  g_object_set (a, "inference-region", 1, "smoothing", 4, "change-hold", 1,
      NULL);
  g_object_set (b, "inference-region", 1, "smoothing", 4, "change-hold", 1,
      NULL);
  ha = snt_harness_new (a, CAPS);
  hb = snt_harness_new (b, CAPS);
  for (gint f = 0; f < 6; f++) {
    GstSample *src = f % 3 ? cat : coffee;
    GstBuffer *one = frame_buffer (src, f, FALSE);
    GstBuffer *two = frame_buffer (src, f, FALSE);
    GstStructure *sa, *sb;
    const GstStructure *ra, *rb, *untracked;
    gboolean smoothed;
    GstMessage *msg;

    add_roi (one, 5, 0);
    add_roi (two, 5, 0);
    add_roi (two, 0, 32);       /* untracked */
    sa = push (ha, one);
    sb = push (hb, two);
    ra = gst_shufflenet_result_get_roi (sa, 0);
    rb = gst_shufflenet_result_get_roi (sb, 0);
    untracked = gst_shufflenet_result_get_roi (sb, 1);
    fail_unless (same_classes (ra, rb), "frame %d: id 5's average depends "
        "on another region", f);
    fail_unless (gst_structure_get_boolean (ra, "smoothed", &smoothed)
        && smoothed);
    fail_unless (gst_structure_get_boolean (untracked, "smoothed", &smoothed)
        && !smoothed);
    while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
      gint roi_id;
      if (gst_message_has_name (msg, "shufflenet-change")) {
        fail_unless (gst_structure_get_int (gst_message_get_structure (msg),
                "roi-id", &roi_id) && roi_id == 5);
        saw_roi_event = TRUE;
      }
      gst_message_unref (msg);
    }
    gst_structure_free (sa);
    gst_structure_free (sb);
  }
  fail_unless (saw_roi_event);
  gst_harness_teardown (ha);
  gst_harness_teardown (hb);
  snt_bus_unref (bus);
  gst_sample_unref (cat);
  gst_sample_unref (coffee);
  g_free (model);
}

GST_END_TEST;

static Suite *
temporal_suite (void)
{
  Suite *s = suite_create ("shufflenet-temporal");
  TCase *tc = tcase_create ("temporal");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ema_exact);
  tcase_add_test (tc, test_change_hold_semantics);
  tcase_add_test (tc, test_class_filter);
  tcase_add_test (tc, test_track_set_bounds);
  tcase_add_test (tc, test_restarts);
  tcase_add_test (tc, test_change_messages);
  tcase_add_test (tc, test_classes_property);
  tcase_add_test (tc, test_region_smoothing);
  return s;
}

GST_CHECK_MAIN (temporal);
