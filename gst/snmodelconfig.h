/* snmodelconfig.h - what a ShuffleNet ONNX model says about itself: its
 * preprocessing, labels and display name, read from the ONNX metadata_props
 * (keys written by models/sn_metadata.py), with the documented defaults for
 * keys a model lacks. Also the small text parsers the element's properties
 * share with it ("a,b,c" triples, labels files).
 *
 * Keys (all optional):
 *   shufflenet.channel_order      "RGB" | "BGR"           default RGB
 *   shufflenet.scale              float > 0               default 1/255
 *   shufflenet.mean               "m0,m1,m2"              default ImageNet
 *   shufflenet.std                "s0,s1,s2", no zero     default ImageNet
 *   shufflenet.resize             "crop" | "stretch" | "letterbox"  default crop
 *   shufflenet.resize_short_side  int >= 1                default 0 (derived)
 *   shufflenet.labels             names joined by "\n"    default none
 *   shufflenet.model_name         text                    default file basename
 * mean and std are in the model's channel order.
 */
#ifndef __SN_MODEL_CONFIG_H__
#define __SN_MODEL_CONFIG_H__

#include <glib.h>

#include "shufflenet.h"
#include "snpreprocess.h"

G_BEGIN_DECLS

#define SN_MODEL_CONFIG_ERROR (sn_model_config_error_quark ())
GQuark sn_model_config_error_quark (void);

typedef enum
{
  SN_MODEL_CONFIG_ERROR_METADATA,       /* a metadata value is malformed */
  SN_MODEL_CONFIG_ERROR_LABELS_READ,    /* labels file missing/unreadable */
  SN_MODEL_CONFIG_ERROR_LABELS_FORMAT,  /* empty line, no labels, bad UTF-8 */
  SN_MODEL_CONFIG_ERROR_LABELS_COUNT    /* count differs from the classes */
} SnModelConfigError;

/* Name of the model file the element uses when `model` is not set. */
#define SN_DEFAULT_MODEL_FILE "shufflenet_v1_g3_0.5x.onnx"

typedef struct
{
  SnChannelOrder channel_order;
  float scale;
  float mean[3];                /* tensor (model) channel order */
  float std[3];                 /* tensor (model) channel order */
  SnResizeMode resize;
  int short_side;               /* CROP: 0 = derive from the tensor size */
  gchar *model_name;            /* never NULL after a successful read */
  gchar **labels;               /* NULL-terminated, n_classes long, or NULL */
} SnModelConfig;

/* Fills @config from @model's metadata and the defaults above; @path gives
 * the default model name. On error @config is left cleared. */
gboolean sn_model_config_read (SnModelConfig * config, const sn_model * model,
    const gchar * path, GError ** error);
void sn_model_config_clear (SnModelConfig * config);

/* "a,b,c" (spaces allowed) -> 3 finite floats. @what names the value in
 * the error message. */
gboolean sn_parse_float_triple (const gchar * text, float out[3],
    const gchar * what, GError ** error);

/* A labels file: one name per line, "\r\n" accepted, trailing empty lines
 * ignored, an empty line between names refused. Exactly @n_classes names
 * are required. Returns a NULL-terminated array of @n_classes strings. */
gchar **sn_labels_read_file (const gchar * path, int n_classes,
    GError ** error);

/* The first existing default model: $SHUFFLENET_MODEL_DIR, then @dirs in
 * order (NULL-terminated), each joined with SN_DEFAULT_MODEL_FILE. Returns
 * NULL when none exists; @searched (optional) receives the list of paths
 * looked at, for the error message. */
gchar *sn_default_model_find (const gchar * const *dirs, gchar ** searched);

G_END_DECLS

#endif /* __SN_MODEL_CONFIG_H__ */
