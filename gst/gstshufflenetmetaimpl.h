/* gstshufflenetmetaimpl.h - the element's side of the result: building the
 * result structure (shared by the bus message and the meta), registering
 * and attaching the GstShuffleNetMeta. Not installed; readers use
 * gstshufflenetmeta.h. */
#ifndef __GST_SHUFFLENET_META_IMPL_H__
#define __GST_SHUFFLENET_META_IMPL_H__

#include "gstshufflenetmeta.h"

G_BEGIN_DECLS

/* Registers the custom meta once; safe to call from any thread. */
const GstMetaInfo *gst_shufflenet_meta_register (void);

/* A fresh result named GST_SHUFFLENET_MESSAGE_NAME: @n classes, best
 * first: @class_ids[n], @labels[n], @scores[n]; the frame fields are unset
 * until gst_shufflenet_result_set_frame (). */
GstStructure *gst_shufflenet_result_new (const gchar * model_name, guint n,
    const gint * class_ids, const gchar * const *labels,
    const float *scores, gdouble inference_ms);

/* Sets the per-frame fields (timestamps, frame number, stale, age). */
void gst_shufflenet_result_set_frame (GstStructure * result, guint64 frame,
    GstClockTime timestamp, GstClockTime stream_time,
    GstClockTime running_time, GstClockTime duration, gboolean stale,
    guint64 age);

/* Attaches a GstShuffleNetMeta holding a copy of @result's fields to
 * @buffer (which must be writable), replacing one already there. */
void gst_shufflenet_meta_add (GstBuffer * buffer, const GstStructure * result);

G_END_DECLS

#endif /* __GST_SHUFFLENET_META_IMPL_H__ */
