/* gstshufflenetmeta.h - read the classification the `shufflenet` element
 * attaches to each buffer (installed as <gst/shufflenet/gstshufflenetmeta.h>).
 *
 * The result is a GstCustomMeta named "GstShuffleNetMeta" (registered
 * without tags, so videoconvert, videoscale and other converters copy it)
 * whose GstStructure holds the fields below. The element's bus message
 * (an element message named "shufflenet") carries the very same fields, so
 * the helpers here read both.
 *
 *   timestamp      guint64   buffer PTS (GST_CLOCK_TIME_NONE if unset)
 *   stream-time    guint64   PTS as stream time
 *   running-time   guint64   PTS as running time
 *   duration       guint64   buffer duration
 *   frame          guint64   frame number since the element started (0..)
 *   class-ids      GstValueArray of gint, best first (top-k, at most)
 *   labels         GstValueArray of gchararray, same order
 *   scores         GstValueArray of gdouble probabilities, same order
 *   inference-time gdouble   milliseconds the inference of this result took
 *   stale          gboolean  TRUE: the result of an earlier frame reused
 *   age            guint64   frames since the frame that was classified
 *   model          gchararray model name
 *   element        gchararray name of the shufflenet element that made it
 *   smoothed       gboolean  the classes come from the moving average
 *                  (smoothing > 0); also on "rois" entries
 *   events         GstValueArray of GstStructure: only on a frame where a
 *                  class change fired, the "shufflenet-change" messages
 *                  posted for it: timestamp, running-time, stream-time,
 *                  from-id, from-label (-1, "none" at a stream's start),
 *                  to-id, to-label, score, held (ns the previous class led),
 *                  element, and roi-id, roi-type for a region
 *   rois           GstValueArray of GstStructure: with
 *                  inference-region=roi-list, one entry per classified
 *                  region of interest, in the buffer's order (the class
 *                  arrays of the frame itself are then empty):
 *       id           gint      the GstVideoRegionOfInterestMeta's id
 *       roi-type     gchararray its roi_type ("face", ...)
 *       x, y, width, height  guint  the region in pixels of the frame
 *                    shufflenet saw, clipped to it (after a videoscale,
 *                    scale by the new size / frame-width, frame-height)
 *       class-ids, labels, scores  as above, for the region
 *       stale, age   the region's result reused from `age` frames earlier
 *                    (reclassify-interval, interval or QoS), by its id
 *   frame-width, frame-height  guint  with "rois": the size of the frame
 *                  the region boxes refer to
 *   results        GstValueArray of GstStructure: only when several
 *                  shufflenet elements classified the buffer: each one's
 *                  result (the fields above), upstream first; the
 *                  top-level fields are the last (most downstream) one's
 *
 * Each classified region's GstVideoRegionOfInterestMeta also gets a
 * parameter structure named "shufflenet" (GST_SHUFFLENET_ROI_PARAM_NAME,
 * read with gst_video_region_of_interest_meta_get_param ()) with DL
 * Streamer's field names: label, label_id, confidence (probability of the
 * best class), model_name, plus class-ids, labels, scores, model, stale,
 * age and element. videoconvert and videoscale drop such parameters when
 * they convert or scale (GStreamer 1.22), while the "rois" above survive.
 *
 * C (header-only, needs only gstreamer-1.0 >= 1.20):
 *
 *   const GstStructure *s = gst_shufflenet_meta_get_structure (buffer);
 *   if (s != NULL) {
 *     gint id; const gchar *label; gdouble score;
 *     for (guint i = 0; gst_shufflenet_result_get_class (s, i, &id, &label,
 *             &score); i++)
 *       g_print ("%d %s %.3f\n", id, label, score);
 *   }
 *
 * Regions (inference-region=roi-list), the same helpers on each entry:
 *
 *   for (guint i = 0; i < gst_shufflenet_result_get_n_rois (s); i++) {
 *     const GstStructure *roi = gst_shufflenet_result_get_roi (s, i);
 *     guint x, y, w, h; const gchar *label; gdouble score;
 *     gst_shufflenet_roi_get_box (roi, NULL, NULL, &x, &y, &w, &h);
 *     if (gst_shufflenet_result_get_class (roi, 0, NULL, &label, &score))
 *       g_print ("%u,%u %ux%u: %s %.3f\n", x, y, w, h, label, score);
 *   }
 *
 * Python (GI):
 *
 *   meta = buf.get_custom_meta("GstShuffleNetMeta")
 *   if meta:
 *       s = meta.get_structure()
 *       labels = s.get_value("labels")   # Gst.ValueArray, list-like
 *       for roi in s.get_value("rois") or []:      # Gst.Structure each
 *           print(roi.get_value("x"), list(roi.get_value("labels")))
 *
 * The meta type is registered when the shufflenet plugin is loaded; before
 * that gst_buffer_get_custom_meta () returns NULL.
 */
#ifndef __GST_SHUFFLENET_META_H__
#define __GST_SHUFFLENET_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_SHUFFLENET_META_NAME "GstShuffleNetMeta"
#define GST_SHUFFLENET_MESSAGE_NAME "shufflenet"
/* Name of the entries of "rois", and of the parameter added to each
 * classified GstVideoRegionOfInterestMeta. */
#define GST_SHUFFLENET_ROI_NAME "shufflenet-roi"
#define GST_SHUFFLENET_ROI_PARAM_NAME "shufflenet"

/**
 * gst_shufflenet_meta_get_structure:
 * @buffer: a buffer that went through `shufflenet`
 *
 * Returns: (transfer none) (nullable): the result structure, or %NULL when
 * the buffer carries none (or the plugin is not loaded).
 */
static inline const GstStructure *
gst_shufflenet_meta_get_structure (GstBuffer * buffer)
{
  GstCustomMeta *meta;

  if (gst_meta_get_info (GST_SHUFFLENET_META_NAME) == NULL)
    return NULL;
  meta = gst_buffer_get_custom_meta (buffer, GST_SHUFFLENET_META_NAME);
  return meta != NULL ? gst_custom_meta_get_structure (meta) : NULL;
}

/* Number of classes in the result (top-k after the threshold). */
static inline guint
gst_shufflenet_result_get_n_classes (const GstStructure * result)
{
  const GValue *ids = gst_structure_get_value (result, "class-ids");

  return ids != NULL && GST_VALUE_HOLDS_ARRAY (ids) ?
      gst_value_array_get_size (ids) : 0;
}

/**
 * gst_shufflenet_result_get_class:
 * @result: the meta's or message's structure
 * @index: 0 for the best class
 * @class_id: (out) (optional), @label: (out) (optional) (transfer none),
 * @score: (out) (optional): the class, its label and probability
 *
 * Returns: %FALSE when @index is past the last class.
 */
static inline gboolean
gst_shufflenet_result_get_class (const GstStructure * result, guint index,
    gint * class_id, const gchar ** label, gdouble * score)
{
  const GValue *ids = gst_structure_get_value (result, "class-ids");
  const GValue *labels = gst_structure_get_value (result, "labels");
  const GValue *scores = gst_structure_get_value (result, "scores");

  if (ids == NULL || labels == NULL || scores == NULL
      || !GST_VALUE_HOLDS_ARRAY (ids) || !GST_VALUE_HOLDS_ARRAY (labels)
      || !GST_VALUE_HOLDS_ARRAY (scores)
      || index >= gst_value_array_get_size (ids)
      || index >= gst_value_array_get_size (labels)
      || index >= gst_value_array_get_size (scores))
    return FALSE;
  if (class_id != NULL)
    *class_id = g_value_get_int (gst_value_array_get_value (ids, index));
  if (label != NULL)
    *label = g_value_get_string (gst_value_array_get_value (labels, index));
  if (score != NULL)
    *score = g_value_get_double (gst_value_array_get_value (scores, index));
  return TRUE;
}

/* TRUE when the result was reused from an earlier frame (interval or QoS);
 * @age (optional) receives how many frames ago it was computed. */
static inline gboolean
gst_shufflenet_result_is_stale (const GstStructure * result, guint64 * age)
{
  gboolean stale = FALSE;
  guint64 a = 0;

  gst_structure_get_boolean (result, "stale", &stale);
  gst_structure_get_uint64 (result, "age", &a);
  if (age != NULL)
    *age = a;
  return stale;
}

/* Number of entries of the result's "rois" (0 without regions). */
static inline guint
gst_shufflenet_result_get_n_rois (const GstStructure * result)
{
  const GValue *rois = gst_structure_get_value (result, "rois");

  return rois != NULL && GST_VALUE_HOLDS_ARRAY (rois) ?
      gst_value_array_get_size (rois) : 0;
}

/**
 * gst_shufflenet_result_get_roi:
 * @result: the meta's or message's structure
 * @index: 0 .. gst_shufflenet_result_get_n_rois () - 1
 *
 * Returns: (transfer none) (nullable): entry @index of "rois", readable
 * with gst_shufflenet_result_get_class (), gst_shufflenet_result_is_stale
 * () and gst_shufflenet_roi_get_box (); %NULL past the last.
 */
static inline const GstStructure *
gst_shufflenet_result_get_roi (const GstStructure * result, guint index)
{
  const GValue *rois = gst_structure_get_value (result, "rois"), *v;

  if (index >= gst_shufflenet_result_get_n_rois (result))
    return NULL;
  v = gst_value_array_get_value (rois, index);
  return GST_VALUE_HOLDS_STRUCTURE (v) ? gst_value_get_structure (v) : NULL;
}

/* The region of a "rois" entry: its id, roi-type (transfer none) and box
 * in frame pixels; every out argument is optional. FALSE when a field is
 * missing. */
static inline gboolean
gst_shufflenet_roi_get_box (const GstStructure * roi, gint * id,
    const gchar ** roi_type, guint * x, guint * y, guint * width,
    guint * height)
{
  gint i = 0;
  guint bx = 0, by = 0, bw = 0, bh = 0;
  const gchar *type = gst_structure_get_string (roi, "roi-type");

  if (type == NULL || !gst_structure_get (roi, "id", G_TYPE_INT, &i,
          "x", G_TYPE_UINT, &bx, "y", G_TYPE_UINT, &by,
          "width", G_TYPE_UINT, &bw, "height", G_TYPE_UINT, &bh, NULL))
    return FALSE;
  if (id != NULL)
    *id = i;
  if (roi_type != NULL)
    *roi_type = type;
  if (x != NULL)
    *x = bx;
  if (y != NULL)
    *y = by;
  if (width != NULL)
    *width = bw;
  if (height != NULL)
    *height = bh;
  return TRUE;
}

G_END_DECLS

#endif /* __GST_SHUFFLENET_META_H__ */
