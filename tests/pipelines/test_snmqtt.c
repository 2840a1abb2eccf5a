/* test_snmqtt.c - shufflenetjson's MQTT publisher (gst/snmqtt.c) without
 * a broker: URL parsing as `mosquitto_pub -L` reads URLs, password masking
 * (the password never survives, also in the messages of refused URLs),
 * the password file's checks, and the queue: lines published while no
 * broker listens never block, the oldest are dropped and counted, and
 * every line is accounted for when the publisher stops. The tests with a
 * real broker are test_mqtt.py's.
 */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/gst.h>

#include "snmqtt.h"

static void
test_parse_ok (void)
{
  const struct
  {
    const gchar *url;
    gboolean tls;
    const gchar *host;
    guint port;
    const gchar *user, *password, *topic;
  } cases[] = {
    {"mqtt://broker/t", FALSE, "broker", 1883, NULL, NULL, "t"},
    {"mqtts://broker/t", TRUE, "broker", 8883, NULL, NULL, "t"},
    {"MQTT://10.0.0.7:1884/site/cam 1/results", FALSE, "10.0.0.7", 1884,
        NULL, NULL, "site/cam 1/results"},
    {"mqtt://cam7@broker.lan/sites/a", FALSE, "broker.lan", 1883, "cam7",
        NULL, "sites/a"},
    {"mqtt://cam7:s3cr:t@broker:1/x", FALSE, "broker", 1, "cam7", "s3cr:t",
        "x"},
    {"mqtts://u:p@ss@[::1]:8884/a/b@c", TRUE, "::1", 8884, "u", "p@ss",
        "a/b@c"},
    {"mqtt://u:@h/t", FALSE, "h", 1883, "u", "", "t"},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SnMqttUrl u;
    GError *err = NULL;

    g_assert_true (sn_mqtt_is_url (cases[i].url));
    g_assert_true (sn_mqtt_url_parse (cases[i].url, &u, &err));
    g_assert_no_error (err);
    g_assert_cmpint (u.tls, ==, cases[i].tls);
    g_assert_cmpstr (u.host, ==, cases[i].host);
    g_assert_cmpuint (u.port, ==, cases[i].port);
    g_assert_cmpstr (u.user, ==, cases[i].user);
    g_assert_cmpstr (u.password, ==, cases[i].password);
    g_assert_cmpstr (u.topic, ==, cases[i].topic);
    sn_mqtt_url_clear (&u);
  }
}

/* Refused, with a message that names the problem and never the
 * password (SECRET). */
static void
test_parse_refused (void)
{
  const gchar *cases[][2] = {
    {"mqtt://u:SECRET@broker", "no topic"},
    {"mqtt://u:SECRET@broker/", "no topic"},
    {"mqtt://u:SECRET@/t", "no host"},
    {"mqtt://u:SECRET@broker:/t", "empty port"},
    {"mqtt://u:SECRET@broker:0/t", "port"},
    {"mqtt://u:SECRET@broker:65536/t", "port"},
    {"mqtt://u:SECRET@broker:1883x/t", "port"},
    {"mqtt://u:SECRET@broker/a/+/b", "wildcards"},
    {"mqtt://u:SECRET@broker/a/#", "wildcards"},
    {"mqtt://:SECRET@broker/t", "user"},
    {"mqtt://u:SEC/RET@broker/t", "port"},      /* an unencoded '/' */
    {"mqtt://u:SECRET@[::1/t", "IPv6"},
    {"http://u:SECRET@broker/t", "mqtt://"},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    SnMqttUrl u;
    GError *err = NULL;

    g_assert_false (sn_mqtt_url_parse (cases[i][0], &u, &err));
    g_assert_nonnull (err);
    g_test_message ("%s -> %s", cases[i][0], err->message);
    g_assert_nonnull (strstr (err->message, cases[i][1]));
    g_assert_null (strstr (err->message, "SECRET"));
    g_assert_null (strstr (err->message, "SEC/RET"));
    g_assert_null (u.host);
    g_error_free (err);
  }
  g_assert_false (sn_mqtt_is_url ("/tmp/results.jsonl"));
  g_assert_false (sn_mqtt_is_url (NULL));
}

static void
test_mask (void)
{
  const gchar *cases[][2] = {
    {"mqtt://u:pw@h:1883/t", "mqtt://u:***@h:1883/t"},
    {"mqtts://u:p@ss@h/t", "mqtts://u:***@h/t"},
    {"rtsp://admin:12345@10.0.0.9:554/Streaming/Channels/101",
        "rtsp://admin:***@10.0.0.9:554/Streaming/Channels/101"},
    {"mqtt://u:pa/ss@h/t", "mqtt://u:***@h/t"},
    {"mqtt://u@h/t", "mqtt://u@h/t"},
    {"mqtt://h:1883/site@1/cam", "mqtt://h:1883/site@1/cam"},
    {"mqtt://[::1]:1883/a@b", "mqtt://[::1]:1883/a@b"},
    {"mqtt://h/t", "mqtt://h/t"},
    {"/tmp/out.jsonl", "/tmp/out.jsonl"},
    {"", ""},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *m = sn_url_mask_password (cases[i][0]);
    g_assert_cmpstr (m, ==, cases[i][1]);
    g_free (m);
  }
  g_assert_null (sn_url_mask_password (NULL));
}

static gchar *
write_file (const gchar * dir, const gchar * name, const gchar * text,
    int mode)
{
  gchar *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

static void
test_secret_file (void)
{
  gchar *dir = g_dir_make_tmp ("snmqtt-XXXXXX", NULL);
  gchar *ok = write_file (dir, "ok", "s3cret pw\nsecond line\n", 0600);
  gchar *crlf = write_file (dir, "crlf", "pw\r\n", 0400);
  gchar *open = write_file (dir, "open", "pw\n", 0644);
  gchar *group = write_file (dir, "group", "pw\n", 0640);
  gchar *empty = write_file (dir, "empty", "\nx\n", 0600);
  gchar *missing = g_build_filename (dir, "missing", NULL);
  GError *err = NULL;
  gchar *pw;

  pw = sn_read_secret_file (ok, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (pw, ==, "s3cret pw");
  g_free (pw);
  pw = sn_read_secret_file (crlf, &err);
  g_assert_cmpstr (pw, ==, "pw");
  g_free (pw);
  g_assert_null (sn_read_secret_file (open, &err));
  g_assert_nonnull (strstr (err->message, "chmod 600"));
  g_assert_nonnull (strstr (err->message, "644"));
  g_clear_error (&err);
  g_assert_null (sn_read_secret_file (group, &err));
  g_assert_nonnull (strstr (err->message, "chmod 600"));
  g_clear_error (&err);
  g_assert_null (sn_read_secret_file (empty, &err));
  g_assert_nonnull (strstr (err->message, "empty"));
  g_clear_error (&err);
  g_assert_null (sn_read_secret_file (missing, &err));
  g_assert_nonnull (strstr (err->message, "missing"));
  g_clear_error (&err);
  g_assert_null (sn_read_secret_file (dir, &err));
  g_clear_error (&err);

  for (gchar ** p = (gchar *[]) { ok, crlf, open, group, empty, NULL }; *p;
      p++) {
    g_unlink (*p);
    g_free (*p);
  }
  g_free (missing);
  g_rmdir (dir);
  g_free (dir);
}

/* A local TCP port nothing listens on (bound, then closed). */
static guint
closed_port (void)
{
  struct sockaddr_in a = { 0 };
  socklen_t len = sizeof (a);
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint port;

  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof (a)), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  port = ntohs (a.sin_port);
  close (fd);
  return port;
}

typedef struct
{
  GMutex lock;
  gint events[3];
  gchar *last;
} Events;

static void
on_event (gpointer user_data, SnMqttEvent event, const gchar * message)
{
  Events *e = user_data;

  g_mutex_lock (&e->lock);
  e->events[event]++;
  g_free (e->last);
  e->last = g_strdup (message);
  g_mutex_unlock (&e->lock);
}

/* No broker: publishing never waits, the queue keeps the newest
 * queue_size lines, the outage is reported once, every line is counted. */
static void
test_queue_without_broker (void)
{
  const guint queue = 50, lines = 20000;
  gchar *url = g_strdup_printf ("mqtt://u:SECRET@127.0.0.1:%u/sn/test",
      closed_port ());
  Events e = { 0 };
  SnMqttSettings s = { 0 };
  GError *err = NULL;
  SnMqtt *m;
  gint64 t0, worst = 0;

  g_mutex_init (&e.lock);
  s.url = url;
  s.qos = 1;
  s.queue_size = queue;
  s.first_wait_ms = 2000;
  s.notify = on_event;
  s.user_data = &e;
  m = sn_mqtt_new (&s, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (sn_mqtt_get_target (m), ==,
      strchr (url, '@') + 1);
  for (guint i = 0; i < lines; i++) {
    t0 = g_get_monotonic_time ();
    g_assert_true (sn_mqtt_publish (m, g_strdup_printf ("{\"frame\":%u}",
                i)));
    worst = MAX (worst, g_get_monotonic_time () - t0);
  }
  /* A lock and a queue push: microseconds, even on a loaded machine under
   * a sanitizer or valgrind. */
  g_test_message ("slowest publish call: %" G_GINT64_FORMAT " us", worst);
  g_assert_cmpint (worst, <, 200000);
  g_assert_cmpuint (sn_mqtt_get_dropped (m), ==, lines - queue);
  g_assert_false (sn_mqtt_flush (m, 300));
  g_assert_cmpuint (sn_mqtt_get_published (m), ==, 0);
  g_assert_cmpuint (sn_mqtt_free (m, 0), ==, lines);

  g_assert_cmpint (e.events[SN_MQTT_EVENT_DISCONNECTED], ==, 1);
  g_assert_cmpint (e.events[SN_MQTT_EVENT_CONNECTED], ==, 0);
  g_assert_cmpint (e.events[SN_MQTT_EVENT_FATAL], ==, 0);
  g_assert_nonnull (strstr (e.last, "Connection refused"));
  g_assert_null (strstr (e.last, "SECRET"));
  g_free (e.last);
  g_mutex_clear (&e.lock);
  g_free (url);
}

/* Settings refused at creation: nothing starts. */
static void
test_new_refused (void)
{
  SnMqttSettings s = { 0 };
  GError *err = NULL;

  s.qos = 0;
  s.queue_size = 1;
  s.url = "mqtt://u:SECRET@h:99999/t";
  g_assert_null (sn_mqtt_new (&s, &err));
  g_assert_null (strstr (err->message, "SECRET"));
  g_clear_error (&err);
  s.url = "mqtts://h/t";
  s.ca_file = "/nonexistent/ca.pem";
  g_assert_null (sn_mqtt_new (&s, &err));
  g_assert_nonnull (strstr (err->message, "/nonexistent/ca.pem"));
  g_clear_error (&err);
  s.url = "mqtt://u@h/t";
  s.ca_file = NULL;
  s.password_file = "/nonexistent/pw";
  g_assert_null (sn_mqtt_new (&s, &err));
  g_assert_nonnull (strstr (err->message, "/nonexistent/pw"));
  g_clear_error (&err);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_test_add_func ("/snmqtt/parse-ok", test_parse_ok);
  g_test_add_func ("/snmqtt/parse-refused", test_parse_refused);
  g_test_add_func ("/snmqtt/mask", test_mask);
  g_test_add_func ("/snmqtt/secret-file", test_secret_file);
  g_test_add_func ("/snmqtt/queue-without-broker", test_queue_without_broker);
  g_test_add_func ("/snmqtt/new-refused", test_new_refused);
  return g_test_run ();
}
