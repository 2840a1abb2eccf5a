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

/* Copies the meta onto @transbuf for a copy, and for a scaled frame: a
 * classification of the whole frame does not change with its size, and
 * region boxes come with the frame size they refer to ("frame-width",
 * "frame-height"). Other transforms drop it. */
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

void
gst_shufflenet_result_set_classes (GstStructure * s, guint n,
    const gint * class_ids, const gchar * const *labels, const float *scores)
{
  GValue ids = G_VALUE_INIT, names = G_VALUE_INIT, probs = G_VALUE_INIT;
  GValue item = G_VALUE_INIT;

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
  gst_structure_take_value (s, "class-ids", &ids);
  gst_structure_take_value (s, "labels", &names);
  gst_structure_take_value (s, "scores", &probs);
}

GstStructure *
gst_shufflenet_result_new (const gchar * model_name, guint n,
    const gint * class_ids, const gchar * const *labels, const float *scores,
    gdouble inference_ms)
{
  GstStructure *s = gst_structure_new_empty (GST_SHUFFLENET_MESSAGE_NAME);

  /* The frame fields first (placeholders), so that they print first. */
  gst_shufflenet_result_set_frame (s, 0, GST_CLOCK_TIME_NONE,
      GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, FALSE, 0);
  gst_shufflenet_result_set_classes (s, n, class_ids, labels, scores);
  gst_structure_set (s, "inference-time", G_TYPE_DOUBLE, inference_ms,
      "model", G_TYPE_STRING, model_name, NULL);
  return s;
}

GstStructure *
gst_shufflenet_roi_result_new (gint id, const gchar * roi_type,
    const GstVideoRectangle * rect, const GstStructure * classes,
    gboolean stale, guint64 age)
{
  GstStructure *s = gst_structure_new (GST_SHUFFLENET_ROI_NAME,
      "id", G_TYPE_INT, id, "roi-type", G_TYPE_STRING, roi_type,
      "x", G_TYPE_UINT, (guint) rect->x, "y", G_TYPE_UINT, (guint) rect->y,
      "width", G_TYPE_UINT, (guint) rect->w,
      "height", G_TYPE_UINT, (guint) rect->h, NULL);
  static const gchar *const fields[] = { "class-ids", "labels", "scores",
    "smoothed"
  };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (gst_structure_has_field (classes, fields[i]))
      gst_structure_set_value (s, fields[i],
          gst_structure_get_value (classes, fields[i]));
  gst_structure_set (s, "stale", G_TYPE_BOOLEAN, stale, "age", G_TYPE_UINT64,
      age, NULL);
  return s;
}

GstStructure *
gst_shufflenet_roi_param_new (const GstStructure * roi_result,
    const gchar * model_name, const gchar * element)
{
  gint label_id;
  const gchar *label;
  gdouble confidence;
  gboolean stale = FALSE;
  guint64 age = 0;
  GstStructure *s;
  static const gchar *const fields[] = { "class-ids", "labels", "scores" };

  if (!gst_shufflenet_result_get_class (roi_result, 0, &label_id, &label,
          &confidence))
    return NULL;
  gst_shufflenet_result_is_stale (roi_result, &age);
  gst_structure_get_boolean (roi_result, "stale", &stale);
  s = gst_structure_new (GST_SHUFFLENET_ROI_PARAM_NAME,
      "label", G_TYPE_STRING, label, "label_id", G_TYPE_INT, label_id,
      "confidence", G_TYPE_DOUBLE, confidence, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    gst_structure_set_value (s, fields[i],
        gst_structure_get_value (roi_result, fields[i]));
  gst_structure_set (s, "model", G_TYPE_STRING, model_name,
      "model_name", G_TYPE_STRING, model_name,
      "stale", G_TYPE_BOOLEAN, stale, "age", G_TYPE_UINT64, age,
      "element", G_TYPE_STRING, element, NULL);
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

/* Appends a copy of @s to the GstValueArray @list. */
static void
append_structure (GValue * list, const GstStructure * s)
{
  GValue v = G_VALUE_INIT;

  g_value_init (&v, GST_TYPE_STRUCTURE);
  gst_value_set_structure (&v, s);
  gst_value_array_append_and_take_value (list, &v);
}

void
gst_shufflenet_meta_attach (GstBuffer * buf, const GstStructure * result)
{
  const GstStructure *prev = gst_shufflenet_meta_get_structure (buf);
  const gchar *name = gst_structure_get_string (result, "element");
  const GValue *all;
  GValue list = G_VALUE_INIT;
  GstStructure *merged;

  if (prev == NULL) {
    gst_shufflenet_meta_add (buf, result);
    return;
  }
  gst_value_array_init (&list, 2);
  all = gst_structure_get_value (prev, "results");
  if (all != NULL && GST_VALUE_HOLDS_ARRAY (all)) {
    for (guint i = 0; i < gst_value_array_get_size (all); i++) {
      const GValue *v = gst_value_array_get_value (all, i);
      if (GST_VALUE_HOLDS_STRUCTURE (v)
          && g_strcmp0 (gst_structure_get_string (gst_value_get_structure (v),
                  "element"), name) != 0)
        append_structure (&list, gst_value_get_structure (v));
    }
  } else if (g_strcmp0 (gst_structure_get_string (prev, "element"), name)) {
    append_structure (&list, prev);
  }
  if (gst_value_array_get_size (&list) == 0) {
    g_value_unset (&list);
    gst_shufflenet_meta_add (buf, result);
    return;
  }
  append_structure (&list, result);
  merged = gst_structure_copy (result);
  gst_structure_take_value (merged, "results", &list);
  gst_shufflenet_meta_add (buf, merged);
  gst_structure_free (merged);
}
