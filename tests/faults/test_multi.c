/* test_multi.c - several shufflenet elements at once: two with different
 * models and thread counts in one pipeline (each one's bus messages and
 * both results on the buffer correct, through a tee and videoconvert), and
 * four pipelines running in one process at the same time (every result
 * equal to a lone element's on the same frame, no message crossing over). */
#include <string.h>

#include "ftest.h"

#define N_BANK 8                /* distinct frames, cycled */
#define TOP_K 5
#define FRAME_NS (GST_SECOND / 30)

/* Largest probability difference accepted between the element and the
 * engine run on the independent reference preprocessing of the same RGB
 * bytes (float vs double arithmetic; test_element.c measured <= 1.5e-6). */
#define ENGINE_TOLERANCE 2e-4

/* The element's probabilities on an RGB frame against the engine run
 * directly (tests/gst/sntest.c): ties the lone-element references used
 * below to the engine itself. */
static void
check_against_engine (const gchar * model, GstSample * rgb,
    const GstStructure * result)
{
  SntPre pre;
  float *probs;                 /* [K] */
  gint k, id;
  gdouble p;

  snt_pre_from_model (&pre, model);
  k = snt_reference (model, rgb, &pre, &probs);
  fail_unless (snt_result_top1 (result, NULL) == snt_argmax (probs, k),
      "%s: element top-1 %d, engine %d", model, snt_result_top1 (result,
          NULL), snt_argmax (probs, k));
  for (guint i = 0; gst_shufflenet_result_get_class (result, i, &id, NULL,
          &p); i++)
    fail_unless (ABS (p - probs[id]) <= ENGINE_TOLERANCE,
        "%s: class %d: %.6f, engine %.6f", model, id, p, probs[id]);
  g_free (probs);
}

/* Pushes @n frames of @bank (cycled) with PTS i * FRAME_NS, then EOS. */
static void
push_frames (GstElement * appsrc, GstSample ** bank, gint n)
{
  for (gint i = 0; i < n; i++) {
    GstSample *frame = bank[i % N_BANK];
    GstBuffer *buf = gst_buffer_copy (gst_sample_get_buffer (frame));
    GstSample *s;

    GST_BUFFER_PTS (buf) = i * FRAME_NS;
    GST_BUFFER_DURATION (buf) = FRAME_NS;
    s = gst_sample_new (buf, gst_sample_get_caps (frame), NULL, NULL);
    fail_unless_equals_int (gst_app_src_push_sample (GST_APP_SRC (appsrc), s),
        GST_FLOW_OK);
    gst_sample_unref (s);
    gst_buffer_unref (buf);
  }
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (appsrc)),
      GST_FLOW_OK);
}

/* a (tiny, 1 thread) ! tee ! b (the 224x224 model, 2 threads) ! tee !
 * videoconvert ! appsink: the tees hand each element a shared buffer, so
 * b must copy it (and a's result with it) to attach its own. */
GST_START_TEST (test_two_elements_one_pipeline)
{
  const gint n = 24;
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *big = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  GstSample **bank = ft_frames ("RGB", 96, 72, N_BANK);
  GstStructure **ref_a = ft_reference (tiny, bank, N_BANK, TOP_K);
  GstStructure **ref_b = ft_reference (big, bank, N_BANK, TOP_K);
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "shufflenet name=a model=\"%s\" threads=1 top-k=%d ! tee name=t0 "
      "t0. ! queue ! shufflenet name=b model=\"%s\" threads=2 top-k=%d ! "
      "tee name=t1 t1. ! queue ! videoconvert ! video/x-raw,format=I420 ! "
      "appsink name=sink sync=false  t0. ! queue ! fakesink sync=false  "
      "t1. ! queue ! fakesink sync=false", tiny, TOP_K, big, TOP_K);
  GstElement *pipeline = ft_pipeline (desc);
  GstElement *src = ft_get (pipeline, "src");
  GstElement *sink = ft_get (pipeline, "sink");
  GstElement *a = ft_get (pipeline, "a"), *b = ft_get (pipeline, "b");
  GstBus *bus = gst_element_get_bus (pipeline);
  gint from_a = 0, from_b = 0, pulled = 0;
  GstSample *sample;
  GstMessage *msg;

  /* The references themselves against the engine. */
  check_against_engine (tiny, bank[0], ref_a[0]);
  check_against_engine (big, bank[0], ref_b[0]);

  ft_play (pipeline);
  push_frames (src, bank, n);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    gint i = ft_index_of (GST_BUFFER_PTS (buf), FRAME_NS);
    const GstStructure *top = gst_shufflenet_meta_get_structure (buf);
    gchar *what = g_strdup_printf ("frame %d", i);

    fail_unless_equals_int (i, pulled);
    fail_unless (top != NULL, "frame %d: no meta", i);
    /* The plain reader gets the last (most downstream) element's result. */
    fail_unless_equals_string (gst_structure_get_string (top, "element"), "b");
    ft_assert_same_result (top, ref_b[i % N_BANK], what);
    /* And both results are there, each the lone element's. */
    ft_assert_same_result (ft_meta_result_of (buf, "a"), ref_a[i % N_BANK],
        what);
    ft_assert_same_result (ft_meta_result_of (buf, "b"), ref_b[i % N_BANK],
        what);
    g_free (what);
    gst_sample_unref (sample);
    pulled++;
  }
  fail_unless_equals_int (pulled, n);
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)));

  /* Each element's messages: its own results, its own source. */
  while ((msg = gst_bus_pop (bus)) != NULL) {
    const GstStructure *s = gst_message_get_structure (msg);
    guint64 ts;
    gint i;

    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR
        || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING);
    if (gst_message_has_name (msg, GST_SHUFFLENET_MESSAGE_NAME)) {
      fail_unless (gst_structure_get_uint64 (s, "timestamp", &ts));
      i = ft_index_of (ts, FRAME_NS);
      fail_unless_equals_string (gst_structure_get_string (s, "element"),
          GST_MESSAGE_SRC_NAME (msg));
      fail_if (gst_structure_has_field (s, "results"));
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (a)) {
        ft_assert_same_result (s, ref_a[i % N_BANK], "message of a");
        from_a++;
      } else {
        fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (b));
        ft_assert_same_result (s, ref_b[i % N_BANK], "message of b");
        from_b++;
      }
    }
    gst_message_unref (msg);
  }
  fail_unless_equals_int (from_a, n);
  fail_unless_equals_int (from_b, n);

  ft_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (a);
  gst_object_unref (b);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);
  ft_results_free (ref_a, N_BANK);
  ft_results_free (ref_b, N_BANK);
  ft_frames_free (bank, N_BANK);
  g_free (tiny);
  g_free (big);
}

GST_END_TEST;

/* One buffer through the same element twice (an application re-pushing
 * what it got): its result is replaced, not listed twice; another
 * element's stays. */
GST_START_TEST (test_same_element_replaces_its_result)
{
  gchar *tiny = snt_model ("tiny.onnx");
  gchar *meta = snt_model ("tiny_meta.onnx");
  GstSample **bank = ft_frames ("I420", 64, 48, 2);
  GstElement *e1 = snt_element_new (tiny, NULL);
  GstElement *e2 = snt_element_new (meta, NULL);
  GstHarness *h1, *h2;
  GstBuffer *buf;
  const GstStructure *s;

  gst_object_set_name (GST_OBJECT (e1), "first");
  gst_object_set_name (GST_OBJECT (e2), "second");
  h1 = snt_harness_new (e1, "video/x-raw,format=I420,width=64,height=48");
  h2 = snt_harness_new (e2, "video/x-raw,format=I420,width=64,height=48");
  buf = snt_push_pull (h1, bank[0]);
  /* once through each, then through the first again */
  fail_unless_equals_int (gst_harness_push (h2, buf), GST_FLOW_OK);
  buf = gst_harness_pull (h2);
  fail_unless_equals_int (gst_harness_push (h1, buf), GST_FLOW_OK);
  buf = gst_harness_pull (h1);
  s = gst_shufflenet_meta_get_structure (buf);
  fail_unless_equals_string (gst_structure_get_string (s, "element"), "first");
  fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value (s,
              "results")), 2);
  fail_unless (ft_meta_result_of (buf, "second") != NULL);
  fail_unless_equals_string (gst_structure_get_string (ft_meta_result_of (buf,
              "second"), "model"), "tiny-meta-test");
  fail_unless_equals_string (gst_structure_get_string (ft_meta_result_of (buf,
              "first"), "model"), "tiny");
  /* the newest entry is the last one */
  fail_unless_equals_uint64 (g_value_get_uint64 (gst_structure_get_value
          (gst_value_get_structure (gst_value_array_get_value
                  (gst_structure_get_value (s, "results"), 1)), "frame")), 1);
  gst_buffer_unref (buf);

  /* alone again: a plain one-result meta, no "results" */
  buf = snt_push_pull (h2, bank[1]);
  s = gst_shufflenet_meta_get_structure (buf);
  fail_if (gst_structure_has_field (s, "results"));
  fail_unless_equals_string (gst_structure_get_string (s, "element"), "second");
  gst_buffer_unref (buf);

  gst_harness_teardown (h1);
  gst_harness_teardown (h2);
  ft_frames_free (bank, 2);
  g_free (tiny);
  g_free (meta);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Four pipelines at once */

typedef struct
{
  const gchar *model;           /* file in SN_TEST_MODELS_DIR */
  gint threads;
  const gchar *format;
  gint width, height;
  guint interval;
  /* set up by the test */
  gchar *model_path;
  GstSample **bank;             /* [N_BANK] */
  GstStructure **ref;           /* [N_BANK] */
  /* results of the run */
  gchar *failure;               /* NULL: all good */
  gint outputs, messages;
} Run;

#define RUN_FRAMES 60

/* Checks one output buffer of a run: fresh frames equal the reference of
 * their own picture, stale ones that of the frame they come from. */
static gchar *
check_output (Run * r, GstBuffer * buf, gint expected, const gchar * name)
{
  gint i = (gint) (GST_BUFFER_PTS (buf) / FRAME_NS);
  const GstStructure *s = ft_meta_result_of (buf, name);
  guint64 age = 0;
  gchar *diff;

  if (i != expected)
    return g_strdup_printf ("frame %d came out as number %d", i, expected);
  if (s == NULL)
    return g_strdup_printf ("frame %d: no result of %s", i, name);
  gst_shufflenet_result_is_stale (s, &age);
  if (age != (guint64) i % r->interval)
    return g_strdup_printf ("frame %d: age %" G_GUINT64_FORMAT, i, age);
  diff = ft_compare_results (s, r->ref[(i - age) % N_BANK]);
  if (diff == NULL)
    return NULL;
  return g_strdup_printf ("frame %d: %s", i, diff);
}

/* One pipeline, run to EOS on its own thread; never fails the test from
 * here (check's failure exits only work on the test's thread). */
static gpointer
run_pipeline (gpointer data)
{
  Run *r = data;
  gchar *name = g_strdup_printf ("sn-%s-%d", r->format, r->threads);
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! queue ! "
      "shufflenet name=%s model=\"%s\" threads=%d interval=%u top-k=%d ! "
      "appsink name=sink sync=false", name, r->model_path, r->threads,
      r->interval, TOP_K);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  GstSample *sample;
  GstMessage *msg;

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (gint i = 0; i < RUN_FRAMES; i++) {
    GstBuffer *buf = gst_buffer_copy (gst_sample_get_buffer (r->bank[i %
                N_BANK]));
    GstSample *s;

    GST_BUFFER_PTS (buf) = i * FRAME_NS;
    s = gst_sample_new (buf, gst_sample_get_caps (r->bank[0]), NULL, NULL);
    gst_app_src_push_sample (GST_APP_SRC (src), s);
    gst_sample_unref (s);
    gst_buffer_unref (buf);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    if (r->failure == NULL)
      r->failure = check_output (r, gst_sample_get_buffer (sample),
          r->outputs, name);
    r->outputs++;
    gst_sample_unref (sample);
  }
  while ((msg = gst_bus_pop (bus)) != NULL) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && r->failure == NULL)
      r->failure = g_strdup_printf ("error from %s",
          GST_MESSAGE_SRC_NAME (msg));
    if (gst_message_has_name (msg, GST_SHUFFLENET_MESSAGE_NAME)) {
      r->messages++;
      if (strcmp (GST_MESSAGE_SRC_NAME (msg), name) != 0 && !r->failure)
        r->failure = g_strdup_printf ("a message from %s",
            GST_MESSAGE_SRC_NAME (msg));
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (name);
  return NULL;
}

/* Four pipelines (different models, thread counts, formats, intervals) in
 * one process, started together: each result equals a lone element's on
 * the same picture, computed before. */
GST_START_TEST (test_four_pipelines_at_once)
{
  Run runs[] = {
    {"tiny.onnx", 1, "I420", 64, 48, 1},
    {"default/" SN_DEFAULT_MODEL_FILE, 2, "RGB", 96, 72, 1},
    {"softmax_nhwc.onnx", 2, "NV12", 80, 60, 2},
    {"tiny_meta.onnx", 1, "YUY2", 66, 50, 3},
  };
  GThread *threads[G_N_ELEMENTS (runs)];

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++) {
    Run *r = &runs[i];
    r->model_path = snt_model (r->model);
    r->bank = ft_frames (r->format, r->width, r->height, N_BANK);
    r->ref = ft_reference (r->model_path, r->bank, N_BANK, TOP_K);
  }
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    threads[i] = g_thread_new ("pipeline", run_pipeline, &runs[i]);
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++) {
    Run *r = &runs[i];
    fail_unless (r->failure == NULL, "pipeline %u (%s, %d threads): %s", i,
        r->model, r->threads, r->failure);
    fail_unless_equals_int (r->outputs, RUN_FRAMES);
    fail_unless_equals_int (r->messages, RUN_FRAMES);
    g_free (r->model_path);
    ft_frames_free (r->bank, N_BANK);
    ft_results_free (r->ref, N_BANK);
  }
}

GST_END_TEST;

static Suite *
shufflenet_multi_suite (void)
{
  Suite *s = suite_create ("shufflenet-multi");
  TCase *tc = tcase_create ("multi");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_two_elements_one_pipeline);
  tcase_add_test (tc, test_same_element_replaces_its_result);
  tcase_add_test (tc, test_four_pipelines_at_once);
  return s;
}

GST_CHECK_MAIN (shufflenet_multi);
