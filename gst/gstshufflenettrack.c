/* gstshufflenettrack.c - the `shufflenettrack` element.
 *
 * SECTION:element-shufflenettrack
 * @title: shufflenettrack
 *
 * Gives each GstVideoRegionOfInterestMeta of a frame an `id` that stays
 * the same while the object stays in view, so that `shufflenet
 * inference-region=roi-list` can reuse a region's result
 * (#GstShuffleNet:reclassify-interval) and smooth it over time
 * (#GstShuffleNet:smoothing) behind detectors that number their regions
 * afresh on every frame (GStreamer's `facedetect` leaves every id 0).
 *
 * A region continues the track whose last box it overlaps most, by
 * intersection over union (at least #GstShuffleNetTrack:iou-threshold,
 * same roi_type), each track at most once a frame; any other region starts
 * a track with a new id (1, 2, ...; never 0, never given twice). A track
 * not continued for more than #GstShuffleNetTrack:max-age frames ends, so
 * an object that left for longer comes back with a new id. Tracks are
 * forgotten at a flush (seek), a new stream and new caps. At most 4096
 * tracks are kept (the longest unseen go first). The video passes
 * untouched; only the regions' ids change.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! facedetect display=false ! shufflenettrack ! shufflenet inference-region=roi-list reclassify-interval=5 smoothing=5 ! shufflenetjson location=faces.jsonl ! fakesink
 * ]| classifies each face once in 5 frames and reports its result averaged
 * over about 5 classifications, by face.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstshufflenettrack.h"

#include <gst/video/video.h>

#include "sntracker.h"

GST_DEBUG_CATEGORY_STATIC (gst_shufflenet_track_debug);
#define GST_CAT_DEFAULT gst_shufflenet_track_debug

enum
{
  PROP_0,
  PROP_IOU_THRESHOLD,
  PROP_MAX_AGE
};

#define DEFAULT_IOU_THRESHOLD 0.3
#define DEFAULT_MAX_AGE 15

struct _GstShuffleNetTrack
{
  GstBaseTransform parent;

  /* Properties: protected by object lock */
  gdouble iou_threshold;
  guint max_age;

  /* Streaming thread */
  SnTracker *tracker;
  GArray *boxes;                /* SnTrackBox of the frame's regions */
  GArray *ids;                  /* gint: their ids */
  GPtrArray *metas;             /* GstVideoRegionOfInterestMeta *: theirs */
  gint width, height;           /* of the caps, to tell a size change */
};

#define gst_shufflenet_track_parent_class parent_class
G_DEFINE_TYPE (GstShuffleNetTrack, gst_shufflenet_track,
    GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (shufflenettrack, "shufflenettrack",
    GST_RANK_NONE, GST_TYPE_SHUFFLENET_TRACK);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw(ANY)"));

static gboolean
gst_shufflenet_track_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstShuffleNetTrack *self = GST_SHUFFLENET_TRACK (trans);
  GstStructure *s = gst_caps_get_structure (incaps, 0);
  gint w = 0, h = 0;

  gst_structure_get_int (s, "width", &w);
  gst_structure_get_int (s, "height", &h);
  if (w != self->width || h != self->height) {
    /* boxes of another frame size do not continue */
    GST_DEBUG_OBJECT (self, "frames of %dx%d: tracks start afresh", w, h);
    sn_tracker_reset (self->tracker);
    self->width = w;
    self->height = h;
  }
  return TRUE;
}

static gboolean
gst_shufflenet_track_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstShuffleNetTrack *self = GST_SHUFFLENET_TRACK (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_STREAM_START:
      GST_DEBUG_OBJECT (self, "%s: tracks start afresh",
          GST_EVENT_TYPE_NAME (event));
      sn_tracker_reset (self->tracker);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* The frame's regions, in the buffer's order, into self->boxes/metas. */
static void
collect_regions (GstShuffleNetTrack * self, GstBuffer * buf)
{
  gpointer state = NULL;
  GstMeta *m;

  g_array_set_size (self->boxes, 0);
  g_ptr_array_set_size (self->metas, 0);
  while ((m = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) != NULL) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;
    SnTrackBox box = { roi->roi_type, {(gint) roi->x, (gint) roi->y,
            (gint) roi->w, (gint) roi->h}
    };

    if (self->metas->len >= SN_TRACKER_MAX_TRACKS)
      break;                    /* the rest keep their ids */
    g_array_append_val (self->boxes, box);
    g_ptr_array_add (self->metas, roi);
  }
}

static GstFlowReturn
gst_shufflenet_track_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstShuffleNetTrack *self = GST_SHUFFLENET_TRACK (trans);
  gdouble threshold;
  guint max_age, n;

  GST_OBJECT_LOCK (self);
  threshold = self->iou_threshold;
  max_age = self->max_age;
  GST_OBJECT_UNLOCK (self);

  collect_regions (self, buf);
  n = self->boxes->len;
  g_array_set_size (self->ids, n);
  sn_tracker_update (self->tracker, (const SnTrackBox *) self->boxes->data,
      n, threshold, max_age, (gint *) self->ids->data);
  for (guint i = 0; i < n; i++) {
    GstVideoRegionOfInterestMeta *roi = g_ptr_array_index (self->metas, i);
    roi->id = g_array_index (self->ids, gint, i);
  }
  GST_LOG_OBJECT (self, "%u regions, %u tracks", n,
      sn_tracker_n_tracks (self->tracker));
  return GST_FLOW_OK;
}

static void
gst_shufflenet_track_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstShuffleNetTrack *self = GST_SHUFFLENET_TRACK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_IOU_THRESHOLD:
      self->iou_threshold = g_value_get_double (value);
      break;
    case PROP_MAX_AGE:
      self->max_age = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_track_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstShuffleNetTrack *self = GST_SHUFFLENET_TRACK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_IOU_THRESHOLD:
      g_value_set_double (value, self->iou_threshold);
      break;
    case PROP_MAX_AGE:
      g_value_set_uint (value, self->max_age);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_track_finalize (GObject * object)
{
  GstShuffleNetTrack *self = GST_SHUFFLENET_TRACK (object);

  sn_tracker_free (self->tracker);
  g_array_free (self->boxes, TRUE);
  g_array_free (self->ids, TRUE);
  g_ptr_array_free (self->metas, TRUE);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_shufflenet_track_init (GstShuffleNetTrack * self)
{
  self->iou_threshold = DEFAULT_IOU_THRESHOLD;
  self->max_age = DEFAULT_MAX_AGE;
  self->tracker = sn_tracker_new ();
  self->boxes = g_array_new (FALSE, FALSE, sizeof (SnTrackBox));
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint));
  self->metas = g_ptr_array_new ();
  /* in place: the buffer is made writable (its regions' ids change), the
   * video data is never touched */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_shufflenet_track_class_init (GstShuffleNetTrackClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_shufflenet_track_debug, "shufflenettrack", 0,
      "Ids for regions of interest across frames");

  gobject_class->set_property = gst_shufflenet_track_set_property;
  gobject_class->get_property = gst_shufflenet_track_get_property;
  gobject_class->finalize = gst_shufflenet_track_finalize;
  g_object_class_install_property (gobject_class, PROP_IOU_THRESHOLD,
      g_param_spec_double ("iou-threshold", "IoU threshold",
          "A region continues a track when its box overlaps the track's "
          "last box by at least this intersection over union (and has its "
          "roi_type)", 0.01, 1.0, DEFAULT_IOU_THRESHOLD, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_AGE,
      g_param_spec_uint ("max-age", "Max age",
          "A track not continued for more than this many frames ends (its "
          "object comes back with a new id)", 0, G_MAXUINT, DEFAULT_MAX_AGE,
          rw));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "ShuffleNet region tracker", "Filter/Analyzer/Video",
      "Gives a detector's regions of interest ids that persist across "
      "frames (by overlap), for shufflenet's reclassify-interval and "
      "smoothing", "gst-shufflenet developers");

  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_shufflenet_track_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_shufflenet_track_sink_event);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_shufflenet_track_transform_ip);
}
