/* sntest.h - shared helpers of the element tests: test models and images,
 * an independent reference preprocessing, the engine run directly, and
 * element/harness set-up with a bus.
 *
 * Environment (set by tests/gst/meson.build):
 *   SN_TEST_MODELS_DIR     models made by make_test_models.py
 *   SN_TEST_IMAGE          a real photo (skimage's chelsea.png)
 *   SHUFFLENET_MODEL_DIR   OUTDIR/default: the element's default model
 *   SN_SOURCE_DEFAULT_MODEL  models/shufflenet_v1_g3_0.5x.onnx (pretrained,
 *                          once models/fetch.sh ran)
 *   SHUFFLENET_TEST_MODEL  (optional) the model for the photo tests
 */
#ifndef __SN_TEST_H__
#define __SN_TEST_H__

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "shufflenet.h"
#include "snmodelconfig.h"

G_BEGIN_DECLS

/* Path of a file in SN_TEST_MODELS_DIR (free with g_free). */
gchar *snt_model (const gchar * name);

/* The model for photo tests: $SHUFFLENET_TEST_MODEL, else the pretrained
 * default model of the source tree when present, else the random test
 * model. *pretrained: the model has ImageNet labels (real weights). */
gchar *snt_photo_model (gboolean * pretrained);

/* The test photo, decoded with pngdec, as RGB at its own size. */
GstSample *snt_photo (void);

/* Another photo of the test photo's folder (scikit-image's data), by file
 * name ("coffee.png"), decoded as RGB at its own size. */
GstSample *snt_photo_named (const gchar * name);

/* @sample converted (and scaled) to @format @width x @height. */
GstSample *snt_convert (GstSample * sample, const gchar * format,
    gint width, gint height);

/* Preprocessing settings of the reference, as documented in
 * gst/snpreprocess.h (tensor channel c = (rgb[c'] * scale - mean[c]) /
 * std[c], half-pixel bilinear, crop/stretch/letterbox geometry). */
typedef struct
{
  gboolean bgr;
  double scale;
  double mean[3], std[3];
  gint resize;                  /* SnResizeMode */
  gint short_side;
  gint out_w, out_h;
  gboolean nhwc;
} SntPre;

/* The model's own preprocessing (metadata or defaults) for @model. */
void snt_pre_from_model (SntPre * pre, const gchar * model_path);

/* The reference (tests/common/refpre.c): an RGB frame -> tensor out,
 * 3 x out_h x out_w (or out_h x out_w x 3), in double precision. */
void snt_preprocess_rgb (GstSample * rgb, const SntPre * pre, float *out);

/* The number of classes of @model_path. */
gint snt_engine_num_classes (const gchar * model_path);

/* The engine run directly on @tensor: K probabilities (softmax unless the
 * model ends in Softmax). Returns K; *probs is g_free'd by the caller. */
gint snt_engine_probs (const gchar * model_path, const float *tensor,
    float **probs);

/* Reference probabilities of @rgb for @model_path with @pre. */
gint snt_reference (const gchar * model_path, GstSample * rgb,
    const SntPre * pre, float **probs);

/* The raw formats the element takes (@n of them), read from its sink pad
 * template: the tests' list of formats. May run outside a test (when the
 * suite is made): fails with g_error. */
const gchar *const *snt_element_formats (guint * n);

/* A shufflenet element (a full reference, not floating) with
 * model=@model threads=1 and, when @bus is not NULL, a bus of its own. */
GstElement *snt_element_new (const gchar * model, GstBus ** bus);

/* Drops the messages still queued on an element's own bus (they hold
 * references to the element, which holds the bus) and unrefs it. */
void snt_bus_unref (GstBus * bus);

/* A harness around @element (plays it), with @caps on its source. Takes
 * the caller's reference: teardown frees the element. */
GstHarness *snt_harness_new (GstElement * element, const gchar * caps);

/* Pushes @sample's buffer (a new reference) and pulls the output. */
GstBuffer *snt_push_pull (GstHarness * h, GstSample * sample);

/* The next "shufflenet" element message on @bus, or NULL (non-blocking). */
GstMessage *snt_pop_result (GstBus * bus);

/* The next error (or warning) message within @timeout, or NULL. */
GstMessage *snt_pop_message (GstBus * bus, GstMessageType type,
    GstClockTime timeout);

/* Top-1 of a result structure, or -1; score in *score. */
gint snt_result_top1 (const GstStructure * s, gdouble * score);

/* Index of the largest of n values. */
gint snt_argmax (const float *v, gint n);

/* max_i |a[i] - b[i]| */
double snt_max_abs_diff (const float *a, const float *b, gint n);

G_END_DECLS

#endif /* __SN_TEST_H__ */
