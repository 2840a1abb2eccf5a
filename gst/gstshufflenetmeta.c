/* gstshufflenetmeta.c - the result structure and the GstShuffleNetMeta. */
#include "gstshufflenetmetaimpl.h"

#include <gst/video/video.h>

static void
copy_fields (GstStructure * dest, const GstStructure * src)
{
  gint n = gst_structure_n_fields (src);

  for (gint i = 0; i < n; i++) {
    const gchar *name = gst_structure_nth_field_name (src, i);
    gst_structure_set_value (dest, name, gst_structure_get_value (src, name));
  }
}

/* Copies (and scales: a classification of the whole frame does not change
 * with its size) the meta onto @transbuf. Other transforms drop it. */
static gboolean
meta_transform (GstBuffer * transbuf, GstCustomMeta * meta,
    GstBuffer * buffer, GQuark type, gpointer data, gpointer user_data)
{
  if (!GST_META_TRANSFORM_IS_COPY (type)
      && type != gst_video_meta_transform_scale_get_quark ())
    return FALSE;
  gst_shufflenet_meta_add (transbuf, gst_custom_meta_get_structure (meta));
  return TRUE;
}

const GstMetaInfo *
gst_shufflenet_meta_register (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter (&info)) {
    /* No tags: converters keep a meta whose API has no tags. */
    const gchar *tags[] = { NULL };
    const GstMetaInfo *i = gst_meta_register_custom (GST_SHUFFLENET_META_NAME,
        tags, meta_transform, NULL, NULL);
    g_once_init_leave (&info, i);
  }
  return info;
}

void
gst_shufflenet_meta_add (GstBuffer * buffer, const GstStructure * result)
{
  GstCustomMeta *meta;

  gst_shufflenet_meta_register ();
  meta = gst_buffer_get_custom_meta (buffer, GST_SHUFFLENET_META_NAME);
  if (meta != NULL)
    gst_buffer_remove_meta (buffer, (GstMeta *) meta);
  meta = gst_buffer_add_custom_meta (buffer, GST_SHUFFLENET_META_NAME);
  if (meta != NULL)
    copy_fields (gst_custom_meta_get_structure (meta), result);
}

GstStructure *
gst_shufflenet_result_new (const gchar * model_name, guint n,
    const gint * class_ids, const gchar * const *labels, const float *scores,
    gdouble inference_ms)
{
  GValue ids = G_VALUE_INIT, names = G_VALUE_INIT, probs = G_VALUE_INIT;
  GValue item = G_VALUE_INIT;
  GstStructure *s;

  gst_value_array_init (&ids, n);
  gst_value_array_init (&names, n);
  gst_value_array_init (&probs, n);
  for (guint i = 0; i < n; i++) {
    g_value_init (&item, G_TYPE_INT);
    g_value_set_int (&item, class_ids[i]);
    gst_value_array_append_and_take_value (&ids, &item);
    g_value_init (&item, G_TYPE_STRING);
    g_value_set_string (&item, labels[i]);
    gst_value_array_append_and_take_value (&names, &item);
    g_value_init (&item, G_TYPE_DOUBLE);
    g_value_set_double (&item, scores[i]);
    gst_value_array_append_and_take_value (&probs, &item);
  }

  s = gst_structure_new_empty (GST_SHUFFLENET_MESSAGE_NAME);
  /* The frame fields first (placeholders), so that they print first. */
  gst_shufflenet_result_set_frame (s, 0, GST_CLOCK_TIME_NONE,
      GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, FALSE, 0);
  gst_structure_take_value (s, "class-ids", &ids);
  gst_structure_take_value (s, "labels", &names);
  gst_structure_take_value (s, "scores", &probs);
  gst_structure_set (s, "inference-time", G_TYPE_DOUBLE, inference_ms,
      "model", G_TYPE_STRING, model_name, NULL);
  return s;
}

void
gst_shufflenet_result_set_frame (GstStructure * result, guint64 frame,
    GstClockTime timestamp, GstClockTime stream_time,
    GstClockTime running_time, GstClockTime duration, gboolean stale,
    guint64 age)
{
  gst_structure_set (result,
      "timestamp", G_TYPE_UINT64, timestamp,
      "stream-time", G_TYPE_UINT64, stream_time,
      "running-time", G_TYPE_UINT64, running_time,
      "duration", G_TYPE_UINT64, duration,
      "frame", G_TYPE_UINT64, frame,
      "stale", G_TYPE_BOOLEAN, stale, "age", G_TYPE_UINT64, age, NULL);
}
