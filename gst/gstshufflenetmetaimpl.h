/* gstshufflenetmetaimpl.h - the element's side of the result: building the
 * result structure (shared by the bus message and the meta), registering
 * and attaching the GstShuffleNetMeta. Not installed; readers use
 * gstshufflenetmeta.h. */
#ifndef __GST_SHUFFLENET_META_IMPL_H__
#define __GST_SHUFFLENET_META_IMPL_H__

#include <gst/video/video.h>

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

/* Sets the class arrays of @s: "class-ids", "labels", "scores" [n]. */
void gst_shufflenet_result_set_classes (GstStructure * s, guint n,
    const gint * class_ids, const gchar * const *labels,
    const float *scores);

/* One entry of a result's "rois" (GST_SHUFFLENET_ROI_NAME): the region
 * (@id, @roi_type, @rect in frame pixels), the class arrays of @classes,
 * @stale and @age. */
GstStructure *gst_shufflenet_roi_result_new (gint id, const gchar * roi_type,
    const GstVideoRectangle * rect, const GstStructure * classes,
    gboolean stale, guint64 age);

/* The parameter the element adds to a GstVideoRegionOfInterestMeta
 * (GST_SHUFFLENET_ROI_PARAM_NAME) from an entry of "rois", with DL
 * Streamer's field names; NULL when the entry has no class (all below the
 * threshold). */
GstStructure *gst_shufflenet_roi_param_new (const GstStructure * roi_result,
    const gchar * model_name, const gchar * element);

/* Attaches @result to @buf (writable). When the buffer already carries the
 * result of another shufflenet element (several in one pipeline), the meta
 * keeps @result's fields (the plain reader sees the newest result) plus
 * "results": every element's result, upstream first, @result last; an
 * older result of the same element (its "element" field) is replaced. */
void gst_shufflenet_meta_attach (GstBuffer * buf, const GstStructure * result);

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
