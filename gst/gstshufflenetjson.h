/* gstshufflenetjson.h - the `shufflenetjson` element: writes the
 * GstShuffleNetMeta of every buffer as one JSON line, passing the buffers
 * on untouched. */
#ifndef __GST_SHUFFLENET_JSON_H__
#define __GST_SHUFFLENET_JSON_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

/* flush-mode: when written lines reach the file. */
typedef enum
{
  GST_SHUFFLENET_JSON_FLUSH_LINE,
  GST_SHUFFLENET_JSON_FLUSH_EOS,
  GST_SHUFFLENET_JSON_FLUSH_FSYNC
} GstShuffleNetJsonFlushMode;

#define GST_TYPE_SHUFFLENET_JSON_FLUSH_MODE \
  (gst_shufflenet_json_flush_mode_get_type ())
GType gst_shufflenet_json_flush_mode_get_type (void);

#define GST_TYPE_SHUFFLENET_JSON (gst_shufflenet_json_get_type ())
G_DECLARE_FINAL_TYPE (GstShuffleNetJson, gst_shufflenet_json, GST,
    SHUFFLENET_JSON, GstBaseTransform);

GST_ELEMENT_REGISTER_DECLARE (shufflenetjson);

G_END_DECLS

#endif /* __GST_SHUFFLENET_JSON_H__ */
