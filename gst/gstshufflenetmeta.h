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
 * Python (GI):
 *
 *   meta = buf.get_custom_meta("GstShuffleNetMeta")
 *   if meta:
 *       s = meta.get_structure()
 *       labels = s.get_value("labels")   # Gst.ValueArray, list-like
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

G_END_DECLS

#endif /* __GST_SHUFFLENET_META_H__ */
