/* snmodelconfig.c - model metadata -> preprocessing defaults, labels, name.
 * See snmodelconfig.h for the keys and defaults. */
#include "snmodelconfig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CHANNEL_ORDER "shufflenet.channel_order"
#define KEY_SCALE "shufflenet.scale"
#define KEY_MEAN "shufflenet.mean"
#define KEY_STD "shufflenet.std"
#define KEY_RESIZE "shufflenet.resize"
#define KEY_SHORT_SIDE "shufflenet.resize_short_side"
#define KEY_LABELS "shufflenet.labels"
#define KEY_MODEL_NAME "shufflenet.model_name"

GQuark
sn_model_config_error_quark (void)
{
  return g_quark_from_static_string ("sn-model-config-error-quark");
}

static gboolean
parse_float (const gchar * text, float *out, const gchar * what,
    GError ** error)
{
  gchar *end = NULL;
  gdouble v;

  while (g_ascii_isspace (*text))
    text++;
  v = g_ascii_strtod (text, &end);
  while (end != NULL && g_ascii_isspace (*end))
    end++;
  if (end == text || end == NULL || *end != '\0' || !isfinite (v)
      || fabs (v) > G_MAXFLOAT) {
    g_set_error (error, SN_MODEL_CONFIG_ERROR, SN_MODEL_CONFIG_ERROR_METADATA,
        "%s: '%s' is not a finite number", what, text);
    return FALSE;
  }
  *out = (float) v;
  return TRUE;
}

gboolean
sn_parse_float_triple (const gchar * text, float out[3], const gchar * what,
    GError ** error)
{
  gchar **parts;
  float v[3];
  gboolean ok = TRUE;

  parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != 3) {
    g_set_error (error, SN_MODEL_CONFIG_ERROR, SN_MODEL_CONFIG_ERROR_METADATA,
        "%s: '%s' needs 3 comma-separated numbers", what, text);
    ok = FALSE;
  }
  for (int i = 0; ok && i < 3; i++)
    ok = parse_float (parts[i], &v[i], what, error);
  g_strfreev (parts);
  if (ok)
    memcpy (out, v, sizeof (v));
  return ok;
}

static gboolean
read_preprocessing (SnModelConfig * c, const sn_model * model, GError ** error)
{
  const gchar *key, *v;

  key = KEY_CHANNEL_ORDER;
  if ((v = sn_model_metadata_get (model, key)) != NULL) {
    if (g_ascii_strcasecmp (v, "RGB") == 0)
      c->channel_order = SN_CHANNEL_ORDER_RGB;
    else if (g_ascii_strcasecmp (v, "BGR") == 0)
      c->channel_order = SN_CHANNEL_ORDER_BGR;
    else
      goto bad_value;
  }
  key = KEY_SCALE;
  if ((v = sn_model_metadata_get (model, key)) != NULL) {
    if (!parse_float (v, &c->scale, key, error))
      return FALSE;
    if (!(c->scale > 0.0f))
      goto bad_value;
  }
  if ((v = sn_model_metadata_get (model, KEY_MEAN)) != NULL
      && !sn_parse_float_triple (v, c->mean, KEY_MEAN, error))
    return FALSE;
  key = KEY_STD;
  if ((v = sn_model_metadata_get (model, key)) != NULL) {
    if (!sn_parse_float_triple (v, c->std, key, error))
      return FALSE;
    if (c->std[0] == 0.0f || c->std[1] == 0.0f || c->std[2] == 0.0f)
      goto bad_value;
  }
  key = KEY_RESIZE;
  if ((v = sn_model_metadata_get (model, key)) != NULL) {
    if (g_ascii_strcasecmp (v, "crop") == 0)
      c->resize = SN_RESIZE_CROP;
    else if (g_ascii_strcasecmp (v, "stretch") == 0)
      c->resize = SN_RESIZE_STRETCH;
    else if (g_ascii_strcasecmp (v, "letterbox") == 0)
      c->resize = SN_RESIZE_LETTERBOX;
    else
      goto bad_value;
  }
  key = KEY_SHORT_SIDE;
  if ((v = sn_model_metadata_get (model, key)) != NULL) {
    gchar *end = NULL;
    gint64 s = g_ascii_strtoll (v, &end, 10);
    if (end == v || *end != '\0' || s < 1 || s > SN_PREPROCESS_MAX_OUT_SIDE)
      goto bad_value;
    c->short_side = (int) s;
  }
  return TRUE;

bad_value:
  g_set_error (error, SN_MODEL_CONFIG_ERROR, SN_MODEL_CONFIG_ERROR_METADATA,
      "model metadata %s has an invalid value '%s'", key, v);
  return FALSE;
}

/* Splits @text into lines ("\n", optional "\r" before it), drops trailing
 * empty lines and checks that no name is empty. @where names the source. */
static gchar **
split_labels (const gchar * text, const gchar * where, GError ** error)
{
  gchar **lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);

  for (guint i = 0; i < n; i++)
    g_strchomp (lines[i]);      /* drops "\r" and trailing spaces */
  while (n > 0 && lines[n - 1][0] == '\0') {
    g_free (lines[n - 1]);
    lines[--n] = NULL;
  }
  for (guint i = 0; i < n; i++) {
    if (g_strstrip (lines[i])[0] == '\0') {
      g_set_error (error, SN_MODEL_CONFIG_ERROR,
          SN_MODEL_CONFIG_ERROR_LABELS_FORMAT, "%s: line %u is empty", where,
          i + 1);
      g_strfreev (lines);
      return NULL;
    }
  }
  if (n == 0) {
    g_set_error (error, SN_MODEL_CONFIG_ERROR,
        SN_MODEL_CONFIG_ERROR_LABELS_FORMAT, "%s has no labels", where);
    g_strfreev (lines);
    return NULL;
  }
  return lines;
}

static gboolean
check_label_count (gchar ** labels, int n_classes, const gchar * where,
    GError ** error)
{
  guint n = g_strv_length (labels);

  if (n == (guint) n_classes)
    return TRUE;
  g_set_error (error, SN_MODEL_CONFIG_ERROR,
      SN_MODEL_CONFIG_ERROR_LABELS_COUNT,
      "%s has %u labels but the model has %d classes", where, n, n_classes);
  return FALSE;
}

gchar **
sn_labels_read_file (const gchar * path, int n_classes, GError ** error)
{
  gchar *text = NULL, *where;
  gchar **labels = NULL;
  GError *err = NULL;

  if (!g_file_get_contents (path, &text, NULL, &err)) {
    g_set_error (error, SN_MODEL_CONFIG_ERROR,
        SN_MODEL_CONFIG_ERROR_LABELS_READ, "Cannot read labels file '%s': %s",
        path, err->message);
    g_error_free (err);
    return NULL;
  }
  where = g_strdup_printf ("labels file '%s'", path);
  if (!g_utf8_validate (text, -1, NULL))
    g_set_error (error, SN_MODEL_CONFIG_ERROR,
        SN_MODEL_CONFIG_ERROR_LABELS_FORMAT, "%s is not UTF-8 text", where);
  else if ((labels = split_labels (text, where, error)) != NULL
      && !check_label_count (labels, n_classes, where, error))
    g_clear_pointer (&labels, g_strfreev);
  g_free (where);
  g_free (text);
  return labels;
}

static gchar *
name_from_path (const gchar * path)
{
  gchar *base = g_path_get_basename (path);
  gchar *dot = strrchr (base, '.');

  if (dot != NULL && dot != base)
    *dot = '\0';
  return base;
}

gboolean
sn_model_config_read (SnModelConfig * config, const sn_model * model,
    const gchar * path, GError ** error)
{
  static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
  const gchar *v;

  memset (config, 0, sizeof (*config));
  config->channel_order = SN_CHANNEL_ORDER_RGB;
  config->scale = 1.0f / 255.0f;
  memcpy (config->mean, imagenet_mean, sizeof (imagenet_mean));
  memcpy (config->std, imagenet_std, sizeof (imagenet_std));
  config->resize = SN_RESIZE_CROP;
  config->short_side = 0;

  if (!read_preprocessing (config, model, error))
    goto failed;
  if ((v = sn_model_metadata_get (model, KEY_LABELS)) != NULL) {
    config->labels = split_labels (v, "model metadata " KEY_LABELS, error);
    if (config->labels == NULL
        || !check_label_count (config->labels, sn_model_num_classes (model),
            "model metadata " KEY_LABELS, error))
      goto failed;
  }
  v = sn_model_metadata_get (model, KEY_MODEL_NAME);
  if (v != NULL && g_utf8_validate (v, -1, NULL) && *v != '\0')
    config->model_name = g_strdup (v);
  else
    config->model_name = name_from_path (path);
  return TRUE;

failed:
  sn_model_config_clear (config);
  return FALSE;
}

void
sn_model_config_clear (SnModelConfig * config)
{
  g_clear_pointer (&config->model_name, g_free);
  g_clear_pointer (&config->labels, g_strfreev);
}

gchar *
sn_default_model_find (const gchar * const *dirs, gchar ** searched)
{
  GPtrArray *tried = g_ptr_array_new_with_free_func (g_free);
  const gchar *env = g_getenv ("SHUFFLENET_MODEL_DIR");
  gchar *found = NULL;

  if (env != NULL && *env != '\0')
    g_ptr_array_add (tried, g_build_filename (env, SN_DEFAULT_MODEL_FILE,
            NULL));
  for (guint i = 0; dirs != NULL && dirs[i] != NULL; i++)
    g_ptr_array_add (tried, g_build_filename (dirs[i], SN_DEFAULT_MODEL_FILE,
            NULL));
  for (guint i = 0; i < tried->len && found == NULL; i++) {
    if (g_file_test (g_ptr_array_index (tried, i), G_FILE_TEST_IS_REGULAR))
      found = g_strdup (g_ptr_array_index (tried, i));
  }
  if (searched != NULL) {
    g_ptr_array_add (tried, NULL);
    *searched = g_strjoinv (", ", (gchar **) tried->pdata);
  }
  g_ptr_array_free (tried, TRUE);
  return found;
}
