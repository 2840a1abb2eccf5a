/* test_track.c - shufflenettrack and its matching (gst/sntracker.c): ids
 * that follow moving boxes, gaps shorter and longer than max-age, types
 * kept apart, the best overlap winning, resets at flushes and new caps, and
 * the reason it exists: `shufflenet reclassify-interval` reusing a moving
 * region's result behind it. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "gstshufflenetmeta.h"
#include "sntest.h"
#include "sntracker.h"

#define CAPS "video/x-raw,format=GRAY8,width=64,height=48,framerate=30/1"
#define SMALLER "video/x-raw,format=GRAY8,width=32,height=24,framerate=30/1"

static SnTrackBox
box (const gchar * type, gint x, gint y, gint w, gint h)
{
  SnTrackBox b = { g_quark_from_string (type), {x, y, w, h} };
  return b;
}

/* A box moving 3 px a frame keeps its id; a second one elsewhere has
 * another; ids are never 0. */
GST_START_TEST (test_moving_boxes_keep_ids)
{
  SnTracker *t = sn_tracker_new ();
  gint first[2], ids[2];

  for (gint f = 0; f < 10; f++) {
    SnTrackBox b[2] = { box ("face", 3 * f, 0, 20, 20),
      box ("face", 40, 30 - f, 16, 16)
    };
    sn_tracker_update (t, b, 2, 0.3, 15, ids);
    fail_unless (ids[0] > 0 && ids[1] > 0 && ids[0] != ids[1]);
    if (f == 0)
      memcpy (first, ids, sizeof ids);
    fail_unless (ids[0] == first[0] && ids[1] == first[1],
        "frame %d: ids %d,%d, were %d,%d", f, ids[0], ids[1], first[0],
        first[1]);
  }
  fail_unless_equals_int (sn_tracker_n_tracks (t), 2);
  sn_tracker_free (t);
}

GST_END_TEST;

/* Gone for max-age frames: the same id back; for one more: a new id. Of
 * two boxes overlapping one track, the better overlap continues it. Another
 * roi_type at the same place is another track. */
GST_START_TEST (test_gaps_types_and_best_overlap)
{
  SnTracker *t = sn_tracker_new ();
  SnTrackBox a = box ("face", 10, 10, 20, 20), none;
  gint id, again, ids[2];

  sn_tracker_update (t, &a, 1, 0.3, 3, &id);
  for (gint f = 0; f < 3; f++)
    sn_tracker_update (t, &none, 0, 0.3, 3, NULL);
  sn_tracker_update (t, &a, 1, 0.3, 3, &again);
  fail_unless_equals_int (again, id);
  for (gint f = 0; f < 4; f++)
    sn_tracker_update (t, &none, 0, 0.3, 3, NULL);
  fail_unless_equals_int (sn_tracker_n_tracks (t), 0);
  sn_tracker_update (t, &a, 1, 0.3, 3, &again);
  fail_unless (again > id, "after the gap: id %d, was %d", again, id);
  id = again;

  {
    SnTrackBox b[2] = { box ("face", 20, 10, 20, 20),   /* IoU 1/3 */
      box ("face", 12, 10, 20, 20)      /* IoU 0.82: continues it */
    };
    sn_tracker_update (t, b, 2, 0.3, 3, ids);
    fail_unless (ids[1] == id && ids[0] != id, "ids %d,%d for track %d",
        ids[0], ids[1], id);
  }
  {
    SnTrackBox b[2] = { box ("car", 12, 10, 20, 20), box ("face", 50, 0, 10,
          10)
    };
    sn_tracker_update (t, b, 2, 0.3, 3, ids);
    fail_unless (ids[0] != id && ids[1] != id && ids[0] != ids[1]);
  }
  sn_tracker_reset (t);
  fail_unless_equals_int (sn_tracker_n_tracks (t), 0);
  sn_tracker_update (t, &a, 1, 0.3, 3, &again);
  fail_unless (again > ids[1], "an id given again after a reset");
  sn_tracker_free (t);
}

GST_END_TEST;

/* Far more regions than tracks are kept: bounded, and every region still
 * gets an id unique on its frame. */
GST_START_TEST (test_bounded)
{
  SnTracker *t = sn_tracker_new ();
  const guint n = SN_TRACKER_MAX_TRACKS + 500;
  SnTrackBox *b = g_new (SnTrackBox, n);
  gint *ids = g_new (gint, n);
  GHashTable *seen = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < n; i++)
    b[i] = box ("face", (gint) (i % 100) * 30, (gint) (i / 100) * 30, 8, 8);
  sn_tracker_update (t, b, n, 0.3, 15, ids);
  fail_unless_equals_int (sn_tracker_n_tracks (t), SN_TRACKER_MAX_TRACKS);
  for (guint i = 0; i < n; i++) {
    fail_unless (ids[i] > 0);
    fail_unless (g_hash_table_add (seen, GINT_TO_POINTER (ids[i])));
  }
  g_hash_table_unref (seen);
  g_free (ids);
  g_free (b);
  sn_tracker_free (t);
}

GST_END_TEST;

static GstBuffer *
frame_with (gint n_frame, gint n, const gint (*xywh)[4])
{
  GstBuffer *b = gst_buffer_new_allocate (NULL, 64 * 48, NULL);

  gst_buffer_memset (b, 0, 0x80, 64 * 48);
  GST_BUFFER_PTS (b) = n_frame * GST_SECOND / 30;
  for (gint i = 0; i < n; i++)
    gst_buffer_add_video_region_of_interest_meta (b, "face", xywh[i][0],
        xywh[i][1], xywh[i][2], xywh[i][3]);
  return b;
}

/* The ids of @buf's regions, in order. */
static void
buffer_ids (GstBuffer * buf, gint * ids, gint n)
{
  gpointer state = NULL;
  GstMeta *m;
  gint i = 0;

  while ((m = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) != NULL)
    ids[i++] = ((GstVideoRegionOfInterestMeta *) m)->id;
  fail_unless_equals_int (i, n);
}

/* The element: ids through a harness (the video untouched), a flush and new
 * caps start afresh, properties refused out of range. */
GST_START_TEST (test_element)
{
  GstHarness *h = gst_harness_new ("shufflenettrack");
  const gint two[2][4] = { {0, 0, 20, 20}, {30, 20, 20, 20} };
  const gint moved[2][4] = { {2, 1, 20, 20}, {31, 22, 20, 20} };
  gint a[2], b[2];
  GstBuffer *out;
  GstMapInfo map;

  gst_harness_set_src_caps_str (h, CAPS);
  out = gst_harness_push_and_pull (h, frame_with (0, 2, two));
  buffer_ids (out, a, 2);
  fail_unless (a[0] > 0 && a[1] > 0 && a[0] != a[1]);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless (map.size == 64 * 48 && map.data[0] == 0x80
      && map.data[64 * 48 - 1] == 0x80);
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  out = gst_harness_push_and_pull (h, frame_with (1, 2, moved));
  buffer_ids (out, b, 2);
  fail_unless (b[0] == a[0] && b[1] == a[1]);
  gst_buffer_unref (out);

  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_harness_set_src_caps_str (h, CAPS);
  out = gst_harness_push_and_pull (h, frame_with (2, 2, moved));
  buffer_ids (out, b, 2);
  fail_unless (b[0] > a[1] && b[1] > a[1], "after a flush: %d,%d", b[0],
      b[1]);
  gst_buffer_unref (out);

  gst_harness_set_src_caps_str (h, SMALLER);
  out = gst_harness_push_and_pull (h, frame_with (3, 2, moved));
  buffer_ids (out, a, 2);
  fail_unless (a[0] > b[1] && a[1] > b[1], "after new caps: %d,%d", a[0],
      a[1]);
  gst_buffer_unref (out);

  {
    gdouble iou;
    ASSERT_WARNING (g_object_set (h->element, "iou-threshold", 0.0, NULL));
    g_object_get (h->element, "iou-threshold", &iou, NULL);
    fail_unless (iou == 0.3);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* What it is for: behind it, `shufflenet reclassify-interval=3` reuses a
 * moving region's result for two frames, then classifies it again. */
GST_START_TEST (test_reclassify_behind_tracker)
{
  gchar *model = snt_model ("tiny.onnx");
  gchar *desc = g_strdup_printf ("shufflenettrack ! shufflenet threads=1 "
      "model=%s inference-region=roi-list reclassify-interval=3", model);
  GstHarness *h = gst_harness_new_parse (desc);

  gst_harness_set_src_caps_str (h, CAPS);
  for (gint f = 0; f < 6; f++) {
    const gint one[1][4] = { {f, 2 * f, 24, 24} };
    GstBuffer *out = gst_harness_push_and_pull (h, frame_with (f, 1, one));
    const GstStructure *s = gst_shufflenet_meta_get_structure (out);
    const GstStructure *roi;
    guint64 age = 0;
    gboolean stale;

    fail_unless (s != NULL && gst_shufflenet_result_get_n_rois (s) == 1);
    roi = gst_shufflenet_result_get_roi (s, 0);
    stale = gst_shufflenet_result_is_stale (roi, &age);
    fail_unless (stale == (f % 3 != 0) && age == (guint64) (f % 3),
        "frame %d: stale %d, age %" G_GUINT64_FORMAT, f, stale, age);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

static Suite *
track_suite (void)
{
  Suite *s = suite_create ("shufflenettrack");
  TCase *tc = tcase_create ("track");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_moving_boxes_keep_ids);
  tcase_add_test (tc, test_gaps_types_and_best_overlap);
  tcase_add_test (tc, test_bounded);
  tcase_add_test (tc, test_element);
  tcase_add_test (tc, test_reclassify_behind_tracker);
  return s;
}

GST_CHECK_MAIN (track);
