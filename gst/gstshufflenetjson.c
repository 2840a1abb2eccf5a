/* gstshufflenetjson.c - the `shufflenetjson` element.
 *
 * SECTION:element-shufflenetjson
 * @title: shufflenetjson
 *
 * A pass-through element that writes the classification `shufflenet`
 * attached to each buffer (the GstShuffleNetMeta) as one line of JSON
 * (JSON Lines) to #GstShuffleNetJson:location, or to standard output when
 * no location is set. It accepts any caps and never touches the buffers, so
 * it can sit anywhere after `shufflenet` (also after converters, encoders or
 * a tee). Buffers without the meta write nothing.
 *
 * One line per frame, compact, keys in this order (times in nanoseconds,
 * null when unknown; score is the probability):
 * |[
 * {"frame":0,"pts":0,"stream_time":0,"running_time":0,"duration":33333333,
 *  "stale":false,"age":0,"smoothed":false,"model":"shufflenet_v1_g3_0.5x",
 *  "inference_ms":5.2,"classes":[{"id":285,"label":"Egyptian cat",
 *  "score":0.635}, ...]}
 * ]|
 * (shown wrapped here; each result is one line in the file; "smoothed":
 * the classes are `shufflenet smoothing`'s moving average). A frame on
 * which `shufflenet` fired a class change (change-hold) also has "events",
 * and #GstShuffleNetJson:events-only writes those alone, a line each:
 * |[
 * {"event":"change","pts":1200000000,"stream_time":1200000000,
 *  "running_time":1200000000,"from_id":285,"to_id":967,"from_label":
 *  "Egyptian cat","to_label":"espresso","element":"shufflenet0",
 *  "score":0.66,"held":1000000000}
 * ]|
 * With
 * `shufflenet inference-region=roi-list` the frame's "classes" is empty
 * and each classified region is an object (box in the pixels of a
 * frame_width x frame_height frame):
 * |[
 *  ...,"classes":[],"frame_width":512,"frame_height":512,"objects":[{"id":0,
 *  "roi_type":"face","x":175,"y":64,"w":97,"h":97,"stale":false,"age":0,
 *  "smoothed":false,"classes":[{"id":929,"label":"ice lolly","score":0.041}, ...]}]}
 * ]|
 *
 * By default each line is flushed as it is written (a reader following the
 * file sees it at once); #GstShuffleNetJson:flush-mode can defer that to
 * EOS, or fsync every line. At EOS and when stopping, the file is always
 * flushed and fsynced.
 *
 * With a location of the form mqtt[s]://[user[:password]@]host[:port]/topic
 * (as `mosquitto_pub -L` takes) each line is published as one MQTT message
 * instead (snmqtt.c: libmosquitto on a thread of its own). The streaming
 * thread only queues the line: while the broker is away up to
 * #GstShuffleNetJson:mqtt-queue-size lines wait, the oldest are dropped and
 * counted (#GstShuffleNetJson:mqtt-dropped), and the publisher reconnects
 * with backoff; EOS waits up to 5 s for the queue to go out. Starting waits
 * up to 2 s for the broker's first answer, so that refused credentials or
 * TLS fail the state change. The password is read back masked and never
 * printed; give it in #GstShuffleNetJson:mqtt-password-file or
 * $SHUFFLENET_MQTT_PASSWORD rather than in the URL.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=30 ! shufflenet top-k=3 ! shufflenetjson location=results.jsonl ! fakesink
 * ]| classifies 30 test frames and writes results.jsonl, one line per frame.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstshufflenetjson.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "gstshufflenetmeta.h"
#include "snmqtt.h"

GST_DEBUG_CATEGORY_STATIC (gst_shufflenet_json_debug);
#define GST_CAT_DEFAULT gst_shufflenet_json_debug

#define EXAMPLE_LAUNCH_LINE \
  "gst-launch-1.0 videotestsrc num-buffers=30 ! shufflenet top-k=3 ! " \
  "shufflenetjson location=results.jsonl ! fakesink"

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_APPEND,
  PROP_FLUSH_MODE,
  PROP_WRITE_STALE,
  PROP_EVENTS_ONLY,
  PROP_MQTT_QOS,
  PROP_MQTT_CA_FILE,
  PROP_MQTT_PASSWORD_FILE,
  PROP_MQTT_QUEUE_SIZE,
  PROP_MQTT_DROPPED
};

#define DEFAULT_LOCATION NULL
#define DEFAULT_APPEND FALSE
#define DEFAULT_FLUSH_MODE GST_SHUFFLENET_JSON_FLUSH_LINE
#define DEFAULT_WRITE_STALE TRUE
#define DEFAULT_EVENTS_ONLY FALSE
#define DEFAULT_MQTT_QOS 1
#define DEFAULT_MQTT_QUEUE_SIZE 1000
/* The password of an mqtt:// location without one. */
#define MQTT_PASSWORD_ENV "SHUFFLENET_MQTT_PASSWORD"
/* How long start() waits for the broker's first answer (so that refused
 * credentials fail the state change), EOS for the queue to reach the
 * broker, and stop() after that. */
#define MQTT_START_WAIT_MS 2000
#define MQTT_EOS_FLUSH_MS 5000
#define MQTT_STOP_FLUSH_MS 1000

struct _GstShuffleNetJson
{
  GstBaseTransform parent;

  /* Properties: protected by object lock */
  gchar *location;              /* NULL or "": standard output; read back
                                 * with the password masked */
  gboolean append;
  GstShuffleNetJsonFlushMode flush_mode;
  gboolean write_stale;
  gboolean events_only;
  gint mqtt_qos;
  gchar *mqtt_ca_file;
  gchar *mqtt_password_file;
  guint mqtt_queue_size;
  guint64 mqtt_dropped;         /* the last run's, once stopped */
  gboolean started;             /* between start () and stop () */
  SnMqtt *mqtt;                 /* the publisher when location is mqtt(s):// */

  /* Streaming thread (and start ()/stop () around it) */
  FILE *file;                   /* stdout or our own file */
  gchar *path;                  /* the open file, NULL for stdout */
  guint64 lines;                /* lines written since start () */
  gboolean failed;              /* a write failed (error posted) */
};

#define gst_shufflenet_json_parent_class parent_class
G_DEFINE_TYPE (GstShuffleNetJson, gst_shufflenet_json, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (shufflenetjson, "shufflenetjson",
    GST_RANK_NONE, GST_TYPE_SHUFFLENET_JSON);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType
gst_shufflenet_json_flush_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_SHUFFLENET_JSON_FLUSH_LINE, "Flush every line", "line"},
    {GST_SHUFFLENET_JSON_FLUSH_EOS, "Buffer lines, flush at EOS", "eos"},
    {GST_SHUFFLENET_JSON_FLUSH_FSYNC,
        "Flush and fsync every line (survives a crash)", "fsync"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstShuffleNetJsonFlushMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ------------------------------------------------------------------------ */
/* The JSON line */

/* A clock time field as a number of nanoseconds, or null. */
static void
add_time (JsonBuilder * b, const gchar * key, const GstStructure * result,
    const gchar * field)
{
  guint64 t = GST_CLOCK_TIME_NONE;

  json_builder_set_member_name (b, key);
  if (gst_structure_get_uint64 (result, field, &t)
      && GST_CLOCK_TIME_IS_VALID (t) && t <= G_MAXINT64)
    json_builder_add_int_value (b, (gint64) t);
  else
    json_builder_add_null_value (b);
}

static void
add_classes (JsonBuilder * b, const GstStructure * result)
{
  const gchar *label;
  gdouble score;
  gint id;

  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; gst_shufflenet_result_get_class (result, i, &id, &label,
          &score); i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, id);
    json_builder_set_member_name (b, "label");
    json_builder_add_string_value (b, label);
    json_builder_set_member_name (b, "score");
    json_builder_add_double_value (b, score);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
add_bool (JsonBuilder * b, const gchar * key, const GstStructure * s,
    const gchar * field)
{
  gboolean v = FALSE;

  gst_structure_get_boolean (s, field, &v);
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, v);
}

static void
add_uint (JsonBuilder * b, const gchar * key, const GstStructure * s,
    const gchar * field)
{
  guint v = 0;

  gst_structure_get_uint (s, field, &v);
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, v);
}

/* "stale", "age" and "smoothed" of a frame's or a region's result. */
static void
add_freshness (JsonBuilder * b, const GstStructure * result)
{
  guint64 age = 0;
  gboolean stale = gst_shufflenet_result_is_stale (result, &age);

  json_builder_set_member_name (b, "stale");
  json_builder_add_boolean_value (b, stale);
  json_builder_set_member_name (b, "age");
  json_builder_add_int_value (b, (gint64) age);
  add_bool (b, "smoothed", result, "smoothed");
}

/* inference-region=roi-list: the frame size and one object per region. */
static void
add_objects (JsonBuilder * b, const GstStructure * result)
{
  add_uint (b, "frame_width", result, "frame-width");
  add_uint (b, "frame_height", result, "frame-height");
  json_builder_set_member_name (b, "objects");
  json_builder_begin_array (b);
  for (guint i = 0; i < gst_shufflenet_result_get_n_rois (result); i++) {
    const GstStructure *roi = gst_shufflenet_result_get_roi (result, i);
    gint id = 0;

    if (roi == NULL)
      continue;
    gst_structure_get_int (roi, "id", &id);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, id);
    json_builder_set_member_name (b, "roi_type");
    json_builder_add_string_value (b, gst_structure_get_string (roi,
            "roi-type"));
    add_uint (b, "x", roi, "x");
    add_uint (b, "y", roi, "y");
    add_uint (b, "w", roi, "width");
    add_uint (b, "h", roi, "height");
    add_freshness (b, roi);
    add_classes (b, roi);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* The fields of a "shufflenet-change" event (see gstshufflenetmeta.h) as
 * members of the open object. */
static void
add_event_members (JsonBuilder * b, const GstStructure * ev)
{
  gint v;
  gdouble score = 0.0;
  static const struct
  {
    const gchar *key, *field;
  } ints[] = { {"from_id", "from-id"}, {"to_id", "to-id"}, {"roi_id",
  "roi-id"}}, strings[] = { {"from_label", "from-label"}, {"to_label",
  "to-label"}, {"element", "element"}, {"roi_type", "roi-type"}};

  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "change");
  add_time (b, "pts", ev, "timestamp");
  add_time (b, "stream_time", ev, "stream-time");
  add_time (b, "running_time", ev, "running-time");
  for (guint i = 0; i < G_N_ELEMENTS (ints); i++)
    if (gst_structure_get_int (ev, ints[i].field, &v)) {
      json_builder_set_member_name (b, ints[i].key);
      json_builder_add_int_value (b, v);
    }
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    if (gst_structure_get_string (ev, strings[i].field) != NULL) {
      json_builder_set_member_name (b, strings[i].key);
      json_builder_add_string_value (b, gst_structure_get_string (ev,
              strings[i].field));
    }
  gst_structure_get_double (ev, "score", &score);
  json_builder_set_member_name (b, "score");
  json_builder_add_double_value (b, score);
  add_time (b, "held", ev, "held");
}

/* "events": the frame's class changes, when it has any. */
static void
add_events (JsonBuilder * b, const GValue * events)
{
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint i = 0; i < gst_value_array_get_size (events); i++) {
    const GValue *v = gst_value_array_get_value (events, i);
    if (!GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    json_builder_begin_object (b);
    add_event_members (b, gst_value_get_structure (v));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* The root of @b as one line of compact JSON, no newline; frees @b. */
static gchar *
builder_to_line (JsonBuilder * b)
{
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  gchar *line;

  json_generator_set_root (gen, root);
  line = json_generator_to_data (gen, NULL);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return line;
}

/* events-only: one line per class change of @result (and of every
 * element's result when several classified the buffer), in order. */
static GPtrArray *
event_lines (const GstStructure * result)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  const GValue *all = gst_structure_get_value (result, "results");
  guint n = all != NULL && GST_VALUE_HOLDS_ARRAY (all) ?
      gst_value_array_get_size (all) : 1;

  for (guint r = 0; r < n; r++) {
    const GstStructure *one = all != NULL && GST_VALUE_HOLDS_ARRAY (all) ?
        gst_value_get_structure (gst_value_array_get_value (all, r)) : result;
    const GValue *events = gst_structure_get_value (one, "events");

    for (guint i = 0; events != NULL && GST_VALUE_HOLDS_ARRAY (events)
        && i < gst_value_array_get_size (events); i++) {
      const GValue *v = gst_value_array_get_value (events, i);
      JsonBuilder *b;

      if (!GST_VALUE_HOLDS_STRUCTURE (v))
        continue;
      b = json_builder_new ();
      json_builder_begin_object (b);
      add_event_members (b, gst_value_get_structure (v));
      json_builder_end_object (b);
      g_ptr_array_add (lines, builder_to_line (b));
    }
  }
  return lines;
}

/* @result (the meta's structure) as one line of compact JSON, no newline. */
static gchar *
result_to_json (const GstStructure * result)
{
  JsonBuilder *b = json_builder_new ();
  const GValue *events = gst_structure_get_value (result, "events");
  guint64 frame = 0;
  gdouble ms = 0.0;

  gst_structure_get_uint64 (result, "frame", &frame);
  gst_structure_get_double (result, "inference-time", &ms);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "frame");
  json_builder_add_int_value (b, (gint64) frame);
  add_time (b, "pts", result, "timestamp");
  add_time (b, "stream_time", result, "stream-time");
  add_time (b, "running_time", result, "running-time");
  add_time (b, "duration", result, "duration");
  add_freshness (b, result);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, gst_structure_get_string (result, "model"));
  json_builder_set_member_name (b, "inference_ms");
  json_builder_add_double_value (b, ms);
  add_classes (b, result);
  if (gst_structure_has_field (result, "rois"))
    add_objects (b, result);
  if (events != NULL && GST_VALUE_HOLDS_ARRAY (events))
    add_events (b, events);
  json_builder_end_object (b);
  return builder_to_line (b);
}

/* ------------------------------------------------------------------------ */
/* The file */

static const gchar *
target_name (GstShuffleNetJson * self)
{
  if (self->mqtt != NULL)
    return sn_mqtt_get_target (self->mqtt);
  return self->path != NULL ? self->path : "standard output";
}

/* Posts the error of a failed write (errno) once; later writes fail
 * silently. */
static void
write_failed (GstShuffleNetJson * self)
{
  if (!self->failed)
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write to file \"%s\".", target_name (self)),
        GST_ERROR_SYSTEM);
  self->failed = TRUE;
}

/* Flushes, and fsyncs when asked. Pipes, terminals and devices cannot be
 * fsynced (EINVAL, EROFS): not an error. */
static gboolean
sync_file (GstShuffleNetJson * self, gboolean with_fsync)
{
  if (self->failed)
    return FALSE;
  if (fflush (self->file) != 0 || (with_fsync && self->path != NULL
          && g_fsync (fileno (self->file)) != 0 && errno != EINVAL
          && errno != EROFS)) {
    write_failed (self);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* MQTT (snmqtt.c publishes from a thread of its own) */

/* From the publisher thread. */
static void
mqtt_notify (gpointer user_data, SnMqttEvent event, const gchar * message)
{
  GstShuffleNetJson *self = user_data;

  switch (event) {
    case SN_MQTT_EVENT_CONNECTED:
      GST_INFO_OBJECT (self, "%s", message);
      /* gst-launch-1.0 prints the debug text of INFO messages */
      GST_ELEMENT_INFO (self, RESOURCE, OPEN_WRITE, ("%s", message),
          ("%s", message));
      break;
    case SN_MQTT_EVENT_DISCONNECTED:
      GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE, ("%s", message),
          (NULL));
      break;
    case SN_MQTT_EVENT_FATAL:
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, ("%s", message), (NULL));
      break;
  }
}

static gboolean
start_mqtt (GstShuffleNetJson * self, const gchar * location)
{
  SnMqttSettings settings = { 0 };
  gchar *ca_file, *password_file;
  GError *err = NULL;
  SnMqtt *mqtt;

  GST_OBJECT_LOCK (self);
  settings.qos = self->mqtt_qos;
  settings.queue_size = self->mqtt_queue_size;
  settings.first_wait_ms = MQTT_START_WAIT_MS;
  ca_file = g_strdup (self->mqtt_ca_file);
  password_file = g_strdup (self->mqtt_password_file);
  GST_OBJECT_UNLOCK (self);

  settings.url = location;
  settings.password_file = password_file;
  settings.password_env = MQTT_PASSWORD_ENV;
  settings.ca_file = ca_file != NULL && ca_file[0] != '\0' ? ca_file : NULL;
  settings.notify = mqtt_notify;
  settings.user_data = self;
  mqtt = sn_mqtt_new (&settings, &err);
  g_free (ca_file);
  g_free (password_file);
  if (mqtt == NULL) {
    if (g_error_matches (err, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_OPEN_WRITE))
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, ("%s", err->message),
          (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", err->message),
          (NULL));
    g_clear_error (&err);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "publishing JSON lines to %s",
      sn_mqtt_get_target (mqtt));
  GST_OBJECT_LOCK (self);
  self->mqtt = mqtt;
  self->mqtt_dropped = 0;
  self->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* Stops the publisher; lines it could not deliver are counted and
 * reported. */
static void
stop_mqtt (GstShuffleNetJson * self)
{
  SnMqtt *mqtt;
  guint64 dropped, published;

  GST_OBJECT_LOCK (self);
  mqtt = self->mqtt;
  self->mqtt = NULL;
  GST_OBJECT_UNLOCK (self);
  if (mqtt == NULL)
    return;
  published = sn_mqtt_get_published (mqtt);
  dropped = sn_mqtt_free (mqtt, MQTT_STOP_FLUSH_MS);
  GST_INFO_OBJECT (self, "%" G_GUINT64_FORMAT " lines queued, %"
      G_GUINT64_FORMAT " published, %" G_GUINT64_FORMAT " dropped",
      self->lines, published, dropped);
  GST_OBJECT_LOCK (self);
  self->mqtt_dropped = dropped;
  GST_OBJECT_UNLOCK (self);
  if (dropped > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("%" G_GUINT64_FORMAT
            " of %" G_GUINT64_FORMAT " JSON lines never reached the MQTT "
            "broker", dropped, self->lines), (NULL));
}

static gboolean
gst_shufflenet_json_start (GstBaseTransform * trans)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (trans);
  gchar *location;
  gboolean append;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  append = self->append;
  GST_OBJECT_UNLOCK (self);

  self->lines = 0;
  self->failed = FALSE;
  if (sn_mqtt_is_url (location)) {
    gboolean ok = start_mqtt (self, location);
    g_free (location);
    return ok;
  }
  if (location == NULL || location[0] == '\0') {
    g_free (location);
    self->file = stdout;
  } else {
    self->file = g_fopen (location, append ? "ab" : "wb");
    if (self->file == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Could not open file \"%s\" for writing.", location),
          GST_ERROR_SYSTEM);
      g_free (location);
      return FALSE;
    }
    self->path = location;
  }
  GST_INFO_OBJECT (self, "writing JSON lines to %s", target_name (self));
  GST_OBJECT_LOCK (self);
  self->started = TRUE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* Always succeeds: a state change that fails here would leave the
 * pipeline stuck; a write that failed has posted its error. */
static gboolean
gst_shufflenet_json_stop (GstBaseTransform * trans)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (trans);

  stop_mqtt (self);
  if (self->file != NULL) {
    sync_file (self, TRUE);
    if (self->path != NULL && fclose (self->file) != 0 && !self->failed)
      write_failed (self);
    GST_INFO_OBJECT (self, "wrote %" G_GUINT64_FORMAT " lines to %s",
        self->lines, target_name (self));
  }
  self->file = NULL;
  g_clear_pointer (&self->path, g_free);
  GST_OBJECT_LOCK (self);
  self->started = FALSE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Streaming */

static GstFlowReturn write_line (GstShuffleNetJson * self, gchar * line,
    GstShuffleNetJsonFlushMode mode);

static GstFlowReturn
gst_shufflenet_json_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (trans);
  const GstStructure *result = gst_shufflenet_meta_get_structure (buf);
  GstShuffleNetJsonFlushMode mode;
  gboolean write_stale, events_only;
  GstFlowReturn ret = GST_FLOW_OK;
  GPtrArray *lines;

  if (result == NULL)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK (self);
  mode = self->flush_mode;
  write_stale = self->write_stale;
  events_only = self->events_only;
  GST_OBJECT_UNLOCK (self);
  if (!events_only && !write_stale
      && gst_shufflenet_result_is_stale (result, NULL))
    return GST_FLOW_OK;

  if (self->failed)
    return GST_FLOW_ERROR;
  if (events_only) {
    lines = event_lines (result);
  } else {
    lines = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (lines, result_to_json (result));
  }
  for (guint i = 0; i < lines->len && ret == GST_FLOW_OK; i++) {
    gchar *line = g_ptr_array_index (lines, i);
    lines->pdata[i] = NULL;     /* write_line takes it */
    ret = write_line (self, line, mode);
  }
  g_ptr_array_unref (lines);
  return ret;
}

/* Writes @line (taken) to the broker or the file. */
static GstFlowReturn
write_line (GstShuffleNetJson * self, gchar * line,
    GstShuffleNetJsonFlushMode mode)
{
  int rc;

  if (self->mqtt != NULL) {
    /* Queued for the publisher thread; never waits on the network. */
    if (!sn_mqtt_publish (self->mqtt, line))
      return GST_FLOW_ERROR;    /* its error is posted */
    self->lines++;
    return GST_FLOW_OK;
  }
  rc = fputs (line, self->file);
  if (rc >= 0)
    rc = fputc ('\n', self->file);
  g_free (line);
  if (rc < 0) {
    write_failed (self);
    return GST_FLOW_ERROR;
  }
  self->lines++;
  if (mode != GST_SHUFFLENET_JSON_FLUSH_EOS
      && !sync_file (self, mode == GST_SHUFFLENET_JSON_FLUSH_FSYNC))
    return GST_FLOW_ERROR;
  return GST_FLOW_OK;
}

static gboolean
gst_shufflenet_json_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (trans);

  /* Everything is on disk before the EOS reaches the sink (and the
   * application hears of it). */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->file != NULL
      && !sync_file (self, TRUE)) {
    gst_event_unref (event);
    return FALSE;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->mqtt != NULL
      && !sn_mqtt_flush (self->mqtt, MQTT_EOS_FLUSH_MS))
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("At EOS, JSON lines still "
            "wait for the MQTT broker %s after %d s; those left when the "
            "element stops are dropped", sn_mqtt_get_target (self->mqtt),
            MQTT_EOS_FLUSH_MS / 1000), (NULL));
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ------------------------------------------------------------------------ */
/* Properties and class */

static void
gst_shufflenet_json_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      if (self->started) {
        GST_OBJECT_UNLOCK (self);
        g_warning ("%s: location can only be changed in the NULL or READY "
            "state", GST_OBJECT_NAME (self));
        return;
      }
      if (self->location != NULL)
        memset (self->location, 0, strlen (self->location));
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_APPEND:
      self->append = g_value_get_boolean (value);
      break;
    case PROP_FLUSH_MODE:
      self->flush_mode = g_value_get_enum (value);
      break;
    case PROP_WRITE_STALE:
      self->write_stale = g_value_get_boolean (value);
      break;
    case PROP_EVENTS_ONLY:
      self->events_only = g_value_get_boolean (value);
      break;
    case PROP_MQTT_QOS:
      self->mqtt_qos = g_value_get_int (value);
      break;
    case PROP_MQTT_CA_FILE:
      g_free (self->mqtt_ca_file);
      self->mqtt_ca_file = g_value_dup_string (value);
      break;
    case PROP_MQTT_PASSWORD_FILE:
      g_free (self->mqtt_password_file);
      self->mqtt_password_file = g_value_dup_string (value);
      break;
    case PROP_MQTT_QUEUE_SIZE:
      self->mqtt_queue_size = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_json_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_take_string (value, sn_url_mask_password (self->location));
      break;
    case PROP_APPEND:
      g_value_set_boolean (value, self->append);
      break;
    case PROP_FLUSH_MODE:
      g_value_set_enum (value, self->flush_mode);
      break;
    case PROP_WRITE_STALE:
      g_value_set_boolean (value, self->write_stale);
      break;
    case PROP_EVENTS_ONLY:
      g_value_set_boolean (value, self->events_only);
      break;
    case PROP_MQTT_QOS:
      g_value_set_int (value, self->mqtt_qos);
      break;
    case PROP_MQTT_CA_FILE:
      g_value_set_string (value, self->mqtt_ca_file);
      break;
    case PROP_MQTT_PASSWORD_FILE:
      g_value_set_string (value, self->mqtt_password_file);
      break;
    case PROP_MQTT_QUEUE_SIZE:
      g_value_set_uint (value, self->mqtt_queue_size);
      break;
    case PROP_MQTT_DROPPED:
      g_value_set_uint64 (value, self->mqtt != NULL ?
          sn_mqtt_get_dropped (self->mqtt) : self->mqtt_dropped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_shufflenet_json_finalize (GObject * object)
{
  GstShuffleNetJson *self = GST_SHUFFLENET_JSON (object);

  if (self->location != NULL)
    memset (self->location, 0, strlen (self->location));
  g_free (self->location);
  g_free (self->mqtt_ca_file);
  g_free (self->mqtt_password_file);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_shufflenet_json_init (GstShuffleNetJson * self)
{
  self->location = g_strdup (DEFAULT_LOCATION);
  self->append = DEFAULT_APPEND;
  self->flush_mode = DEFAULT_FLUSH_MODE;
  self->write_stale = DEFAULT_WRITE_STALE;
  self->events_only = DEFAULT_EVENTS_ONLY;
  self->mqtt_qos = DEFAULT_MQTT_QOS;
  self->mqtt_queue_size = DEFAULT_MQTT_QUEUE_SIZE;
  /* Never touches the data: buffers go on as they came. */
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}

static void
install_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "File to write the JSON lines to (unset or empty: standard output; "
          "use gst-launch-1.0 -q to keep its own messages out of it), or an "
          "MQTT URL mqtt[s]://[user[:password]@]host[:port]/topic to publish "
          "each line to (a password is read back masked; without one in the "
          "URL: mqtt-password-file, else $" MQTT_PASSWORD_ENV ")",
          DEFAULT_LOCATION, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_APPEND,
      g_param_spec_boolean ("append", "Append",
          "Append to the file instead of replacing it", DEFAULT_APPEND,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_FLUSH_MODE,
      g_param_spec_enum ("flush-mode", "Flush mode",
          "When written lines are flushed to the file (always at EOS)",
          GST_TYPE_SHUFFLENET_JSON_FLUSH_MODE, DEFAULT_FLUSH_MODE,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WRITE_STALE,
      g_param_spec_boolean ("write-stale", "Write stale",
          "Also write the results shufflenet reused from an earlier frame "
          "(stale=true); FALSE writes only frames that were classified",
          DEFAULT_WRITE_STALE, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_EVENTS_ONLY,
      g_param_spec_boolean ("events-only", "Events only",
          "Write only the class changes shufflenet fired (its "
          "\"shufflenet-change\" messages, change-hold), one line each: "
          "{\"event\":\"change\",\"pts\":..,\"from_id\":..,\"to_label\":..,...}",
          DEFAULT_EVENTS_ONLY, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MQTT_QOS,
      g_param_spec_int ("mqtt-qos", "MQTT QoS",
          "MQTT quality of service: 0 (at most once) or 1 (at least once: "
          "lines the broker has not acknowledged are sent again after a "
          "reconnection)", 0, 1, DEFAULT_MQTT_QOS,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MQTT_CA_FILE,
      g_param_spec_string ("mqtt-ca-file", "MQTT CA file",
          "mqtts://: the CA certificates (PEM) that sign the broker's "
          "certificate (unset: the system's)", NULL,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MQTT_PASSWORD_FILE,
      g_param_spec_string ("mqtt-password-file", "MQTT password file",
          "A file readable only by its owner (chmod 600) whose first line is "
          "the MQTT password, for a location with a user and no password",
          NULL, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MQTT_QUEUE_SIZE,
      g_param_spec_uint ("mqtt-queue-size", "MQTT queue size",
          "Lines kept while the broker is away; when full the oldest line is "
          "dropped (and counted in mqtt-dropped)", 1, 10000000,
          DEFAULT_MQTT_QUEUE_SIZE, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MQTT_DROPPED,
      g_param_spec_uint64 ("mqtt-dropped", "MQTT lines dropped",
          "Lines given up: dropped from the full queue (one sent before a "
          "connection loss without an acknowledgement may have reached the "
          "broker all the same), or undelivered when the element stopped "
          "(the last run's once stopped)", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_shufflenet_json_class_init (GstShuffleNetJsonClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_shufflenet_json_debug, "shufflenetjson", 0,
      "Writes ShuffleNet classifications as JSON lines");

  gobject_class->set_property = gst_shufflenet_json_set_property;
  gobject_class->get_property = gst_shufflenet_json_get_property;
  gobject_class->finalize = gst_shufflenet_json_finalize;
  install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "ShuffleNet JSON Lines writer", "Filter/Metadata",
      "Passes buffers through and writes their GstShuffleNetMeta (from "
      "shufflenet) as one JSON line each. Example: " EXAMPLE_LAUNCH_LINE,
      "gst-shufflenet developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_shufflenet_json_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_shufflenet_json_stop);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_shufflenet_json_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_shufflenet_json_sink_event);
  trans_class->transform_ip_on_passthrough = TRUE;

  gst_type_mark_as_plugin_api (GST_TYPE_SHUFFLENET_JSON_FLUSH_MODE, 0);
}
