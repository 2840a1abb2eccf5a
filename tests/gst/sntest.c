/* sntest.c - helpers of the element tests (see sntest.h). */
#include "sntest.h"

#include <math.h>
#include <string.h>

#include "refpre.h"
#include "snpreprocess.h"

gchar *
snt_model (const gchar * name)
{
  const gchar *dir = g_getenv ("SN_TEST_MODELS_DIR");

  fail_unless (dir != NULL, "SN_TEST_MODELS_DIR is not set");
  return g_build_filename (dir, name, NULL);
}

/* Real ImageNet weights: 1000 classes whose metadata labels name class 285
 * "Egyptian cat" (models/fetch.sh writes them). */
static gboolean
is_pretrained (const gchar * path)
{
  sn_model *model = NULL;
  sn_error err;
  SnModelConfig c;
  gboolean yes = FALSE;

  fail_unless_equals_int (sn_model_load_file (path, &model, &err), SN_OK);
  if (sn_model_num_classes (model) == 1000
      && sn_model_config_read (&c, model, path, NULL)) {
    yes = c.labels != NULL && strcmp (c.labels[285], "Egyptian cat") == 0;
    sn_model_config_clear (&c);
  }
  sn_model_free (model);
  return yes;
}

gchar *
snt_photo_model (gboolean * pretrained)
{
  const gchar *env = g_getenv ("SHUFFLENET_TEST_MODEL");
  const gchar *src = g_getenv ("SN_SOURCE_DEFAULT_MODEL");
  gchar *path;

  if (env != NULL && *env != '\0')
    path = g_strdup (env);
  else if (src != NULL && g_file_test (src, G_FILE_TEST_IS_REGULAR))
    path = g_strdup (src);
  else
    path = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  *pretrained = is_pretrained (path);
  return path;
}

/* @path decoded with pngdec, as RGB at its own size. */
static GstSample *
decode_png (const gchar * path)
{
  GstElement *pipeline, *sink;
  GstSample *photo = NULL;
  GError *err = NULL;
  gchar *desc;

  desc = g_strdup_printf ("filesrc location=\"%s\" ! pngdec ! videoconvert ! "
      "video/x-raw,format=RGB ! appsink name=sink", path);
  pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_ASYNC);
  fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL,
          GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
  g_signal_emit_by_name (sink, "pull-preroll", &photo);
  fail_unless (photo != NULL, "no frame decoded from %s", path);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return photo;
}

GstSample *
snt_photo (void)
{
  static GstSample *photo = NULL;
  const gchar *path = g_getenv ("SN_TEST_IMAGE");

  if (photo != NULL)
    return gst_sample_ref (photo);
  fail_unless (path != NULL, "SN_TEST_IMAGE is not set");
  photo = decode_png (path);
  return gst_sample_ref (photo);
}

GstSample *
snt_photo_named (const gchar * name)
{
  const gchar *image = g_getenv ("SN_TEST_IMAGE");
  gchar *dir, *path;
  GstSample *photo;

  fail_unless (image != NULL, "SN_TEST_IMAGE is not set");
  dir = g_path_get_dirname (image);
  path = g_build_filename (dir, name, NULL);
  photo = decode_png (path);
  g_free (path);
  g_free (dir);
  return photo;
}

GstSample *
snt_convert (GstSample * sample, const gchar * format, gint width, gint height)
{
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
      format, "width", G_TYPE_INT, width, "height", G_TYPE_INT, height, NULL);
  GError *err = NULL;
  GstSample *out = gst_video_convert_sample (sample, caps, GST_CLOCK_TIME_NONE,
      &err);

  fail_unless (out != NULL, "cannot convert to %s %dx%d: %s", format, width,
      height, err ? err->message : "?");
  gst_caps_unref (caps);
  return out;
}

void
snt_pre_from_model (SntPre * pre, const gchar * model_path)
{
  sn_model *model = NULL;
  sn_error err;
  sn_input_info info;
  SnModelConfig c;
  GError *gerr = NULL;

  fail_unless_equals_int (sn_model_load_file (model_path, &model, &err), SN_OK);
  fail_unless (sn_model_config_read (&c, model, model_path, &gerr),
      "%s", gerr ? gerr->message : "");
  sn_model_input_info (model, &info);
  memset (pre, 0, sizeof (*pre));
  pre->bgr = c.channel_order == SN_CHANNEL_ORDER_BGR;
  pre->scale = c.scale;
  for (gint i = 0; i < 3; i++) {
    pre->mean[i] = c.mean[i];
    pre->std[i] = c.std[i];
  }
  pre->resize = c.resize;
  pre->short_side = c.short_side;
  pre->out_w = info.width;
  pre->out_h = info.height;
  pre->nhwc = info.layout == SN_LAYOUT_NHWC;
  sn_model_config_clear (&c);
  sn_model_free (model);
}

void
snt_preprocess_rgb (GstSample * rgb, const SntPre * p, float *out)
{
  SnPreprocessConfig c = {
    .channel_order = p->bgr ? SN_CHANNEL_ORDER_BGR : SN_CHANNEL_ORDER_RGB,
    .scale = (float) p->scale,
    .mean = {(float) p->mean[0], (float) p->mean[1], (float) p->mean[2]},
    .std = {(float) p->std[0], (float) p->std[1], (float) p->std[2]},
    .resize = p->resize, .short_side = p->short_side,
    .out_width = p->out_w, .out_height = p->out_h, .out_nhwc = p->nhwc,
  };
  const RefLayout *rgb_layout = NULL;
  GstVideoInfo info;
  GstVideoFrame frame;
  RefMatrix m;

  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (rgb)));
  fail_unless (GST_VIDEO_INFO_FORMAT (&info) == GST_VIDEO_FORMAT_RGB);
  for (guint i = 0; i < ref_n_layouts; i++)
    if (ref_layouts[i].format == GST_VIDEO_FORMAT_RGB)
      rgb_layout = &ref_layouts[i];
  fail_unless (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (rgb),
          GST_MAP_READ));
  m = ref_matrix (rgb_layout, &info.colorimetry);
  ref_tensor (&frame, rgb_layout, &m, &c, out);
  gst_video_frame_unmap (&frame);
}

gint
snt_engine_num_classes (const gchar * model_path)
{
  sn_model *model = NULL;
  sn_error err;
  gint k;

  fail_unless_equals_int (sn_model_load_file (model_path, &model, &err), SN_OK);
  k = sn_model_num_classes (model);
  sn_model_free (model);
  return k;
}

gint
snt_engine_probs (const gchar * model_path, const float *tensor, float **probs)
{
  sn_model *model = NULL;
  sn_context *ctx = NULL;
  sn_error err;
  gint k;

  fail_unless_equals_int (sn_model_load_file (model_path, &model, &err), SN_OK);
  fail_unless_equals_int (sn_context_create (model, 1, &ctx, &err), SN_OK);
  k = sn_model_num_classes (model);
  *probs = g_new (float, k);
  fail_unless_equals_int (sn_context_run (ctx, tensor, 1, *probs, &err), SN_OK);
  if (!sn_model_outputs_probabilities (model))
    sn_softmax (*probs, k);
  sn_context_free (ctx);
  sn_model_free (model);
  return k;
}

gint
snt_reference (const gchar * model_path, GstSample * rgb, const SntPre * pre,
    float **probs)
{
  float *tensor = g_new (float, 3 * (gsize) pre->out_w * pre->out_h);
  gint k;

  snt_preprocess_rgb (rgb, pre, tensor);
  k = snt_engine_probs (model_path, tensor, probs);
  g_free (tensor);
  return k;
}

const gchar *const *
snt_element_formats (guint * n)
{
  static gchar **formats = NULL;

  if (formats == NULL) {
    GstElementFactory *f = gst_element_factory_find ("shufflenet");
    GPtrArray *names = g_ptr_array_new ();

    if (f == NULL)              /* called when suites are made: no check */
      g_error ("no shufflenet element (GST_PLUGIN_PATH?)");
    for (const GList * t = gst_element_factory_get_static_pad_templates (f);
        t != NULL; t = t->next) {
      const GstStaticPadTemplate *tpl = t->data;
      GstCaps *caps;
      const GValue *list;

      if (tpl->direction != GST_PAD_SINK)
        continue;
      caps = gst_static_caps_get ((GstStaticCaps *) & tpl->static_caps);
      list = gst_structure_get_value (gst_caps_get_structure (caps, 0),
          "format");
      for (guint i = 0; GST_VALUE_HOLDS_LIST (list)
          && i < gst_value_list_get_size (list); i++)
        g_ptr_array_add (names, g_value_dup_string (gst_value_list_get_value
                (list, i)));
      gst_caps_unref (caps);
    }
    g_ptr_array_add (names, NULL);
    formats = (gchar **) g_ptr_array_free (names, FALSE);
    gst_object_unref (f);
  }
  *n = g_strv_length (formats);
  return (const gchar * const *) formats;
}

GstElement *
snt_element_new (const gchar * model, GstBus ** bus)
{
  GstElement *e = gst_element_factory_make ("shufflenet", NULL);

  fail_unless (e != NULL, "no shufflenet element (GST_PLUGIN_PATH?)");
  gst_object_ref_sink (e);
  g_object_set (e, "model", model, "threads", 1, NULL);
  if (bus != NULL) {
    *bus = gst_bus_new ();
    gst_element_set_bus (e, *bus);
  }
  return e;
}

void
snt_bus_unref (GstBus * bus)
{
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GstHarness *
snt_harness_new (GstElement * element, const gchar * caps)
{
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");

  gst_object_unref (element);   /* the harness holds it now */
  if (caps != NULL)
    gst_harness_set_src_caps_str (h, caps);
  return h;
}

GstBuffer *
snt_push_pull (GstHarness * h, GstSample * sample)
{
  fail_unless_equals_int (gst_harness_push (h,
          gst_buffer_ref (gst_sample_get_buffer (sample))), GST_FLOW_OK);
  return gst_harness_pull (h);
}

GstMessage *
snt_pop_result (GstBus * bus)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    if (gst_message_has_name (msg, "shufflenet"))
      return msg;
    gst_message_unref (msg);
  }
  return NULL;
}

GstMessage *
snt_pop_message (GstBus * bus, GstMessageType type, GstClockTime timeout)
{
  return gst_bus_timed_pop_filtered (bus, timeout, type);
}

gint
snt_result_top1 (const GstStructure * s, gdouble * score)
{
  const GValue *ids = gst_structure_get_value (s, "class-ids");
  const GValue *scores = gst_structure_get_value (s, "scores");

  if (ids == NULL || gst_value_array_get_size (ids) == 0)
    return -1;
  if (score != NULL)
    *score = g_value_get_double (gst_value_array_get_value (scores, 0));
  return g_value_get_int (gst_value_array_get_value (ids, 0));
}

gint
snt_argmax (const float *v, gint n)
{
  gint best = 0;

  for (gint i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

double
snt_max_abs_diff (const float *a, const float *b, gint n)
{
  double m = 0.0;

  for (gint i = 0; i < n; i++)
    m = MAX (m, fabs ((double) a[i] - b[i]));
  return m;
}
