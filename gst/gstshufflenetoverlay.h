/* gstshufflenetoverlay.h - the `shufflenetoverlay` element: draws the top-k
 * classes of the GstShuffleNetMeta onto the video. */
#ifndef __GST_SHUFFLENET_OVERLAY_H__
#define __GST_SHUFFLENET_OVERLAY_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

/* position: the corner of the frame the text box sits in. */
typedef enum
{
  GST_SHUFFLENET_OVERLAY_TOP_LEFT,
  GST_SHUFFLENET_OVERLAY_TOP_RIGHT,
  GST_SHUFFLENET_OVERLAY_BOTTOM_LEFT,
  GST_SHUFFLENET_OVERLAY_BOTTOM_RIGHT
} GstShuffleNetOverlayPosition;

#define GST_TYPE_SHUFFLENET_OVERLAY_POSITION \
  (gst_shufflenet_overlay_position_get_type ())
GType gst_shufflenet_overlay_position_get_type (void);

#define GST_TYPE_SHUFFLENET_OVERLAY (gst_shufflenet_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstShuffleNetOverlay, gst_shufflenet_overlay, GST,
    SHUFFLENET_OVERLAY, GstVideoFilter);

GST_ELEMENT_REGISTER_DECLARE (shufflenetoverlay);

G_END_DECLS

#endif /* __GST_SHUFFLENET_OVERLAY_H__ */
