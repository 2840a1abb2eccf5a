/* sn-classify.c - gst-shufflenet embedded in a C program: builds a
 * pipeline, reads each frame's classification from the buffer meta in a
 * pad probe and from the "shufflenet" bus messages, and prints both.
 *
 *   filesrc ! decodebin ! videoconvert ! shufflenet ! videoconvert ! fakesink
 *                                                   (probe on its sink pad)
 *
 * With --regions a detector finds faces first (GStreamer's facedetect, from
 * gstreamer1.0-opencv) and shufflenet classifies each one
 * (inference-region=roi-list); each region's result is printed from the
 * meta's "rois", from the bus message and from the "shufflenet" parameter
 * of the region's GstVideoRegionOfInterestMeta.
 *
 * A file nothing installed decodes fails at once, naming the codec and the
 * Debian package to install (the missing-plugin message decodebin posts;
 * without this watch a pipeline waits forever).
 *
 * Build against the installed plugin (`meson install`):
 *   cc sn-classify.c -o sn-classify $(pkg-config --cflags --libs \
 *     gstreamer-1.0 gstreamer-pbutils-1.0 gstreamer-video-1.0)
 * (the header is <prefix>/include/gstreamer-1.0/gst/shufflenet/; with
 * another prefix than GStreamer's add -I<prefix>/include/gstreamer-1.0).
 *
 * Usage: sn-classify [--top-k N] [--model FILE] [--regions] [VIDEO-OR-IMAGE]
 * Without a file it classifies 30 frames of videotestsrc. Exit status 0
 * when every frame had a result in both places, 1 otherwise.
 */
#include <string.h>

#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>
#include <gst/shufflenet/gstshufflenetmeta.h>

typedef struct
{
  gint probe_frames;            /* buffers with a meta (streaming thread) */
  gint buffers;                 /* all buffers at the sink */
} Counts;

/* The Debian 12 package with the decoder of the common video formats
 * (pipelines/sn-launch.py has a longer table). */
static const struct
{
  const gchar *caps_name, *package;
} decoder_packages[] = {
  {"video/x-h264", "gstreamer1.0-libav"},
  {"video/x-h265", "gstreamer1.0-libav"},
  {"video/mpeg", "gstreamer1.0-libav"},
  {"video/x-divx", "gstreamer1.0-libav"},
  {"video/x-xvid", "gstreamer1.0-libav"},
  {"video/x-msmpeg", "gstreamer1.0-libav"},
  {"video/x-wmv", "gstreamer1.0-libav"},
  {"video/x-vp9", "gstreamer1.0-plugins-good"},
  {"video/x-av1", "gstreamer1.0-plugins-bad"},
};

/* A missing-plugin message: prints what is missing and where to get it.
 * TRUE when it is fatal (anything but an audio decoder: only video is
 * classified). */
static gboolean
report_missing_plugin (GstMessage * msg)
{
  gchar *desc = gst_missing_plugin_message_get_description (msg);
  gchar *detail = gst_missing_plugin_message_get_installer_detail (msg);
  /* gstreamer|1.0|APP|DESCRIPTION|decoder-CAPS */
  const gchar *what = detail ? strrchr (detail, '|') : NULL;
  const gchar *package = NULL;
  gboolean audio = FALSE;

  if (what != NULL && g_str_has_prefix (what, "|decoder-")) {
    GstCaps *caps = gst_caps_from_string (what + strlen ("|decoder-"));
    if (caps != NULL && gst_caps_get_size (caps) > 0) {
      const gchar *name =
          gst_structure_get_name (gst_caps_get_structure (caps, 0));
      audio = g_str_has_prefix (name, "audio/");
      for (guint i = 0; i < G_N_ELEMENTS (decoder_packages); i++)
        if (strcmp (name, decoder_packages[i].caps_name) == 0)
          package = decoder_packages[i].package;
    }
    gst_caps_replace (&caps, NULL);
  }
  if (audio)
    g_printerr ("sn-classify: no decoder for the audio (%s): ignored\n", desc);
  else if (package != NULL)
    g_printerr ("sn-classify: cannot decode the input: no GStreamer plugin "
        "for %s is installed. Install the Debian package %s (sudo apt-get "
        "install %s)\n", desc, package, package);
  else
    g_printerr ("sn-classify: cannot decode the input: no GStreamer plugin "
        "for %s is installed (gstreamer1.0-libav, gstreamer1.0-plugins-bad "
        "and gstreamer1.0-plugins-ugly hold most decoders)\n", desc);
  g_free (desc);
  g_free (detail);
  return !audio;
}

/* "285 Egyptian cat 0.635, 282 tiger cat 0.179" for the result @s. */
static gchar *
format_classes (const GstStructure * s)
{
  GString *text = g_string_new (NULL);
  const gchar *label;
  gdouble score;
  gint id;

  for (guint i = 0; gst_shufflenet_result_get_class (s, i, &id, &label,
          &score); i++)
    g_string_append_printf (text, "%s%d %s %.3f", i > 0 ? ", " : "", id,
        label, score);
  return g_string_free (text, FALSE);
}

/* Region @roi's line ("region ID TYPE X,Y WxH: classes") and, with the
 * buffer, the "shufflenet" parameter of its ROI meta. */
static void
append_region (GString * out, const gchar * where, guint64 frame,
    const GstStructure * roi, GstBuffer * buf)
{
  gint id;
  const gchar *type, *label;
  guint x, y, w, h;
  gchar *classes = format_classes (roi);
  GstVideoRegionOfInterestMeta *meta;
  GstStructure *param;
  gint label_id;
  gdouble confidence;

  if (!gst_shufflenet_roi_get_box (roi, &id, &type, &x, &y, &w, &h))
    return;
  g_string_append_printf (out, "%-7s frame %3" G_GUINT64_FORMAT " region %d "
      "%s %u,%u %ux%u: %s\n", where, frame, id, type, x, y, w, h, classes);
  g_free (classes);
  meta = buf ? gst_buffer_get_video_region_of_interest_meta_id (buf, id) : NULL;
  param = meta ? gst_video_region_of_interest_meta_get_param (meta,
      GST_SHUFFLENET_ROI_PARAM_NAME) : NULL;
  if (param != NULL && gst_structure_get (param, "label_id", G_TYPE_INT,
          &label_id, "confidence", G_TYPE_DOUBLE, &confidence, NULL)
      && (label = gst_structure_get_string (param, "label")) != NULL)
    g_string_append_printf (out, "param   frame %3" G_GUINT64_FORMAT
        " region %d: %d %s %.3f\n", frame, id, label_id, label, confidence);
}

/* The frame's result, then its regions' (inference-region=roi-list), in
 * one write: the probe and the bus loop print from two threads. */
static void
print_result (const gchar * where, const GstStructure * s, GstBuffer * buf)
{
  guint64 frame = 0, pts = GST_CLOCK_TIME_NONE;
  gdouble ms = 0.0;
  gchar *classes = format_classes (s);
  GString *out = g_string_new (NULL);

  gst_structure_get_uint64 (s, "frame", &frame);
  gst_structure_get_uint64 (s, "timestamp", &pts);
  gst_structure_get_double (s, "inference-time", &ms);
  g_string_append_printf (out, "%-7s frame %3" G_GUINT64_FORMAT " pts %"
      GST_TIME_FORMAT " %5.1f ms%s: %s\n", where, frame, GST_TIME_ARGS (pts),
      ms, gst_shufflenet_result_is_stale (s, NULL) ? " (stale)" : "",
      classes);
  g_free (classes);
  for (guint i = 0; i < gst_shufflenet_result_get_n_rois (s); i++)
    append_region (out, where, frame, gst_shufflenet_result_get_roi (s, i),
        buf);
  g_print ("%s", out->str);
  g_string_free (out, TRUE);
}

/* Streaming thread: every buffer that reaches the sink. The meta went
 * through videoconvert with the frame. */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Counts *counts = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  const GstStructure *s = gst_shufflenet_meta_get_structure (buf);

  g_atomic_int_inc (&counts->buffers);
  if (s != NULL) {
    g_atomic_int_inc (&counts->probe_frames);
    print_result ("meta", s, buf);
  }
  return GST_PAD_PROBE_OK;
}

/* Runs @pipeline to EOS; prints the bus results. Returns their number, or
 * -1 on an error. */
static gint
run (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint messages = 0;
  gboolean done = FALSE;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    messages = -1;              /* the error message says why */
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    const GstStructure *s = gst_message_get_structure (msg);
    GError *err = NULL;
    gchar *debug = NULL;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (s, GST_SHUFFLENET_MESSAGE_NAME)) {
      print_result ("message", s, NULL);
      if (messages >= 0)
        messages++;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_is_missing_plugin_message (msg)) {
      if (report_missing_plugin (msg)) {
        messages = -1;
        done = TRUE;
      }
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("sn-classify: %s\n(%s)\n", err->message, debug);
      g_clear_error (&err);
      g_free (debug);
      messages = -1;
      done = TRUE;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      done = TRUE;
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return messages;
}

static GstElement *
build_pipeline (const gchar * file, gint top_k, const gchar * model,
    gboolean regions, Counts * counts)
{
  GError *err = NULL;
  GstElement *pipeline, *net, *sink;
  GstPad *pad;
  /* facedetect takes RGB; it attaches one region (roi_type "face") a face */
  gchar *desc = g_strdup_printf ("%s ! videoconvert ! %sshufflenet name=net "
      "%s ! videoconvert ! fakesink name=sink", file != NULL ?
      "filesrc name=src ! decodebin" : "videotestsrc num-buffers=30",
      regions ? "video/x-raw,format=RGB ! facedetect display=false "
      "updates=every_frame ! " : "",
      regions ? "inference-region=roi-list" : "");

  pipeline = gst_parse_launch (desc, &err);
  g_free (desc);
  if (pipeline == NULL) {
    g_printerr ("sn-classify: %s\n", err->message);
    g_error_free (err);
    return NULL;
  }
  if (file != NULL) {
    GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
    g_object_set (src, "location", file, NULL);
    gst_object_unref (src);
  }
  net = gst_bin_get_by_name (GST_BIN (pipeline), "net");
  g_object_set (net, "top-k", top_k, NULL);
  if (model != NULL)
    g_object_set (net, "model", model, NULL);
  gst_object_unref (net);

  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, counts, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  return pipeline;
}

int
main (int argc, char **argv)
{
  gint top_k = 3, messages;
  gchar *model = NULL;
  gboolean regions = FALSE;
  GOptionEntry entries[] = {
    {"top-k", 'k', 0, G_OPTION_ARG_INT, &top_k, "Classes per frame", "N"},
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "ONNX model", "FILE"},
    {"regions", 'r', 0, G_OPTION_ARG_NONE, &regions, "Classify the faces "
          "facedetect finds (gstreamer1.0-opencv)", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("[VIDEO-OR-IMAGE]");
  GError *err = NULL;
  GstElementFactory *factory;
  GstElement *pipeline;
  Counts counts = { 0, 0 };

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc > 2
      || top_k < 1) {
    g_printerr ("sn-classify: %s\n", err != NULL ? err->message :
        "usage: sn-classify [--top-k N>=1] [--model FILE] [--regions] [FILE]");
    return 2;
  }
  g_option_context_free (ctx);
  gst_pb_utils_init ();
  factory = gst_element_factory_find ("shufflenet");
  if (factory == NULL) {
    g_printerr ("sn-classify: no shufflenet element: set GST_PLUGIN_PATH to "
        "the build's gst/ folder, or meson install\n");
    return 1;
  }
  gst_object_unref (factory);
  if (regions && (factory = gst_element_factory_find ("facedetect")) == NULL) {
    g_printerr ("sn-classify: --regions needs the facedetect element "
        "(apt-get install gstreamer1.0-opencv opencv-data)\n");
    return 1;
  }
  if (regions)
    gst_object_unref (factory);

  pipeline = build_pipeline (argc == 2 ? argv[1] : NULL, top_k, model,
      regions, &counts);
  if (pipeline == NULL)
    return 1;
  messages = run (pipeline);
  gst_object_unref (pipeline);
  g_free (model);

  g_print ("frames: %d, with a meta: %d, bus messages: %d\n",
      g_atomic_int_get (&counts.buffers),
      g_atomic_int_get (&counts.probe_frames), messages);
  return messages > 0 && messages == counts.probe_frames
      && counts.probe_frames == counts.buffers ? 0 : 1;
}
