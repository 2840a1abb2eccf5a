/* plugin.c - the `shufflenet` plugin: registers its elements, nothing else. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstshufflenet.h"
#include "gstshufflenetjson.h"
#include "gstshufflenetoverlay.h"
#include "gstshufflenettrack.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = FALSE;

  ok |= GST_ELEMENT_REGISTER (shufflenet, plugin);
  ok |= GST_ELEMENT_REGISTER (shufflenetoverlay, plugin);
  ok |= GST_ELEMENT_REGISTER (shufflenetjson, plugin);
  ok |= GST_ELEMENT_REGISTER (shufflenettrack, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, shufflenet,
    "ShuffleNet v1 image classification of video frames",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
