/* ftest.c - helpers of the fault tests (see ftest.h). */
#include "ftest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Window of the photo taken for each frame, before scaling. */
#define WINDOW_W 320
#define WINDOW_H 240

/* The @i-th window of @photo (RGB): WINDOW_W x WINDOW_H RGB, at an offset
 * that moves with @i, mirrored left-right for odd @i. */
static GstSample *
photo_window (GstSample * photo, gint i)
{
  GstVideoInfo in_info, out_info;
  GstVideoFrame in, out;
  GstBuffer *buf;
  GstCaps *caps;
  GstSample *sample;
  gint dx, dy;

  fail_unless (gst_video_info_from_caps (&in_info,
          gst_sample_get_caps (photo)));
  fail_unless (GST_VIDEO_INFO_WIDTH (&in_info) > WINDOW_W
      && GST_VIDEO_INFO_HEIGHT (&in_info) > WINDOW_H);
  dx = (i * 37) % (GST_VIDEO_INFO_WIDTH (&in_info) - WINDOW_W);
  dy = (i * 23) % (GST_VIDEO_INFO_HEIGHT (&in_info) - WINDOW_H);
  gst_video_info_set_format (&out_info, GST_VIDEO_FORMAT_RGB, WINDOW_W,
      WINDOW_H);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&out_info), NULL);
  fail_unless (gst_video_frame_map (&in, &in_info,
          gst_sample_get_buffer (photo), GST_MAP_READ));
  fail_unless (gst_video_frame_map (&out, &out_info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < WINDOW_H; y++) {
    /* rows of packed RGB, 3 bytes a pixel */
    const guint8 *src = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in, 0)
        + (gsize) (y + dy) * GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0) + dx * 3;
    guint8 *dst = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&out, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&out, 0);
    for (gint x = 0; x < WINDOW_W; x++) {
      gint from = i % 2 ? WINDOW_W - 1 - x : x;
      memcpy (dst + x * 3, src + from * 3, 3);
    }
  }
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  caps = gst_video_info_to_caps (&out_info);
  sample = gst_sample_new (buf, caps, NULL, NULL);
  gst_caps_unref (caps);
  gst_buffer_unref (buf);
  return sample;
}

GstSample **
ft_frames (const gchar * format, gint width, gint height, gint n)
{
  GstSample *photo = snt_photo ();
  GstSample **frames = g_new0 (GstSample *, n);

  for (gint i = 0; i < n; i++) {
    GstSample *window = photo_window (photo, i);
    frames[i] = snt_convert (window, format, width, height);
    gst_sample_unref (window);
  }
  gst_sample_unref (photo);
  return frames;
}

void
ft_frames_free (GstSample ** frames, gint n)
{
  for (gint i = 0; i < n; i++)
    gst_sample_unref (frames[i]);
  g_free (frames);
}

struct _FtRef
{
  GstHarness *h;
};

FtRef *
ft_ref_new (const gchar * model, const gchar * caps, gint top_k)
{
  FtRef *ref = g_new0 (FtRef, 1);
  GstElement *e = snt_element_new (model, NULL);

  g_object_set (e, "top-k", top_k, "interval", 1, "post-messages", FALSE,
      "qos", FALSE, NULL);
  ref->h = snt_harness_new (e, caps);
  return ref;
}

static gboolean
drop_result_meta (GstBuffer * buffer, GstMeta ** meta, gpointer user_data)
{
  if ((*meta)->info == gst_meta_get_info (GST_SHUFFLENET_META_NAME))
    *meta = NULL;               /* removes it */
  return TRUE;
}

GstStructure *
ft_ref_classify (FtRef * ref, GstBuffer * buffer)
{
  GstBuffer *in = gst_buffer_copy (buffer), *out;
  const GstStructure *s;
  GstStructure *result;

  gst_buffer_foreach_meta (in, drop_result_meta, NULL);
  fail_unless_equals_int (gst_harness_push (ref->h, in), GST_FLOW_OK);
  out = gst_harness_pull (ref->h);
  s = gst_shufflenet_meta_get_structure (out);
  fail_unless (s != NULL, "reference: no meta");
  fail_if (gst_shufflenet_result_is_stale (s, NULL));
  result = gst_structure_copy (s);
  gst_buffer_unref (out);
  return result;
}

void
ft_ref_free (FtRef * ref)
{
  gst_harness_teardown (ref->h);
  g_free (ref);
}

GstStructure **
ft_reference (const gchar * model, GstSample ** frames, gint n, gint top_k)
{
  GstStructure **results = g_new0 (GstStructure *, n);
  gchar *caps = gst_caps_to_string (gst_sample_get_caps (frames[0]));
  FtRef *ref = ft_ref_new (model, caps, top_k);

  for (gint i = 0; i < n; i++)
    results[i] = ft_ref_classify (ref, gst_sample_get_buffer (frames[i]));
  ft_ref_free (ref);
  g_free (caps);
  return results;
}

void
ft_results_free (GstStructure ** results, gint n)
{
  for (gint i = 0; i < n; i++)
    if (results[i] != NULL)
      gst_structure_free (results[i]);
  g_free (results);
}

gchar *
ft_compare_results (const GstStructure * got, const GstStructure * want)
{
  guint n = gst_shufflenet_result_get_n_classes (want);
  gdouble prev = 2.0, next;

  if (got == NULL)
    return g_strdup ("no result");
  if (g_strcmp0 (gst_structure_get_string (got, "model"),
          gst_structure_get_string (want, "model")) != 0)
    return g_strdup_printf ("model %s, want %s",
        gst_structure_get_string (got, "model"),
        gst_structure_get_string (want, "model"));
  if (gst_shufflenet_result_get_n_classes (got) != n)
    return g_strdup_printf ("%u classes, want %u",
        gst_shufflenet_result_get_n_classes (got), n);
  for (guint i = 0; i < n; i++) {
    gint id_got = -1, id_want = -1;
    gdouble p_got = -1.0, p_want = -1.0;

    gst_shufflenet_result_get_class (got, i, &id_got, NULL, &p_got);
    gst_shufflenet_result_get_class (want, i, &id_want, NULL, &p_want);
    if (fabs (p_got - p_want) > FT_SCORE_TOLERANCE)
      return g_strdup_printf ("rank %u: probability %.6f, want %.6f", i,
          p_got, p_want);
    next = -1.0;
    gst_shufflenet_result_get_class (want, i + 1, NULL, NULL, &next);
    /* A near tie may swap two classes; anything else must match. */
    if (prev - p_want > 2 * FT_SCORE_TOLERANCE
        && p_want - next > 2 * FT_SCORE_TOLERANCE && id_got != id_want)
      return g_strdup_printf ("rank %u: class %d, want %d", i, id_got, id_want);
    prev = p_want;
  }
  return NULL;
}

void
ft_assert_same_result (const GstStructure * got, const GstStructure * want,
    const gchar * what)
{
  gchar *diff = ft_compare_results (got, want);

  fail_unless (diff == NULL, "%s: %s", what, diff);
}

const GstStructure *
ft_meta_result_of (GstBuffer * buffer, const gchar * element)
{
  const GstStructure *s = gst_shufflenet_meta_get_structure (buffer);
  const GValue *all;

  if (s == NULL)
    return NULL;
  all = gst_structure_get_value (s, "results");
  if (all == NULL)
    return g_strcmp0 (gst_structure_get_string (s, "element"), element) == 0 ?
        s : NULL;
  fail_unless (GST_VALUE_HOLDS_ARRAY (all), "results is not an array");
  for (guint i = 0; i < gst_value_array_get_size (all); i++) {
    const GValue *v = gst_value_array_get_value (all, i);
    const GstStructure *r;

    fail_unless (GST_VALUE_HOLDS_STRUCTURE (v), "results[%u]", i);
    r = gst_value_get_structure (v);
    if (g_strcmp0 (gst_structure_get_string (r, "element"), element) == 0)
      return r;
  }
  return NULL;
}

GstElement *
ft_pipeline (const gchar * description)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (description, &err);

  fail_unless (p != NULL && err == NULL, "%s: %s", description,
      err ? err->message : "?");
  return p;
}

GstElement *
ft_get (GstElement * bin, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (bin), name);

  fail_unless (e != NULL, "no element %s", name);
  return e;
}

void
ft_set_state (GstElement * pipeline, GstState state)
{
  GstStateChangeReturn ret;

  fail_if (gst_element_set_state (pipeline, state) ==
      GST_STATE_CHANGE_FAILURE, "cannot go to %s",
      gst_element_state_get_name (state));
  ret = gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND);
  fail_unless (ret == GST_STATE_CHANGE_SUCCESS
      || ret == GST_STATE_CHANGE_NO_PREROLL, "%s not reached: %s",
      gst_element_state_get_name (state),
      gst_element_state_change_return_get_name (ret));
}

void
ft_play (GstElement * pipeline)
{
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE, "cannot go to PLAYING");
}

void
ft_assert_no_errors (GstBus * bus)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus)) != NULL) {
    GError *err = NULL;
    gchar *debug = NULL;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, &debug);
    else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
      gst_message_parse_warning (msg, &err, &debug);
    fail_unless (err == NULL, "%s from %s: %s (%s)",
        GST_MESSAGE_TYPE_NAME (msg), GST_MESSAGE_SRC_NAME (msg),
        err ? err->message : "", GST_STR_NULL (debug));
    gst_message_unref (msg);
  }
}

gsize
ft_rss (void)
{
  gchar *text = NULL;
  gulong size = 0, resident = 0;

  fail_unless (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL));
  fail_unless (sscanf (text, "%lu %lu", &size, &resident) == 2);
  g_free (text);
  return (gsize) resident *(gsize) sysconf (_SC_PAGESIZE);
}

gint
ft_index_of (GstClockTime pts, GstClockTime duration)
{
  fail_unless (GST_CLOCK_TIME_IS_VALID (pts) && pts % duration == 0,
      "PTS %" GST_TIME_FORMAT " is not a frame time", GST_TIME_ARGS (pts));
  return (gint) (pts / duration);
}
