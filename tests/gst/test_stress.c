/* test_stress.c - concurrency: properties changed from a second thread
 * while 1000 buffers flow, 100 state cycles, stopping while a model loads,
 * and stopping from the loader thread itself. Never a crash or deadlock. */
#include <string.h>

#include "gstshufflenetmeta.h"
#include "sntest.h"

typedef struct
{
  GstElement *element;
  gchar *models[2];
  gchar *labels;
  volatile gint stop;
  guint changes;
} Changer;

/* Changes every property in turn until told to stop. */
static gpointer
change_properties (gpointer data)
{
  Changer *c = data;
  static const gchar *resize[] = { "default", "stretch", "crop", "letterbox" };
  static const gchar *order[] = { "default", "rgb", "bgr" };
  static const gchar *means[] = { "", "0.5,0.5,0.5", "0.485,0.456,0.406" };
  static const gchar *stds[] = { "", "0.25,0.5,1", "0.229,0.224,0.225" };

  for (guint i = 0; !g_atomic_int_get (&c->stop); i++) {
    switch (i % 11) {
      case 0:
        g_object_set (c->element, "top-k", 1 + i % 10, NULL);
        break;
      case 1:
        g_object_set (c->element, "threshold", (gfloat) (i % 4) * 0.05f, NULL);
        break;
      case 2:
        g_object_set (c->element, "interval", 1 + i % 4, NULL);
        break;
      case 3:
        g_object_set (c->element, "post-messages", i % 2 == 0, NULL);
        break;
      case 4:
        gst_util_set_object_arg (G_OBJECT (c->element), "resize-mode",
            resize[i % 4]);
        break;
      case 5:
        gst_util_set_object_arg (G_OBJECT (c->element), "channel-order",
            order[i % 3]);
        break;
      case 6:
        g_object_set (c->element, "mean", means[i % 3], "std", stds[i % 3],
            NULL);
        break;
      case 7:
        if (i % 5 == 0)         /* a reload: not on every round */
          g_object_set (c->element, "model", c->models[(i / 11) % 2], NULL);
        break;
      case 8:
        if (i % 7 == 0)
          g_object_set (c->element, "labels", i % 2 ? c->labels : NULL, NULL);
        break;
      case 9:
        if (i % 13 == 0)
          g_object_set (c->element, "threads", 1 + i % 2, NULL);
        break;
      case 10:{
        GstStructure *lat = NULL;
        g_object_get (c->element, "latency", &lat, NULL);
        gst_structure_free (lat);
        break;
      }
    }
    c->changes++;
    g_usleep (100);
  }
  return NULL;
}

GST_START_TEST (test_properties_from_another_thread)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *meta = snt_model ("tiny_meta.onnx");
  gchar *labels = snt_model ("labels10.txt");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "I420", 64, 48);
  GstBus *bus;
  GstElement *e = snt_element_new (tiny, &bus);
  GstHarness *h = snt_harness_new (e, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=30/1");
  Changer c = { e, {tiny, meta}, labels, 0, 0 };
  GThread *thread = g_thread_new ("changer", change_properties, &c);
  guint messages = 0, with_meta = 0, swaps = 0;
  gchar *last_model = NULL;
  GstMessage *msg;

  for (guint64 i = 0; i < 1000; i++) {
    GstBuffer *in = gst_buffer_copy (gst_sample_get_buffer (frame));
    GstBuffer *out;
    const GstStructure *s;
    const gchar *name;

    GST_BUFFER_PTS (in) = i * GST_SECOND / 30;
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND / 30);
    s = gst_shufflenet_meta_get_structure (out);
    fail_unless (s != NULL, "buffer %" G_GUINT64_FORMAT " has no meta", i);
    with_meta++;
    name = gst_structure_get_string (s, "model");
    fail_unless (g_strcmp0 (name, "tiny") == 0
        || g_strcmp0 (name, "tiny-meta-test") == 0, "model %s", name);
    if (last_model != NULL && strcmp (last_model, name) != 0)
      swaps++;
    g_free (last_model);
    last_model = g_strdup (name);
    gst_buffer_unref (out);
    while ((msg = snt_pop_result (bus)) != NULL) {
      messages++;
      gst_message_unref (msg);
    }
  }
  g_atomic_int_set (&c.stop, 1);
  g_thread_join (thread);
  GST_INFO ("%u property changes, %u model swaps, %u messages", c.changes,
      swaps, messages);
  fail_unless (swaps > 0, "no model was swapped in while streaming");
  g_free (last_model);
  fail_unless_equals_int (with_meta, 1000);
  fail_unless (messages > 0 && messages <= 1000);
  fail_unless (c.changes > 100, "only %u changes", c.changes);
  fail_unless (snt_pop_message (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING,
          0) == NULL);

  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (tiny);
  g_free (meta);
  g_free (labels);
}

GST_END_TEST;

/* NULL -> READY -> PLAYING -> NULL, 100 times, in a pipeline that streams:
 * the stop lands at any point of the stream. */
GST_START_TEST (test_state_cycles)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=5 ! "
      "video/x-raw,width=48,height=32 ! shufflenet model=\"%s\" threads=1 "
      "name=sn ! fakesink", tiny);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  guint results = 0;

  for (gint i = 0; i < 100; i++) {
    GstMessage *msg;

    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_READY),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
        GST_STATE_CHANGE_FAILURE);
    /* half of the cycles run to the end (the bus is flushed at NULL) */
    while (i % 2 == 0 && (msg = gst_bus_timed_pop (bus, 10 * GST_SECOND))) {
      GstMessageType type = GST_MESSAGE_TYPE (msg);

      fail_if (type == GST_MESSAGE_ERROR);
      if (gst_message_has_name (msg, "shufflenet"))
        results++;
      gst_message_unref (msg);
      if (type == GST_MESSAGE_EOS)
        break;
    }
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
  }
  fail_unless_equals_int (results, 50 * 5);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (tiny);
}

GST_END_TEST;

/* A model change queued just before stopping: stop waits for (or drops)
 * the load, nothing leaks or crashes. */
GST_START_TEST (test_stop_while_loading)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *big = snt_model ("default/" SN_DEFAULT_MODEL_FILE);

  for (gint i = 0; i < 20; i++) {
    GstElement *e = snt_element_new (tiny, NULL);

    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
        GST_STATE_CHANGE_SUCCESS);
    g_object_set (e, "model", big, NULL);
    if (i % 2)
      g_usleep (1000 * i);
    g_object_set (e, "threads", 1, "model", tiny, NULL);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    gst_object_unref (e);
  }
  g_free (tiny);
  g_free (big);
}

GST_END_TEST;

static GstBusSyncReply
stop_on_warning (GstBus * bus, GstMessage * msg, gpointer pipeline)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
    gst_element_set_state (GST_ELEMENT (pipeline), GST_STATE_NULL);
  return GST_BUS_PASS;
}

/* An application that stops the pipeline from a sync handler when the
 * element warns about a bad model: that runs on the loader thread, which
 * must not wait for itself. */
GST_START_TEST (test_stop_from_loader_thread)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true ! "
      "video/x-raw,width=48,height=32,framerate=30/1 ! shufflenet "
      "model=\"%s\" threads=1 name=sn ! fakesink", tiny);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *sn = gst_bin_get_by_name (GST_BIN (pipeline), "sn");
  GstBus *bus = gst_element_get_bus (pipeline);
  GstState state = GST_STATE_PLAYING;

  gst_bus_set_sync_handler (bus, stop_on_warning, pipeline, NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL,
          10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  g_object_set (sn, "model", "/nonexistent.onnx", NULL);
  for (gint i = 0; i < 1000 && state != GST_STATE_NULL; i++) {
    g_usleep (10000);
    gst_element_get_state (pipeline, &state, NULL, 0);
  }
  fail_unless_equals_int (state, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sn);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (tiny);
}

GST_END_TEST;

static Suite *
shufflenet_stress_suite (void)
{
  Suite *s = suite_create ("shufflenet-stress");
  TCase *tc = tcase_create ("stress");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_properties_from_another_thread);
  tcase_add_test (tc, test_state_cycles);
  tcase_add_test (tc, test_stop_while_loading);
  tcase_add_test (tc, test_stop_from_loader_thread);
  return s;
}

GST_CHECK_MAIN (shufflenet_stress);
