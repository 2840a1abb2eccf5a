/* test_errors.c - every way the element refuses: models that are missing,
 * unreadable, not ONNX, unsupported or with bad metadata; bad labels; caps
 * it cannot handle; invalid property values; a bad model while playing. */
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "gstshufflenetmeta.h"
#include "sntest.h"

/* Going to PAUSED fails with an error of @domain/@code whose text
 * contains @needle. */
static void
expect_start_error (GstElement * e, GstBus * bus, GQuark domain, gint code,
    const gchar * needle)
{
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL;

  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = snt_pop_message (bus, GST_MESSAGE_ERROR, 0);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &err, &debug);
  GST_INFO ("error: %s (%s)", err->message, debug);
  fail_unless (err->domain == domain, "domain %s", g_quark_to_string
      (err->domain));
  fail_unless_equals_int (err->code, code);
  fail_unless (strstr (err->message, needle) != NULL,
      "'%s' not in '%s'", needle, err->message);
  fail_unless (debug != NULL && *debug != '\0', "no debug message");
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
}

static void
check_model_error (const gchar * model, GQuark domain, gint code,
    const gchar * needle)
{
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);

  expect_start_error (e, bus, domain, code, needle);
  gst_object_unref (e);
  snt_bus_unref (bus);
}

GST_START_TEST (test_model_empty)
{
  check_model_error ("", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "No model set");
}

GST_END_TEST;

GST_START_TEST (test_model_missing)
{
  check_model_error ("/nonexistent/dir/model.onnx", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "/nonexistent/dir/model.onnx");
}

GST_END_TEST;

GST_START_TEST (test_model_unreadable)
{
  gchar *dir = g_dir_make_tmp ("sn-test-XXXXXX", NULL);

  /* a directory: exists, cannot be read as a file (root reads any file) */
  check_model_error (dir, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
      dir);
  g_rmdir (dir);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_model_not_onnx)
{
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("sn-test-XXXXXX.onnx", &path, NULL);

  fail_unless (fd >= 0);
  fail_unless (write (fd, "this is not a protobuf\xff\xff\xff", 25) == 25);
  close (fd);
  check_model_error (path, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS, path);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_model_unsupported_op)
{
  gchar *model = snt_model ("unsupported_leakyrelu.onnx");

  check_model_error (model, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "LeakyRelu");
  g_free (model);
}

GST_END_TEST;

GST_START_TEST (test_model_bad_metadata)
{
  gchar *model = snt_model ("bad_metadata.onnx");
  gchar *model2 = snt_model ("bad_labels_metadata.onnx");

  check_model_error (model, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "shufflenet.std");
  check_model_error (model2, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "3 labels but the model has 10 classes");
  g_free (model);
  g_free (model2);
}

GST_END_TEST;

/* An unset model uses $SHUFFLENET_MODEL_DIR first and names the file it
 * found there when that file is bad; with no default model anywhere the
 * start fails with RESOURCE/NOT_FOUND. */
GST_START_TEST (test_default_model_lookup)
{
  gchar *dir = g_dir_make_tmp ("sn-test-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, SN_DEFAULT_MODEL_FILE, NULL);
  gchar *old = g_strdup (g_getenv ("SHUFFLENET_MODEL_DIR"));
  GstBus *bus;
  GstElement *e;

  fail_unless (g_file_set_contents (path, "garbage", -1, NULL));
  g_setenv ("SHUFFLENET_MODEL_DIR", dir, TRUE);
  e = snt_element_new (NULL, &bus);
  expect_start_error (e, bus, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      path);
  gst_object_unref (e);
  snt_bus_unref (bus);

  /* Nothing anywhere: an unset model fails. Only checkable where neither
   * the source tree nor the install prefix holds the default model. */
  g_unlink (path);
  if (!g_file_test (g_getenv ("SN_SOURCE_DEFAULT_MODEL"), G_FILE_TEST_EXISTS)
      && !g_file_test (g_getenv ("SN_INSTALLED_DEFAULT_MODEL"),
          G_FILE_TEST_EXISTS)) {
    e = snt_element_new (NULL, &bus);
    expect_start_error (e, bus, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_NOT_FOUND, "No model set and the default model");
    gst_object_unref (e);
    snt_bus_unref (bus);
  } else {
    GST_INFO ("a default model exists: unset-model failure not checked");
  }
  if (old != NULL)
    g_setenv ("SHUFFLENET_MODEL_DIR", old, TRUE);
  g_rmdir (dir);
  g_free (old);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_labels_errors)
{
  gchar *model = snt_model ("tiny.onnx");
  gchar *labels3 = snt_model ("labels3.txt");
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);

  g_object_set (e, "labels", labels3, NULL);
  expect_start_error (e, bus, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "has 3 labels but the model has 10 classes");
  g_object_set (e, "labels", "/nonexistent/labels.txt", NULL);
  expect_start_error (e, bus, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_OPEN_READ, "/nonexistent/labels.txt");
  gst_object_unref (e);
  snt_bus_unref (bus);
  g_free (labels3);
  g_free (model);
}

GST_END_TEST;

/* Formats and interlacing outside the template are refused at
 * negotiation. */
GST_START_TEST (test_caps_refused)
{
  static const gchar *refused[] = {
    "video/x-raw,format=RGB16,width=64,height=48,framerate=30/1",
    "video/x-raw,format=I420_10LE,width=64,height=48,framerate=30/1",
    "video/x-raw,format=I420,width=64,height=48,framerate=30/1,"
        "interlace-mode=mixed",
    "video/x-raw(memory:GLMemory),format=RGBA,width=64,height=48",
    "audio/x-raw,format=S16LE,rate=8000,channels=1",
  };
  gchar *model = snt_model ("tiny.onnx");
  GstElement *e = snt_element_new (model, NULL);
  GstPad *sink = gst_element_get_static_pad (e, "sink");

  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_SUCCESS);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    GstCaps *caps = gst_caps_from_string (refused[i]);
    fail_if (gst_pad_query_accept_caps (sink, caps), "accepted %s", refused[i]);
    gst_caps_unref (caps);
  }
  {
    GstCaps *caps = gst_caps_from_string ("video/x-raw,format=UYVY,"
        "width=385,height=289,framerate=30/1");
    fail_unless (gst_pad_query_accept_caps (sink, caps));
    gst_caps_unref (caps);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (e);
  g_free (model);
}

GST_END_TEST;

/* Set @prop to the string @value: refused with a warning, old value kept. */
static void
expect_refused (GstElement * e, const gchar * prop, const gchar * value)
{
  gchar *before = NULL, *after = NULL;
  GValue v = G_VALUE_INIT;

  g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (g_object_class_find_property
          (G_OBJECT_GET_CLASS (e), prop)));
  g_object_get_property (G_OBJECT (e), prop, &v);
  before = gst_value_serialize (&v);
  g_value_unset (&v);
  if (strcmp (prop, "mean") == 0 || strcmp (prop, "std") == 0) {
    ASSERT_WARNING (g_object_set (e, prop, value, NULL));
  } else {
    ASSERT_WARNING (gst_util_set_object_arg (G_OBJECT (e), prop, value));
  }
  g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (g_object_class_find_property
          (G_OBJECT_GET_CLASS (e), prop)));
  g_object_get_property (G_OBJECT (e), prop, &v);
  after = gst_value_serialize (&v);
  g_value_unset (&v);
  fail_unless_equals_string (after, before);
  g_free (before);
  g_free (after);
}

GST_START_TEST (test_invalid_property_values)
{
  GstElement *e = gst_element_factory_make ("shufflenet", NULL);
  gchar *mean = NULL;

  g_object_set (e, "mean", "0.5,0.5,0.5", "top-k", 3, NULL);
  expect_refused (e, "mean", "1,2");
  expect_refused (e, "mean", "1,2,3,4");
  expect_refused (e, "mean", "a,b,c");
  expect_refused (e, "mean", "1,nan,3");
  expect_refused (e, "mean", "1,,3");
  expect_refused (e, "std", "1,0,1");
  expect_refused (e, "std", "1e999,1,1");
  expect_refused (e, "top-k", "0");
  expect_refused (e, "threshold", "1.5");
  expect_refused (e, "interval", "0");
  expect_refused (e, "threads", "-1");
  {
    gint precision = -1;        /* not an enum value: GObject refuses it */
    ASSERT_WARNING (g_object_set (e, "precision", 7, NULL));
    g_object_get (e, "precision", &precision, NULL);
    fail_unless_equals_int (precision, 0);
  }
  g_object_get (e, "mean", &mean, NULL);
  fail_unless_equals_string (mean, "0.5,0.5,0.5");
  g_free (mean);
  /* empty = back to the model's values */
  g_object_set (e, "mean", "", NULL);
  g_object_get (e, "mean", &mean, NULL);
  fail_unless_equals_string (mean, "");
  g_free (mean);
  gst_object_unref (e);
}

GST_END_TEST;

static gchar *
result_model (GstBuffer * out)
{
  const GstStructure *s = gst_shufflenet_meta_get_structure (out);

  fail_unless (s != NULL);
  return g_strdup (gst_structure_get_string (s, "model"));
}

/* Pushes frames until the result names @model (the swap is
 * asynchronous), at most ~10 s. */
static void
wait_for_model (GstHarness * h, GstSample * frame, const gchar * model)
{
  for (gint i = 0; i < 1000; i++) {
    GstBuffer *out = snt_push_pull (h, frame);
    gchar *name = result_model (out);
    gboolean done = g_strcmp0 (name, model) == 0;

    g_free (name);
    gst_buffer_unref (out);
    if (done)
      return;
    g_usleep (10000);
  }
  fail ("model %s never took over", model);
}

/* While playing: a bad model or labels posts a warning, the old model keeps
 * serving and the property goes back to it; a good model is swapped in. */
GST_START_TEST (test_bad_model_while_playing)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *meta = snt_model ("tiny_meta.onnx");
  gchar *bad = snt_model ("unsupported_leakyrelu.onnx");
  gchar *labels3 = snt_model ("labels3.txt");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "RGBA", 64, 48);
  GstBus *bus;
  GstElement *e = snt_element_new (tiny, &bus);
  GstHarness *h = snt_harness_new (e, "video/x-raw,format=RGBA,width=64,"
      "height=48,framerate=30/1");
  const gchar *bad_values[][2] = {
    {"model", "/nonexistent.onnx"}, {"model", bad}, {"labels", labels3},
  };

  wait_for_model (h, frame, "tiny");
  for (guint i = 0; i < G_N_ELEMENTS (bad_values); i++) {
    GstMessage *msg;
    gchar *value = NULL, *name;
    GstBuffer *out;

    g_object_set (e, bad_values[i][0], bad_values[i][1], NULL);
    msg = snt_pop_message (bus, GST_MESSAGE_WARNING, 20 * GST_SECOND);
    fail_unless (msg != NULL, "no warning for %s=%s", bad_values[i][0],
        bad_values[i][1]);
    gst_message_unref (msg);
    g_object_get (e, bad_values[i][0], &value, NULL);
    fail_if (g_strcmp0 (value, bad_values[i][1]) == 0,
        "%s kept the refused value", bad_values[i][0]);
    g_free (value);
    out = snt_push_pull (h, frame);
    name = result_model (out);
    fail_unless_equals_string (name, "tiny");
    g_free (name);
    gst_buffer_unref (out);
  }
  g_object_set (e, "model", meta, NULL);
  wait_for_model (h, frame, "tiny-meta-test");
  fail_unless (snt_pop_message (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING,
          0) == NULL);

  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (tiny);
  g_free (meta);
  g_free (bad);
  g_free (labels3);
}

GST_END_TEST;

/* bf16 where the CPU (here: SHUFFLENET_ISA=avx2) lacks it: refused at
 * start like a bad model, naming the reason; while playing, a warning, the
 * fp32 model keeps serving and the property goes back to fp32. */
GST_START_TEST (test_precision_unavailable)
{
  gchar *tiny = snt_model ("tiny.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "RGBA", 64, 48);
  GstBus *bus;
  GstElement *e;
  GstHarness *h;
  GstMessage *msg;
  GstBuffer *out;
  gint precision = -1;

  g_setenv ("SHUFFLENET_ISA", "avx2", TRUE);
  e = snt_element_new (tiny, &bus);
  gst_util_set_object_arg (G_OBJECT (e), "precision", "bf16");
  expect_start_error (e, bus, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "AVX512_BF16");
  gst_object_unref (e);
  snt_bus_unref (bus);

  e = snt_element_new (tiny, &bus);
  h = snt_harness_new (e, "video/x-raw,format=RGBA,width=64,height=48,"
      "framerate=30/1");
  wait_for_model (h, frame, "tiny");
  gst_util_set_object_arg (G_OBJECT (e), "precision", "bf16");
  msg = snt_pop_message (bus, GST_MESSAGE_WARNING, 20 * GST_SECOND);
  fail_unless (msg != NULL, "no warning for precision=bf16");
  gst_message_unref (msg);
  g_object_get (e, "precision", &precision, NULL);
  fail_unless_equals_int (precision, 0);
  out = snt_push_pull (h, frame);
  fail_unless (gst_shufflenet_meta_get_structure (out) != NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  snt_bus_unref (bus);
  g_unsetenv ("SHUFFLENET_ISA");
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (tiny);
}

GST_END_TEST;

static Suite *
shufflenet_errors_suite (void)
{
  Suite *s = suite_create ("shufflenet-errors");
  TCase *tc = tcase_create ("errors");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_model_empty);
  tcase_add_test (tc, test_model_missing);
  tcase_add_test (tc, test_model_unreadable);
  tcase_add_test (tc, test_model_not_onnx);
  tcase_add_test (tc, test_model_unsupported_op);
  tcase_add_test (tc, test_model_bad_metadata);
  tcase_add_test (tc, test_default_model_lookup);
  tcase_add_test (tc, test_labels_errors);
  tcase_add_test (tc, test_caps_refused);
  tcase_add_test (tc, test_invalid_property_values);
  tcase_add_test (tc, test_bad_model_while_playing);
  tcase_add_test (tc, test_precision_unavailable);
  return s;
}

GST_CHECK_MAIN (shufflenet_errors);
