/* test_element.c - the shufflenet element on real frames: every caps format
 * at even and odd sizes against the engine run on the same image, the
 * preprocessing the model and the properties ask for, meta and message
 * contents, untouched buffers, interval, QoS and latency. */
#include <math.h>
#include <string.h>

#include "gstshufflenetmeta.h"
#include "refpre.h"
#include "sntest.h"

/* Probabilities of a result as a K vector (classes not listed: -1). */
static float *
result_vector (const GstStructure * s, gint k)
{
  float *v = g_new (float, k);
  gint id;
  gdouble score;

  for (gint i = 0; i < k; i++)
    v[i] = -1.0f;
  for (guint i = 0; gst_shufflenet_result_get_class (s, i, &id, NULL, &score);
      i++) {
    fail_unless (id >= 0 && id < k);
    v[id] = (float) score;
  }
  return v;
}

/* Classifies @sample with @element (top-k = all) and returns the K
 * probabilities the meta carries. */
static float *
element_probs (GstElement * element, GstSample * sample, gint k)
{
  GstHarness *h;
  GstBuffer *out;
  const GstStructure *s;
  float *v;
  gchar *caps = gst_caps_to_string (gst_sample_get_caps (sample));

  g_object_set (element, "top-k", k, NULL);
  h = snt_harness_new (element, caps);
  out = snt_push_pull (h, sample);
  s = gst_shufflenet_meta_get_structure (out);
  fail_unless (s != NULL, "no meta on the output buffer");
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), k);
  v = result_vector (s, k);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
  return v;
}

/* Largest probability difference accepted between the element on a YUV
 * frame and the reference on videoconvert's RGB version of it (chroma
 * interpolated there, replicated in the element). Measured: <= 0.0092 with
 * the pretrained model, <= 0.011 with the random test model. */
#define YUV_TOLERANCE 0.02
/* Same for RGB-family and GRAY8 frames: the same bytes, float vs double
 * arithmetic only (measured <= 1.5e-6). */
#define RGB_TOLERANCE 2e-4

/* The photo model must react to its input, or comparing top-1s proves
 * nothing: swapping the colour channels has to move the probabilities far
 * more than the tolerances used below. */
GST_START_TEST (test_photo_model_is_sensitive)
{
  gboolean pretrained;
  gchar *model = snt_photo_model (&pretrained);
  GstSample *photo = snt_photo ();
  GstSample *rgb = snt_convert (photo, "RGB", 384, 288);
  SntPre pre;
  float *a, *b;
  gint k;

  snt_pre_from_model (&pre, model);
  k = snt_reference (model, rgb, &pre, &a);
  pre.bgr = !pre.bgr;
  snt_reference (model, rgb, &pre, &b);
  GST_INFO ("%s: top-1 %d (%.3f), channel swap moves probabilities by %.3f",
      model, snt_argmax (a, k), a[snt_argmax (a, k)],
      snt_max_abs_diff (a, b, k));
  fail_unless (snt_max_abs_diff (a, b, k) > 3 * YUV_TOLERANCE,
      "model %s hardly reacts to its input (%.4f)", model,
      snt_max_abs_diff (a, b, k));
  if (pretrained) {
    /* ImageNet 281..285: tabby, tiger cat, Persian, Siamese, Egyptian cat */
    fail_unless (snt_argmax (a, k) >= 281 && snt_argmax (a, k) <= 285,
        "pretrained model sees class %d in the cat photo", snt_argmax (a, k));
  }
  g_free (a);
  g_free (b);
  gst_sample_unref (rgb);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* The formats of the element's sink template (snt_element_formats). */
static const gchar *const *formats;
static guint n_formats;

/* One format at one size: the element's probabilities against the engine
 * run on the reference preprocessing of the same frame. The reference reads
 * the frame converted back to RGB by videoconvert: for RGB-family formats
 * those are the very bytes the element read; for YUV formats videoconvert
 * interpolates chroma where the element replicates it (tolerances above).
 * Under valgrind only the element runs (ref_under_valgrind ()). */
static void
check_format (const gchar * format, gint width, gint height)
{
  gboolean pretrained;
  gchar *model = snt_photo_model (&pretrained);
  GstSample *photo = snt_photo ();
  GstSample *rgb = snt_convert (photo, "RGB", width, height);
  GstSample *frame = snt_convert (rgb, format, width, height);
  GstSample *back = snt_convert (frame, "RGB", width, height);
  gboolean yuv = GST_VIDEO_FORMAT_INFO_IS_YUV (gst_video_format_get_info
      (gst_video_format_from_string (format)));
  double tol = yuv ? YUV_TOLERANCE : RGB_TOLERANCE, diff;
  float *ref, *got;
  gint k, top_ref, top_got;
  SntPre pre;

  snt_pre_from_model (&pre, model);
  if (ref_under_valgrind ()) {
    got = element_probs (snt_element_new (model, NULL), frame,
        snt_engine_num_classes (model));
    g_free (got);
    goto done;
  }
  k = snt_reference (model, back, &pre, &ref);
  got = element_probs (snt_element_new (model, NULL), frame, k);
  top_ref = snt_argmax (ref, k);
  top_got = snt_argmax (got, k);
  diff = snt_max_abs_diff (ref, got, k);
  GST_INFO ("%s %dx%d: top-1 %d (%.4f) vs engine %d (%.4f), max diff %.2e",
      format, width, height, top_got, got[top_got], top_ref, ref[top_ref],
      diff);
  fail_unless (diff <= tol, "%s %dx%d: probabilities differ by %.4f > %.4f",
      format, width, height, diff, tol);
  /* Same top-1, unless the reference itself has a near tie. */
  fail_unless (top_got == top_ref || ref[top_got] >= ref[top_ref] - tol,
      "%s %dx%d: top-1 %d, engine says %d", format, width, height, top_got,
      top_ref);
  if (pretrained)
    fail_unless (top_got >= 281 && top_got <= 285, "%s: class %d, not a cat",
        format, top_got);
  g_free (ref);
  g_free (got);
done:
  gst_sample_unref (back);
  gst_sample_unref (frame);
  gst_sample_unref (rgb);
  gst_sample_unref (photo);
  g_free (model);
}

/* Under valgrind the odd sizes alone (every format's path runs there). */
GST_START_TEST (test_format_even_size)
{
  if (!ref_under_valgrind ())
    check_format (formats[__i__], 384, 288);
}

GST_END_TEST;

GST_START_TEST (test_format_odd_size)
{
  check_format (formats[__i__], 385, 289);
}

GST_END_TEST;

/* A frame with rows padded well beyond the width (GstVideoMeta strides)
 * classifies exactly like the packed one. */
GST_START_TEST (test_padded_strides)
{
  gchar *model = snt_model ("tiny.onnx");
  GstSample *photo = snt_photo ();
  GstSample *packed = snt_convert (photo, "RGBx", 385, 289);
  GstVideoInfo info;
  GstVideoFrame src;
  GstBuffer *buf;
  GstSample *padded;
  GstMapInfo map;
  gint stride = 385 * 4 + 68;
  gsize offset[4] = { 0 };
  gint strides[4] = { stride };
  float *a, *b;

  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (packed)));
  fail_unless (gst_video_frame_map (&src, &info, gst_sample_get_buffer (packed),
          GST_MAP_READ));
  buf = gst_buffer_new_allocate (NULL, (gsize) stride * 289, NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, 0xab, map.size);
  for (gint y = 0; y < 289; y++)
    memcpy (map.data + (gsize) y * stride,
        (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&src, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&src, 0), 385 * 4);
  gst_buffer_unmap (buf, &map);
  gst_video_frame_unmap (&src);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_RGBx, 385, 289, 1, offset, strides);
  padded = gst_sample_new (buf, gst_sample_get_caps (packed), NULL, NULL);
  gst_buffer_unref (buf);

  a = element_probs (snt_element_new (model, NULL), packed, 10);
  b = element_probs (snt_element_new (model, NULL), padded, 10);
  fail_unless (snt_max_abs_diff (a, b, 10) == 0.0,
      "padding changed the result by %g", snt_max_abs_diff (a, b, 10));
  g_free (a);
  g_free (b);
  gst_sample_unref (padded);
  gst_sample_unref (packed);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* The model's metadata drives the preprocessing (values checked against
 * what make_test_models.py wrote, not through the element's parser), its
 * labels and name appear in the result. */
/* precision=bf16 (where the CPU has it): the photo's probabilities move by
 * bf16's rounding only, the top-1 stays. */
GST_START_TEST (test_precision_bf16)
{
  gboolean pretrained;
  gchar *model = snt_photo_model (&pretrained);
  GstSample *photo = snt_photo ();
  GstSample *rgb = snt_convert (photo, "RGB", 384, 288);
  GstElement *e16;
  float *f32, *b16;
  gint k = 1000, precision = -1;

  if (!sn_precision_available (SN_PRECISION_BF16)) {
    GST_INFO ("this CPU has no bf16: nothing to compare");
    goto done;
  }
  f32 = element_probs (snt_element_new (model, NULL), rgb, k);
  e16 = snt_element_new (model, NULL);
  gst_util_set_object_arg (G_OBJECT (e16), "precision", "bf16");
  g_object_get (e16, "precision", &precision, NULL);
  fail_unless_equals_int (precision, 1);
  b16 = element_probs (e16, rgb, k);
  GST_INFO ("fp32 top-1 %d (%.4f), bf16 %d (%.4f), max diff %.4f",
      snt_argmax (f32, k), f32[snt_argmax (f32, k)], snt_argmax (b16, k),
      b16[snt_argmax (b16, k)], snt_max_abs_diff (f32, b16, k));
  fail_unless (snt_max_abs_diff (f32, b16, k) <= 0.05,
      "bf16 moves probabilities by %.4f", snt_max_abs_diff (f32, b16, k));
  fail_unless (snt_max_abs_diff (f32, b16, k) > 0.0, "bf16 == fp32: not on");
  fail_unless_equals_int (snt_argmax (b16, k), snt_argmax (f32, k));
  g_free (f32);
  g_free (b16);
done:
  gst_sample_unref (rgb);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

GST_START_TEST (test_model_metadata)
{
  gchar *model = snt_model ("tiny_meta.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "RGB", 160, 120);
  /* tensor 3 x 47 x 65 */
  SntPre pre = { TRUE, 1.0 / 128.0, {0.5, 0.25, 0.75}, {0.5, 0.25, 2.0},
  SN_RESIZE_STRETCH, 56, 65, 47, FALSE
  };
  static const gchar *names[] = { "zero", "one", "two", "three", "four",
    "five", "six", "seven", "eight", "nine"
  };
  GstElement *e = snt_element_new (model, NULL);
  GstHarness *h;
  GstBuffer *out;
  const GstStructure *s;
  const gchar *label, *name;
  float *ref, *got;
  gint id;

  snt_reference (model, frame, &pre, &ref);
  h = snt_harness_new (e, "video/x-raw,format=RGB,width=160,height=120,"
      "framerate=30/1");
  g_object_set (e, "top-k", 10, NULL);
  out = snt_push_pull (h, frame);
  s = gst_shufflenet_meta_get_structure (out);
  fail_unless (s != NULL);
  got = result_vector (s, 10);
  fail_unless (snt_max_abs_diff (ref, got, 10) < RGB_TOLERANCE,
      "metadata preprocessing not applied: %.4f", snt_max_abs_diff (ref, got,
          10));
  for (guint i = 0; gst_shufflenet_result_get_class (s, i, &id, &label, NULL);
      i++)
    fail_unless_equals_string (label, names[id]);
  name = gst_structure_get_string (s, "model");
  fail_unless_equals_string (name, "tiny-meta-test");
  g_free (ref);
  g_free (got);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* Each preprocessing property overrides the model's metadata (or the
 * defaults): @model with resize-mode, channel-order, mean and std set as
 * @pre says, against the reference with @pre. */
static void
check_overrides (const gchar * name, const SntPre * pre)
{
  static const gchar *resize_nicks[] = { "stretch", "crop", "letterbox" };
  gchar *model = snt_model (name);
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "BGRx", 161, 99);
  GstSample *rgb = snt_convert (frame, "RGB", 161, 99);
  GstElement *e = snt_element_new (model, NULL);
  gchar *mean = g_strdup_printf ("%g, %g,%g", pre->mean[0], pre->mean[1],
      pre->mean[2]);
  gchar *std = g_strdup_printf ("%g,%g,%g", pre->std[0], pre->std[1],
      pre->std[2]);
  float *ref, *got;

  gst_util_set_object_arg (G_OBJECT (e), "resize-mode",
      resize_nicks[pre->resize]);
  gst_util_set_object_arg (G_OBJECT (e), "channel-order",
      pre->bgr ? "bgr" : "rgb");
  g_object_set (e, "mean", mean, "std", std, NULL);
  snt_reference (model, rgb, pre, &ref);
  got = element_probs (e, frame, 10);
  fail_unless (snt_max_abs_diff (ref, got, 10) < RGB_TOLERANCE,
      "%s %s: overrides not applied: %.4f", name, resize_nicks[pre->resize],
      snt_max_abs_diff (ref, got, 10));
  g_free (mean);
  g_free (std);
  g_free (ref);
  g_free (got);
  gst_sample_unref (rgb);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_START_TEST (test_property_overrides)
{
  /* tiny_meta says BGR, 1/128, its mean/std, stretch, short side 56 */
  SntPre meta = { FALSE, 1.0 / 128.0, {0.485, 0.456, 0.406},
  {0.229, 0.224, 0.225}, SN_RESIZE_CROP, 56, 65, 47, FALSE
  };
  /* tiny has no metadata: RGB, 1/255, ImageNet, crop */
  SntPre plain = { TRUE, 1.0 / 255.0, {0.1, 0.2, 0.3}, {0.3, 0.2, 0.1},
  SN_RESIZE_STRETCH, 0, 65, 47, FALSE
  };

  check_overrides ("tiny_meta.onnx", &meta);
  meta.resize = SN_RESIZE_LETTERBOX;
  check_overrides ("tiny_meta.onnx", &meta);
  check_overrides ("tiny.onnx", &plain);
  plain.resize = SN_RESIZE_LETTERBOX;
  check_overrides ("tiny.onnx", &plain);
}

GST_END_TEST;

/* A model ending in Softmax: its output is reported as is (a second
 * softmax would flatten it measurably); NHWC input. */
GST_START_TEST (test_softmax_model_not_twice)
{
  gchar *model = snt_model ("softmax_nhwc.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "I420", 200, 150);
  GstSample *rgb = snt_convert (frame, "RGB", 200, 150);
  float *ref, *got, *twice;
  SntPre pre;
  gint k;

  snt_pre_from_model (&pre, model);
  fail_unless (pre.nhwc);
  k = snt_reference (model, rgb, &pre, &ref);
  twice = g_memdup2 (ref, sizeof (float) * k);
  sn_softmax (twice, k);
  fail_unless (snt_max_abs_diff (ref, twice, k) > 0.02);
  got = element_probs (snt_element_new (model, NULL), frame, k);
  fail_unless (snt_max_abs_diff (ref, got, k) < 0.01,
      "differs from the model's own probabilities by %.4f",
      snt_max_abs_diff (ref, got, k));
  g_free (ref);
  g_free (got);
  g_free (twice);
  gst_sample_unref (rgb);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* A copy of @sample's buffer whose row padding is set too (so that the
 * byte comparison below reads no uninitialized memory). */
static GstBuffer *
fully_initialized_copy (GstSample * sample)
{
  GstVideoInfo info;
  GstVideoFrame src, dest;
  GstBuffer *buf;

  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)));
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (buf, 0, 0x5a, GST_VIDEO_INFO_SIZE (&info));
  fail_unless (gst_video_frame_map (&src, &info, gst_sample_get_buffer (sample),
          GST_MAP_READ));
  fail_unless (gst_video_frame_map (&dest, &info, buf, GST_MAP_WRITE));
  fail_unless (gst_video_frame_copy (&dest, &src));
  gst_video_frame_unmap (&dest);
  gst_video_frame_unmap (&src);
  return buf;
}

/* Buffers leave with the same bytes, memory, timestamps, offsets and flags,
 * and the bus message carries the meta's fields. */
GST_START_TEST (test_buffer_untouched_meta_and_message)
{
  gchar *model = snt_model ("tiny_meta.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "I420", 385, 289);
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);
  GstHarness *h;
  GstBuffer *in, *out;
  GstMapInfo a, b;
  GstMessage *msg;
  const GstStructure *s, *m;
  GstSegment seg;
  GstBufferFlags flags = GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_DELTA_UNIT
      | GST_BUFFER_FLAG_MARKER;
  guint64 v;
  gdouble ms;

  g_object_set (e, "top-k", 3, NULL);
  h = snt_harness_new (e, "video/x-raw,format=I420,width=385,height=289,"
      "framerate=25/1");
  /* a segment where stream time and running time differ from the PTS */
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = 1 * GST_SECOND;
  seg.time = 10 * GST_SECOND;
  seg.base = 100 * GST_SECOND;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));

  in = fully_initialized_copy (frame);
  GST_BUFFER_PTS (in) = 2 * GST_SECOND;
  GST_BUFFER_DTS (in) = 2 * GST_SECOND - 5;
  GST_BUFFER_DURATION (in) = 40 * GST_MSECOND;
  GST_BUFFER_OFFSET (in) = 50;
  GST_BUFFER_OFFSET_END (in) = 51;
  GST_BUFFER_FLAG_SET (in, flags);
  gst_buffer_ref (in);          /* keep it: not writable, as in a tee */
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  out = gst_harness_pull (h);

  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 2 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DTS (out), 2 * GST_SECOND - 5);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), 40 * GST_MSECOND);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), 50);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (out), 51);
  fail_unless_equals_int (GST_BUFFER_FLAGS (out) & ~GST_BUFFER_FLAG_TAG_MEMORY,
      flags);
  fail_unless (gst_buffer_peek_memory (out, 0) == gst_buffer_peek_memory (in,
          0), "the pixels were copied");
  fail_unless (gst_buffer_get_custom_meta (in, GST_SHUFFLENET_META_NAME) ==
      NULL, "the shared input buffer was modified");
  gst_buffer_map (in, &a, GST_MAP_READ);
  gst_buffer_map (out, &b, GST_MAP_READ);
  fail_unless (a.size == b.size && memcmp (a.data, b.data, a.size) == 0);
  gst_buffer_unmap (in, &a);
  gst_buffer_unmap (out, &b);

  s = gst_shufflenet_meta_get_structure (out);
  fail_unless (s != NULL);
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), 3);
  fail_unless (gst_structure_get_uint64 (s, "timestamp", &v));
  fail_unless_equals_uint64 (v, 2 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (s, "stream-time", &v));
  fail_unless_equals_uint64 (v, 11 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (s, "running-time", &v));
  fail_unless_equals_uint64 (v, 101 * GST_SECOND);
  fail_unless (gst_structure_get_uint64 (s, "duration", &v));
  fail_unless_equals_uint64 (v, 40 * GST_MSECOND);
  fail_unless (gst_structure_get_uint64 (s, "frame", &v));
  fail_unless_equals_uint64 (v, 0);
  fail_if (gst_shufflenet_result_is_stale (s, &v));
  fail_unless_equals_uint64 (v, 0);
  fail_unless (gst_structure_get_double (s, "inference-time", &ms) && ms > 0);
  fail_unless_equals_string (gst_structure_get_string (s, "model"),
      "tiny-meta-test");
  {
    gdouble prev = 2.0, score;
    for (guint i = 0; gst_shufflenet_result_get_class (s, i, NULL, NULL,
            &score); i++) {
      fail_unless (score <= prev && score >= 0.0);
      prev = score;
    }
  }

  msg = snt_pop_result (bus);
  fail_unless (msg != NULL, "no shufflenet message");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (e));
  m = gst_message_get_structure (msg);
  fail_unless_equals_int (gst_structure_n_fields (m),
      gst_structure_n_fields (s));
  for (gint i = 0; i < gst_structure_n_fields (m); i++) {
    const gchar *f = gst_structure_nth_field_name (m, i);
    fail_unless (gst_value_compare (gst_structure_get_value (m, f),
            gst_structure_get_value (s, f)) == GST_VALUE_EQUAL,
        "field %s differs", f);
  }
  gst_message_unref (msg);
  fail_unless (snt_pop_result (bus) == NULL);

  gst_buffer_unref (in);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* labels= replaces the model's labels (CRLF and trailing blank lines
 * accepted); top-k and threshold shape the list. */
GST_START_TEST (test_labels_topk_threshold)
{
  gchar *model = snt_model ("tiny_meta.onnx");
  gchar *labels = snt_model ("labels10.txt");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "RGB", 64, 48);
  GstElement *e = snt_element_new (model, NULL);
  GstHarness *h;
  GstBuffer *out;
  const GstStructure *s;
  const gchar *label;
  gdouble score, thr = 0.05;
  gint id, above = 0;
  float *all;

  all = element_probs (snt_element_new (model, NULL), frame, 10);
  for (gint i = 0; i < 10; i++)
    above += all[i] >= thr;
  fail_unless (above >= 1 && above < 10, "pick another threshold");

  g_object_set (e, "labels", labels, "top-k", 10, "threshold", (gfloat) thr,
      NULL);
  h = snt_harness_new (e, "video/x-raw,format=RGB,width=64,height=48,"
      "framerate=30/1");
  out = snt_push_pull (h, frame);
  s = gst_shufflenet_meta_get_structure (out);
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), above);
  for (guint i = 0; gst_shufflenet_result_get_class (s, i, &id, &label,
          &score); i++) {
    gchar *expect = g_strdup_printf ("label %d", id);
    fail_unless_equals_string (label, expect);
    fail_unless (score >= thr);
    g_free (expect);
  }
  gst_buffer_unref (out);

  g_object_set (e, "top-k", 2, "threshold", 0.0f, NULL);
  out = snt_push_pull (h, frame);
  s = gst_shufflenet_meta_get_structure (out);
  fail_unless_equals_int (gst_shufflenet_result_get_n_classes (s), 2);
  gst_buffer_unref (out);

  g_free (all);
  gst_harness_teardown (h);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (labels);
  g_free (model);
}

GST_END_TEST;

/* interval=3: frames 0, 3, 6 classified, the others carry the last result
 * marked stale with its age; messages say the same. */
GST_START_TEST (test_interval_stale)
{
  gchar *model = snt_model ("tiny.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "NV12", 64, 48);
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);
  GstHarness *h;
  gdouble fresh_ms = -1;

  g_object_set (e, "interval", 3, NULL);
  h = snt_harness_new (e, "video/x-raw,format=NV12,width=64,height=48,"
      "framerate=30/1");
  for (guint64 i = 0; i < 7; i++) {
    GstBuffer *out = snt_push_pull (h, frame);
    const GstStructure *s = gst_shufflenet_meta_get_structure (out);
    GstMessage *msg = snt_pop_result (bus);
    guint64 age, n;
    gdouble ms;
    gboolean stale = gst_shufflenet_result_is_stale (s, &age);

    fail_unless (msg != NULL);
    fail_unless_equals_int (stale, i % 3 != 0);
    fail_unless_equals_uint64 (age, i % 3);
    fail_unless (gst_structure_get_uint64 (s, "frame", &n));
    fail_unless_equals_uint64 (n, i);
    fail_unless (gst_structure_get_double (s, "inference-time", &ms));
    if (!stale)
      fresh_ms = ms;
    else
      fail_unless (ms == fresh_ms, "a stale result has a new inference time");
    fail_unless_equals_int (gst_shufflenet_result_is_stale
        (gst_message_get_structure (msg), NULL), stale);
    gst_message_unref (msg);
    gst_buffer_unref (out);
  }
  /* back to every frame */
  g_object_set (e, "interval", 1, NULL);
  {
    GstBuffer *out = snt_push_pull (h, frame);
    fail_if (gst_shufflenet_result_is_stale (gst_shufflenet_meta_get_structure
            (out), NULL));
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

static GstBuffer *
timed_buffer (GstSample * frame, guint64 i)
{
  GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (frame));

  GST_BUFFER_PTS (b) = i * 40 * GST_MSECOND;
  GST_BUFFER_DURATION (b) = 40 * GST_MSECOND;
  return b;
}

/* A QoS event saying frames up to 200 ms are late: those frames skip the
 * inference (stale result) but are not dropped; qos=false disables that;
 * the event goes on upstream. */
GST_START_TEST (test_qos_skips_inference_not_frames)
{
  gchar *model = snt_model ("tiny.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "YUY2", 64, 48);
  GstElement *e = snt_element_new (model, NULL);
  GstHarness *h;
  GstEvent *ev;
  gboolean qos;

  h = snt_harness_new (e, "video/x-raw,format=YUY2,width=64,height=48,"
      "framerate=25/1");
  for (qos = TRUE;; qos = FALSE) {
    g_object_set (e, "qos", qos, NULL);
    fail_unless_equals_int (gst_harness_push (h, timed_buffer (frame, 0)),
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
    /* late by 150 ms at 50 ms: frames with running time <= 200 ms */
    fail_unless (gst_harness_push_upstream_event (h,
            gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW, 0.5,
                150 * GST_MSECOND, 50 * GST_MSECOND)));
    while ((ev = gst_harness_try_pull_upstream_event (h)) != NULL) {
      gboolean is_qos = GST_EVENT_TYPE (ev) == GST_EVENT_QOS;
      gst_event_unref (ev);
      if (is_qos)
        break;
    }
    fail_unless (ev != NULL, "the QoS event did not reach upstream");
    for (guint64 i = 1; i <= 7; i++) {
      GstBuffer *out;
      guint64 age;
      gboolean stale;

      fail_unless_equals_int (gst_harness_push (h, timed_buffer (frame, i)),
          GST_FLOW_OK);
      out = gst_harness_pull (h);       /* never dropped */
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * 40 * GST_MSECOND);
      stale = gst_shufflenet_result_is_stale (gst_shufflenet_meta_get_structure
          (out), &age);
      /* frames 1..5 (40..200 ms) are late */
      fail_unless_equals_int (stale, qos && i <= 5);
      fail_unless_equals_uint64 (age, stale ? i : 0);
      gst_buffer_unref (out);
    }
    if (!qos)
      break;
    /* a flush forgets the lateness */
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
    {
      GstSegment seg;
      gst_segment_init (&seg, GST_FORMAT_TIME);
      fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
    }
  }
  gst_harness_teardown (h);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* The latency query adds the inference time to upstream's; the latency
 * property reports the measured times. */
GST_START_TEST (test_latency)
{
  gchar *model = snt_model ("default/" SN_DEFAULT_MODEL_FILE);
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "RGB", 64, 48);
  GstElement *e = snt_element_new (model, NULL);
  GstHarness *h;
  GstStructure *lat = NULL;
  GstClockTime min;
  gdouble last, mean, reported;
  guint64 count;

  h = snt_harness_new (e, "video/x-raw,format=RGB,width=64,height=48,"
      "framerate=30/1");
  gst_harness_set_upstream_latency (h, 10 * GST_MSECOND);
  gst_harness_set_live (h, TRUE);
  min = gst_harness_query_latency (h);
  g_object_get (e, "latency", &lat, NULL);
  fail_unless (gst_structure_get_double (lat, "reported", &reported));
  gst_structure_free (lat);
  GST_INFO ("latency %" GST_TIME_FORMAT ", inference estimate %.2f ms",
      GST_TIME_ARGS (min), reported);
  /* the warm-up run gives an estimate before the first frame */
  fail_unless (reported > 0.0);
  fail_unless (min > 10 * GST_MSECOND);
  fail_unless (min <= 10 * GST_MSECOND + reported * GST_MSECOND + 1);

  for (gint i = 0; i < 3; i++)
    gst_buffer_unref (snt_push_pull (h, frame));
  g_object_get (e, "latency", &lat, NULL);
  fail_unless (gst_structure_get_double (lat, "last", &last));
  fail_unless (gst_structure_get_double (lat, "mean", &mean));
  fail_unless (gst_structure_get_uint64 (lat, "count", &count));
  fail_unless_equals_uint64 (count, 3);
  fail_unless (last > 0.0 && mean > 0.0);
  gst_structure_free (lat);

  gst_harness_teardown (h);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* post-messages=false: meta only. */
GST_START_TEST (test_no_messages)
{
  gchar *model = snt_model ("tiny.onnx");
  GstSample *photo = snt_photo ();
  GstSample *frame = snt_convert (photo, "GRAY8", 33, 17);
  GstBus *bus;
  GstElement *e = snt_element_new (model, &bus);
  GstHarness *h;
  GstBuffer *out;

  g_object_set (e, "post-messages", FALSE, NULL);
  h = snt_harness_new (e, "video/x-raw,format=GRAY8,width=33,height=17,"
      "framerate=30/1");
  out = snt_push_pull (h, frame);
  fail_unless (gst_shufflenet_meta_get_structure (out) != NULL);
  fail_unless (snt_pop_result (bus) == NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  snt_bus_unref (bus);
  gst_sample_unref (frame);
  gst_sample_unref (photo);
  g_free (model);
}

GST_END_TEST;

/* The meta survives videoconvert and videoscale (no tags). */
GST_START_TEST (test_meta_survives_converters)
{
  gchar *model = snt_model ("tiny_meta.onnx");
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=3 ! "
      "video/x-raw,format=I420,width=160,height=120 ! shufflenet model=\"%s\" "
      "threads=1 ! videoconvert ! videoscale ! "
      "video/x-raw,format=BGRA,width=80,height=60 ! appsink name=sink", model);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstSample *sample = NULL;
  const GstStructure *s;
  const gchar *label;

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  fail_unless (sample != NULL);
  s = gst_shufflenet_meta_get_structure (gst_sample_get_buffer (sample));
  fail_unless (s != NULL, "the meta was lost in videoconvert/videoscale");
  fail_unless (gst_shufflenet_result_get_class (s, 0, NULL, &label, NULL));
  fail_unless (label != NULL && *label != '\0');
  gst_sample_unref (sample);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

/* gst-inspect shows an example launch line; it runs as written (with the
 * default model found through $SHUFFLENET_MODEL_DIR). */
GST_START_TEST (test_documented_launch_line)
{
  GstElementFactory *f = gst_element_factory_find ("shufflenet");
  const gchar *desc = gst_element_factory_get_metadata (f,
      GST_ELEMENT_METADATA_DESCRIPTION);
  const gchar *line = strstr (desc, "gst-launch-1.0 -m ");
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  gint results = 0;
  GError *err = NULL;

  fail_unless (line != NULL, "no example in: %s", desc);
  line += strlen ("gst-launch-1.0 -m ");
  pipeline = gst_parse_launch (line, &err);
  fail_unless (pipeline != NULL, "%s: %s", line, err ? err->message : "");
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while ((msg = gst_bus_timed_pop (bus, 60 * GST_SECOND)) != NULL) {
    GstMessageType t = GST_MESSAGE_TYPE (msg);
    if (t == GST_MESSAGE_ELEMENT && gst_message_has_name (msg, "shufflenet"))
      results++;
    gst_message_unref (msg);
    fail_if (t == GST_MESSAGE_ERROR, "the example failed");
    if (t == GST_MESSAGE_EOS)
      break;
  }
  fail_unless_equals_int (results, 30);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  gst_object_unref (f);
}

GST_END_TEST;

static Suite *
shufflenet_suite (void)
{
  Suite *s = suite_create ("shufflenet");
  TCase *tc = tcase_create ("formats");
  TCase *tc2 = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  tcase_set_timeout (tc2, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_photo_model_is_sensitive);
  formats = snt_element_formats (&n_formats);
  if (n_formats < 16)
    g_error ("the element's sink template lists %u formats", n_formats);
  tcase_add_loop_test (tc, test_format_even_size, 0, n_formats);
  tcase_add_loop_test (tc, test_format_odd_size, 0, n_formats);
  tcase_add_test (tc, test_padded_strides);
  suite_add_tcase (s, tc2);
  tcase_add_test (tc2, test_model_metadata);
  tcase_add_test (tc2, test_precision_bf16);
  tcase_add_test (tc2, test_property_overrides);
  tcase_add_test (tc2, test_softmax_model_not_twice);
  tcase_add_test (tc2, test_buffer_untouched_meta_and_message);
  tcase_add_test (tc2, test_labels_topk_threshold);
  tcase_add_test (tc2, test_interval_stale);
  tcase_add_test (tc2, test_qos_skips_inference_not_frames);
  tcase_add_test (tc2, test_latency);
  tcase_add_test (tc2, test_no_messages);
  tcase_add_test (tc2, test_meta_survives_converters);
  tcase_add_test (tc2, test_documented_launch_line);
  return s;
}

GST_CHECK_MAIN (shufflenet);
