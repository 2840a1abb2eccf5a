/* gstshufflenettrack.h - the `shufflenettrack` element: gives a detector's
 * regions of interest ids that persist across frames. */
#ifndef __GST_SHUFFLENET_TRACK_H__
#define __GST_SHUFFLENET_TRACK_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_SHUFFLENET_TRACK (gst_shufflenet_track_get_type ())
G_DECLARE_FINAL_TYPE (GstShuffleNetTrack, gst_shufflenet_track, GST,
    SHUFFLENET_TRACK, GstBaseTransform);

GST_ELEMENT_REGISTER_DECLARE (shufflenettrack);

G_END_DECLS

#endif /* __GST_SHUFFLENET_TRACK_H__ */
