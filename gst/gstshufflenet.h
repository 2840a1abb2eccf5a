/* gstshufflenet.h - the `shufflenet` element: classifies raw video frames
 * with a ShuffleNet v1 model and attaches the results. */
#ifndef __GST_SHUFFLENET_H__
#define __GST_SHUFFLENET_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

/* resize-mode: how a frame is fitted to the model input. */
typedef enum
{
  GST_SHUFFLENET_RESIZE_MODEL_DEFAULT,
  GST_SHUFFLENET_RESIZE_STRETCH,
  GST_SHUFFLENET_RESIZE_CROP,
  GST_SHUFFLENET_RESIZE_LETTERBOX
} GstShuffleNetResizeMode;

/* channel-order: order of the colour channels of the model input. */
typedef enum
{
  GST_SHUFFLENET_CHANNEL_ORDER_MODEL_DEFAULT,
  GST_SHUFFLENET_CHANNEL_ORDER_RGB,
  GST_SHUFFLENET_CHANNEL_ORDER_BGR
} GstShuffleNetChannelOrder;

/* precision: arithmetic of the model's grouped 1x1 convolutions. */
typedef enum
{
  GST_SHUFFLENET_PRECISION_FP32,
  GST_SHUFFLENET_PRECISION_BF16
} GstShuffleNetPrecision;

/* inference-region: what is classified. */
typedef enum
{
  GST_SHUFFLENET_INFERENCE_REGION_FULL_FRAME,
  GST_SHUFFLENET_INFERENCE_REGION_ROI_LIST
} GstShuffleNetInferenceRegion;

#define GST_TYPE_SHUFFLENET_INFERENCE_REGION \
  (gst_shufflenet_inference_region_get_type ())
GType gst_shufflenet_inference_region_get_type (void);
#define GST_TYPE_SHUFFLENET_RESIZE_MODE (gst_shufflenet_resize_mode_get_type ())
GType gst_shufflenet_resize_mode_get_type (void);
#define GST_TYPE_SHUFFLENET_CHANNEL_ORDER \
  (gst_shufflenet_channel_order_get_type ())
GType gst_shufflenet_channel_order_get_type (void);
#define GST_TYPE_SHUFFLENET_PRECISION (gst_shufflenet_precision_get_type ())
GType gst_shufflenet_precision_get_type (void);

#define GST_TYPE_SHUFFLENET (gst_shufflenet_get_type ())
G_DECLARE_FINAL_TYPE (GstShuffleNet, gst_shufflenet, GST, SHUFFLENET,
    GstVideoFilter);

GST_ELEMENT_REGISTER_DECLARE (shufflenet);

G_END_DECLS

#endif /* __GST_SHUFFLENET_H__ */
