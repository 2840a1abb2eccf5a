/* gstshufflenet.c - the `shufflenet` element: properties and their
 * locking, model loading off the streaming thread, classification of each
 * frame, QoS and latency. */

/**
 * SECTION:element-shufflenet
 * @title: shufflenet
 *
 * Classifies every raw video frame (or every Nth, see #GstShuffleNet:interval)
 * with a ShuffleNet v1 model and publishes the top-k classes, leaving the
 * video untouched (same bytes, timestamps and flags):
 *
 * - as a GstCustomMeta named "GstShuffleNetMeta" on the buffer (kept through
 *   videoconvert/videoscale; read it with the helpers of
 *   <gst/shufflenet/gstshufflenetmeta.h>, or from Python with
 *   `buf.get_custom_meta("GstShuffleNetMeta").get_structure()`);
 * - as an element message named "shufflenet" on the bus (shown by
 *   `gst-launch-1.0 -m`), unless #GstShuffleNet:post-messages is %FALSE.
 *
 * Both carry: timestamp, stream-time, running-time, duration, frame, stale,
 * age, class-ids, labels, scores (probabilities), inference-time (ms),
 * model and element (the name of the element that made the result). On
 * frames that are not classified (interval, or late frames when downstream
 * reports lateness through QoS) the last result is attached again with
 * stale=true and its age in frames. Buffers outside the segment (which
 * sinks drop, e.g. frames decoded up to an accurate seek's target) pass
 * unclassified, without a result.
 *
 * Several shufflenet elements may classify the same buffers (different
 * models): each posts its own messages, and the meta keeps the fields of
 * the most downstream element's result plus "results", an array with every
 * element's result (upstream first), each with its "element" field.
 *
 * Preprocessing (resize, channel order, mean/std) defaults to what the
 * model's metadata says; the properties override it. Model, labels,
 * threads and precision changes while playing are loaded on a helper thread
 * and swapped in when ready; a model that fails to load posts a warning and
 * the old one keeps serving.
 *
 * #GstShuffleNet:precision=bf16 runs the grouped 1x1 convolutions (about
 * 80 % of the work) on bf16-rounded weights and activations with float32
 * sums, on CPUs with AVX512_BF16: about 0.8x the fp32 time, logits within
 * 0.4 of fp32's on the project's test images (same top-1 but for near
 * ties). On other CPUs it is refused like a bad model, with the reason.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=30 ! shufflenet top-k=3 ! fakesink
 * ]| classifies 30 test frames with the default model (pretrained
 * shufflenet_v1_g3_0.5x) and prints one "shufflenet" element message per
 * frame:
 * |[
 * shufflenet, timestamp=(guint64)0, stream-time=(guint64)0,
 *   running-time=(guint64)0, duration=(guint64)33333333, frame=(guint64)0,
 *   stale=(boolean)false, age=(guint64)0, class-ids=(int)< 769, 916, 818 >,
 *   labels=(string)< rule, "web\ site", spotlight >,
 *   scores=(double)< 0.0806, 0.0701, 0.0423 >, inference-time=(double)12.07,
 *   model=(string)shufflenet_v1_g3_0.5x;
 * ]|
 * Read the meta in an application:
 * |[
 * const GstStructure *s = gst_shufflenet_meta_get_structure (buffer);
 * gint id; const gchar *label; gdouble score;
 * for (guint i = 0; s && gst_shufflenet_result_get_class (s, i, &id, &label,
 *         &score); i++)
 *   g_print ("%d %s %.3f\n", id, label, score);
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstshufflenet.h"

#include <string.h>

#include "gstshufflenetmetaimpl.h"
#include "snmodelconfig.h"
#include "snpreprocess.h"
#include "snregions.h"
#include "snrunner.h"
#include "sntemporal.h"

GST_DEBUG_CATEGORY_STATIC (gst_shufflenet_debug);
#define GST_CAT_DEFAULT gst_shufflenet_debug

#ifndef SN_SOURCE_MODELS_DIR
#define SN_SOURCE_MODELS_DIR NULL
#endif
#ifndef SN_INSTALLED_MODELS_DIR
#define SN_INSTALLED_MODELS_DIR NULL
#endif

#define EXAMPLE_LAUNCH_LINE \
  "gst-launch-1.0 -m videotestsrc num-buffers=30 ! shufflenet top-k=3 ! fakesink"

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_LABELS,
  PROP_THREADS,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_INTERVAL,
  PROP_POST_MESSAGES,
  PROP_RESIZE_MODE,
  PROP_CHANNEL_ORDER,
  PROP_PRECISION,
  PROP_MEAN,
  PROP_STD,
  PROP_LATENCY,
  PROP_INFERENCE_REGION,
  PROP_OBJECT_CLASS,
  PROP_MIN_ROI_SIZE,
  PROP_MAX_ROIS,
  PROP_RECLASSIFY_INTERVAL,
  PROP_SMOOTHING,
  PROP_CHANGE_HOLD,
  PROP_CLASSES
};

#define DEFAULT_MODEL NULL
#define DEFAULT_LABELS NULL
#define DEFAULT_THREADS 0
#define DEFAULT_TOP_K 5
#define DEFAULT_THRESHOLD 0.0f
#define DEFAULT_INTERVAL 1
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_RESIZE_MODE GST_SHUFFLENET_RESIZE_MODEL_DEFAULT
#define DEFAULT_PRECISION GST_SHUFFLENET_PRECISION_FP32
#define DEFAULT_CHANNEL_ORDER GST_SHUFFLENET_CHANNEL_ORDER_MODEL_DEFAULT
#define DEFAULT_MEAN ""
#define DEFAULT_STD ""
#define DEFAULT_INFERENCE_REGION GST_SHUFFLENET_INFERENCE_REGION_FULL_FRAME
#define DEFAULT_OBJECT_CLASS ""
#define DEFAULT_MIN_ROI_SIZE 16
#define DEFAULT_MAX_ROIS 64
#define DEFAULT_RECLASSIFY_INTERVAL 1
#define DEFAULT_SMOOTHING 0
#define DEFAULT_CHANGE_HOLD 3
#define DEFAULT_CLASSES ""
#define CHANGE_MESSAGE_NAME "shufflenet-change"

#define MAX_THREADS 1024
/* Weight of a new measurement in the latency estimate (moving average). */
#define LATENCY_EMA_ALPHA 0.1
/* Post a latency message when the estimate moves this much (and >= 1 ms). */
#define LATENCY_REPOST_RATIO 0.25

struct _GstShuffleNet
{
  GstVideoFilter parent;

  /* Properties: protected by object lock */
  gchar *model;                 /* NULL: the default model */
  gchar *labels;                /* NULL or "": labels of the model */
  gint threads;
  GstShuffleNetPrecision precision;
  gint top_k;
  gfloat threshold;
  guint interval;
  gboolean post_messages;
  GstShuffleNetResizeMode resize_mode;
  GstShuffleNetChannelOrder channel_order;
  gchar *mean_str, *std_str;    /* "" = model default */
  float mean[3], std[3];        /* parsed, tensor channel order */
  guint prep_cookie;            /* bumped by preprocessing properties */
  GstShuffleNetInferenceRegion inference_region;
  gchar *object_class;          /* "" = every roi_type */
  GArray *object_types;         /* GQuark of each object-class name; a new
                                   array on each change (streaming holds a
                                   reference to the one it reads) */
  guint min_roi_size, max_rois, reclassify_interval;
  guint smoothing, change_hold;
  gchar *classes;               /* "" = every class */
  guint classes_cookie;         /* bumped by classes */
  gchar **model_labels;         /* labels of the runner in use (a copy, to
                                   check classes against), or NULL */

  /* Model loading: protected by object lock */
  gboolean started;             /* between start () and stop () */
  guint load_cookie;            /* bumped by model/labels/threads/precision */
  GThreadPool *loader;          /* one thread, LoadJob items */
  GThread *loader_thread;       /* the thread running a job, or NULL */
  SnRunner *pending;            /* loaded, not yet taken by streaming */
  gchar *active_model, *active_labels;  /* settings of the newest runner */
  gint active_threads;
  GstShuffleNetPrecision active_precision;

  /* QoS and latency: protected by object lock */
  GstClockTime earliest_time;   /* frames at or before it are late */
  gdouble last_ms, mean_ms, min_ms, max_ms;     /* classification times */
  guint64 n_classified;
  gdouble estimate_ms;          /* moving average, what we report */
  /* top-k scratch, grown when top-k grows (no allocation per frame) */
  gint topk_cap;
  gint *topk_ids;               /* [topk_cap] class ids, best first */
  float *topk_scores;           /* [topk_cap] */
  const gchar **topk_labels;    /* [topk_cap] */
  GstClockTime reported_latency;

  /* Streaming thread only (and start ()/stop () around it) */
  SnRunner *runner;
  SnPreprocessor *pre;
  guint pre_cookie;             /* prep_cookie @pre was built for */
  GstStructure *last_result;    /* newest fresh result, or NULL */
  guint64 last_frame;           /* frame number of last_result */
  guint64 frame_count;          /* frames seen since start () */
  GstShuffleNetInferenceRegion region_mode;     /* of the last frame */
  SnRegions *regions;           /* roi-list: selection and kept results */
  guint64 last_region_pass;     /* frame of the last classifying pass */
  gboolean region_passed;       /* ... when there was one */
  gint batch_cap;               /* room in the two arrays below */
  GstVideoRectangle *batch_rects;       /* [batch_cap] regions of a batch */
  guint *batch_regions;         /* [batch_cap] their index in regions */
  GstStructure **region_classes;        /* [n_region_classes] fresh
                                           classes of the frame's regions */
  guint n_region_classes;
  SnTrack *frame_track;         /* full-frame smoothing and changes */
  SnTrackSet *region_tracks;    /* the same per tracked region id */
  gboolean *allowed;            /* [K] the classes filter, or NULL */
  guint allowed_cookie;         /* classes_cookie @allowed was made for */
  GValue events;                /* GstValueArray of this frame's changes */
};

/* Properties copied under the lock for one frame. */
typedef struct
{
  gint top_k;
  gfloat threshold;
  guint interval;
  gboolean post_messages;
  GstShuffleNetResizeMode resize_mode;
  GstShuffleNetChannelOrder channel_order;
  gboolean mean_set, std_set;
  float mean[3], std[3];
  guint prep_cookie;
  GstClockTime earliest_time;
  GstShuffleNetInferenceRegion inference_region;
  GArray *object_types;         /* a reference: release_settings () */
  guint min_roi_size, max_rois, reclassify_interval;
  SnTemporalConfig temporal;    /* allowed: filled by the streaming side */
  guint classes_cookie;
} Settings;

typedef struct
{
  GstShuffleNet *self;          /* a reference */
  gchar *model, *labels;
  gint threads;
  GstShuffleNetPrecision precision;
  guint cookie;
} LoadJob;

#define gst_shufflenet_parent_class parent_class
G_DEFINE_TYPE (GstShuffleNet, gst_shufflenet, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (shufflenet, "shufflenet",
    GST_RANK_NONE, GST_TYPE_SHUFFLENET, gst_shufflenet_meta_register ());

#define CAPS SN_PREPROCESS_VIDEO_CAPS \
  ", interlace-mode = (string) { progressive, interleaved }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));

GType
gst_shufflenet_resize_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SHUFFLENET_RESIZE_MODEL_DEFAULT,
        "What the model's metadata says (else crop)", "default"},
    {GST_SHUFFLENET_RESIZE_STRETCH, "Stretch the frame to the input size",
        "stretch"},
    {GST_SHUFFLENET_RESIZE_CROP,
        "Resize the short side, then take the centre", "crop"},
    {GST_SHUFFLENET_RESIZE_LETTERBOX,
        "Fit the whole frame, pad with the mean colour", "letterbox"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstShuffleNetResizeMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_shufflenet_inference_region_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SHUFFLENET_INFERENCE_REGION_FULL_FRAME, "Classify the whole frame",
        "full-frame"},
    {GST_SHUFFLENET_INFERENCE_REGION_ROI_LIST,
          "Classify each region of interest (GstVideoRegionOfInterestMeta) "
          "of the frame", "roi-list"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstShuffleNetInferenceRegion", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_shufflenet_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SHUFFLENET_PRECISION_FP32, "float32 throughout", "fp32"},
    {GST_SHUFFLENET_PRECISION_BF16,
        "1x1 convolutions on bf16 operands, float32 sums (AVX512_BF16)",
        "bf16"},
    {0, NULL, NULL}
  };

  G_STATIC_ASSERT ((int) GST_SHUFFLENET_PRECISION_FP32 == SN_PRECISION_FP32);
  G_STATIC_ASSERT ((int) GST_SHUFFLENET_PRECISION_BF16 == SN_PRECISION_BF16);
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstShuffleNetPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_shufflenet_channel_order_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SHUFFLENET_CHANNEL_ORDER_MODEL_DEFAULT,
        "What the model's metadata says (else RGB)", "default"},
    {GST_SHUFFLENET_CHANNEL_ORDER_RGB, "Red, green, blue", "rgb"},
    {GST_SHUFFLENET_CHANNEL_ORDER_BGR, "Blue, green, red", "bgr"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstShuffleNetChannelOrder", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ------------------------------------------------------------------------ */
/* Errors */

/* Posts @err (an SN_RUNNER_ERROR) as an error or warning message with the
 * GStreamer domain that fits it: RESOURCE for files, LIBRARY for models the
 * engine refuses. */
static void
post_load_failure (GstShuffleNet * self, GstMessageType type,
    const GError * err, const gchar * model, const gchar * labels)
{
  GQuark domain = GST_LIBRARY_ERROR;
  gint code = GST_LIBRARY_ERROR_SETTINGS;

  switch (err->code) {
    case SN_RUNNER_ERROR_NOT_FOUND:
      domain = GST_RESOURCE_ERROR;
      code = GST_RESOURCE_ERROR_NOT_FOUND;
      break;
    case SN_RUNNER_ERROR_READ:
    case SN_RUNNER_ERROR_LABELS_READ:
      domain = GST_RESOURCE_ERROR;
      code = GST_RESOURCE_ERROR_OPEN_READ;
      break;
    case SN_RUNNER_ERROR_RUN:
      code = GST_LIBRARY_ERROR_FAILED;
      break;
    default:
      break;
  }
  gst_element_message_full (GST_ELEMENT (self), type, domain, code,
      g_strdup (err->message),
      g_strdup_printf ("model=%s labels=%s%s", GST_STR_NULL (model),
          GST_STR_NULL (labels), type == GST_MESSAGE_WARNING ?
          "; the previous model stays in use" : ""),
      __FILE__, GST_FUNCTION, __LINE__);
}

/* ------------------------------------------------------------------------ */
/* Model loading off the streaming thread */

static void
load_job_free (gpointer data)
{
  LoadJob *job = data;

  gst_object_unref (job->self);
  g_free (job->model);
  g_free (job->labels);
  g_free (job);
}

/* Resolves the model to load: the property, or the default model. Sets
 * @err (SN_RUNNER_ERROR_NOT_FOUND) when there is none. */
static gchar *
resolve_model_path (const gchar * model, GError ** err)
{
  const gchar *dirs[] = { SN_SOURCE_MODELS_DIR, SN_INSTALLED_MODELS_DIR, NULL };
  gchar *path, *searched = NULL;

  if (model != NULL && *model != '\0')
    return g_strdup (model);
  if (model != NULL) {
    g_set_error (err, SN_RUNNER_ERROR, SN_RUNNER_ERROR_NOT_FOUND,
        "No model set: the model property is empty");
    return NULL;
  }
  path = sn_default_model_find (dirs, &searched);
  if (path == NULL)
    g_set_error (err, SN_RUNNER_ERROR, SN_RUNNER_ERROR_NOT_FOUND,
        "No model set and the default model " SN_DEFAULT_MODEL_FILE
        " was not found (looked for %s); set the model property or run "
        "models/fetch.sh", searched);
  g_free (searched);
  return path;
}

/* Queues a reload of the current model/labels/threads/precision if started. Call with
 * the object lock held; it only queues. */
static void
queue_reload_locked (GstShuffleNet * self)
{
  LoadJob *job;

  self->load_cookie++;
  if (!self->started || self->loader == NULL)
    return;
  job = g_new0 (LoadJob, 1);
  job->self = gst_object_ref (self);
  job->model = g_strdup (self->model);
  job->labels = g_strdup (self->labels);
  job->threads = self->threads;
  job->precision = self->precision;
  job->cookie = self->load_cookie;
  g_thread_pool_push (self->loader, job, NULL);
}

/* Loader thread: builds a runner, hands it to the streaming thread, or
 * posts a warning and restores the settings of the model in use. */
static void
loader_func (gpointer data, gpointer user_data)
{
  LoadJob *job = data;
  GstShuffleNet *self = job->self;
  SnRunner *runner = NULL, *dropped = NULL;
  GError *err = NULL;
  gchar *path;
  gboolean current;

  GST_OBJECT_LOCK (self);
  current = self->started && job->cookie == self->load_cookie;
  self->loader_thread = g_thread_self ();
  GST_OBJECT_UNLOCK (self);
  if (!current)                 /* superseded by a newer change */
    goto done;

  path = resolve_model_path (job->model, &err);
  if (path != NULL)
    runner = sn_runner_new (path, job->labels, job->threads, job->precision,
        &err);
  g_free (path);

  GST_OBJECT_LOCK (self);
  current = self->started && job->cookie == self->load_cookie;
  /* A model loaded while newer changes were queued is still swapped in
   * (newer than the one in use; the queued load follows): under a stream
   * of changes every finished load makes progress. */
  if (self->started && runner != NULL) {
    GST_INFO_OBJECT (self, "loaded %s, swapping it in", job->model);
    dropped = self->pending;
    self->pending = g_steal_pointer (&runner);
    g_free (self->active_model);
    g_free (self->active_labels);
    self->active_model = g_strdup (job->model);
    self->active_labels = g_strdup (job->labels);
    self->active_threads = job->threads;
    self->active_precision = job->precision;
  } else if (current) {
    /* Refused: keep the old values (they match the runner in use). */
    g_free (self->model);
    g_free (self->labels);
    self->model = g_strdup (self->active_model);
    self->labels = g_strdup (self->active_labels);
    self->threads = self->active_threads;
    self->precision = self->active_precision;
  }
  GST_OBJECT_UNLOCK (self);

  sn_runner_free (runner);      /* stopped while loading */
  sn_runner_free (dropped);     /* loaded before but never used */
  if (current && err != NULL) {
    post_load_failure (self, GST_MESSAGE_WARNING, err, job->model, job->labels);
    g_object_notify (G_OBJECT (self), "model");
    g_object_notify (G_OBJECT (self), "labels");
    g_object_notify (G_OBJECT (self), "threads");
    g_object_notify (G_OBJECT (self), "precision");
  }
  g_clear_error (&err);
done:
  GST_OBJECT_LOCK (self);
  self->loader_thread = NULL;
  GST_OBJECT_UNLOCK (self);
  load_job_free (job);
}

/* ------------------------------------------------------------------------ */
/* Start / stop */

/* Restarts smoothing and change detection: the stream's past ends here
 * (a seek, a discontinuity, new caps or segment). */
static void
restart_tracks (GstShuffleNet * self)
{
  if (self->frame_track != NULL)
    sn_track_restart (self->frame_track);
  if (self->region_tracks != NULL)
    sn_track_set_clear (self->region_tracks);
}

/* Forgets every result: the next frame is classified afresh (a seek, a
 * model swap, new caps, another inference-region). */
static void
forget_results (GstShuffleNet * self)
{
  g_clear_pointer (&self->last_result, gst_structure_free);
  if (self->regions != NULL)
    sn_regions_reset (self->regions);
  self->region_passed = FALSE;
  restart_tracks (self);
}

/* Makes @runner (or none) the one in use: the per-class state follows its
 * class count, the classes filter is made again for its labels. */
static void
use_runner (GstShuffleNet * self, SnRunner * runner)
{
  gint k = runner != NULL ? sn_runner_num_classes (runner) : 0;

  sn_runner_free (self->runner);
  self->runner = runner;
  g_clear_pointer (&self->frame_track, sn_track_free);
  g_clear_pointer (&self->region_tracks, sn_track_set_free);
  g_clear_pointer (&self->allowed, g_free);
  if (runner != NULL) {
    self->frame_track = sn_track_new (k);
    self->region_tracks = sn_track_set_new (k);
  }
  GST_OBJECT_LOCK (self);
  g_strfreev (self->model_labels);
  self->model_labels = runner != NULL ?
      g_strdupv ((gchar **) sn_runner_labels (runner)) : NULL;
  self->allowed_cookie = self->classes_cookie - 1;      /* made again */
  GST_OBJECT_UNLOCK (self);
}


static void
reset_stats_locked (GstShuffleNet * self, gdouble estimate_ms)
{
  self->last_ms = self->mean_ms = self->min_ms = self->max_ms = 0.0;
  self->n_classified = 0;
  self->estimate_ms = estimate_ms;
  self->reported_latency = (GstClockTime) (estimate_ms * GST_MSECOND);
}

static gboolean
gst_shufflenet_start (GstBaseTransform * trans)
{
  GstShuffleNet *self = GST_SHUFFLENET (trans);
  gchar *model, *labels, *path;
  gint threads;
  GstShuffleNetPrecision precision;
  guint cookie;
  SnRunner *runner = NULL;
  GError *err = NULL;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  labels = g_strdup (self->labels);
  threads = self->threads;
  precision = self->precision;
  cookie = self->load_cookie;
  GST_OBJECT_UNLOCK (self);

  path = resolve_model_path (model, &err);
  if (path != NULL)
    runner = sn_runner_new (path, labels, threads, precision, &err);
  if (runner == NULL) {
    post_load_failure (self, GST_MESSAGE_ERROR, err, path ? path : model,
        labels);
    g_error_free (err);
    g_free (path);
    g_free (model);
    g_free (labels);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "loaded %s (%s), warm-up %.2f ms", path,
      sn_runner_config (runner)->model_name, sn_runner_warmup_ms (runner));
  g_free (path);

  use_runner (self, runner);
  self->frame_count = 0;
  self->regions = sn_regions_new ();
  forget_results (self);

  GST_OBJECT_LOCK (self);
  self->loader = g_thread_pool_new_full (loader_func, NULL, load_job_free,
      1, FALSE, NULL);
  self->started = TRUE;
  g_free (self->active_model);
  g_free (self->active_labels);
  self->active_model = model;
  self->active_labels = labels;
  self->active_threads = threads;
  self->active_precision = precision;
  reset_stats_locked (self, sn_runner_warmup_ms (runner));
  self->earliest_time = GST_CLOCK_TIME_NONE;
  if (self->load_cookie != cookie)      /* changed while we were loading */
    queue_reload_locked (self);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_shufflenet_stop (GstBaseTransform * trans)
{
  GstShuffleNet *self = GST_SHUFFLENET (trans);
  GThreadPool *loader;
  SnRunner *pending;
  gboolean in_loader;

  GST_OBJECT_LOCK (self);
  self->started = FALSE;
  loader = g_steal_pointer (&self->loader);
  /* A bus sync handler may stop us from the loader thread itself (on its
   * warning): then do not wait for that thread, it is us. */
  in_loader = self->loader_thread == g_thread_self ();
  GST_OBJECT_UNLOCK (self);

  /* Drops queued loads, waits for the running one (it sees !started). */
  if (loader != NULL)
    g_thread_pool_free (loader, TRUE, !in_loader);

  GST_OBJECT_LOCK (self);
  pending = g_steal_pointer (&self->pending);
  GST_OBJECT_UNLOCK (self);

  sn_runner_free (pending);
  use_runner (self, NULL);
  g_clear_pointer (&self->pre, sn_preprocessor_free);
  forget_results (self);
  g_clear_pointer (&self->regions, sn_regions_free);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Streaming: settings, model swap, preprocessing */

static void
read_settings (GstShuffleNet * self, Settings * st)
{
  /* Takes the object lock itself: ask before taking it. */
  gboolean qos = gst_base_transform_is_qos_enabled (GST_BASE_TRANSFORM (self));

  GST_OBJECT_LOCK (self);
  st->top_k = self->top_k;
  st->threshold = self->threshold;
  st->interval = self->interval;
  st->post_messages = self->post_messages;
  st->resize_mode = self->resize_mode;
  st->channel_order = self->channel_order;
  st->mean_set = self->mean_str[0] != '\0';
  st->std_set = self->std_str[0] != '\0';
  memcpy (st->mean, self->mean, sizeof (st->mean));
  memcpy (st->std, self->std, sizeof (st->std));
  st->prep_cookie = self->prep_cookie;
  st->earliest_time = qos ? self->earliest_time : GST_CLOCK_TIME_NONE;
  st->inference_region = self->inference_region;
  st->object_types = g_array_ref (self->object_types);
  st->min_roi_size = self->min_roi_size;
  st->max_rois = self->max_rois;
  st->reclassify_interval = self->reclassify_interval;
  st->temporal.smoothing = self->smoothing;
  st->temporal.change_hold = self->change_hold;
  st->temporal.threshold = self->threshold;
  st->temporal.allowed = NULL;
  st->classes_cookie = self->classes_cookie;
  GST_OBJECT_UNLOCK (self);
}

static void
release_settings (Settings * st)
{
  g_clear_pointer (&st->object_types, g_array_unref);
}

/* Takes a runner the loader finished. Streaming thread. */
static void
take_pending_runner (GstShuffleNet * self)
{
  SnRunner *pending;

  GST_OBJECT_LOCK (self);
  pending = g_steal_pointer (&self->pending);
  if (pending != NULL)
    reset_stats_locked (self, sn_runner_warmup_ms (pending));
  GST_OBJECT_UNLOCK (self);
  if (pending == NULL)
    return;

  GST_INFO_OBJECT (self, "now classifying with %s",
      sn_runner_model_path (pending));
  use_runner (self, pending);
  g_clear_pointer (&self->pre, sn_preprocessor_free);
  forget_results (self);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_latency (GST_OBJECT (self)));
}

/* SnParallelFor over the inference threads of the runner in use: the
 * preprocessor runs on the streaming thread right before the inference,
 * from the same runner (a model swap rebuilds the preprocessor). */
static void
preprocess_on_runner (gpointer pool, gint n, void (*body) (void *data, int i),
    void *data)
{
  GstShuffleNet *self = pool;
  sn_runner_parallel (self->runner, n, body, data);
}

/* The preprocessing of the runner's model with the property overrides. */
static SnPreprocessor *
build_preprocessor (GstShuffleNet * self, const GstVideoInfo * in_info,
    const Settings * st, GError ** error)
{
  const SnModelConfig *mc = sn_runner_config (self->runner);
  SnPreprocessConfig c;
  sn_input_info ii;

  sn_runner_input_info (self->runner, &ii);
  memset (&c, 0, sizeof (c));
  c.channel_order = mc->channel_order;
  c.scale = mc->scale;
  memcpy (c.mean, st->mean_set ? st->mean : mc->mean, sizeof (c.mean));
  memcpy (c.std, st->std_set ? st->std : mc->std, sizeof (c.std));
  c.resize = mc->resize;
  c.short_side = mc->short_side;
  if (st->channel_order == GST_SHUFFLENET_CHANNEL_ORDER_RGB)
    c.channel_order = SN_CHANNEL_ORDER_RGB;
  else if (st->channel_order == GST_SHUFFLENET_CHANNEL_ORDER_BGR)
    c.channel_order = SN_CHANNEL_ORDER_BGR;
  if (st->resize_mode == GST_SHUFFLENET_RESIZE_STRETCH)
    c.resize = SN_RESIZE_STRETCH;
  else if (st->resize_mode == GST_SHUFFLENET_RESIZE_CROP)
    c.resize = SN_RESIZE_CROP;
  else if (st->resize_mode == GST_SHUFFLENET_RESIZE_LETTERBOX)
    c.resize = SN_RESIZE_LETTERBOX;
  c.out_width = ii.width;       /* tensor: 3 x H x W or H x W x 3 */
  c.out_height = ii.height;
  c.out_nhwc = ii.layout == SN_LAYOUT_NHWC;
  SnPreprocessor *pre = sn_preprocessor_new (in_info, &c, error);
  if (pre) {                    /* the inference threads preprocess too */
    sn_preprocessor_set_threads (pre, MIN (sn_runner_threads (self->runner),
            SN_PREPROCESS_MAX_THREADS));
    sn_preprocessor_set_parallel (pre, preprocess_on_runner, self);
  }
  return pre;
}

/* Rebuilds the preprocessor after a model swap or a property change. A
 * failure keeps the previous one (warning) or, without one, is an error. */
static gboolean
ensure_preprocessor (GstShuffleNet * self, const Settings * st)
{
  GstVideoInfo *info = &GST_VIDEO_FILTER (self)->in_info;
  SnPreprocessor *pre;
  GError *err = NULL;

  if (self->pre != NULL && self->pre_cookie == st->prep_cookie)
    return TRUE;
  pre = build_preprocessor (self, info, st, &err);
  self->pre_cookie = st->prep_cookie;
  if (pre != NULL) {
    sn_preprocessor_free (self->pre);
    self->pre = pre;
    return TRUE;
  }
  if (self->pre != NULL) {
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
        ("Cannot apply the new preprocessing settings"), ("%s; keeping the "
            "previous ones", err->message));
    g_error_free (err);
    return TRUE;
  }
  GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
      ("Cannot preprocess %s %dx%d video for this model",
          GST_VIDEO_INFO_NAME (info), GST_VIDEO_INFO_WIDTH (info),
          GST_VIDEO_INFO_HEIGHT (info)), ("%s", err->message));
  g_error_free (err);
  return FALSE;
}

static gboolean
gst_shufflenet_set_info (GstVideoFilter * filter, GstCaps * incaps,
    GstVideoInfo * in_info, GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstShuffleNet *self = GST_SHUFFLENET (filter);
  SnPreprocessor *pre;
  GError *err = NULL;
  Settings st;

  take_pending_runner (self);
  if (self->runner == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("No model loaded"),
        ("caps %" GST_PTR_FORMAT " arrived before start", incaps));
    return FALSE;
  }
  read_settings (self, &st);
  pre = build_preprocessor (self, in_info, &st, &err);
  release_settings (&st);
  if (pre == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Cannot classify %s %dx%d video", GST_VIDEO_INFO_NAME (in_info),
            GST_VIDEO_INFO_WIDTH (in_info), GST_VIDEO_INFO_HEIGHT (in_info)),
        ("%s; caps %" GST_PTR_FORMAT, err->message, incaps));
    g_error_free (err);
    return FALSE;
  }
  sn_preprocessor_free (self->pre);
  self->pre = pre;
  self->pre_cookie = st.prep_cookie;
  /* region boxes and ids describe frames of the old caps (a whole
   * frame's result still describes the stream); smoothing starts afresh */
  if (self->regions != NULL)
    sn_regions_reset (self->regions);
  restart_tracks (self);
  GST_DEBUG_OBJECT (self, "classifying %" GST_PTR_FORMAT, incaps);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Streaming: classification */

static void
update_latency (GstShuffleNet * self, gdouble ms)
{
  gboolean repost = FALSE;
  gdouble reported;

  GST_OBJECT_LOCK (self);
  self->last_ms = ms;
  self->n_classified++;
  self->mean_ms += (ms - self->mean_ms) / self->n_classified;
  self->min_ms = self->n_classified == 1 ? ms : MIN (self->min_ms, ms);
  self->max_ms = MAX (self->max_ms, ms);
  /* A plain mean over the first frames, then a moving average. */
  self->estimate_ms += MAX (LATENCY_EMA_ALPHA, 1.0 / self->n_classified)
      * (ms - self->estimate_ms);
  reported = (gdouble) self->reported_latency / GST_MSECOND;
  if (ABS (self->estimate_ms - reported) >= MAX (1.0,
          LATENCY_REPOST_RATIO * reported)) {
    self->reported_latency = (GstClockTime) (self->estimate_ms * GST_MSECOND);
    repost = TRUE;
  }
  GST_OBJECT_UNLOCK (self);

  if (repost)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
}

/* The top-k of @probs [K] among the allowed classes above the threshold,
 * best first, into the element's scratch; returns how many. */
static gint
top_classes (GstShuffleNet * self, const float *probs, const Settings * st)
{
  gint n_classes = sn_runner_num_classes (self->runner);
  gint k = MIN (st->top_k, n_classes), n;

  if (k > self->topk_cap) {
    self->topk_cap = k;
    self->topk_ids = g_renew (gint, self->topk_ids, k);
    self->topk_scores = g_renew (float, self->topk_scores, k);
    self->topk_labels = g_renew (const gchar *, self->topk_labels, k);
  }
  n = sn_top_k_allowed (probs, n_classes, st->temporal.allowed, k,
      self->topk_ids, self->topk_scores);
  while (n > 0 && self->topk_scores[n - 1] < st->threshold)     /* sorted */
    n--;
  for (gint i = 0; i < n; i++)
    self->topk_labels[i] = sn_runner_label (self->runner, self->topk_ids[i]);
  return n;
}

/* A new result of this element: the class arrays of the scratch's first
 * @n, the model, @ms of inference, and which element made it (several
 * may classify the same buffers). */
static GstStructure *
new_result (GstShuffleNet * self, gint n, gdouble ms)
{
  GstStructure *result = gst_shufflenet_result_new (sn_runner_config
      (self->runner)->model_name, n, self->topk_ids, self->topk_labels,
      self->topk_scores, ms);

  GST_OBJECT_LOCK (self);
  gst_structure_set (result, "element", G_TYPE_STRING,
      GST_OBJECT_NAME (self), NULL);
  GST_OBJECT_UNLOCK (self);
  return result;
}

static gboolean
map_frame (GstShuffleNet * self, GstBuffer * buf, GstVideoFrame * frame)
{
  if (gst_video_frame_map (frame, &GST_VIDEO_FILTER (self)->in_info, buf,
          GST_MAP_READ))
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map a video frame"),
      ("buffer %" GST_PTR_FORMAT " does not match the caps", buf));
  return FALSE;
}

static void
post_inference_error (GstShuffleNet * self, GError * err)
{
  GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Inference failed"), ("%s",
          err->message));
  g_error_free (err);
}

/* @buf's PTS as stream and running time (NONE when unknown). */
static void
buffer_times (GstShuffleNet * self, GstBuffer * buf, GstClockTime * stream,
    GstClockTime * running)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime pts = GST_BUFFER_PTS (buf);

  *stream = *running = GST_CLOCK_TIME_NONE;
  if (seg->format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID (pts)) {
    *stream = gst_segment_to_stream_time (seg, GST_FORMAT_TIME, pts);
    *running = gst_segment_to_running_time (seg, GST_FORMAT_TIME, pts);
  }
}

/* Posts @change of @buf (of region @roi_id, or the frame when < 0) as a
 * "shufflenet-change" message and keeps it for the buffer's meta. */
static void
post_change (GstShuffleNet * self, GstBuffer * buf, const SnChange * change,
    const GstVideoRegionOfInterestMeta * roi)
{
  GstClockTime stream, running;
  GstStructure *s;
  GValue v = G_VALUE_INIT;

  buffer_times (self, buf, &stream, &running);
  s = gst_structure_new (CHANGE_MESSAGE_NAME,
      "timestamp", G_TYPE_UINT64, GST_BUFFER_PTS (buf),
      "running-time", G_TYPE_UINT64, running,
      "stream-time", G_TYPE_UINT64, stream,
      "from-id", G_TYPE_INT, change->from_id,
      "from-label", G_TYPE_STRING, change->from_id < 0 ? "none" :
      sn_runner_label (self->runner, change->from_id),
      "to-id", G_TYPE_INT, change->to_id,
      "to-label", G_TYPE_STRING, sn_runner_label (self->runner, change->to_id),
      "score", G_TYPE_DOUBLE, (gdouble) change->score,
      "held", G_TYPE_UINT64, change->held, NULL);
  GST_OBJECT_LOCK (self);
  gst_structure_set (s, "element", G_TYPE_STRING, GST_OBJECT_NAME (self),
      NULL);
  GST_OBJECT_UNLOCK (self);
  if (roi != NULL)
    gst_structure_set (s, "roi-id", G_TYPE_INT, roi->id, "roi-type",
        G_TYPE_STRING, g_quark_to_string (roi->roi_type), NULL);
  GST_DEBUG_OBJECT (self, "change %" GST_PTR_FORMAT, s);
  if (!G_IS_VALUE (&self->events))
    gst_value_array_init (&self->events, 1);
  g_value_init (&v, GST_TYPE_STRUCTURE);
  gst_value_set_structure (&v, s);
  gst_value_array_append_and_take_value (&self->events, &v);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* One classified frame of @track (@probs [K] of @buf): the vector to
 * report (smoothed or @probs), posting a change when one fires. */
static const float *
track_frame (GstShuffleNet * self, SnTrack * track, const float *probs,
    GstBuffer * buf, const Settings * st,
    const GstVideoRegionOfInterestMeta * roi)
{
  GstClockTime stream, running;
  gboolean changed;
  SnChange change;
  const float *v;

  buffer_times (self, buf, &stream, &running);
  v = sn_track_update (track, &st->temporal, probs, running, &changed,
      &change);
  if (changed)
    post_change (self, buf, &change, roi);
  return v;
}

/* The classes filter of the model in use, made again when the property
 * or the model changed; a filter the model's labels do not match is
 * dropped with a warning (set_classes () refuses it when a model is
 * loaded). */
static void
ensure_class_filter (GstShuffleNet * self, Settings * st)
{
  GError *err = NULL;
  gchar *text;

  if (st->classes_cookie != self->allowed_cookie) {
    GST_OBJECT_LOCK (self);
    text = g_strdup (self->classes);
    GST_OBJECT_UNLOCK (self);
    g_clear_pointer (&self->allowed, g_free);
    if (!sn_class_filter_parse (text, sn_runner_labels (self->runner),
            sn_runner_num_classes (self->runner), &self->allowed, &err)) {
      GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
          ("The classes filter does not fit the model: every class is "
              "reported"), ("classes=\"%s\": %s", text, err->message));
      g_error_free (err);
    }
    g_free (text);
    self->allowed_cookie = st->classes_cookie;
  }
  st->temporal.allowed = self->allowed;
}

/* Preprocesses @buf, runs the model and stores the top-k as last_result. */
static gboolean
classify (GstShuffleNet * self, GstBuffer * buf, const Settings * st)
{
  const float *probs;           /* [K] */
  GstVideoFrame frame;
  GError *err = NULL;
  gint64 t0 = g_get_monotonic_time ();
  gdouble ms;

  if (!map_frame (self, buf, &frame))
    return FALSE;
  sn_preprocessor_run (self->pre, &frame, sn_runner_input (self->runner));
  gst_video_frame_unmap (&frame);
  if (!sn_runner_run (self->runner, &probs, &err)) {
    post_inference_error (self, err);
    return FALSE;
  }
  ms = (g_get_monotonic_time () - t0) / 1000.0;

  probs = track_frame (self, self->frame_track, probs, buf, st, NULL);
  g_clear_pointer (&self->last_result, gst_structure_free);
  self->last_result = new_result (self, top_classes (self, probs, st), ms);
  gst_structure_set (self->last_result, "smoothed", G_TYPE_BOOLEAN,
      st->temporal.smoothing > 0, NULL);
  self->last_frame = self->frame_count;
  update_latency (self, ms);
  return TRUE;
}

/* Sets @result's frame fields for @buf, attaches it to @buf and posts it
 * (takes @result). */
static void
publish_result (GstShuffleNet * self, GstBuffer * buf, GstStructure * result,
    gboolean stale, guint64 age, const Settings * st)
{
  GstClockTime stream_time, running_time;

  buffer_times (self, buf, &stream_time, &running_time);
  gst_shufflenet_result_set_frame (result, self->frame_count,
      GST_BUFFER_PTS (buf), stream_time, running_time,
      GST_BUFFER_DURATION (buf), stale, age);
  if (G_IS_VALUE (&self->events)) {    /* this frame's changes */
    gst_structure_take_value (result, "events", &self->events);
    memset (&self->events, 0, sizeof (self->events));  /* moved */
  }
  gst_shufflenet_meta_attach (buf, result);
  if (st->post_messages)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self), result));
  else
    gst_structure_free (result);
}

/* Attaches the last result (fresh or stale) to @buf and posts it. */
static void
publish (GstShuffleNet * self, GstBuffer * buf, const Settings * st)
{
  guint64 age = self->frame_count - self->last_frame;

  publish_result (self, buf, gst_structure_copy (self->last_result), age > 0,
      age, st);
}

/* Late by QoS: at or before the earliest time downstream still wants. */
static gboolean
is_late (GstShuffleNet * self, GstBuffer * buf, const Settings * st)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime rt;

  if (!GST_CLOCK_TIME_IS_VALID (st->earliest_time)
      || seg->format != GST_FORMAT_TIME || !GST_BUFFER_PTS_IS_VALID (buf))
    return FALSE;
  rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  return GST_CLOCK_TIME_IS_VALID (rt) && rt <= st->earliest_time;
}

/* Outside the segment: sinks drop it (e.g. the frames a decoder decodes
 * from a keyframe up to an accurate seek's target). */
static gboolean
outside_segment (GstShuffleNet * self, GstBuffer * buf)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;
  GstClockTime start = GST_BUFFER_PTS (buf), stop = GST_CLOCK_TIME_NONE;

  if (seg->format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (start))
    return FALSE;
  if (GST_BUFFER_DURATION_IS_VALID (buf))
    stop = start + GST_BUFFER_DURATION (buf);
  return !gst_segment_clip (seg, GST_FORMAT_TIME, start, stop, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* Streaming: regions of interest (inference-region=roi-list) */

/* Room for a batch of the runner in use. */
static void
ensure_batch_arrays (GstShuffleNet * self)
{
  gint cap = sn_runner_max_batch (self->runner);

  if (cap <= self->batch_cap)
    return;
  self->batch_cap = cap;
  self->batch_rects = g_renew (GstVideoRectangle, self->batch_rects, cap);
  self->batch_regions = g_renew (guint, self->batch_regions, cap);
}

/* The classes of selected region @i from its probabilities @probs [K]:
 * smoothed per tracker id, as a structure (class-ids, labels, scores,
 * smoothed). Regions nobody tracks are classified frame by frame. */
static GstStructure *
region_classes (GstShuffleNet * self, guint i, const float *probs,
    GstBuffer * buf, const Settings * st)
{
  SnRegion *reg = sn_regions_get (self->regions, i);
  GstStructure *classes = gst_structure_new_empty ("classes");
  gboolean smoothed = FALSE;
  gint n;

  if (reg->tracked) {
    SnTrack *track = sn_track_set_get (self->region_tracks, reg->meta->id,
        self->frame_count);
    probs = track_frame (self, track, probs, buf, st, reg->meta);
    smoothed = st->temporal.smoothing > 0;
  }
  n = top_classes (self, probs, st);
  gst_shufflenet_result_set_classes (classes, n, self->topk_ids,
      self->topk_labels, self->topk_scores);
  gst_structure_set (classes, "smoothed", G_TYPE_BOOLEAN, smoothed, NULL);
  return classes;
}

/* Classifies the @n selected regions that reuse no result, in batches of
 * the runner's size: region i's classes go to region_classes[i] (NULL for
 * the others). */
static gboolean
classify_regions (GstShuffleNet * self, GstBuffer * buf, guint n,
    const Settings * st)
{
  const gint k_classes = sn_runner_num_classes (self->runner);
  float *input = sn_runner_batch_input (self->runner);  /* [cap][image] */
  GstVideoFrame frame;
  guint next = 0;

  ensure_batch_arrays (self);
  if (!map_frame (self, buf, &frame))
    return FALSE;
  while (next < n) {
    const float *probs;         /* [m][K] */
    GError *err = NULL;
    gint m = 0;

    for (; next < n && m < self->batch_cap; next++) {
      SnRegion *reg = sn_regions_get (self->regions, next);
      if (reg->reused == NULL && sn_preprocess_region_valid (self->pre,
              &reg->rect)) {
        self->batch_rects[m] = reg->rect;
        self->batch_regions[m++] = next;
      }
    }
    if (m == 0)
      break;
    sn_preprocessor_run_regions (self->pre, &frame, self->batch_rects, m,
        input);
    if (!sn_runner_run_batch (self->runner, m, &probs, &err)) {
      gst_video_frame_unmap (&frame);
      post_inference_error (self, err);
      return FALSE;
    }
    for (gint b = 0; b < m; b++)
      self->region_classes[self->batch_regions[b]] = region_classes (self,
          self->batch_regions[b], probs + (gsize) b * k_classes, buf, st);
  }
  gst_video_frame_unmap (&frame);
  return TRUE;
}

/* The "rois" entry of selected region @i (fresh classes, or a reused
 * result) and the parameter of its ROI meta; NULL for a region with
 * neither (a frame interval or QoS skips, a new id). */
static GstStructure *
region_result (GstShuffleNet * self, guint i, const gchar * model,
    const gchar * element)
{
  SnRegion *reg = sn_regions_get (self->regions, i);
  GstStructure *classes = self->region_classes[i], *entry, *param;
  const GstStructure *from = classes != NULL ? classes : reg->reused;

  if (from == NULL)
    return NULL;
  entry = gst_shufflenet_roi_result_new (reg->meta->id,
      g_quark_to_string (reg->meta->roi_type), &reg->rect, from,
      classes == NULL, classes == NULL ? reg->age : 0);
  param = gst_shufflenet_roi_param_new (entry, model, element);
  if (param != NULL)
    gst_video_region_of_interest_meta_add_param (reg->meta, param);
  if (classes != NULL) {        /* kept for the id, or freed */
    sn_regions_store (self->regions, i, classes, self->frame_count);
    self->region_classes[i] = NULL;
  }
  return entry;
}

/* Whether this frame may run inference: not inside an interval, not late
 * by QoS. */
static gboolean
region_pass_due (GstShuffleNet * self, GstBuffer * buf, const Settings * st)
{
  if (self->region_passed
      && self->frame_count - self->last_region_pass < st->interval)
    return FALSE;
  return !is_late (self, buf, st);
}

/* roi-list: classifies the frame's regions, attaches every region's result
 * (as ROI parameters and the meta's "rois") and posts them. */
static gboolean
transform_regions (GstShuffleNet * self, GstBuffer * buf, const Settings * st)
{
  SnRegionPolicy policy = { (const GQuark *) st->object_types->data,
    st->object_types->len, st->min_roi_size, st->max_rois,
    st->reclassify_interval
  };
  const gchar *model = sn_runner_config (self->runner)->model_name;
  gboolean due = region_pass_due (self, buf, st);
  gint64 t0 = g_get_monotonic_time ();
  GstStructure *result;
  GValue rois = G_VALUE_INIT;
  gchar *element = gst_object_get_name (GST_OBJECT (self));
  guint n = sn_regions_select (self->regions, buf,
      &GST_VIDEO_FILTER (self)->in_info, &policy, self->frame_count, due);
  gboolean ok = TRUE, classified = FALSE;

  sn_track_set_forget (self->region_tracks, self->frame_count);
  if (n > self->n_region_classes) {
    self->region_classes = g_renew (GstStructure *, self->region_classes, n);
    self->n_region_classes = n;
  }
  memset (self->region_classes, 0, sizeof (GstStructure *) * n);
  if (due) {
    self->last_region_pass = self->frame_count;
    self->region_passed = TRUE;
    ok = classify_regions (self, buf, n, st);
  }
  gst_value_array_init (&rois, n);
  for (guint i = 0; i < n; i++) {
    GstStructure *entry;
    GValue v = G_VALUE_INIT;

    classified |= self->region_classes[i] != NULL;
    if (!ok || (entry = region_result (self, i, model, element)) == NULL)
      continue;
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, entry);
    gst_value_array_append_and_take_value (&rois, &v);
  }
  for (guint i = 0; i < n; i++)        /* left by a failed batch */
    g_clear_pointer (&self->region_classes[i], gst_structure_free);
  if (!ok) {
    g_value_unset (&rois);
    g_free (element);
    return FALSE;
  }
  {
    gdouble ms = classified ? (g_get_monotonic_time () - t0) / 1000.0 : 0.0;
    result = gst_shufflenet_result_new (model, 0, NULL, NULL, NULL, ms);
    gst_structure_set (result, "element", G_TYPE_STRING, element,
        "frame-width", G_TYPE_UINT,
        (guint) GST_VIDEO_INFO_WIDTH (&GST_VIDEO_FILTER (self)->in_info),
        "frame-height", G_TYPE_UINT,
        (guint) GST_VIDEO_INFO_HEIGHT (&GST_VIDEO_FILTER (self)->in_info),
        NULL);
    gst_structure_take_value (result, "rois", &rois);
    if (classified)
      update_latency (self, ms);
  }
  publish_result (self, buf, result, FALSE, 0, st);
  g_free (element);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Streaming: the frame */

/* full-frame: classifies @buf, or reuses the last result (interval, QoS). */
static gboolean
transform_frame (GstShuffleNet * self, GstBuffer * buf, const Settings * st)
{
  gboolean fresh;

  if (self->last_result == NULL)
    fresh = TRUE;
  else if (self->frame_count - self->last_frame < st->interval)
    fresh = FALSE;
  else
    fresh = !is_late (self, buf, st);
  if (!fresh)
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": reusing the result "
        "of frame %" G_GUINT64_FORMAT, self->frame_count, self->last_frame);

  if (fresh && !classify (self, buf, st))
    return FALSE;
  publish (self, buf, st);
  return TRUE;
}

static GstFlowReturn
gst_shufflenet_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstShuffleNet *self = GST_SHUFFLENET (trans);
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean ok;
  Settings st;

  take_pending_runner (self);
  if (self->runner == NULL || !GST_VIDEO_FILTER (self)->negotiated)
    return GST_FLOW_NOT_NEGOTIATED;
  read_settings (self, &st);
  if (!ensure_preprocessor (self, &st)) {
    ret = GST_FLOW_ERROR;
    goto done;
  }
  if (outside_segment (self, buf)) {
    /* Not shown: no inference, no result, not counted as a frame. */
    GST_LOG_OBJECT (self, "buffer %" GST_TIME_FORMAT " is outside the "
        "segment: passed on unclassified",
        GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
    goto done;
  }
  if (st.inference_region != self->region_mode) {
    forget_results (self);
    self->region_mode = st.inference_region;
  }
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT)) {
    GST_DEBUG_OBJECT (self, "discontinuity: smoothing starts afresh");
    restart_tracks (self);
  }
  ensure_class_filter (self, &st);
  if (st.inference_region == GST_SHUFFLENET_INFERENCE_REGION_ROI_LIST)
    ok = transform_regions (self, buf, &st);
  else
    ok = transform_frame (self, buf, &st);
  if (!ok)
    ret = GST_FLOW_ERROR;
  else
    self->frame_count++;
done:
  release_settings (&st);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* Events and queries */

static gboolean
gst_shufflenet_src_event (GstBaseTransform * trans, GstEvent * event)
{
  GstShuffleNet *self = GST_SHUFFLENET (trans);
  GstClockTimeDiff diff;
  GstClockTime timestamp;
  GstQOSType type;
  gdouble proportion;

  if (GST_EVENT_TYPE (event) != GST_EVENT_QOS)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);

  /* Handled here, not by GstBaseTransform: it would drop late buffers,
   * we only skip their inference. */
  gst_event_parse_qos (event, &type, &proportion, &diff, &timestamp);
  if (type != GST_QOS_TYPE_THROTTLE && GST_CLOCK_TIME_IS_VALID (timestamp)) {
    GST_OBJECT_LOCK (self);
    if (diff < 0 && (GstClockTime) (-diff) > timestamp)
      self->earliest_time = 0;
    else
      self->earliest_time = timestamp + diff;
    GST_OBJECT_UNLOCK (self);
    GST_LOG_OBJECT (self, "QoS: earliest time %" GST_TIME_FORMAT,
        GST_TIME_ARGS (timestamp + diff));
  }
  return gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (trans), event);
}

static gboolean
gst_shufflenet_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstShuffleNet *self = GST_SHUFFLENET (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    GST_OBJECT_LOCK (self);
    self->earliest_time = GST_CLOCK_TIME_NONE;
    GST_OBJECT_UNLOCK (self);
    /* A result from before a seek describes other frames. */
    forget_results (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
    restart_tracks (self);      /* a new segment: a new past */
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_shufflenet_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstShuffleNet *self = GST_SHUFFLENET (trans);
  GstClockTime min, max, ours;
  gboolean live;

  if (direction != GST_PAD_SRC || GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
        query);

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query))
    return FALSE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  ours = self->reported_latency;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "adding %" GST_TIME_FORMAT " of inference time",
      GST_TIME_ARGS (ours));
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += ours;
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Properties */

/* mean/std: "" resets to the model default; else 3 finite numbers (std
 * without zeros). A bad value is refused with a warning. */
static void
set_triple (GstShuffleNet * self, const gchar * name, const gchar * text,
    gchar ** str, float values[3])
{
  GError *err = NULL;
  float v[3] = { 0 };
  gboolean ok = TRUE;

  if (text == NULL)
    text = "";
  if (*text != '\0') {
    ok = sn_parse_float_triple (text, v, name, &err);
    if (ok && strcmp (name, "std") == 0
        && (v[0] == 0.0f || v[1] == 0.0f || v[2] == 0.0f)) {
      g_set_error (&err, SN_MODEL_CONFIG_ERROR,
          SN_MODEL_CONFIG_ERROR_METADATA, "std: '%s' contains a zero", text);
      ok = FALSE;
    }
  }
  if (!ok) {
    g_warning ("%s: refusing %s=\"%s\": %s (keeping the previous value)",
        GST_OBJECT_NAME (self), name, text, err->message);
    g_error_free (err);
    return;
  }
  GST_OBJECT_LOCK (self);
  g_free (*str);
  *str = g_strdup (text);
  memcpy (values, v, sizeof (v));
  self->prep_cookie++;
  GST_OBJECT_UNLOCK (self);
}

/* object-class: "" (every roi_type) or comma-separated names, spaces
 * around them ignored; an empty name is refused with a warning. */
static void
set_object_class (GstShuffleNet * self, const gchar * text)
{
  gchar **names = g_strsplit (text != NULL ? text : "", ",", -1);
  GArray *types = g_array_new (FALSE, FALSE, sizeof (GQuark)), *old;
  gboolean empty = text == NULL || *text == '\0';

  for (guint i = 0; !empty && names[i] != NULL; i++) {
    GQuark q;

    g_strstrip (names[i]);
    if (names[i][0] == '\0') {
      g_warning ("%s: refusing object-class=\"%s\": name %u is empty "
          "(keeping the previous value)", GST_OBJECT_NAME (self), text, i + 1);
      g_strfreev (names);
      g_array_unref (types);
      return;
    }
    q = g_quark_from_string (names[i]);
    g_array_append_val (types, q);
  }
  g_strfreev (names);
  GST_OBJECT_LOCK (self);
  g_free (self->object_class);
  self->object_class = g_strdup (empty ? "" : text);
  old = self->object_types;
  self->object_types = types;
  GST_OBJECT_UNLOCK (self);
  g_array_unref (old);
}

/* classes: checked against the labels of the model in use (when one is
 * loaded); unknown names are refused with a warning naming them. */
static void
set_classes (GstShuffleNet * self, const gchar * text)
{
  gchar **labels;
  gboolean *allowed = NULL;
  GError *err = NULL;

  if (text == NULL)
    text = "";
  GST_OBJECT_LOCK (self);
  labels = g_strdupv (self->model_labels);
  GST_OBJECT_UNLOCK (self);
  if (labels != NULL && !sn_class_filter_parse (text,
          (const gchar * const *) labels, g_strv_length (labels), &allowed,
          &err)) {
    g_warning ("%s: refusing classes=\"%s\": %s (keeping the previous "
        "value)", GST_OBJECT_NAME (self), text, err->message);
    g_error_free (err);
    g_strfreev (labels);
    return;
  }
  g_free (allowed);
  g_strfreev (labels);
  GST_OBJECT_LOCK (self);
  g_free (self->classes);
  self->classes = g_strdup (text);
  self->classes_cookie++;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstShuffleNet *self = GST_SHUFFLENET (object);

  switch (prop_id) {
    case PROP_MEAN:
      set_triple (self, "mean", g_value_get_string (value), &self->mean_str,
          self->mean);
      return;
    case PROP_STD:
      set_triple (self, "std", g_value_get_string (value), &self->std_str,
          self->std);
      return;
    case PROP_OBJECT_CLASS:
      set_object_class (self, g_value_get_string (value));
      return;
    case PROP_CLASSES:
      set_classes (self, g_value_get_string (value));
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      queue_reload_locked (self);
      break;
    case PROP_LABELS:
      g_free (self->labels);
      self->labels = g_value_dup_string (value);
      queue_reload_locked (self);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      queue_reload_locked (self);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      queue_reload_locked (self);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_int (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_float (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_RESIZE_MODE:
      self->resize_mode = g_value_get_enum (value);
      self->prep_cookie++;
      break;
    case PROP_CHANNEL_ORDER:
      self->channel_order = g_value_get_enum (value);
      self->prep_cookie++;
      break;
    case PROP_INFERENCE_REGION:
      self->inference_region = g_value_get_enum (value);
      break;
    case PROP_MIN_ROI_SIZE:
      self->min_roi_size = g_value_get_uint (value);
      break;
    case PROP_MAX_ROIS:
      self->max_rois = g_value_get_uint (value);
      break;
    case PROP_RECLASSIFY_INTERVAL:
      self->reclassify_interval = g_value_get_uint (value);
      break;
    case PROP_SMOOTHING:
      self->smoothing = g_value_get_uint (value);
      break;
    case PROP_CHANGE_HOLD:
      self->change_hold = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
latency_structure_locked (GstShuffleNet * self)
{
  return gst_structure_new ("latency",
      "last", G_TYPE_DOUBLE, self->last_ms,
      "mean", G_TYPE_DOUBLE, self->mean_ms,
      "min", G_TYPE_DOUBLE, self->min_ms,
      "max", G_TYPE_DOUBLE, self->max_ms,
      "count", G_TYPE_UINT64, self->n_classified,
      "reported", G_TYPE_DOUBLE,
      (gdouble) self->reported_latency / GST_MSECOND, NULL);
}

static void
gst_shufflenet_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstShuffleNet *self = GST_SHUFFLENET (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_TOP_K:
      g_value_set_int (value, self->top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_float (value, self->threshold);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_RESIZE_MODE:
      g_value_set_enum (value, self->resize_mode);
      break;
    case PROP_CHANNEL_ORDER:
      g_value_set_enum (value, self->channel_order);
      break;
    case PROP_MEAN:
      g_value_set_string (value, self->mean_str);
      break;
    case PROP_STD:
      g_value_set_string (value, self->std_str);
      break;
    case PROP_LATENCY:
      g_value_take_boxed (value, latency_structure_locked (self));
      break;
    case PROP_INFERENCE_REGION:
      g_value_set_enum (value, self->inference_region);
      break;
    case PROP_OBJECT_CLASS:
      g_value_set_string (value, self->object_class);
      break;
    case PROP_MIN_ROI_SIZE:
      g_value_set_uint (value, self->min_roi_size);
      break;
    case PROP_MAX_ROIS:
      g_value_set_uint (value, self->max_rois);
      break;
    case PROP_RECLASSIFY_INTERVAL:
      g_value_set_uint (value, self->reclassify_interval);
      break;
    case PROP_SMOOTHING:
      g_value_set_uint (value, self->smoothing);
      break;
    case PROP_CHANGE_HOLD:
      g_value_set_uint (value, self->change_hold);
      break;
    case PROP_CLASSES:
      g_value_set_string (value, self->classes);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_shufflenet_finalize (GObject * object)
{
  GstShuffleNet *self = GST_SHUFFLENET (object);

  /* stop () has run (elements are finalized in NULL); these are spares. */
  sn_runner_free (self->pending);
  sn_runner_free (self->runner);
  if (self->pre != NULL)
    sn_preprocessor_free (self->pre);
  if (self->last_result != NULL)
    gst_structure_free (self->last_result);
  g_free (self->model);
  g_free (self->labels);
  g_free (self->mean_str);
  g_free (self->std_str);
  g_free (self->active_model);
  g_free (self->active_labels);
  g_free (self->topk_ids);
  g_free (self->topk_scores);
  g_free (self->topk_labels);
  g_free (self->object_class);
  g_array_unref (self->object_types);
  sn_regions_free (self->regions);
  g_free (self->batch_rects);
  g_free (self->batch_regions);
  g_free (self->region_classes);
  g_free (self->classes);
  g_strfreev (self->model_labels);
  sn_track_free (self->frame_track);
  sn_track_set_free (self->region_tracks);
  g_free (self->allowed);
  if (G_IS_VALUE (&self->events))
    g_value_unset (&self->events);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_shufflenet_init (GstShuffleNet * self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);

  self->model = g_strdup (DEFAULT_MODEL);
  self->labels = g_strdup (DEFAULT_LABELS);
  self->threads = DEFAULT_THREADS;
  self->top_k = DEFAULT_TOP_K;
  self->threshold = DEFAULT_THRESHOLD;
  self->interval = DEFAULT_INTERVAL;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->resize_mode = DEFAULT_RESIZE_MODE;
  self->precision = DEFAULT_PRECISION;
  self->channel_order = DEFAULT_CHANNEL_ORDER;
  self->mean_str = g_strdup (DEFAULT_MEAN);
  self->std_str = g_strdup (DEFAULT_STD);
  self->earliest_time = GST_CLOCK_TIME_NONE;
  self->reported_latency = 0;
  self->inference_region = DEFAULT_INFERENCE_REGION;
  self->object_class = g_strdup (DEFAULT_OBJECT_CLASS);
  self->object_types = g_array_new (FALSE, FALSE, sizeof (GQuark));
  self->min_roi_size = DEFAULT_MIN_ROI_SIZE;
  self->max_rois = DEFAULT_MAX_ROIS;
  self->reclassify_interval = DEFAULT_RECLASSIFY_INTERVAL;
  self->smoothing = DEFAULT_SMOOTHING;
  self->change_hold = DEFAULT_CHANGE_HOLD;
  self->classes = g_strdup (DEFAULT_CLASSES);

  /* In place, never a copy of the pixels; the buffer is only made writable
   * (a shallow copy if shared) to take the meta. */
  gst_base_transform_set_in_place (trans, TRUE);
  gst_base_transform_set_passthrough (trans, FALSE);
}

static void
install_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "ShuffleNet v1 ONNX model file. Unset: " SN_DEFAULT_MODEL_FILE
          " from $SHUFFLENET_MODEL_DIR, else the source tree's models/, else "
          "<datadir>/gst-shufflenet (made by models/fetch.sh). Changing it "
          "while playing loads the new model in the background", DEFAULT_MODEL,
          rw));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels",
          "Class names file, one per line, as many as the model has classes "
          "(unset: the model's own labels, else the class ids)",
          DEFAULT_LABELS, rw));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "Threads for inference and preprocessing (0 = all cores)", 0, MAX_THREADS,
          DEFAULT_THREADS, rw));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Arithmetic of the grouped 1x1 convolutions: fp32, or bf16 "
          "(AVX512_BF16 CPUs only: faster, logits within about 0.4)",
          GST_TYPE_SHUFFLENET_PRECISION, DEFAULT_PRECISION, rw));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_int ("top-k", "Top k", "Number of best classes reported",
          1, G_MAXINT, DEFAULT_TOP_K, rw));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_float ("threshold", "Threshold",
          "Lowest probability reported (classes below it are left out)",
          0.0f, 1.0f, DEFAULT_THRESHOLD, rw));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Classify every Nth frame; frames in between carry the last result "
          "marked stale", 1, G_MAXINT, DEFAULT_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a \"shufflenet\" element message for every frame with a "
          "result", DEFAULT_POST_MESSAGES, rw));
  g_object_class_install_property (gobject_class, PROP_RESIZE_MODE,
      g_param_spec_enum ("resize-mode", "Resize mode",
          "How frames are fitted to the model input",
          GST_TYPE_SHUFFLENET_RESIZE_MODE, DEFAULT_RESIZE_MODE, rw));
  g_object_class_install_property (gobject_class, PROP_CHANNEL_ORDER,
      g_param_spec_enum ("channel-order", "Channel order",
          "Colour order of the model input",
          GST_TYPE_SHUFFLENET_CHANNEL_ORDER, DEFAULT_CHANNEL_ORDER, rw));
  g_object_class_install_property (gobject_class, PROP_MEAN,
      g_param_spec_string ("mean", "Mean",
          "Per-channel mean \"m0,m1,m2\" subtracted after scaling, in model "
          "channel order (e.g. \"0.485,0.456,0.406\"; empty: the model's)",
          DEFAULT_MEAN, rw));
  g_object_class_install_property (gobject_class, PROP_STD,
      g_param_spec_string ("std", "Std",
          "Per-channel divisor \"s0,s1,s2\" applied after the mean, in model "
          "channel order (e.g. \"0.229,0.224,0.225\"; empty: the model's)",
          DEFAULT_STD, rw));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_REGION,
      g_param_spec_enum ("inference-region", "Inference region",
          "What is classified: the whole frame, or each region of interest "
          "(GstVideoRegionOfInterestMeta, e.g. from facedetect) with its "
          "result added to the region (a \"shufflenet\" parameter) and to "
          "the meta's \"rois\"; frames without regions get no inference",
          GST_TYPE_SHUFFLENET_INFERENCE_REGION, DEFAULT_INFERENCE_REGION, rw));
  g_object_class_install_property (gobject_class, PROP_OBJECT_CLASS,
      g_param_spec_string ("object-class", "Object class",
          "roi-list: comma-separated roi_type names of the regions to "
          "classify (e.g. \"face,person\"); empty: every region",
          DEFAULT_OBJECT_CLASS, rw));
  g_object_class_install_property (gobject_class, PROP_MIN_ROI_SIZE,
      g_param_spec_uint ("min-roi-size", "Minimum region size",
          "roi-list: regions narrower or shorter than this many pixels "
          "(after clipping to the frame) are not classified", 0, G_MAXINT,
          DEFAULT_MIN_ROI_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_ROIS,
      g_param_spec_uint ("max-rois", "Maximum regions",
          "roi-list: at most this many regions a frame are classified, the "
          "largest", 1, G_MAXINT, DEFAULT_MAX_ROIS, rw));
  g_object_class_install_property (gobject_class, PROP_RECLASSIFY_INTERVAL,
      g_param_spec_uint ("reclassify-interval", "Reclassify interval",
          "roi-list: a region whose id (a tracker's, not 0) comes again "
          "reuses its result, marked stale, until it is this many frames "
          "old (1: classify every time)", 1, G_MAXINT,
          DEFAULT_RECLASSIFY_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_SMOOTHING,
      g_param_spec_uint ("smoothing", "Smoothing",
          "Report an exponential moving average of the probabilities over "
          "about this many classified frames (alpha = 2 / (N + 1)), per "
          "stream and per tracked region id; restarts on seeks, "
          "discontinuities, new caps, segments and models. 0: off",
          0, 100000, DEFAULT_SMOOTHING, rw));
  g_object_class_install_property (gobject_class, PROP_CHANGE_HOLD,
      g_param_spec_uint ("change-hold", "Change hold",
          "Post a \"shufflenet-change\" message when a new top-1 class "
          "(smoothed when smoothing is on) has led this many classified "
          "frames in a row with a probability of at least threshold. "
          "0: no change messages", 0, G_MAXINT, DEFAULT_CHANGE_HOLD, rw));
  g_object_class_install_property (gobject_class, PROP_CLASSES,
      g_param_spec_string ("classes", "Classes",
          "Report only these classes: comma-separated labels or class ids, "
          "or @FILE with one per line; top-k, threshold, smoothing and "
          "change messages consider them alone. Empty: every class",
          DEFAULT_CLASSES, rw));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_boxed ("latency", "Latency",
          "Classification time in ms: last, mean, min, max, count of "
          "classified frames, and the latency reported to the pipeline",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_shufflenet_class_init (GstShuffleNetClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_shufflenet_debug, "shufflenet", 0,
      "ShuffleNet v1 video classifier");

  gobject_class->set_property = gst_shufflenet_set_property;
  gobject_class->get_property = gst_shufflenet_get_property;
  gobject_class->finalize = gst_shufflenet_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "ShuffleNet classifier", "Filter/Analyzer/Video",
      "Classifies raw video frames with a ShuffleNet v1 model; attaches the "
      "top-k classes as a GstShuffleNetMeta and posts \"shufflenet\" element "
      "messages. Example: " EXAMPLE_LAUNCH_LINE, "gst-shufflenet developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_shufflenet_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_shufflenet_stop);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_shufflenet_transform_ip);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_shufflenet_src_event);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_shufflenet_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_shufflenet_query);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_shufflenet_set_info);

  gst_type_mark_as_plugin_api (GST_TYPE_SHUFFLENET_RESIZE_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_SHUFFLENET_INFERENCE_REGION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_SHUFFLENET_PRECISION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_SHUFFLENET_CHANNEL_ORDER, 0);
  gst_shufflenet_meta_register ();
}
